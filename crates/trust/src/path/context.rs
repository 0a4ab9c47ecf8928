//! One path validation in progress: its inputs, the meter its work counts against, and
//! the steps every part of the validation shares (parsing a key under the budget's
//! modulus cap, checking a certificate's or CRL's signature through the memo and the
//! cache, validating a CRL signer's path).
//!
//! It sits below the modules that use it, so that their imports run one way:
//! `build` (the search) uses `process` (RFC 5280 §6.1 on a candidate path), which uses
//! `revocation` (§6.3), which uses this module; a CRL signer's path, which revocation
//! needs, is built through the entry point `build` hands down ([`Validate`]), not by
//! importing the builder back.

use std::sync::Arc;

use super::budget::{Meter, prepared_signature_id};
use super::{PathError, Purpose, TrustAnchors, ValidatedPath, ValidationOptions};
use crate::algorithm::SignatureScheme;
use crate::cert::Certificate;
use crate::key::{DsaParameters, KeyError};
use crate::provider::PreparedPublicKey;
use crate::store::{CertStore, CrlSet};

/// How deep CRL-signer validation may recurse (a CRL signer's own revocation check may
/// need another CRL signer's path, and so on).
const MAX_CRL_SIGNER_DEPTH: usize = 3;

/// The path builder's entry point: builds and validates a path for a certificate in a
/// context (a function pointer, so that the modules below the builder can run a nested
/// validation without importing it).
pub(crate) type Validate =
    fn(&PathValidation<'_>, &Certificate) -> Result<ValidatedPath, PathError>;

/// One path validation in progress.
pub(crate) struct PathValidation<'a> {
    pub(crate) anchors: &'a TrustAnchors,
    pub(crate) pools: &'a [&'a CertStore],
    pub(crate) crls: &'a CrlSet,
    pub(crate) options: &'a ValidationOptions,
    /// The work counters (shared with the rest of the envelope's verification).
    pub(crate) meter: Meter,
    pub(crate) purpose: Purpose,
    /// Fingerprints of the CRL signers whose validation encloses this one (innermost
    /// last): a signer whose own status depends on itself cannot vouch for itself.
    pub(crate) crl_signers: Vec<[u8; 32]>,
    /// Builds and validates a path (for the CRL signers' nested validations).
    pub(crate) validate: Validate,
}

impl PathValidation<'_> {
    /// A certificate's key under the budget's modulus cap (set up once per certificate:
    /// [`Certificate::public_key_bounded`]).
    pub(crate) fn key_of(
        &self,
        cert: &Certificate,
        inherited: Option<&DsaParameters>,
    ) -> Result<Arc<PreparedPublicKey>, KeyError> {
        cert.public_key_bounded(inherited, self.options.budget.max_rsa_bits)
    }

    /// Whether `signer`'s path is being validated by an enclosing step: then it may vouch
    /// for its own status (PKITS 4.14.30: an indirect CRL covers its own issuer's
    /// certificate); the enclosing validation still fails if anything else is wrong.
    pub(crate) fn validating_crl_signer(&self, signer: &Certificate) -> bool {
        self.crl_signers.contains(&signer.fingerprint())
    }

    /// Whether another nested CRL-signer validation fits the nesting limit.
    pub(crate) fn may_nest_crl_signer(&self) -> bool {
        self.crl_signers.len() < MAX_CRL_SIGNER_DEPTH
    }

    /// Validates the path of a CRL signer, which must lead to `anchor` (RFC 5280
    /// §6.3.3 (f)): a nested validation sharing this one's budget.
    pub(crate) fn validate_crl_signer(
        &self,
        signer: &Certificate,
        anchor: &Certificate,
    ) -> Result<ValidatedPath, PathError> {
        let anchors = TrustAnchors::new([anchor.clone()])?;
        let mut crl_signers = self.crl_signers.clone();
        crl_signers.push(signer.fingerprint());
        let nested = PathValidation {
            anchors: &anchors,
            pools: self.pools,
            crls: self.crls,
            options: self.options,
            meter: self.meter.clone(),
            purpose: Purpose::CrlSigning,
            crl_signers,
            validate: self.validate,
        };
        (self.validate)(&nested, signer)
    }

    /// Verifies a signature made by `key` under `algorithm` (identifying parts for the
    /// memo), memoised per envelope and in the path cache, counting it against the budget.
    /// `message_id` identifies `message` (a fingerprint of what contains it).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn verify_signature(
        &self,
        algorithm: &[&[u8]],
        key: &PreparedPublicKey,
        scheme: &SignatureScheme,
        digest: crate::algorithm::DigestAlgorithm,
        message_id: &[u8],
        message: &[u8],
        signature: &[u8],
    ) -> Result<bool, PathError> {
        let id = prepared_signature_id(key, algorithm, message_id, signature);
        self.meter.signature(id, message.len(), || {
            self.options
                .provider
                .verify_prepared(key, scheme, digest, message, signature)
                .is_ok()
        })
    }

    /// Checks that `issuer_key` (with any DSA parameters it inherited) signed `cert`.
    pub(crate) fn check_certificate_signature(
        &self,
        cert: &Certificate,
        issuer: &Certificate,
        issuer_key: &PreparedPublicKey,
    ) -> Result<(), PathError> {
        let name = || cert.subject_display();
        let alg_err = |error| PathError::Algorithm {
            cert: name(),
            error,
        };
        if cert.signature_algorithm() != cert.tbs_signature_algorithm() {
            return Err(PathError::Algorithm {
                cert: name(),
                error: crate::algorithm::AlgorithmError::BadParameters(
                    "certificate: signatureAlgorithm differs from tbsCertificate.signature",
                ),
            });
        }
        let scheme = SignatureScheme::from_algorithm_identifier(cert.signature_algorithm())
            .map_err(alg_err)?;
        let digest = match scheme {
            // Pure schemes hash nothing outside; SHA-512 only names the check in the memo.
            s if s.is_pure() => crate::algorithm::DigestAlgorithm::Sha512,
            _ => scheme.named_digest().ok_or_else(|| {
                alg_err(crate::algorithm::AlgorithmError::BadParameters(
                    "certificate signature algorithm without a digest",
                ))
            })?,
        };
        issuer_key
            .key()
            .check_scheme(&scheme, digest, &self.options.algorithms)
            .map_err(alg_err)?;
        let alg = der::Encode::to_der(cert.signature_algorithm()).unwrap_or_default();
        if self.verify_signature(
            &[b"certificate", &alg, digest.name().as_bytes()],
            issuer_key,
            &scheme,
            digest,
            &cert.fingerprint(),
            cert.tbs_der(),
            cert.signature(),
        )? {
            Ok(())
        } else {
            Err(PathError::BadSignature {
                cert: name(),
                issuer: issuer.subject_display(),
            })
        }
    }
}
