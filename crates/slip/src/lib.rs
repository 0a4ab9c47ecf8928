//! # waxseal-slip
//!
//! Routing slips: a message passes hops (a compute node asks a conductor, which forwards
//! to a scheduler), each hop countersigns the one before (RFC 5652 §11.4), and the last
//! consumer checks the whole route: who originated it, who handled it, in what order, and
//! that nobody was skipped, added or reordered. Hop 0 is the envelope's ordinary signer,
//! hop k a countersignature nested in hop k-1 ([`chain`] describes the encoding).
//!
//! 1. Sign a hop: [`hop_signer`] adds the hop's role and action, [`append_hop`] adds its
//!    countersignature to an [`Envelope`](waxseal_envelope::Envelope).
//! 2. Parse: [`chain`] reads the nesting, bounded ([`chain::limits_for`]).
//! 3. Verify: a [`SlipVerifier`] ([`verify`]) checks every hop's signature and path.
//! 4. Check the route: [`expect`], against the [`RouteExpectations`] (itinerary, number
//!    of hops, age, clock skew).
//! 5. Report: a [`VerifiedSlip`] of [`Hop`]s ([`hop`]), or one [`SlipError`] ([`error`])
//!    with a stable reason code. Imports run one way: verify → expect → hop.
//!
//! ```no_run
//! # use waxseal_envelope::{Envelope, Signer, Verifier};
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

use waxseal_envelope::Signer;
use waxseal_envelope::oid;
use waxseal_envelope::rfc5652::Attribute;

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
                waxseal_trust::asn1::tlv(0x0c, v.as_bytes()),
            ))?;
        }
    }
    Ok(signer)
}
