//! # waxseal-slip
//!
//! Routing slips: a message passes hops (a compute node asks a conductor, which forwards
//! to a scheduler), each hop countersigns the one before, and the last consumer checks
//! the whole route: who originated it, who handled it, in what order, and that nobody was
//! skipped, added or reordered.
//!
//! - **Hop 0** is the envelope's ordinary signer (over the content).
//! - **Hop k** (k ≥ 1) is a countersignature (RFC 5652 §11.4): a `SignerInfo` in the
//!   unsigned `id-countersignature` attribute of hop k-1, whose message-digest is over hop
//!   k-1's signature value and which carries no content-type. Countersignatures of
//!   countersignatures nest, one level per hop; a hop with two countersignatures is a
//!   branch and refused (a slip is one route).
//! - Each hop signs signing-time and may sign hop metadata ([`hop_signer`]: role,
//!   action, any attribute). A hop cannot change what earlier hops signed: it signs their
//!   signature value, and only unsigned attributes change when it is added, so
//!   `openssl cms -verify` still verifies the origin after any number of hops.
//! - No hop's signing time may lie more than the clock skew after the verification time
//!   ([`RouteExpectations::clock_skew`], `signing-time-in-future`), so a future time cannot
//!   stretch [`RouteExpectations::max_age`].
//! - Nesting is bounded on parse ([`chain::limits_for`]) and on walk
//!   ([`RouteExpectations::max_hops`]); the walk is iterative.
//!
//! ```no_run
//! # use waxseal_envelope::*;
//! # use waxseal_slip::*;
//! # fn demo(env: &mut Envelope, conductor: Signer, verifier: &Verifier) -> Result<(), SlipError> {
//! let conductor = hop_signer(conductor, Some("conductor"), Some("forwarded"))?;
//! append_hop(env, 0, &conductor, true, DEFAULT_MAX_HOPS)?;
//! let expect = RouteExpectations {
//!     itinerary: Some(vec!["compute-node01.example.org".into(), "conductor01.example.org".into()]),
//!     ..RouteExpectations::default()
//! };
//! let slip = SlipVerifier::new(verifier).with_expectations(expect).verify(env, None)?;
//! for hop in &slip.hops {
//!     println!("{} {} {:?}", hop.index, hop.name, hop.role);
//! }
//! # Ok(()) }
//! ```
//!
//! ## Layout
//!
//! In the order a slip flows through them: [`chain`] (parse the nesting, walk and append
//! hops), [`verify`] (check every hop's signature and path), [`expect`] (check the route
//! against the [`RouteExpectations`]), [`hop`] (the verified [`Hop`] both of them use),
//! [`error`] (one [`SlipError`] with stable reason codes). Imports run one way:
//! verify → expect → hop.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod chain;
pub mod error;
pub mod expect;
pub mod hop;
pub mod verify;

pub use chain::{append_hop, attach_countersignature, hops, parse, replace_hops};
pub use error::SlipError;
pub use expect::{DEFAULT_MAX_HOPS, RouteExpectations};
pub use verify::{Hop, Namer, SlipVerifier, VerifiedSlip};

use waxseal_envelope::rfc5652::Attribute;
use waxseal_envelope::{Signer, oid};

/// Adds hop metadata to a signer as signed attributes: `role` (e.g. `conductor`) and
/// `action` (e.g. `forwarded`), as UTF8Strings under waxseal's hop-role and hop-action
/// OIDs ([`oid::WAXSEAL_HOP_ROLE`], [`oid::WAXSEAL_HOP_ACTION`]).
pub fn hop_signer(
    signer: Signer,
    role: Option<&str>,
    action: Option<&str>,
) -> Result<Signer, SlipError> {
    let mut signer = signer;
    for (id, value) in [
        (oid::WAXSEAL_HOP_ROLE, role),
        (oid::WAXSEAL_HOP_ACTION, action),
    ] {
        if let Some(v) = value {
            signer = signer.with_signed_attribute(Attribute::new(
                id,
                waxseal_envelope::asn1::tlv(0x0c, v.as_bytes()),
            ))?;
        }
    }
    Ok(signer)
}
