//! The RustCrypto backend: `rsa`, `p256`, `p384`, `ed25519-dalek`, `ml-dsa`, `dsa`,
//! `sha1`, `sha2` and `md-5`. It covers every operation waxseal makes; the other backends fall back to it.

use digest::Digest;
use signature::hazmat::{PrehashSigner, PrehashVerifier};

use super::{Backend, BackendId, DigestContext, PreparedPrivateKey, PreparedPublicKey, SignOp};
use crate::algorithm::{DigestAlgorithm, SignatureScheme};
use crate::key::{KeyError, PrivateKey, PublicKey, SignatureError, rng};

/// The RustCrypto backend (always available, covers everything).
#[derive(Debug, Clone, Copy, Default)]
pub struct RustCrypto;

impl RustCrypto {
    /// Hashes `data`.
    pub fn digest_all(&self, algorithm: DigestAlgorithm, data: &[u8]) -> Vec<u8> {
        match algorithm {
            DigestAlgorithm::Md5 => md5::Md5::digest(data).to_vec(),
            DigestAlgorithm::Sha1 => sha1::Sha1::digest(data).to_vec(),
            DigestAlgorithm::Sha256 => sha2::Sha256::digest(data).to_vec(),
            DigestAlgorithm::Sha384 => sha2::Sha384::digest(data).to_vec(),
            DigestAlgorithm::Sha512 => sha2::Sha512::digest(data).to_vec(),
        }
    }

    /// An incremental hash of `algorithm`.
    pub fn digest_context_all(&self, algorithm: DigestAlgorithm) -> Box<dyn DigestContext> {
        match algorithm {
            DigestAlgorithm::Md5 => Box::new(Context(md5::Md5::default())),
            DigestAlgorithm::Sha1 => Box::new(Context(sha1::Sha1::default())),
            DigestAlgorithm::Sha256 => Box::new(Context(sha2::Sha256::default())),
            DigestAlgorithm::Sha384 => Box::new(Context(sha2::Sha384::default())),
            DigestAlgorithm::Sha512 => Box::new(Context(sha2::Sha512::default())),
        }
    }

    /// Verifies `signature` over `message`.
    pub fn verify_all(
        &self,
        key: &PublicKey,
        scheme: &SignatureScheme,
        digest: DigestAlgorithm,
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), SignatureError> {
        let bad = |_: signature::Error| SignatureError;
        match (key, scheme) {
            (PublicKey::Ed25519(k), SignatureScheme::Ed25519) => {
                let sig = ed25519_dalek::Signature::from_slice(signature).map_err(bad)?;
                k.verify_strict(message, &sig).map_err(bad)
            }
            (PublicKey::Ed25519(_), _) | (_, SignatureScheme::Ed25519) => Err(SignatureError),
            (PublicKey::MlDsa(k), SignatureScheme::MlDsa(set)) if k.parameter_set() == *set => {
                k.verify(message, signature)
            }
            (PublicKey::MlDsa(_), _) | (_, SignatureScheme::MlDsa(_)) => Err(SignatureError),
            _ => self.verify_prehash_all(
                key,
                scheme,
                digest,
                &self.digest_all(digest, message),
                signature,
            ),
        }
    }

    /// Verifies `signature` over an already computed `hash` (not Ed25519).
    pub fn verify_prehash_all(
        &self,
        key: &PublicKey,
        scheme: &SignatureScheme,
        digest: DigestAlgorithm,
        hash: &[u8],
        signature: &[u8],
    ) -> Result<(), SignatureError> {
        let bad = |_: signature::Error| SignatureError;
        match (key, scheme) {
            (PublicKey::Rsa(k), SignatureScheme::RsaPkcs1 { .. }) => k
                .verify(pkcs1v15_scheme(digest), hash, signature)
                .map_err(|_| SignatureError),
            (
                PublicKey::Rsa(k) | PublicKey::RsaPss(k, _),
                SignatureScheme::RsaPss { salt_len, .. },
            ) => verify_pss(k, digest, *salt_len, hash, signature),
            (PublicKey::P256(k), SignatureScheme::Ecdsa { .. }) => {
                let sig = p256::ecdsa::Signature::from_der(signature).map_err(bad)?;
                k.verify_prehash(hash, &sig).map_err(bad)
            }
            (PublicKey::P384(k), SignatureScheme::Ecdsa { .. }) => {
                let sig = p384::ecdsa::Signature::from_der(signature).map_err(bad)?;
                k.verify_prehash(hash, &sig).map_err(bad)
            }
            (PublicKey::Dsa(k), SignatureScheme::Dsa { .. }) => {
                let sig = dsa::Signature::try_from(signature).map_err(bad)?;
                k.verify_prehash(hash, &sig).map_err(bad)
            }
            _ => Err(SignatureError),
        }
    }

    /// Signs `message` as `op` says.
    pub fn sign_all(
        &self,
        key: &PrivateKey,
        op: &SignOp,
        message: &[u8],
    ) -> Result<Vec<u8>, KeyError> {
        let sign_err = |e: &dyn std::fmt::Display| KeyError::Sign(e.to_string());
        Ok(match (key, *op) {
            (PrivateKey::Ed25519(k), SignOp::Ed25519) => {
                use signature::Signer;
                let sig: ed25519_dalek::Signature =
                    k.try_sign(message).map_err(|e| sign_err(&e))?;
                sig.to_bytes().to_vec()
            }
            (PrivateKey::MlDsa(k), SignOp::MlDsa) => k.sign(message)?,
            (PrivateKey::Rsa(k), SignOp::RsaPkcs1(digest)) => k
                .sign_with_rng(
                    &mut rng(),
                    pkcs1v15_scheme(digest),
                    &self.digest_all(digest, message),
                )
                .map_err(|e| sign_err(&e))?,
            (PrivateKey::Rsa(k) | PrivateKey::RsaPss(k, _), SignOp::RsaPss(digest, salt)) => {
                let hash = self.digest_all(digest, message);
                let mut rng = rng();
                match digest {
                    DigestAlgorithm::Sha256 => k.sign_with_rng(
                        &mut rng,
                        rsa::Pss::<sha2::Sha256>::new_with_salt(salt),
                        &hash,
                    ),
                    DigestAlgorithm::Sha384 => k.sign_with_rng(
                        &mut rng,
                        rsa::Pss::<sha2::Sha384>::new_with_salt(salt),
                        &hash,
                    ),
                    DigestAlgorithm::Sha512 => k.sign_with_rng(
                        &mut rng,
                        rsa::Pss::<sha2::Sha512>::new_with_salt(salt),
                        &hash,
                    ),
                    other => return Err(KeyError::Sign(format!("rsa-pss with {other}"))),
                }
                .map_err(|e| sign_err(&e))?
            }
            (PrivateKey::P256(k), SignOp::Ecdsa(digest)) => {
                let sig: p256::ecdsa::Signature = k
                    .sign_prehash(&self.digest_all(digest, message))
                    .map_err(|e| sign_err(&e))?;
                sig.to_der().as_bytes().to_vec()
            }
            (PrivateKey::P384(k), SignOp::Ecdsa(digest)) => {
                let sig: p384::ecdsa::Signature = k
                    .sign_prehash(&self.digest_all(digest, message))
                    .map_err(|e| sign_err(&e))?;
                sig.to_der().as_bytes().to_vec()
            }
            (key, op) => {
                return Err(KeyError::Sign(format!(
                    "{op:?} does not suit a {} key",
                    key.public_key().kind()
                )));
            }
        })
    }
}

impl Backend for RustCrypto {
    fn id(&self) -> BackendId {
        BackendId::RustCrypto
    }

    fn digest(&self, algorithm: DigestAlgorithm, data: &[u8]) -> Option<Vec<u8>> {
        Some(self.digest_all(algorithm, data))
    }

    fn digest_context(&self, algorithm: DigestAlgorithm) -> Option<Box<dyn DigestContext>> {
        Some(self.digest_context_all(algorithm))
    }

    fn verify(
        &self,
        key: &PreparedPublicKey,
        scheme: &SignatureScheme,
        digest: DigestAlgorithm,
        message: &[u8],
        signature: &[u8],
    ) -> Option<Result<(), SignatureError>> {
        Some(self.verify_all(key.key(), scheme, digest, message, signature))
    }

    fn verify_prehash(
        &self,
        key: &PublicKey,
        scheme: &SignatureScheme,
        digest: DigestAlgorithm,
        hash: &[u8],
        signature: &[u8],
    ) -> Option<Result<(), SignatureError>> {
        Some(self.verify_prehash_all(key, scheme, digest, hash, signature))
    }

    fn sign(
        &self,
        key: &PreparedPrivateKey,
        op: &SignOp,
        message: &[u8],
    ) -> Option<Result<Vec<u8>, KeyError>> {
        Some(self.sign_all(key.key(), op, message))
    }
}

/// RustCrypto's incremental hashes.
#[derive(Clone)]
struct Context<D>(D);

impl<D: Digest + Clone + Send + 'static> DigestContext for Context<D> {
    fn update(&mut self, data: &[u8]) {
        Digest::update(&mut self.0, data);
    }
    fn finish(self: Box<Self>) -> Vec<u8> {
        self.0.finalize().to_vec()
    }
    fn box_clone(&self) -> Box<dyn DigestContext> {
        Box::new(self.clone())
    }
}

fn pkcs1v15_scheme(digest: DigestAlgorithm) -> rsa::Pkcs1v15Sign {
    match digest {
        DigestAlgorithm::Md5 => rsa::Pkcs1v15Sign::new::<md5::Md5>(),
        DigestAlgorithm::Sha1 => rsa::Pkcs1v15Sign::new::<sha1::Sha1>(),
        DigestAlgorithm::Sha256 => rsa::Pkcs1v15Sign::new::<sha2::Sha256>(),
        DigestAlgorithm::Sha384 => rsa::Pkcs1v15Sign::new::<sha2::Sha384>(),
        DigestAlgorithm::Sha512 => rsa::Pkcs1v15Sign::new::<sha2::Sha512>(),
    }
}

fn verify_pss(
    key: &rsa::RsaPublicKey,
    digest: DigestAlgorithm,
    salt_len: usize,
    hash: &[u8],
    signature: &[u8],
) -> Result<(), SignatureError> {
    let r = match digest {
        DigestAlgorithm::Sha1 => key.verify(
            rsa::Pss::<sha1::Sha1>::new_with_salt(salt_len),
            hash,
            signature,
        ),
        DigestAlgorithm::Sha256 => key.verify(
            rsa::Pss::<sha2::Sha256>::new_with_salt(salt_len),
            hash,
            signature,
        ),
        DigestAlgorithm::Sha384 => key.verify(
            rsa::Pss::<sha2::Sha384>::new_with_salt(salt_len),
            hash,
            signature,
        ),
        DigestAlgorithm::Sha512 => key.verify(
            rsa::Pss::<sha2::Sha512>::new_with_salt(salt_len),
            hash,
            signature,
        ),
        DigestAlgorithm::Md5 => return Err(SignatureError),
    };
    r.map_err(|_| SignatureError)
}
