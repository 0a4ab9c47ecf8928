//! Verifying a whole slip: hop 0 with the envelope's content, each later hop as a
//! countersignature of the one before, every certificate path through the envelope
//! crate's trust (and its path cache), then the route expectations.

use waxseal_envelope::rfc5652::Attribute;
use waxseal_envelope::{
    CertStore, Certificate, Envelope, SignerError, ValidatedPath, Verified, Verifier, oid,
};

use crate::chain::hops;
use crate::error::SlipError;
use crate::expect::RouteExpectations;

/// Names a hop's signer for expectations and reports (default: the certificate's CN).
pub type Namer<'a> = Box<dyn Fn(&Certificate) -> String + Send + Sync + 'a>;

/// One verified hop.
#[derive(Debug, Clone)]
pub struct Hop {
    /// Position: 0 is the origin.
    pub index: usize,
    /// The signer's name (per the verifier's namer).
    pub name: String,
    /// The signer's certificate.
    pub certificate: Certificate,
    /// The signer's validated path (`None` only in signature-only mode).
    pub path: Option<ValidatedPath>,
    /// The signing-time attribute, if present.
    pub signing_time: Option<u64>,
    /// The hop-role attribute, if present.
    pub role: Option<String>,
    /// The hop-action attribute, if present.
    pub action: Option<String>,
    /// All signed attributes, as received.
    pub signed_attributes: Vec<Attribute>,
    /// The signature algorithm, described.
    pub signature_algorithm: String,
}

impl Hop {
    /// The hop as a JSON report, the one `waxseal slip verify --json` and the Python binding
    /// print: index, name, subject, serial, signing time, role, action, algorithm, the
    /// path's subjects and whether revocation was checked.
    pub fn report(&self) -> serde_json::Value {
        serde_json::json!({
            "index": self.index,
            "name": self.name,
            "subject": self.certificate.subject_display(),
            "serial": self.certificate.serial_hex(),
            "signing_time": self.signing_time.map(waxseal_envelope::time::format),
            "role": self.role,
            "action": self.action,
            "signature_algorithm": self.signature_algorithm,
            "path": self.path.as_ref().map(ValidatedPath::subjects),
            "revocation_checked": self.path.as_ref().is_some_and(|p| p.revocation_checked),
        })
    }
}

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

fn text_attribute(attrs: &[Attribute], oid: const_oid::ObjectIdentifier) -> Option<String> {
    let raw = attrs.iter().find(|a| a.oid == oid)?.values.first()?;
    let any = <der::asn1::Any as der::Decode>::from_der(raw).ok()?;
    waxseal_envelope::name::string_value(&any)
}

/// Verifies slips with a configured envelope [`Verifier`] (trust anchors, store, CRLs,
/// algorithms, time, path cache) and [`RouteExpectations`].
pub struct SlipVerifier<'a> {
    verifier: &'a Verifier,
    expectations: RouteExpectations,
    origin: usize,
    namer: Namer<'a>,
}

impl<'a> SlipVerifier<'a> {
    /// A slip verifier with default expectations, starting at envelope signer 0.
    pub fn new(verifier: &'a Verifier) -> Self {
        Self {
            verifier,
            expectations: RouteExpectations::default(),
            origin: 0,
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

    /// Which envelope signer is hop 0.
    pub fn with_origin(mut self, origin: usize) -> Self {
        self.origin = origin;
        self
    }

    /// How hops are named for expectations (the entity crate maps certificates to
    /// entity IDs).
    pub fn with_namer(mut self, namer: Namer<'a>) -> Self {
        self.namer = namer;
        self
    }

    /// Verifies the slip in `envelope` (`detached`: the content of a detached envelope).
    pub fn verify(
        &self,
        envelope: &Envelope,
        detached: Option<&[u8]>,
    ) -> Result<VerifiedSlip, SlipError> {
        // Structure first: a hostile nesting is refused before any cryptography.
        let chain = hops(envelope, self.origin, self.expectations.max_hops)?;
        // One budget for the whole envelope: the origin and every hop.
        let meter = self.verifier.meter();
        let verified = self
            .verifier
            .verify_with_meter(envelope, detached, &meter)
            .map_err(SlipError::Origin)?;
        let origin = verified
            .signers()
            .iter()
            .find(|s| s.index == self.origin)
            .ok_or(SlipError::NoSuchSigner(self.origin))?;
        let sd = envelope.signed_data();
        let embedded = CertStore::from_certificates(sd.x509_certificates().cloned());
        let crls = self.verifier.envelope_crls(sd).map_err(SlipError::Origin)?;
        let now = self.verifier.time();
        let options = self.verifier.validation_options(now);

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
        self.expectations.check(&out, now)?;
        Ok(VerifiedSlip {
            envelope: verified,
            hops: out,
        })
    }
}
