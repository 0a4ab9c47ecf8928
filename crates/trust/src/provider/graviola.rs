//! The graviola backend: RSA PKCS #1 v1.5 and PSS (2048 to 8192-bit keys, salt as long
//! as the hash), ECDSA on P-256 and P-384, Ed25519, SHA-256/384/512, with graviola's
//! formally verified assembly (s2n-bignum). Only on x86_64 and aarch64, and only called
//! after [`super::graviola_supported`] said the CPU can run it (graviola panics
//! otherwise). What it does not cover (`None`), RustCrypto does.
//!
//! graviola's API takes the message and hashes it itself: there is no "verify this
//! digest" entry point, so [`Backend::verify_prehash`] is never covered here.

use super::{Backend, BackendId, SignOp};
use crate::algorithm::{DigestAlgorithm, SignatureScheme};
use crate::key::{KeyError, PrivateKey, PublicKey, SignatureError};

/// The RSA modulus sizes graviola takes, in bits.
pub const RSA_BITS: std::ops::RangeInclusive<usize> = 2048..=8192;

/// The graviola backend. Use it through a [`super::Provider`], which checks the CPU first.
#[derive(Debug, Clone, Copy, Default)]
pub struct Graviola;

/// The SHA-2 digests graviola computes.
fn sha2(digest: DigestAlgorithm) -> bool {
    matches!(
        digest,
        DigestAlgorithm::Sha256 | DigestAlgorithm::Sha384 | DigestAlgorithm::Sha512
    )
}

/// Whether graviola does [`Backend::digest`] for `algorithm` (SHA-2 only).
pub fn covers_digest(algorithm: DigestAlgorithm) -> bool {
    sha2(algorithm)
}

/// Whether graviola does [`Backend::verify`] for these arguments.
pub fn covers_verify(key: &PublicKey, scheme: &SignatureScheme, digest: DigestAlgorithm) -> bool {
    match (key, scheme) {
        (PublicKey::Rsa(_), SignatureScheme::RsaPkcs1 { .. }) => {
            sha2(digest) && RSA_BITS.contains(&key.bits())
        }
        (PublicKey::Rsa(_) | PublicKey::RsaPss(..), SignatureScheme::RsaPss { salt_len, .. }) => {
            sha2(digest) && *salt_len == digest.output_len() && RSA_BITS.contains(&key.bits())
        }
        (PublicKey::P256(_) | PublicKey::P384(_), SignatureScheme::Ecdsa { .. }) => sha2(digest),
        (PublicKey::Ed25519(_), SignatureScheme::Ed25519) => true,
        _ => false,
    }
}

/// Whether graviola does [`Backend::sign`] for these arguments.
pub fn covers_sign(key: &PrivateKey, op: &SignOp) -> bool {
    let rsa_bits = || RSA_BITS.contains(&key.public_key().bits());
    match (key, *op) {
        (PrivateKey::Rsa(_), SignOp::RsaPkcs1(d)) => sha2(d) && rsa_bits(),
        (PrivateKey::Rsa(_) | PrivateKey::RsaPss(..), SignOp::RsaPss(d, salt)) => {
            sha2(d) && salt == d.output_len() && rsa_bits()
        }
        (PrivateKey::P256(_) | PrivateKey::P384(_), SignOp::Ecdsa(d)) => sha2(d),
        (PrivateKey::Ed25519(_), SignOp::Ed25519) => true,
        _ => false,
    }
}

#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
mod imp {
    use graviola::hashing::{Hash, Sha256, Sha384, Sha512};
    use graviola::signing::{ecdsa, eddsa, rsa as grsa};

    use super::*;

    /// Runs `f::<H>` with graviola's hash type for `digest` (SHA-2 only).
    macro_rules! with_hash {
        ($digest:expr, $f:ident ( $($arg:expr),* )) => {
            match $digest {
                DigestAlgorithm::Sha256 => $f::<Sha256>($($arg),*),
                DigestAlgorithm::Sha384 => $f::<Sha384>($($arg),*),
                DigestAlgorithm::Sha512 => $f::<Sha512>($($arg),*),
                _ => return None,
            }
        };
    }

    pub(super) fn digest(algorithm: DigestAlgorithm, data: &[u8]) -> Option<Vec<u8>> {
        Some(match algorithm {
            DigestAlgorithm::Sha256 => Sha256::hash(data).as_ref().to_vec(),
            DigestAlgorithm::Sha384 => Sha384::hash(data).as_ref().to_vec(),
            DigestAlgorithm::Sha512 => Sha512::hash(data).as_ref().to_vec(),
            _ => return None,
        })
    }

    fn rsa_public(k: &::rsa::RsaPublicKey) -> Option<grsa::VerifyingKey> {
        let der = pkcs1::EncodeRsaPublicKey::to_pkcs1_der(k).ok()?;
        grsa::VerifyingKey::from_pkcs1_der(der.as_bytes()).ok()
    }

    fn rsa_private(k: &::rsa::RsaPrivateKey) -> Option<grsa::SigningKey> {
        let der = pkcs1::EncodeRsaPrivateKey::to_pkcs1_der(k).ok()?;
        grsa::SigningKey::from_pkcs1_der(der.as_bytes()).ok()
    }

    fn ecdsa_verify<C: ecdsa::Curve, H: Hash>(
        point: &[u8],
        message: &[u8],
        signature: &[u8],
    ) -> Option<Result<(), SignatureError>> {
        let key = ecdsa::VerifyingKey::<C>::from_x962_uncompressed(point).ok()?;
        Some(
            key.verify_asn1::<H>(&[message], signature)
                .map_err(|_| SignatureError),
        )
    }

    pub(super) fn verify(
        key: &PublicKey,
        scheme: &SignatureScheme,
        digest: DigestAlgorithm,
        message: &[u8],
        signature: &[u8],
    ) -> Option<Result<(), SignatureError>> {
        if !covers_verify(key, scheme, digest) {
            return None;
        }
        let result = match (key, scheme) {
            (PublicKey::Rsa(k), SignatureScheme::RsaPkcs1 { .. }) => {
                let g = rsa_public(k)?;
                match digest {
                    DigestAlgorithm::Sha256 => g.verify_pkcs1_sha256(signature, message),
                    DigestAlgorithm::Sha384 => g.verify_pkcs1_sha384(signature, message),
                    DigestAlgorithm::Sha512 => g.verify_pkcs1_sha512(signature, message),
                    _ => return None,
                }
            }
            (PublicKey::Rsa(k) | PublicKey::RsaPss(k, _), SignatureScheme::RsaPss { .. }) => {
                // covers_verify checked that the salt is as long as the hash, the only
                // salt length graviola takes.
                let g = rsa_public(k)?;
                match digest {
                    DigestAlgorithm::Sha256 => g.verify_pss_sha256(signature, message),
                    DigestAlgorithm::Sha384 => g.verify_pss_sha384(signature, message),
                    DigestAlgorithm::Sha512 => g.verify_pss_sha512(signature, message),
                    _ => return None,
                }
            }
            (PublicKey::P256(k), _) => {
                let point = k.to_sec1_point(false);
                return with_hash!(
                    digest,
                    ecdsa_verify_p256(point.as_bytes(), message, signature)
                );
            }
            (PublicKey::P384(k), _) => {
                let point = k.to_sec1_point(false);
                return with_hash!(
                    digest,
                    ecdsa_verify_p384(point.as_bytes(), message, signature)
                );
            }
            (PublicKey::Ed25519(k), _) => {
                // RustCrypto's verify_strict also refuses keys of small order; graviola
                // checks S < L and a canonical R, not this.
                if k.is_weak() {
                    return Some(Err(SignatureError));
                }
                let g = eddsa::Ed25519VerifyingKey::from_bytes(k.as_bytes()).ok()?;
                g.verify(signature, message)
            }
            _ => return None,
        };
        Some(result.map_err(|_| SignatureError))
    }

    fn ecdsa_verify_p256<H: Hash>(
        point: &[u8],
        message: &[u8],
        signature: &[u8],
    ) -> Option<Result<(), SignatureError>> {
        ecdsa_verify::<ecdsa::P256, H>(point, message, signature)
    }

    fn ecdsa_verify_p384<H: Hash>(
        point: &[u8],
        message: &[u8],
        signature: &[u8],
    ) -> Option<Result<(), SignatureError>> {
        ecdsa_verify::<ecdsa::P384, H>(point, message, signature)
    }

    fn ecdsa_sign<C: ecdsa::Curve, H: Hash>(
        key: &ecdsa::SigningKey<C>,
        message: &[u8],
    ) -> Option<Result<Vec<u8>, KeyError>> {
        let mut buf = [0u8; 160];
        Some(
            key.sign_asn1::<H>(&[message], &mut buf)
                .map(<[u8]>::to_vec)
                .map_err(|e| KeyError::Sign(e.to_string())),
        )
    }

    pub(super) fn sign(
        key: &PrivateKey,
        op: &SignOp,
        message: &[u8],
    ) -> Option<Result<Vec<u8>, KeyError>> {
        if !covers_sign(key, op) {
            return None;
        }
        match (key, *op) {
            (PrivateKey::Rsa(k) | PrivateKey::RsaPss(k, _), op) => {
                let g = rsa_private(k)?;
                let mut buf = vec![0u8; g.modulus_len_bytes()];
                let sig = match op {
                    SignOp::RsaPkcs1(DigestAlgorithm::Sha256) => {
                        g.sign_pkcs1_sha256(&mut buf, message)
                    }
                    SignOp::RsaPkcs1(DigestAlgorithm::Sha384) => {
                        g.sign_pkcs1_sha384(&mut buf, message)
                    }
                    SignOp::RsaPkcs1(DigestAlgorithm::Sha512) => {
                        g.sign_pkcs1_sha512(&mut buf, message)
                    }
                    SignOp::RsaPss(DigestAlgorithm::Sha256, _) => {
                        g.sign_pss_sha256(&mut buf, message)
                    }
                    SignOp::RsaPss(DigestAlgorithm::Sha384, _) => {
                        g.sign_pss_sha384(&mut buf, message)
                    }
                    SignOp::RsaPss(DigestAlgorithm::Sha512, _) => {
                        g.sign_pss_sha512(&mut buf, message)
                    }
                    _ => return None,
                };
                // graviola checks each RSA signature before handing it out (a fault-attack
                // countermeasure) and, for a few of the keys the rsa crate generates (seen
                // about once in a hundred), that check fails; the key is sound (RustCrypto signs with it
                // and both verify), so such a signature is made by RustCrypto instead.
                sig.ok().map(|s| Ok(s.to_vec()))
            }
            (PrivateKey::P256(k), SignOp::Ecdsa(d)) => {
                let private_key =
                    graviola::key_agreement::p256::StaticPrivateKey::from_bytes(&k.to_bytes())
                        .ok()?;
                let g = ecdsa::SigningKey::<ecdsa::P256> { private_key };
                with_hash!(d, ecdsa_sign_p256(&g, message))
            }
            (PrivateKey::P384(k), SignOp::Ecdsa(d)) => {
                let private_key =
                    graviola::key_agreement::p384::StaticPrivateKey::from_bytes(&k.to_bytes())
                        .ok()?;
                let g = ecdsa::SigningKey::<ecdsa::P384> { private_key };
                with_hash!(d, ecdsa_sign_p384(&g, message))
            }
            (PrivateKey::Ed25519(k), SignOp::Ed25519) => {
                let g = eddsa::Ed25519SigningKey::from_bytes(k.as_bytes()).ok()?;
                Some(Ok(g.sign(message).to_vec()))
            }
            _ => None,
        }
    }

    fn ecdsa_sign_p256<H: Hash>(
        key: &ecdsa::SigningKey<ecdsa::P256>,
        message: &[u8],
    ) -> Option<Result<Vec<u8>, KeyError>> {
        ecdsa_sign::<ecdsa::P256, H>(key, message)
    }

    fn ecdsa_sign_p384<H: Hash>(
        key: &ecdsa::SigningKey<ecdsa::P384>,
        message: &[u8],
    ) -> Option<Result<Vec<u8>, KeyError>> {
        ecdsa_sign::<ecdsa::P384, H>(key, message)
    }

    /// The CPU features graviola needs, each checked at run time.
    pub(in crate::provider) fn cpu_check() -> Result<(), String> {
        #[cfg(target_arch = "x86_64")]
        let features: [(&str, bool); 8] = [
            ("aes", std::arch::is_x86_feature_detected!("aes")),
            (
                "pclmulqdq",
                std::arch::is_x86_feature_detected!("pclmulqdq"),
            ),
            ("ssse3", std::arch::is_x86_feature_detected!("ssse3")),
            ("avx", std::arch::is_x86_feature_detected!("avx")),
            ("avx2", std::arch::is_x86_feature_detected!("avx2")),
            ("bmi1", std::arch::is_x86_feature_detected!("bmi1")),
            ("bmi2", std::arch::is_x86_feature_detected!("bmi2")),
            ("adx", std::arch::is_x86_feature_detected!("adx")),
        ];
        #[cfg(target_arch = "aarch64")]
        let features: [(&str, bool); 4] = [
            ("neon", std::arch::is_aarch64_feature_detected!("neon")),
            ("aes", std::arch::is_aarch64_feature_detected!("aes")),
            ("pmull", std::arch::is_aarch64_feature_detected!("pmull")),
            ("sha2", std::arch::is_aarch64_feature_detected!("sha2")),
        ];
        let missing: Vec<&str> = features
            .iter()
            .filter(|(_, have)| !have)
            .map(|(name, _)| *name)
            .collect();
        if !missing.is_empty() {
            return Err(format!("missing CPU features: {}", missing.join(", ")));
        }
        // graviola's own check (which it asserts on every call) must agree.
        if !graviola::util::is_cpu_supported() {
            return Err("graviola reports this CPU as unsupported".into());
        }
        Ok(())
    }
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
mod imp {
    use super::*;

    pub(super) fn digest(_: DigestAlgorithm, _: &[u8]) -> Option<Vec<u8>> {
        None
    }

    pub(super) fn verify(
        _: &PublicKey,
        _: &SignatureScheme,
        _: DigestAlgorithm,
        _: &[u8],
        _: &[u8],
    ) -> Option<Result<(), SignatureError>> {
        None
    }

    pub(super) fn sign(_: &PrivateKey, _: &SignOp, _: &[u8]) -> Option<Result<Vec<u8>, KeyError>> {
        None
    }

    pub(in crate::provider) fn cpu_check() -> Result<(), String> {
        Err(format!(
            "graviola supports x86_64 and aarch64 only, not {}",
            std::env::consts::ARCH
        ))
    }
}

pub(in crate::provider) use imp::cpu_check;

impl Backend for Graviola {
    fn id(&self) -> BackendId {
        BackendId::Graviola
    }

    fn digest(&self, algorithm: DigestAlgorithm, data: &[u8]) -> Option<Vec<u8>> {
        imp::digest(algorithm, data)
    }

    fn verify(
        &self,
        key: &PublicKey,
        scheme: &SignatureScheme,
        digest: DigestAlgorithm,
        message: &[u8],
        signature: &[u8],
    ) -> Option<Result<(), SignatureError>> {
        imp::verify(key, scheme, digest, message, signature)
    }

    fn verify_prehash(
        &self,
        _key: &PublicKey,
        _scheme: &SignatureScheme,
        _digest: DigestAlgorithm,
        _hash: &[u8],
        _signature: &[u8],
    ) -> Option<Result<(), SignatureError>> {
        None
    }

    fn sign(
        &self,
        key: &PrivateKey,
        op: &SignOp,
        message: &[u8],
    ) -> Option<Result<Vec<u8>, KeyError>> {
        imp::sign(key, op, message)
    }
}
