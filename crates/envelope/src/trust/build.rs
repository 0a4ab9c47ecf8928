//! Path building: a depth-first search from the end-entity towards a trust anchor.
//!
//! Candidates for each issuer are the trust anchors and pool certificates whose subject
//! matches the child's issuer (RFC 5280 §7.1 comparison), tried anchors first, then
//! certificates whose subject key identifier matches the child's authority key identifier,
//! then certificates valid at the verification time. Each edge's signature is checked as
//! it is taken; each complete candidate path then goes through [`super::process`]. When
//! every candidate fails, the error of the candidate that got furthest is reported.
//!
//! All work is counted against the [`super::Budget`], shared with the validation of CRL
//! signers, so a hostile pool cannot make one validation run for long.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;

use sha2::Digest;

use super::{PathError, Purpose, TrustAnchors, ValidatedPath, ValidationOptions, process};
use crate::algorithm::SignatureScheme;
use crate::cert::Certificate;
use crate::key::{DsaParameters, PublicKey};
use crate::store::{CertStore, CrlSet};

/// How deep CRL-signer validation may recurse (a CRL signer's own revocation check may
/// need another CRL signer's path, and so on).
const MAX_CRL_SIGNER_DEPTH: usize = 3;

/// Work counters and memoised signature results shared by a validation and the nested
/// validations of its CRL signers.
#[derive(Default)]
pub(crate) struct Shared {
    signature_checks: Cell<usize>,
    build_calls: Cell<usize>,
    signatures: RefCell<HashMap<[u8; 32], bool>>,
}

/// One path validation in progress.
pub struct Builder<'a> {
    pub(crate) anchors: &'a TrustAnchors,
    pub(crate) pools: &'a [&'a CertStore],
    pub(crate) crls: &'a CrlSet,
    pub(crate) options: &'a ValidationOptions,
    pub(crate) shared: Rc<Shared>,
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
            shared: Rc::new(Shared::default()),
            purpose: options.purpose,
            crl_signers: Vec::new(),
        }
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
            shared: self.shared.clone(),
            purpose: Purpose::CrlSigning,
            crl_signers,
        };
        nested.validate(signer)
    }

    fn tick_build(&self) -> Result<(), PathError> {
        let n = self.shared.build_calls.get() + 1;
        self.shared.build_calls.set(n);
        if n > self.options.budget.max_build_calls {
            return Err(PathError::BudgetExceeded {
                what: "build steps",
            });
        }
        Ok(())
    }

    /// Verifies a signature made by `key` (memoised by `memo`), counting it against the budget.
    pub(crate) fn verify_signature(
        &self,
        memo: [u8; 32],
        key: &PublicKey,
        scheme: &SignatureScheme,
        digest: crate::algorithm::DigestAlgorithm,
        message: &[u8],
        signature: &[u8],
    ) -> Result<bool, PathError> {
        if let Some(ok) = self.shared.signatures.borrow().get(&memo) {
            return Ok(*ok);
        }
        let n = self.shared.signature_checks.get() + 1;
        self.shared.signature_checks.set(n);
        if n > self.options.budget.max_signature_checks {
            return Err(PathError::BudgetExceeded {
                what: "signature checks",
            });
        }
        let ok = key.verify(scheme, digest, message, signature).is_ok();
        self.shared.signatures.borrow_mut().insert(memo, ok);
        Ok(ok)
    }

    /// Checks that `issuer_key` signed `cert`.
    pub(crate) fn check_certificate_signature(
        &self,
        cert: &Certificate,
        issuer: &Certificate,
        issuer_key: &PublicKey,
        dsa_params: Option<&DsaParameters>,
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
        let params = dsa_params.map(DsaParameters::as_der).unwrap_or_default();
        if self.verify_signature(
            memo(&[b"cert", &cert.fingerprint(), &issuer.fingerprint(), params]),
            issuer_key,
            &scheme,
            digest,
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
        self.tick_build()?;
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
        for pool in self.pools {
            for c in pool.by_subject(child.issuer_key()) {
                let loops = chain.iter().any(|x| {
                    x == c
                        || (x.subject_key() == c.subject_key()
                            && x.public_key_info() == c.public_key_info())
                });
                if !loops && !candidates.contains(&c) && !self.anchors.contains(c) {
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
            if let Ok(key) = PublicKey::from_spki(cand.public_key_info()) {
                match self.check_certificate_signature(&child, cand, &key, None) {
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

/// A memoisation key for a signature check: SHA-256 over length-framed parts.
pub(crate) fn memo(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = sha2::Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_be_bytes());
        h.update(p);
    }
    h.finalize().into()
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
