//! Path building: a depth-first search from the end-entity towards a trust anchor.
//!
//! Candidates for each issuer are the trust anchors and pool certificates whose subject
//! matches the child's issuer (RFC 5280 §7.1 comparison), tried anchors first, then
//! certificates whose subject key identifier matches the child's authority key identifier,
//! then certificates valid at the verification time. Each edge's signature is checked as
//! it is taken; each complete candidate path then goes through [`super::process`]. When
//! every candidate fails, the error of the candidate that got furthest is reported.
//!
//! All work is counted against the [`super::Budget`] through a [`Meter`] shared with the
//! validation of CRL signers and, in envelope verification, with every signer and path of
//! the envelope, so a hostile pool cannot make one verification run for long.

use std::collections::HashSet;

use super::budget::{Meter, signature_id};
use super::{PathError, Purpose, TrustAnchors, ValidatedPath, ValidationOptions, process};
use crate::algorithm::SignatureScheme;
use crate::cert::Certificate;
use crate::key::{DsaParameters, KeyError, PublicKey};
use crate::store::{CertStore, CrlSet};

/// How deep CRL-signer validation may recurse (a CRL signer's own revocation check may
/// need another CRL signer's path, and so on).
const MAX_CRL_SIGNER_DEPTH: usize = 3;

/// One path validation in progress.
pub struct Builder<'a> {
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
}

impl<'a> Builder<'a> {
    /// A builder for one validation.
    pub fn new(
        anchors: &'a TrustAnchors,
        pools: &'a [&'a CertStore],
        crls: &'a CrlSet,
        options: &'a ValidationOptions,
    ) -> Self {
        Self {
            anchors,
            pools,
            crls,
            options,
            meter: Meter::new(options.budget),
            purpose: options.purpose,
            crl_signers: Vec::new(),
        }
    }

    /// Counts this validation's work against `meter` (an envelope's) instead of a fresh
    /// meter of `options.budget`.
    pub fn with_meter(mut self, meter: &Meter) -> Self {
        self.meter = meter.clone();
        self
    }

    /// The work counters.
    pub fn meter(&self) -> &Meter {
        &self.meter
    }

    /// Parses a certificate's key under the budget's modulus cap.
    pub(crate) fn key_of(
        &self,
        cert: &Certificate,
        inherited: Option<&DsaParameters>,
    ) -> Result<PublicKey, KeyError> {
        PublicKey::from_spki_bounded(
            cert.public_key_info(),
            inherited,
            self.options.budget.max_rsa_bits,
        )
    }

    /// Builds and validates a path for `cert`.
    pub fn validate(&self, cert: &Certificate) -> Result<ValidatedPath, PathError> {
        if self.anchors.contains(cert) {
            return process::validate_direct(self, cert);
        }
        let mut best = None;
        let mut chain = vec![cert.clone()];
        match self.search(&mut chain, &mut best)? {
            Some(path) => Ok(path),
            None => Err(best.unwrap_or_else(|| PathError::UnknownIssuer {
                cert: cert.subject_display(),
                issuer: cert.issuer_display(),
            })),
        }
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
        let nested = Builder {
            anchors: &anchors,
            pools: self.pools,
            crls: self.crls,
            options: self.options,
            meter: self.meter.clone(),
            purpose: Purpose::CrlSigning,
            crl_signers,
        };
        nested.validate(signer)
    }

    /// Verifies a signature made by `key` under `algorithm` (identifying parts for the
    /// memo), memoised per envelope and in the path cache, counting it against the budget.
    /// `message_id` identifies `message` (a fingerprint of what contains it).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn verify_signature(
        &self,
        algorithm: &[&[u8]],
        key: &PublicKey,
        scheme: &SignatureScheme,
        digest: crate::algorithm::DigestAlgorithm,
        message_id: &[u8],
        message: &[u8],
        signature: &[u8],
    ) -> Result<bool, PathError> {
        let id = signature_id(key, algorithm, message_id, signature);
        self.meter.signature(id, message.len(), || {
            key.verify(scheme, digest, message, signature).is_ok()
        })
    }

    /// Checks that `issuer_key` (with any DSA parameters it inherited) signed `cert`.
    pub(crate) fn check_certificate_signature(
        &self,
        cert: &Certificate,
        issuer: &Certificate,
        issuer_key: &PublicKey,
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
            SignatureScheme::Ed25519 => crate::algorithm::DigestAlgorithm::Sha512,
            _ => scheme.named_digest().ok_or_else(|| {
                alg_err(crate::algorithm::AlgorithmError::BadParameters(
                    "certificate signature algorithm without a digest",
                ))
            })?,
        };
        issuer_key
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

    /// Depth-first search. `chain` holds the end-entity first; returns a validated path,
    /// `None` when this branch is exhausted (errors recorded in `best`), or a fatal error.
    fn search(
        &self,
        chain: &mut Vec<Certificate>,
        best: &mut Option<PathError>,
    ) -> Result<Option<ValidatedPath>, PathError> {
        self.meter.tick_build()?;
        let child = chain
            .last()
            .expect("chain starts with the end-entity")
            .clone();
        let mut tried = false;

        let mut anchors: Vec<&Certificate> = self.anchors.by_subject(child.issuer_key()).collect();
        anchors.sort_by_key(|a| std::cmp::Reverse(key_id_matches(&child, a)));
        for anchor in anchors {
            tried = true;
            match process::validate_path(self, anchor, chain) {
                Ok(path) => return Ok(Some(path)),
                Err(e @ PathError::BudgetExceeded { .. }) => return Err(e),
                Err(e) => record(best, e),
            }
        }

        if chain.len() >= self.options.budget.max_path_len {
            record(
                best,
                PathError::PathTooLong {
                    cert: chain[0].subject_display(),
                    max: self.options.budget.max_path_len,
                },
            );
            return Ok(None);
        }

        let mut candidates: Vec<&Certificate> = Vec::new();
        let mut seen = HashSet::new();
        for pool in self.pools {
            for c in pool.by_subject(child.issuer_key()) {
                let loops = chain.iter().any(|x| {
                    x == c
                        || (x.subject_key() == c.subject_key()
                            && x.public_key_info() == c.public_key_info())
                });
                if !loops && !self.anchors.contains(c) && seen.insert(c.fingerprint()) {
                    candidates.push(c);
                }
            }
        }
        let time = self.options.time;
        candidates.sort_by_key(|c| {
            let valid = c.not_before() <= time && time <= c.not_after();
            std::cmp::Reverse((key_id_matches(&child, c), valid))
        });
        for cand in candidates {
            tried = true;
            // Check the edge now when the issuer's key stands alone; a DSA key that
            // inherits its parameters is checked once the whole path is known.
            if let Ok(key) = self.key_of(cand, None) {
                match self.check_certificate_signature(&child, cand, &key) {
                    Ok(()) => {}
                    Err(e @ PathError::BudgetExceeded { .. }) => return Err(e),
                    Err(e) => {
                        record(best, e);
                        continue;
                    }
                }
            }
            chain.push(cand.clone());
            let found = self.search(chain, best);
            chain.pop();
            if let Some(path) = found? {
                return Ok(Some(path));
            }
        }
        if !tried {
            record(
                best,
                PathError::UnknownIssuer {
                    cert: child.subject_display(),
                    issuer: child.issuer_display(),
                },
            );
        }
        Ok(None)
    }
}

/// Keeps the error of the candidate that got furthest (first one on ties).
fn record(best: &mut Option<PathError>, e: PathError) {
    if best.as_ref().is_none_or(|b| e.rank() > b.rank()) {
        *best = Some(e);
    }
}

/// Whether `child`'s authority key identifier names `issuer`'s subject key identifier.
fn key_id_matches(child: &Certificate, issuer: &Certificate) -> bool {
    let aki = child
        .extensions()
        .authority_key_identifier
        .as_ref()
        .and_then(|a| a.key_identifier.as_ref());
    match (aki, issuer.subject_key_identifier()) {
        (Some(a), Some(s)) => a.as_bytes() == s,
        _ => false,
    }
}
