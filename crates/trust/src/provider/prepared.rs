//! A private key with the forms the providers make from it, made once and reused by
//! every signature ([`PreparedPrivateKey`]).
//!
//! The public half needs no such type: [`PublicKey::from_spki_bounded`] and the graviola
//! backend keep prepared public keys in bounded process-wide caches keyed by the exact
//! bytes of the key, so a verifier reuses them across messages of the same signer without
//! holding anything. Private keys are not put in a process-wide table: the prepared form
//! lives beside the key, and goes when the key goes.
//!
//! [`PublicKey::from_spki_bounded`]: crate::key::PublicKey::from_spki_bounded

use super::{SignOp, current, graviola};
use crate::algorithm::DigestAlgorithm;
use crate::key::{KeyError, PrivateKey};

/// A [`PrivateKey`] that keeps graviola's form of itself, made on its first graviola
/// signature and reused by the next ones (graviola's RSA key, for example, computes its
/// Montgomery parameters when it is made: about a fifth of an RSA-2048 signature).
///
/// It signs exactly as [`PrivateKey::sign`] does: the same backend for each operation
/// ([`super::Provider::backend_for_sign`]), the same fallbacks (a key graviola refuses, or
/// an RSA signature graviola's own check refuses, is signed by RustCrypto), the same
/// signatures. The RustCrypto keys need no preparing: they are kept prepared already.
/// A clone shares the prepared form (it is never changed once made).
#[derive(Debug, Clone)]
pub struct PreparedPrivateKey {
    key: PrivateKey,
    graviola: graviola::PreparedSigning,
}

impl From<PrivateKey> for PreparedPrivateKey {
    fn from(key: PrivateKey) -> Self {
        Self::new(key)
    }
}

impl PreparedPrivateKey {
    /// `key`, with nothing prepared yet (that happens on its first signature).
    pub fn new(key: PrivateKey) -> Self {
        Self {
            key,
            graviola: graviola::PreparedSigning::default(),
        }
    }

    /// The key.
    pub fn key(&self) -> &PrivateKey {
        &self.key
    }

    /// The key, without its prepared forms.
    pub fn into_key(self) -> PrivateKey {
        self.key
    }

    /// graviola's form of the key (made on first use).
    pub(super) fn graviola(&self) -> &graviola::PreparedSigning {
        &self.graviola
    }

    /// [`PrivateKey::sign`], with the prepared forms: signs `message` with `digest` (RSA
    /// PKCS #1 v1.5 unless `pss`) with the current provider ([`current`]), returning the
    /// signature algorithm identifier and the signature value.
    pub fn sign(
        &self,
        message: &[u8],
        digest: DigestAlgorithm,
        pss: bool,
    ) -> Result<(spki::AlgorithmIdentifierOwned, Vec<u8>), KeyError> {
        let alg = self.key.signature_algorithm(digest, pss)?;
        let op = self.key.sign_op(digest, pss)?;
        let provider = current().map_err(|e| KeyError::Sign(e.to_string()))?;
        let (sig, _) = provider.sign_prepared(self, &op, message)?;
        Ok((alg, sig))
    }

    /// [`PrivateKey::sign_legacy_rsa_pkcs1_sha1`] (always RustCrypto: nothing to prepare).
    pub fn sign_legacy_rsa_pkcs1_sha1(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        self.key.sign_legacy_rsa_pkcs1_sha1(message)
    }

    /// The operation [`PreparedPrivateKey::sign`] performs ([`PrivateKey::sign_op`]).
    pub fn sign_op(&self, digest: DigestAlgorithm, pss: bool) -> Result<SignOp, KeyError> {
        self.key.sign_op(digest, pss)
    }
}
