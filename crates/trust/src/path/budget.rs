//! The work budget of one envelope (the rustls-webpki approach, widened to the whole
//! envelope): every signer-certificate candidate, signature check, path-building step and
//! embedded CRL counts against one [`Budget`], through one [`Meter`].
//!
//! A hostile envelope can carry many certificates sharing one subjectKeyIdentifier, many
//! signers, huge keys, deep or wide certificate pools and large CRL bags. Each of those
//! multiplies the others, so the limits are counted together over the whole envelope
//! (every signer, every countersignature hop of a routing slip) rather than per path, and
//! the first one exceeded stops the verification with `budget-exceeded`.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;

use sha2::Digest;

use super::{PathCache, PathError};
use crate::provider::PreparedPublicKey;

/// Limits on the work verifying one envelope may do. The defaults are generous for real
/// traffic (one or a few signers, paths of two or three certificates, a CRL per issuer)
/// and bound a hostile envelope to well under a second of CPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Budget {
    /// Public-key operations: content signatures, certificate and CRL signatures, over
    /// the whole envelope. Each counts 1, plus 1 per full MiB of message it must hash
    /// (a large CRL, or Ed25519 over large content without signed attributes), so that
    /// checking one big message against many keys is bounded too. Results found in the
    /// memo or the [`PathCache`] do not count. Default 200.
    pub max_signature_checks: usize,
    /// Steps of the depth-first path search, over the whole envelope. Default 2000.
    pub max_build_calls: usize,
    /// Certificates in a path, trust anchor excluded (a limit per path). Default 10.
    pub max_path_len: usize,
    /// Certificates tried as a signer's certificate (matching its issuer and serial number
    /// or its subjectKeyIdentifier), all signers together. Default 64.
    pub max_signer_candidates: usize,
    /// CRLs carried by the envelope that may be parsed (only those of issuers on a path
    /// being checked are). Default 32.
    pub max_crls: usize,
    /// Total size of the CRLs an envelope carries, checked before any of them is parsed or
    /// hashed. Default 8 MiB.
    pub max_crl_bytes: usize,
    /// Largest RSA (and DSA) modulus, in bits, refused before any arithmetic with
    /// `key-too-large`. Default [`crate::key::DEFAULT_MAX_MODULUS_BITS`] (8192).
    pub max_rsa_bits: usize,
}

impl Default for Budget {
    fn default() -> Self {
        Self {
            max_signature_checks: 200,
            max_build_calls: 2_000,
            max_path_len: 10,
            max_signer_candidates: 64,
            max_crls: 32,
            max_crl_bytes: 8 << 20,
            max_rsa_bits: crate::key::DEFAULT_MAX_MODULUS_BITS,
        }
    }
}

/// The work done so far under a [`Meter`] (what the budget counts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Work {
    /// Public-key operations actually performed (weighted as
    /// [`Budget::max_signature_checks`] says).
    pub signature_checks: usize,
    /// Signature results answered by the memo of this envelope or by the [`PathCache`].
    pub signature_cache_hits: usize,
    /// Path-search steps.
    pub build_calls: usize,
    /// Signer-certificate candidates tried.
    pub signer_candidates: usize,
    /// Embedded CRLs parsed.
    pub crls_parsed: usize,
    /// Bytes of the embedded CRLs parsed.
    pub crl_bytes_parsed: usize,
}

struct Inner {
    budget: Budget,
    work: Cell<Work>,
    memo: RefCell<HashMap<[u8; 32], bool>>,
    cache: Option<Arc<PathCache>>,
}

/// Counts one envelope's work against its [`Budget`]. Cheap to clone (clones share the
/// counters); not `Send`: one meter belongs to one verification in progress.
#[derive(Clone)]
pub struct Meter(Rc<Inner>);

impl std::fmt::Debug for Meter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Meter({:?} of {:?})", self.work(), self.0.budget)
    }
}

impl Meter {
    /// A fresh meter for `budget`, with no cross-envelope signature cache.
    pub fn new(budget: Budget) -> Self {
        Self::with_cache(budget, None)
    }

    /// A fresh meter whose signature results are also looked up in, and stored into,
    /// `cache` (successes and failures, keyed by the signer's public key).
    pub fn with_cache(budget: Budget, cache: Option<Arc<PathCache>>) -> Self {
        Self(Rc::new(Inner {
            budget,
            work: Cell::new(Work::default()),
            memo: RefCell::new(HashMap::new()),
            cache,
        }))
    }

    /// The budget counted against.
    pub fn budget(&self) -> &Budget {
        &self.0.budget
    }

    /// The work done so far.
    pub fn work(&self) -> Work {
        self.0.work.get()
    }

    fn update(&self, f: impl FnOnce(&mut Work)) -> Work {
        let mut w = self.0.work.get();
        f(&mut w);
        self.0.work.set(w);
        w
    }

    /// Counts one path-search step.
    pub(crate) fn tick_build(&self) -> Result<(), PathError> {
        let w = self.update(|w| w.build_calls += 1);
        if w.build_calls > self.0.budget.max_build_calls {
            return Err(PathError::BudgetExceeded {
                what: "path-building steps",
            });
        }
        Ok(())
    }

    /// Counts one signer-certificate candidate.
    pub fn tick_candidate(&self) -> Result<(), PathError> {
        let w = self.update(|w| w.signer_candidates += 1);
        if w.signer_candidates > self.0.budget.max_signer_candidates {
            return Err(PathError::BudgetExceeded {
                what: "signer-certificate candidates",
            });
        }
        Ok(())
    }

    /// Counts one embedded CRL about to be parsed.
    pub(crate) fn tick_crl(&self, bytes: usize) -> Result<(), PathError> {
        let w = self.update(|w| {
            w.crls_parsed += 1;
            w.crl_bytes_parsed += bytes;
        });
        if w.crls_parsed > self.0.budget.max_crls {
            return Err(PathError::BudgetExceeded {
                what: "CRLs parsed",
            });
        }
        Ok(())
    }

    /// The result of a signature check identified by `id` (see [`prepared_signature_id`]) over a
    /// message of `message_len` bytes: from this envelope's memo, from the cache, or by
    /// running `check`, which then counts against the budget. `id` `None`: not
    /// memoisable, always run (and counted).
    pub fn signature(
        &self,
        id: Option<[u8; 32]>,
        message_len: usize,
        check: impl FnOnce() -> bool,
    ) -> Result<bool, PathError> {
        if let Some(id) = id {
            let known = self
                .0
                .memo
                .borrow()
                .get(&id)
                .copied()
                .or_else(|| self.0.cache.as_ref().and_then(|c| c.signature_result(&id)));
            if let Some(ok) = known {
                self.update(|w| w.signature_cache_hits += 1);
                self.0.memo.borrow_mut().insert(id, ok);
                return Ok(ok);
            }
        }
        let w = self.update(|w| w.signature_checks += 1 + (message_len >> 20));
        if w.signature_checks > self.0.budget.max_signature_checks {
            return Err(PathError::BudgetExceeded {
                what: "signature checks",
            });
        }
        let ok = check();
        if let Some(id) = id {
            self.0.memo.borrow_mut().insert(id, ok);
            if let Some(cache) = &self.0.cache {
                cache.remember_signature(id, ok);
            }
        }
        Ok(ok)
    }
}

/// The identity of a signature check (for the memo and the cache): SHA-256 over the signer's public key (its
/// `SubjectPublicKeyInfo`, DSA parameters inherited included), the algorithm as
/// `algorithm` describes it, `message_id` (a collision-resistant digest that determines
/// the signed bytes: a certificate's or CRL's fingerprint, a hash of the signed
/// attributes or of the content) and the signature. Two certificates holding one key
/// share it; anything that changes the outcome changes it. `None` for a key that cannot
/// be encoded (then the check is not memoised).
///
/// The key's `SubjectPublicKeyInfo` encoding is the one a [`PreparedPublicKey`] made once
/// and kept ([`PreparedPublicKey::spki_der`]).
pub fn prepared_signature_id(
    key: &PreparedPublicKey,
    algorithm: &[&[u8]],
    message_id: &[u8],
    signature: &[u8],
) -> Option<[u8; 32]> {
    Some(id_of_spki(
        key.spki_der()?,
        algorithm,
        message_id,
        signature,
    ))
}

/// [`prepared_signature_id`] for a bare public key, encoding it: tests compare the two.
#[cfg(test)]
pub(crate) fn signature_id(
    key: &crate::key::PublicKey,
    algorithm: &[&[u8]],
    message_id: &[u8],
    signature: &[u8],
) -> Option<[u8; 32]> {
    Some(id_of_spki(
        &key.to_spki_der()?,
        algorithm,
        message_id,
        signature,
    ))
}

fn id_of_spki(spki: &[u8], algorithm: &[&[u8]], message_id: &[u8], signature: &[u8]) -> [u8; 32] {
    let mut h = sha2::Sha256::new();
    let mut part = |p: &[u8]| {
        h.update((p.len() as u64).to_be_bytes());
        h.update(p);
    };
    part(b"waxseal signature check v1");
    part(spki);
    part(&(algorithm.len() as u64).to_be_bytes());
    for a in algorithm {
        part(a);
    }
    part(message_id);
    part(signature);
    h.finalize().into()
}
