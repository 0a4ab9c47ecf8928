//! Keys with the forms the providers make from them, made once and reused by every
//! operation: [`PreparedPrivateKey`] (what a signer holds) and [`PreparedPublicKey`]
//! (what a certificate keeps for its key, [`Certificate::public_key_bounded`]).
//!
//! Public keys are also kept in bounded process-wide caches keyed by the exact bytes of
//! the key ([`PublicKey::from_spki_bounded`], and the graviola backend's own), so a
//! verifier reuses them across messages of the same signer even when each message brings
//! its own copy of the certificate. Private keys are not put in a process-wide table: the
//! prepared form lives beside the key, and goes when the key goes.
//!
//! [`PublicKey::from_spki_bounded`]: crate::key::PublicKey::from_spki_bounded
//! [`Certificate::public_key_bounded`]: crate::cert::Certificate::public_key_bounded

use std::sync::OnceLock;

use super::{BackendId, Provider, SignOp, current, graviola, rustcrypto};
use crate::algorithm::{DigestAlgorithm, SignatureScheme};
use crate::key::{KeyError, PrivateKey, PublicKey, SignatureError};

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

/// A [`PublicKey`] that keeps what checking a signature with it needs besides the key:
/// graviola's form of it (for RSA, its Montgomery parameters, which cost about as much to
/// make as a signature check), made on its first graviola check, and its
/// `SubjectPublicKeyInfo` encoding, which identifies checks in the signature memo and
/// cache ([`crate::path::budget::signature_id`]), made on first use.
///
/// It verifies exactly as [`PublicKey::verify`] does: the same backend for each
/// operation ([`Provider::backend_for_verify`]), the same fallbacks, the same verdicts.
/// A [`crate::cert::Certificate`] keeps one for its key, as OpenSSL's `X509` keeps its
/// `EVP_PKEY`, so that path validation sets a key up once per certificate rather than
/// once per step that needs it.
#[derive(Debug)]
pub struct PreparedPublicKey {
    key: PublicKey,
    spki: OnceLock<Option<Vec<u8>>>,
    graviola: graviola::PreparedVerifying,
}

impl From<PublicKey> for PreparedPublicKey {
    fn from(key: PublicKey) -> Self {
        Self::new(key)
    }
}

impl PreparedPublicKey {
    /// `key`, with nothing prepared yet (that happens on first use).
    pub fn new(key: PublicKey) -> Self {
        Self {
            key,
            spki: OnceLock::new(),
            graviola: graviola::PreparedVerifying::default(),
        }
    }

    /// The key.
    pub fn key(&self) -> &PublicKey {
        &self.key
    }

    /// The key as a `SubjectPublicKeyInfo` ([`PublicKey::to_spki_der`]), encoded once.
    /// `None` for a key that does not encode.
    pub fn spki_der(&self) -> Option<&[u8]> {
        self.spki.get_or_init(|| self.key.to_spki_der()).as_deref()
    }

    /// [`PublicKey::verify`], with the prepared forms: verifies `signature` over `message`
    /// with the current provider. Call [`PublicKey::check_scheme`] first.
    pub fn verify(
        &self,
        scheme: &SignatureScheme,
        digest: DigestAlgorithm,
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), SignatureError> {
        let provider = current().map_err(|_| SignatureError)?;
        provider
            .verify_prepared(self, scheme, digest, message, signature)
            .map(drop)
    }
}

impl Provider {
    /// [`Provider::verify`] with a [`PreparedPublicKey`]: graviola's form of the key is
    /// taken (from the process-wide cache, or made) on the first graviola check and kept
    /// for the next ones. Same backends, same fallbacks, same verdicts.
    pub fn verify_prepared(
        &self,
        key: &PreparedPublicKey,
        scheme: &SignatureScheme,
        digest: DigestAlgorithm,
        message: &[u8],
        signature: &[u8],
    ) -> Result<BackendId, SignatureError> {
        if self.uses_graviola()
            && let Some(r) = graviola::verify_prepared(
                &key.key,
                &key.graviola,
                scheme,
                digest,
                message,
                signature,
            )
        {
            return r.map(|()| BackendId::Graviola);
        }
        rustcrypto::RustCrypto
            .verify_all(&key.key, scheme, digest, message, signature)
            .map(|()| BackendId::RustCrypto)
    }
}
