//! Verifying a whole slip: hop 0 with the envelope's content, each later hop as a
//! countersignature of the one before, every certificate path through the envelope
//! crate's trust (and its path cache), then the route expectations.

use waxseal_envelope::rfc5652::Attribute;
use waxseal_envelope::{
    CertStore, Certificate, Envelope, Meter, SignerError, Verified, Verifier, oid,
};

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
    /// warm [`waxseal_envelope::PathCache`], one public-key operation per hop and no path
    /// building.
    pub fn verify_with_meter(
        &self,
        envelope: &Envelope,
        detached: Option<&[u8]>,
        meter: &Meter,
    ) -> Result<VerifiedSlip, SlipError> {
        // Structure first: a hostile nesting is refused before any cryptography.
        let chain = hops(envelope, ORIGIN, self.expectations.max_hops)?;
        let meter = meter.clone();
        let verified = self
            .verifier
            .verify_with_meter(envelope, detached, &meter)
            .map_err(SlipError::Origin)?;
        let origin = verified
            .signers()
            .iter()
            .find(|s| s.index == ORIGIN)
            .ok_or(SlipError::NoSuchSigner(ORIGIN))?;
        let now = self.verifier.time();

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
        // What the hops are checked with, made only when there are hops (an origin alone,
        // the usual message, needs none of it).
        if chain.len() > 1 {
            let sd = envelope.signed_data();
            let embedded = CertStore::from_certificates(sd.x509_certificates().cloned());
            let crls = self.verifier.envelope_crls(sd).map_err(SlipError::Origin)?;
            let options = self.verifier.validation_options(now);
            for k in 1..chain.len() {
                let (prev, si) = (&chain[k - 1], &chain[k]);
                let vs = self
                    .verifier
                    .verify_signer_info_with_meter(
                        si,
                        &prev.signature,
                        None,
                        &embedded,
                        &crls,
                        &options,
                        &meter,
                    )
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
        }
        self.expectations.check_hops(&out, now)?;
        Ok(VerifiedSlip {
            envelope: verified,
            hops: out,
        })
    }
}
