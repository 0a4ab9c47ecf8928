//! # waxseal-message
//!
//! The bus-level API on JSON messages.
//!
//! - [`bus`]: fedmsg-style messages: [`sign`] adds `crypto`, `signature` and
//!   `certificate`; [`Bus::validate`] checks format, signature, certificate path and CRLs,
//!   then routing policy and claims; [`Bus::validate_signed_by`]; [`strip_credentials`];
//!   the `sign_messages` / `validate_signatures` switches and unsigned topics.
//! - [`oslo`]: oslo.messaging envelopes, signed over the exact `oslo.message` text, with
//!   optional routing-slip hops.
//! - [`json`]: strict parsing (duplicate keys refused) and RFC 8785 canonical form.
//! - [`replay`]: the bounded replay cache (accepted signatures within the freshness
//!   window).
//! - [`config`]: the one configuration file.
//! - [`distribution`]: CA bundles and CRLs from files or http(s) URLs, cached and
//!   refreshed.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod bus;
pub mod config;
pub mod distribution;
pub mod error;
pub mod json;
pub mod oslo;
pub mod replay;

pub use bus::{Bus, Validated, sign, sign_text, strip_credentials};
pub use config::BusConfig;
pub use distribution::{CRL_UNAVAILABLE, FetchConfig, Material, Source};
pub use error::{ConfigError, Rejection, SignError, Stage};
pub use oslo::{OsloVerified, Route};
pub use replay::{ReplayCache, ReplayError, ReplayStore};
pub use waxseal_envelope::CacheStats;
