//! Verifying a whole slip: hop 0 with the envelope's content, each later hop as a
//! countersignature of the one before, every certificate path through the envelope
//! crate's trust (and its path cache), then the route expectations.

use waxseal_envelope::rfc5652::Attribute;
use waxseal_envelope::{Envelope, SignerError, Verified, VerifiedSigner, Verifier, oid};
use waxseal_trust::{Certificate, Meter};

use crate::chain::hops;
use crate::error::SlipError;
use crate::expect::RouteExpectations;
use crate::hop::text_attribute;
// `Hop` lives in `crate::hop` (below `expect`, which checks it); named here too, where it
// always was.
pub use crate::hop::Hop;

/// Names a hop's signer for expectations and reports (default: the certificate's CN).
pub type Namer<'a> = Box<dyn Fn(&Certificate) -> String + Send + Sync + 'a>;

/// A slip that verified: the content, and the route in order.
#[derive(Debug, Clone)]
pub struct VerifiedSlip {
    /// The envelope's verification (content, all signers).
    pub envelope: Verified,
    /// The hops, origin first.
    pub hops: Vec<Hop>,
}

impl VerifiedSlip {
    /// The verified content.
    pub fn content(&self) -> &[u8] {
        self.envelope.content()
    }

    /// The envelope signer that is hop 0, with its `SignerInfo` and signed attributes as
    /// received (`None` only for a `VerifiedSlip` not made by [`SlipVerifier`]). Taken by
    /// its index in `signerInfos`: certificates do not tell signers apart (one certificate
    /// may sign twice).
    pub fn origin_signer(&self) -> Option<&VerifiedSigner> {
        origin_of(&self.envelope)
    }
}

/// Hop 0 among an envelope's verified signers, found by its index in `signerInfos`.
fn origin_of(verified: &Verified) -> Option<&VerifiedSigner> {
    verified.signers().iter().find(|s| s.index == ORIGIN)
}

/// Which envelope signer is hop 0: the first, the one the slip was begun with.
const ORIGIN: usize = 0;

/// Verifies slips with a configured envelope [`Verifier`] (trust anchors, store, CRLs,
/// algorithms, time, path cache) and [`RouteExpectations`].
pub struct SlipVerifier<'a> {
    verifier: &'a Verifier,
    expectations: RouteExpectations,
    namer: Namer<'a>,
}

impl<'a> SlipVerifier<'a> {
    /// A slip verifier with default expectations, starting at envelope signer 0.
    pub fn new(verifier: &'a Verifier) -> Self {
        Self {
            verifier,
            expectations: RouteExpectations::default(),
            namer: Box::new(|c: &Certificate| {
                c.common_name().unwrap_or_else(|| c.subject_display())
            }),
        }
    }

    /// The route expectations.
    pub fn with_expectations(mut self, expectations: RouteExpectations) -> Self {
        self.expectations = expectations;
        self
    }

    /// How hops are named for expectations (the entity crate maps certificates to
    /// entity IDs).
    pub fn with_namer(mut self, namer: impl Fn(&Certificate) -> String + Send + Sync + 'a) -> Self {
        self.namer = Box::new(namer);
        self
    }

    /// Verifies the slip in `envelope` (`detached`: the content of a detached envelope).
    pub fn verify(
        &self,
        envelope: &Envelope,
        detached: Option<&[u8]>,
    ) -> Result<VerifiedSlip, SlipError> {
        // One budget for the whole envelope: the origin and every hop.
        self.verify_with_meter(envelope, detached, &self.verifier.meter())
    }

    /// [`SlipVerifier::verify`], counting the work of the origin and of every hop against
    /// `meter` (from [`Verifier::meter`]), which can then say how much was done: with a
    /// warm [`waxseal_trust::PathCache`], one public-key operation per hop and no path
    /// building.
    pub fn verify_with_meter(
        &self,
        envelope: &Envelope,
        detached: Option<&[u8]>,
        meter: &Meter,
    ) -> Result<VerifiedSlip, SlipError> {
        // Structure first: a hostile nesting is refused before any cryptography.
        let chain = hops(envelope, ORIGIN, self.expectations.max_hops)?;
        // The origin's verification, kept open: the hops are checked with the certificate
        // store, CRLs, options and meter it built, so an origin alone (the usual message)
        // costs nothing more than the envelope's verification, and a hop nothing more than
        // its own signature and path.
        let session = self
            .verifier
            .session(envelope, detached, meter)
            .map_err(SlipError::Origin)?;
        let origin = origin_of(session.verified()).ok_or(SlipError::NoSuchSigner(ORIGIN))?;
        // One time for the whole slip: the one the origin's path was validated at.
        let now = session.options().time;

        let attrs_of = |si: &waxseal_envelope::rfc5652::SignerInfo| -> Vec<Attribute> {
            si.signed_attrs
                .iter()
                .flat_map(|a| a.iter().cloned())
                .collect()
        };
        let mut out = Vec::with_capacity(chain.len());
        let attrs = attrs_of(&chain[0]);
        out.push(Hop {
            index: 0,
            name: (self.namer)(&origin.certificate),
            certificate: origin.certificate.clone(),
            path: origin.path.clone(),
            signing_time: origin.signing_time,
            role: text_attribute(&attrs, oid::WAXSEAL_HOP_ROLE),
            action: text_attribute(&attrs, oid::WAXSEAL_HOP_ACTION),
            signed_attributes: attrs,
            signature_algorithm: origin.signature_algorithm.clone(),
        });
        // Each later hop countersigns the signature of the one before.
        for k in 1..chain.len() {
            let (prev, si) = (&chain[k - 1], &chain[k]);
            let vs = session
                .verify_countersignature(si, &prev.signature)
                .map_err(|error| match error {
                    SignerError::MessageDigestMismatch => SlipError::ChainBroken { hop: k },
                    error => SlipError::Hop { hop: k, error },
                })?;
            let attrs = attrs_of(si);
            out.push(Hop {
                index: k,
                name: (self.namer)(&vs.certificate),
                certificate: vs.certificate,
                path: vs.path,
                signing_time: vs.signing_time,
                role: text_attribute(&attrs, oid::WAXSEAL_HOP_ROLE),
                action: text_attribute(&attrs, oid::WAXSEAL_HOP_ACTION),
                signed_attributes: attrs,
                signature_algorithm: vs.signature_algorithm,
            });
        }
        self.expectations.check_hops(&out, now)?;
        Ok(VerifiedSlip {
            envelope: session.into_verified(),
            hops: out,
        })
    }
}
