//! # waxseal-entity
//!
//! Authentication says a message was signed by a certificate that chains to our CA;
//! authorization says whether that signer may say it. "Signature validation is to
//! authentication as routing-policy checks are to authorization."
//!
//! 1. Name the signer: [`mapping`] turns a certificate into an [`EntityId`] by rules on
//!    the CN, SAN entries or subject attributes, through patterns with named captures
//!    (`bodhi-app01.example.org` → service `bodhi`, host `app01.example.org`); no match,
//!    or conflicting matches, is an error, never a default.
//! 2. Pin it (optional): [`registry`], the certificates or keys each entity may use.
//! 3. Route: [`policy`], topic → allowed entities, with the patterns of [`glob`] on both
//!    sides (RabbitMQ semantics, the most specific decides) and fedmsg's `nitpicky`.
//! 4. Check the payload: [`claims`], values (JSON Pointer) that must equal a field of the
//!    signer's entity, so a node can only speak for itself.
//! 5. Decide: [`authorize`] runs all of the above; each [`Decision`] carries its reason.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod authorize;
pub mod claims;
pub mod error;
pub mod glob;
pub mod mapping;
pub mod policy;
pub mod registry;

pub use authorize::{Authorization, AuthorizationConfig, Authorizer};
pub use claims::ClaimConfig;
pub use error::EntityError;
pub use mapping::{EntityId, EntityMapper, RuleConfig, Source};
pub use policy::{Decision, RoutingPolicy};
pub use registry::Registry;
