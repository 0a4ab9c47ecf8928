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

use super::{Provider, SignOp, graviola};
use crate::algorithm::DigestAlgorithm;
use crate::key::{KeyError, PrivateKey, PublicKey};

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

    /// Signs `message` with `digest` (RSA PKCS #1 v1.5 unless `pss`) through `provider`,
    /// returning the signature algorithm identifier and the signature value. Ed25519 and
    /// ML-DSA sign `message` itself; Ed25519 requires `digest` to be SHA-512 (RFC 8419).
    pub fn sign(
        &self,
        provider: &Provider,
        message: &[u8],
        digest: DigestAlgorithm,
        pss: bool,
    ) -> Result<(spki::AlgorithmIdentifierOwned, Vec<u8>), KeyError> {
        let alg = self.key.signature_algorithm(digest, pss)?;
        let op = self.key.sign_op(digest, pss)?;
        let (sig, _) = provider.sign_prepared(self, &op, message)?;
        Ok((alg, sig))
    }

    /// Signs `message` with RSA PKCS #1 v1.5 over SHA-1 (sha1WithRSAEncryption), for a
    /// legacy wire format that requires exactly that and nothing else (fedmsg 1.x's
    /// `x509` messages). SHA-1 is broken for collision resistance, which is why
    /// [`PreparedPrivateKey::sign`] refuses it: call this only to talk to peers that
    /// cannot verify anything better, and only for content the signer chose (a
    /// chosen-prefix collision needs the attacker to pick both messages). RSA keys only
    /// (not RSASSA-PSS-restricted ones). RustCrypto signs it (graviola has no SHA-1).
    pub fn sign_legacy_rsa_pkcs1_sha1(
        &self,
        provider: &Provider,
        message: &[u8],
    ) -> Result<Vec<u8>, KeyError> {
        match &self.key {
            PrivateKey::Rsa(_) => {
                let op = SignOp::RsaPkcs1(DigestAlgorithm::Sha1);
                provider.sign_prepared(self, &op, message).map(|(s, _)| s)
            }
            other => Err(KeyError::Sign(format!(
                "PKCS #1 v1.5 with SHA-1 needs an RSA key, not {}",
                other.public_key().kind()
            ))),
        }
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
/// cache ([`crate::path::prepared_signature_id`]), made on first use.
///
/// [`Provider::verify`] takes one: the backend for each operation is
/// [`Provider::backend_for_verify`]'s, whether the key was prepared before or not.
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

    /// graviola's form of the key (made on first use).
    pub(super) fn graviola(&self) -> &graviola::PreparedVerifying {
        &self.graviola
    }

    /// The key as a `SubjectPublicKeyInfo` ([`PublicKey::to_spki_der`]), encoded once.
    /// `None` for a key that does not encode.
    pub fn spki_der(&self) -> Option<&[u8]> {
        self.spki.get_or_init(|| self.key.to_spki_der()).as_deref()
    }
}
