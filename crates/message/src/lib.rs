//! # waxseal-message
//!
//! The bus-level API on JSON messages. Modules, in the order data flows through them:
//!
//! 1. [`config`]: the one configuration file; [`distribution`]: the CA bundles and CRLs it
//!    names, from files or http(s) URLs, cached and refreshed.
//! 2. [`json`]: strict parsing of a message (duplicate keys and inexact numbers refused)
//!    and its RFC 8785 canonical form.
//! 3. [`bus`]: fedmsg-style messages: [`sign`] adds `crypto`, `signature` and
//!    `certificate`; [`Bus::validate`] checks format, signature, certificate path and CRLs,
//!    then routing policy and claims; [`Bus::validate_signed_by`]; [`strip_credentials`];
//!    the `sign_messages` / `validate_signatures` switches and unsigned topics;
//!    [`credentials`]: the `certificate` field, decoded once per distinct value.
//!    [`oslo`]: oslo.messaging envelopes, signed over the exact `oslo.message` text, with
//!    their signed route and optional routing-slip hops.
//! 4. [`replay`]: the bounded replay cache (accepted signatures within the freshness
//!    window), in memory, in a shared file, in Redis, or any [`ReplayStore`].
//! 5. [`admission`]: the one path every delivery takes ([`Bus::admit`]): what the broker
//!    said of it ([`Arrival`]) checked against the signed route and the subscription, then
//!    the message's checks, then the replay store. [`Bus::validate`] and
//!    [`Bus::verify_oslo`] are this path with the arrival they name.
//! 6. Report: an [`Admitted`] message ([`Validated`], [`OsloVerified`]), or a
//!    [`Rejection`] with its stable reason code and its [`Class`] (permanent, or transient
//!    and to be requeued). [`timestamp`] stamps what the bus signs at an RFC 3161 TSA.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod admission;
mod arrival;
pub mod bus;
pub mod config;
pub mod credentials;
pub mod distribution;
pub mod error;
pub mod json;
pub mod oslo;
pub mod replay;
mod route;
pub mod timestamp;

pub use admission::{Admitted, AdmittedMessage, Arrival, Call, Examined, Subscription};
pub use bus::{Bus, Validated, sign, sign_text, strip_credentials};
pub use config::BusConfig;
pub use distribution::{CRL_UNAVAILABLE, DistributionStats, FetchConfig, Material, Source};
pub use error::{Class, ConfigError, Rejection, SignError, Stage};
pub use oslo::{OsloVerified, Route};
pub use replay::{Admission, ReplayCache, ReplayError, ReplayStore, StoreSpec};
pub use waxseal_trust::CacheStats;
