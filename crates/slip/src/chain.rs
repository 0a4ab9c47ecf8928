//! The countersignature chain: hop 0 is an envelope signer; hop k is the one
//! `id-countersignature` unsigned attribute of hop k-1 (RFC 5652 §11.4).
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
//! - Nesting is bounded on parse ([`limits_for`]) and on walk
//!   ([`RouteExpectations::max_hops`]); the walk is iterative.
//!
//! [`hop_signer`]: crate::hop_signer
//! [`RouteExpectations::clock_skew`]: crate::RouteExpectations::clock_skew
//! [`RouteExpectations::max_age`]: crate::RouteExpectations::max_age
//! [`RouteExpectations::max_hops`]: crate::RouteExpectations::max_hops

use waxseal_envelope::oid;
use waxseal_envelope::rfc5652::{Attribute, Attributes, CertificateChoice, Limits, SignerInfo};
use waxseal_envelope::{Envelope, Signer};

use crate::error::SlipError;

/// Parsing limits large enough for `max_hops` hops (four ASN.1 levels each), capped at
/// the envelope crate's [`waxseal_envelope::rfc5652::MAX_DEPTH_CAP`].
pub fn limits_for(max_hops: usize) -> Limits {
    let base = Limits::default();
    Limits {
        max_depth: (16 + 4 * max_hops)
            .clamp(base.max_depth, waxseal_envelope::rfc5652::MAX_DEPTH_CAP),
        ..base
    }
}

/// Parses an envelope that carries a slip of up to `max_hops` hops.
pub fn parse(input: &[u8], max_hops: usize) -> Result<Envelope, SlipError> {
    Ok(Envelope::parse_with_limits(input, &limits_for(max_hops))?)
}

/// The hops' `SignerInfo`s, hop 0 (signer `origin` of the envelope) first. Walks one level
/// at a time (no recursion); fails as soon as the slip would exceed `max_hops` hops.
pub fn hops(
    envelope: &Envelope,
    origin: usize,
    max_hops: usize,
) -> Result<Vec<SignerInfo>, SlipError> {
    let first = envelope
        .signed_data()
        .signer_infos
        .get(origin)
        .ok_or(SlipError::NoSuchSigner(origin))?;
    let limits = limits_for(max_hops);
    let mut out = vec![first.clone()];
    loop {
        let last = out.last().expect("never empty");
        let counters: Vec<&Attribute> = last
            .unsigned_attrs
            .iter()
            .flat_map(|u| u.get(oid::ID_COUNTERSIGNATURE))
            .collect();
        let values: Vec<&Vec<u8>> = counters.iter().flat_map(|a| a.values.iter()).collect();
        match values.as_slice() {
            [] => return Ok(out),
            [value] => {
                if out.len() >= max_hops {
                    return Err(SlipError::TooManyHops { max: max_hops });
                }
                out.push(SignerInfo::parse(value, &limits)?);
            }
            many => {
                return Err(SlipError::Branching {
                    hop: out.len() - 1,
                    count: many.len(),
                });
            }
        }
    }
}

/// Appends a hop: `signer` countersigns the last hop of the slip that starts at envelope
/// signer `origin`. Only unsigned attributes change (the new countersignature goes into
/// the last hop's, and each enclosing hop's carries the re-encoded child), plus the
/// signer's certificates when `include_certificates`; every signature already made still
/// verifies. Returns the new hop's position. Hop attributes (role, action...) are the
/// signer's extra signed attributes (see [`crate::hop_signer`]).
pub fn append_hop(
    envelope: &mut Envelope,
    origin: usize,
    signer: &Signer,
    include_certificates: bool,
    max_hops: usize,
) -> Result<usize, SlipError> {
    let chain = hops(envelope, origin, max_hops)?;
    if chain.len() >= max_hops {
        return Err(SlipError::TooManyHops { max: max_hops });
    }
    let counter = signer.countersign(chain.last().expect("never empty"))?;
    let position = attach(envelope, origin, chain, counter)?;
    if include_certificates {
        let sd = envelope.signed_data_mut();
        for cert in std::iter::once(signer.certificate()).chain(signer.chain()) {
            if !sd.x509_certificates().any(|c| c == cert) {
                sd.certificates
                    .push(CertificateChoice::Certificate(cert.clone()));
            }
        }
    }
    Ok(position)
}

/// Appends a countersignature made elsewhere (for example by another implementation) as
/// the next hop. Returns its position.
pub fn attach_countersignature(
    envelope: &mut Envelope,
    origin: usize,
    countersignature: SignerInfo,
    max_hops: usize,
) -> Result<usize, SlipError> {
    let chain = hops(envelope, origin, max_hops)?;
    if chain.len() >= max_hops {
        return Err(SlipError::TooManyHops { max: max_hops });
    }
    attach(envelope, origin, chain, countersignature)
}

fn attach(
    envelope: &mut Envelope,
    origin: usize,
    mut chain: Vec<SignerInfo>,
    counter: SignerInfo,
) -> Result<usize, SlipError> {
    chain.push(counter);
    let position = chain.len() - 1;
    replace_hops(envelope, origin, chain)?;
    Ok(position)
}

/// Replaces the slip starting at envelope signer `origin` by `chain` (hop 0 first),
/// nesting each hop into the unsigned attributes of the one before (other unsigned
/// attributes are kept in order). The inverse of [`hops`]; signatures are not touched, so
/// a chain edited out of order will not verify, which is what tests of tampering need.
pub fn replace_hops(
    envelope: &mut Envelope,
    origin: usize,
    mut chain: Vec<SignerInfo>,
) -> Result<(), SlipError> {
    if origin >= envelope.signed_data().signer_infos.len() || chain.is_empty() {
        return Err(SlipError::NoSuchSigner(origin));
    }
    let mut child: Option<Vec<u8>> = None;
    for si in chain.iter_mut().rev() {
        let mut items: Vec<Attribute> = si
            .unsigned_attrs
            .iter()
            .flat_map(|u| u.iter().cloned())
            .filter(|a| a.oid != oid::ID_COUNTERSIGNATURE)
            .collect();
        if let Some(c) = child.take() {
            items.push(Attribute::new(oid::ID_COUNTERSIGNATURE, c));
        }
        si.unsigned_attrs = (!items.is_empty()).then(|| Attributes::from_items_in_order(items));
        child = Some(si.to_der());
    }
    envelope.signed_data_mut().signer_infos[origin] = chain.swap_remove(0);
    Ok(())
}
