//! The graviola backend: RSA PKCS #1 v1.5 and PSS (2048 to 8192-bit keys, salt as long
//! as the hash), ECDSA on P-256 and P-384, Ed25519, SHA-256/384/512, with graviola's
//! formally verified assembly (s2n-bignum). Only on x86_64 and aarch64, and only called
//! after [`super::graviola_supported`] said the CPU can run it (graviola panics
//! otherwise). What it does not cover (`None`), RustCrypto does.
//!
//! graviola's API takes the message and hashes it itself: there is no "verify this
//! digest" entry point, so [`Backend::verify_prehash`] is never covered here.

use std::sync::{Arc, OnceLock};

use super::{
    Backend, BackendId, CpuUnsupported, DigestContext, PreparedPrivateKey, PreparedPublicKey,
    SignOp,
};
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

/// Whether graviola signs `op` with `key` (where it does not, the provider signs with
/// RustCrypto).
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
    use std::sync::{Arc, LazyLock};

    use graviola::hashing::{Hash, HashContext, Sha256, Sha384, Sha512};
    use graviola::signing::{ecdsa, eddsa, rsa as grsa};

    use super::*;
    use crate::keycache::KeyCache;

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

    /// graviola's incremental SHA-2.
    #[derive(Clone)]
    struct Context<C>(C);

    impl<C: HashContext + Send + 'static> DigestContext for Context<C> {
        fn update(&mut self, data: &[u8]) {
            self.0.update(data);
        }
        fn finish(self: Box<Self>) -> Vec<u8> {
            self.0.finish().as_ref().to_vec()
        }
        fn box_clone(&self) -> Box<dyn DigestContext> {
            Box::new(self.clone())
        }
    }

    pub(super) fn digest_context(algorithm: DigestAlgorithm) -> Option<Box<dyn DigestContext>> {
        Some(match algorithm {
            DigestAlgorithm::Sha256 => Box::new(Context(Sha256::new())),
            DigestAlgorithm::Sha384 => Box::new(Context(Sha384::new())),
            DigestAlgorithm::Sha512 => Box::new(Context(Sha512::new())),
            _ => return None,
        })
    }

    fn rsa_public(k: &::rsa::RsaPublicKey) -> Option<Vec<u8>> {
        Some(pkcs1::EncodeRsaPublicKey::to_pkcs1_der(k).ok()?.into_vec())
    }

    fn rsa_private(k: &::rsa::RsaPrivateKey) -> Option<grsa::SigningKey> {
        let der = pkcs1::EncodeRsaPrivateKey::to_pkcs1_der(k).ok()?;
        grsa::SigningKey::from_pkcs1_der(der.as_bytes()).ok()
    }

    /// graviola's form of a public key, made once per key ([`prepared_public`]).
    // Kept in an `Arc`, one per key: boxing the large variants would only add a pointer.
    #[allow(clippy::large_enum_variant)]
    pub(super) enum VerifyingForm {
        Rsa(grsa::VerifyingKey),
        P256(ecdsa::VerifyingKey<ecdsa::P256>),
        P384(ecdsa::VerifyingKey<ecdsa::P384>),
        Ed25519(eddsa::Ed25519VerifyingKey),
    }

    impl crate::keycache::Weigh for Arc<VerifyingForm> {}

    /// The graviola form of the public key encoded as `encoding` (a PKCS #1
    /// `RSAPublicKey`, an uncompressed SEC 1 point, or 32 Ed25519 bytes, after a tag byte
    /// saying which), from the process-wide cache, or made and kept there. `None` when
    /// graviola refuses the key (RustCrypto then verifies).
    fn prepared_public(encoding: &[u8]) -> Option<Arc<VerifyingForm>> {
        static PREPARED: LazyLock<KeyCache<Arc<VerifyingForm>>> =
            LazyLock::new(|| KeyCache::new(PREPARED_PUBLIC_CACHE_BYTES, PREPARED_PUBLIC_BYTES));
        PREPARED
            .get_or_try_insert(encoding, || {
                let (tag, bytes) = encoding.split_first().ok_or(())?;
                let form = match *tag {
                    TAG_RSA => grsa::VerifyingKey::from_pkcs1_der(bytes).map(VerifyingForm::Rsa),
                    TAG_P256 => {
                        ecdsa::VerifyingKey::from_x962_uncompressed(bytes).map(VerifyingForm::P256)
                    }
                    TAG_P384 => {
                        ecdsa::VerifyingKey::from_x962_uncompressed(bytes).map(VerifyingForm::P384)
                    }
                    TAG_ED25519 => {
                        eddsa::Ed25519VerifyingKey::from_bytes(bytes).map(VerifyingForm::Ed25519)
                    }
                    _ => return Err(()),
                };
                form.map(Arc::new).map_err(drop)
            })
            .ok()
    }

    /// The tag byte of an encoding in [`prepared_public`]'s cache, so that keys of
    /// different types never share an entry.
    const TAG_RSA: u8 = 1;
    const TAG_P256: u8 = 2;
    const TAG_P384: u8 = 3;
    const TAG_ED25519: u8 = 4;

    fn tagged(tag: u8, bytes: &[u8]) -> Vec<u8> {
        let mut v = Vec::with_capacity(bytes.len() + 1);
        v.push(tag);
        v.extend_from_slice(bytes);
        v
    }

    /// The cache key of a public key graviola covers (`None` for DSA).
    fn public_encoding(key: &PublicKey) -> Option<Vec<u8>> {
        Some(match key {
            PublicKey::Rsa(k) | PublicKey::RsaPss(k, _) => tagged(TAG_RSA, &rsa_public(k)?),
            PublicKey::P256(k) => tagged(TAG_P256, k.to_sec1_point(false).as_bytes()),
            PublicKey::P384(k) => tagged(TAG_P384, k.to_sec1_point(false).as_bytes()),
            PublicKey::Ed25519(k) => tagged(TAG_ED25519, k.as_bytes()),
            PublicKey::Dsa(_) | PublicKey::MlDsa(_) => return None,
        })
    }

    fn ecdsa_verify<C: ecdsa::Curve, H: Hash>(
        key: &ecdsa::VerifyingKey<C>,
        message: &[u8],
        signature: &[u8],
    ) -> Option<Result<(), SignatureError>> {
        Some(
            key.verify_asn1::<H>(&[message], signature)
                .map_err(|_| SignatureError),
        )
    }

    /// graviola's form of `key` from the process-wide cache, or made and kept there:
    /// `None` when graviola does not take the key (RustCrypto then verifies).
    pub(super) fn public_form(key: &PublicKey) -> Option<Arc<VerifyingForm>> {
        prepared_public(&public_encoding(key)?)
    }

    /// Verifies with `form`, graviola's form of `key`; the caller checked that graviola
    /// covers the arguments ([`covers_verify`]).
    pub(super) fn verify_with(
        key: &PublicKey,
        form: &VerifyingForm,
        scheme: &SignatureScheme,
        digest: DigestAlgorithm,
        message: &[u8],
        signature: &[u8],
    ) -> Option<Result<(), SignatureError>> {
        if let PublicKey::Ed25519(k) = key
            && k.is_weak()
        {
            // RustCrypto's verify_strict also refuses keys of small order; graviola
            // checks S < L and a canonical R, not this.
            return Some(Err(SignatureError));
        }
        let result = match (form, scheme) {
            (VerifyingForm::Rsa(g), SignatureScheme::RsaPkcs1 { .. }) => match digest {
                DigestAlgorithm::Sha256 => g.verify_pkcs1_sha256(signature, message),
                DigestAlgorithm::Sha384 => g.verify_pkcs1_sha384(signature, message),
                DigestAlgorithm::Sha512 => g.verify_pkcs1_sha512(signature, message),
                _ => return None,
            },
            // covers_verify checked that the salt is as long as the hash, the only salt
            // length graviola takes.
            (VerifyingForm::Rsa(g), SignatureScheme::RsaPss { .. }) => match digest {
                DigestAlgorithm::Sha256 => g.verify_pss_sha256(signature, message),
                DigestAlgorithm::Sha384 => g.verify_pss_sha384(signature, message),
                DigestAlgorithm::Sha512 => g.verify_pss_sha512(signature, message),
                _ => return None,
            },
            (VerifyingForm::P256(g), SignatureScheme::Ecdsa { .. }) => {
                return with_hash!(digest, ecdsa_verify_p256(g, message, signature));
            }
            (VerifyingForm::P384(g), SignatureScheme::Ecdsa { .. }) => {
                return with_hash!(digest, ecdsa_verify_p384(g, message, signature));
            }
            (VerifyingForm::Ed25519(g), SignatureScheme::Ed25519) => g.verify(signature, message),
            _ => return None,
        };
        Some(result.map_err(|_| SignatureError))
    }

    fn ecdsa_verify_p256<H: Hash>(
        key: &ecdsa::VerifyingKey<ecdsa::P256>,
        message: &[u8],
        signature: &[u8],
    ) -> Option<Result<(), SignatureError>> {
        ecdsa_verify::<ecdsa::P256, H>(key, message, signature)
    }

    fn ecdsa_verify_p384<H: Hash>(
        key: &ecdsa::VerifyingKey<ecdsa::P384>,
        message: &[u8],
        signature: &[u8],
    ) -> Option<Result<(), SignatureError>> {
        ecdsa_verify::<ecdsa::P384, H>(key, message, signature)
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

    /// graviola's form of a private key, made once per [`super::PreparedSigning`].
    // Kept in an `Arc`, one per key: boxing the large variant would only add a pointer.
    #[allow(clippy::large_enum_variant)]
    pub(super) enum SigningForm {
        Rsa(grsa::SigningKey),
        P256(ecdsa::SigningKey<ecdsa::P256>),
        P384(ecdsa::SigningKey<ecdsa::P384>),
        Ed25519(eddsa::Ed25519SigningKey),
    }

    /// Makes graviola's form of `key`: `None` when graviola refuses it.
    pub(super) fn prepare_signing(key: &PrivateKey) -> Option<SigningForm> {
        #[cfg(test)]
        super::SIGNING_PREPARED.with(|c| c.set(c.get() + 1));
        Some(match key {
            PrivateKey::Rsa(k) | PrivateKey::RsaPss(k, _) => SigningForm::Rsa(rsa_private(k)?),
            PrivateKey::P256(k) => SigningForm::P256(ecdsa::SigningKey {
                private_key: graviola::key_agreement::p256::StaticPrivateKey::from_bytes(
                    &k.to_bytes(),
                )
                .ok()?,
            }),
            PrivateKey::P384(k) => SigningForm::P384(ecdsa::SigningKey {
                private_key: graviola::key_agreement::p384::StaticPrivateKey::from_bytes(
                    &k.to_bytes(),
                )
                .ok()?,
            }),
            PrivateKey::Ed25519(k) => {
                SigningForm::Ed25519(eddsa::Ed25519SigningKey::from_bytes(k.as_bytes()).ok()?)
            }
            PrivateKey::MlDsa(_) => return None,
        })
    }

    /// Signs with `form`, graviola's form of a key (made by [`prepare_signing`]); the
    /// caller checked that graviola covers the key and `op` ([`covers_sign`]).
    pub(super) fn sign(
        form: &SigningForm,
        op: &SignOp,
        message: &[u8],
    ) -> Option<Result<Vec<u8>, KeyError>> {
        match (form, *op) {
            (SigningForm::Rsa(g), op) => {
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
                // countermeasure), and that check refuses a few of them (measured: between
                // 1 in 1,000 and 1 in 200 signatures); the key is sound (RustCrypto signs
                // with it and both verify), so such a signature is made by RustCrypto.
                sig.ok().map(|s| Ok(s.to_vec()))
            }
            (SigningForm::P256(g), SignOp::Ecdsa(d)) => with_hash!(d, ecdsa_sign_p256(g, message)),
            (SigningForm::P384(g), SignOp::Ecdsa(d)) => with_hash!(d, ecdsa_sign_p384(g, message)),
            (SigningForm::Ed25519(g), SignOp::Ed25519) => Some(Ok(g.sign(message).to_vec())),
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

    /// graviola's own RSA key pair, for [`super::RawRsa`].
    pub(super) struct RawRsa {
        signing: grsa::SigningKey,
        verifying: grsa::VerifyingKey,
    }

    impl RawRsa {
        pub(super) fn new(key: &PrivateKey) -> Option<Self> {
            let (PrivateKey::Rsa(k) | PrivateKey::RsaPss(k, _)) = key else {
                return None;
            };
            let signing = rsa_private(k)?;
            let verifying =
                grsa::VerifyingKey::from_pkcs1_der(&rsa_public(&k.to_public_key())?).ok()?;
            Some(Self { signing, verifying })
        }

        pub(super) fn sign(&self, message: &[u8], out: &mut [u8]) -> usize {
            self.signing
                .sign_pkcs1_sha256(out, message)
                .map_or(0, <[u8]>::len)
        }

        pub(super) fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
            self.verifying
                .verify_pkcs1_sha256(signature, message)
                .is_ok()
        }
    }

    /// The CPU features graviola needs, each checked at run time.
    pub(in crate::provider) fn cpu_check() -> Result<(), CpuUnsupported> {
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
        let missing: Vec<&'static str> = features
            .iter()
            .filter(|(_, have)| !have)
            .map(|(name, _)| *name)
            .collect();
        if !missing.is_empty() {
            return Err(CpuUnsupported::MissingFeatures(missing));
        }
        // graviola's own check (which it asserts on every call) must agree.
        if !graviola::util::is_cpu_supported() {
            return Err(CpuUnsupported::Rejected);
        }
        Ok(())
    }
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
mod imp {
    use super::*;

    pub(super) fn digest_context(_: DigestAlgorithm) -> Option<Box<dyn DigestContext>> {
        None
    }

    pub(super) fn digest(_: DigestAlgorithm, _: &[u8]) -> Option<Vec<u8>> {
        None
    }

    /// Nothing to make: graviola does not run here.
    pub(super) enum VerifyingForm {}

    pub(super) fn public_form(_: &PublicKey) -> Option<std::sync::Arc<VerifyingForm>> {
        None
    }

    pub(super) fn verify_with(
        _: &PublicKey,
        form: &VerifyingForm,
        _: &SignatureScheme,
        _: DigestAlgorithm,
        _: &[u8],
        _: &[u8],
    ) -> Option<Result<(), SignatureError>> {
        match *form {}
    }

    /// Nothing to make: graviola does not run here.
    pub(super) enum RawRsa {}

    impl RawRsa {
        pub(super) fn new(_: &PrivateKey) -> Option<Self> {
            None
        }

        pub(super) fn sign(&self, _: &[u8], _: &mut [u8]) -> usize {
            match *self {}
        }

        pub(super) fn verify(&self, _: &[u8], _: &[u8]) -> bool {
            match *self {}
        }
    }

    /// Nothing to make: graviola does not run here.
    pub(super) enum SigningForm {}

    pub(super) fn prepare_signing(_: &PrivateKey) -> Option<SigningForm> {
        None
    }

    pub(super) fn sign(
        form: &SigningForm,
        _: &SignOp,
        _: &[u8],
    ) -> Option<Result<Vec<u8>, KeyError>> {
        match *form {}
    }

    pub(in crate::provider) fn cpu_check() -> Result<(), CpuUnsupported> {
        Err(CpuUnsupported::Architecture(std::env::consts::ARCH))
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

    fn digest_context(&self, algorithm: DigestAlgorithm) -> Option<Box<dyn DigestContext>> {
        imp::digest_context(algorithm)
    }

    fn verify(
        &self,
        key: &PreparedPublicKey,
        scheme: &SignatureScheme,
        digest: DigestAlgorithm,
        message: &[u8],
        signature: &[u8],
    ) -> Option<Result<(), SignatureError>> {
        verify_prepared(
            key.key(),
            key.graviola(),
            scheme,
            digest,
            message,
            signature,
        )
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
        key: &PreparedPrivateKey,
        op: &SignOp,
        message: &[u8],
    ) -> Option<Result<Vec<u8>, KeyError>> {
        sign_prepared(key.key(), key.graviola(), op, message)
    }
}

/// The bound of the process-wide cache of graviola public keys (see
/// [`Backend::verify`]), in bytes: each entry weighs its key's encoding plus
/// about 3 KiB for the graviola key, so about 1200 keys.
pub const PREPARED_PUBLIC_CACHE_BYTES: u64 = 4 * 1024 * 1024;

/// The memory one graviola public key takes, about (graviola keeps them in fixed-size
/// arrays: some 3 KiB for RSA up to 8192 bits, 2.4 KiB for P-384).
const PREPARED_PUBLIC_BYTES: u64 = 3 * 1024 + 128;

/// graviola's form of one private key, made on its first graviola signature and reused by
/// the next ones ([`super::PreparedPrivateKey`] keeps one beside its key). `None` inside:
/// graviola refused the key, RustCrypto signs with it.
/// A clone shares the form (it never changes once made), also when it was cloned before
/// the form was made: a signer cloned for every message (with its route attributes, say)
/// still makes the form once.
#[derive(Default, Clone)]
pub struct PreparedSigning(Arc<OnceLock<Option<Arc<imp::SigningForm>>>>);

impl std::fmt::Debug for PreparedSigning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = match self.0.get() {
            None => "not yet made",
            Some(None) => "refused by graviola",
            Some(Some(_)) => "made",
        };
        write!(f, "PreparedSigning({state})")
    }
}

/// Signs `message` as `op` says, with the graviola form of `key` kept in `prepared`, made
/// there on first use. `prepared` must belong to `key` alone: [`super::PreparedPrivateKey`]
/// keeps the two together. Only called where graviola runs.
pub(super) fn sign_prepared(
    key: &PrivateKey,
    prepared: &PreparedSigning,
    op: &SignOp,
    message: &[u8],
) -> Option<Result<Vec<u8>, KeyError>> {
    if !covers_sign(key, op) {
        return None;
    }
    let form = prepared
        .0
        .get_or_init(|| imp::prepare_signing(key).map(Arc::new));
    imp::sign(form.as_ref()?, op, message)
}

/// graviola's form of one public key, made on its first graviola check and reused by the
/// next ones ([`super::PreparedPublicKey`] keeps one beside its key). `None` inside:
/// graviola does not take the key, RustCrypto verifies with it. A clone shares the form.
#[derive(Default, Clone)]
pub struct PreparedVerifying(OnceLock<Option<Arc<imp::VerifyingForm>>>);

impl std::fmt::Debug for PreparedVerifying {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = match self.0.get() {
            None => "not yet made",
            Some(None) => "not taken by graviola",
            Some(Some(_)) => "made",
        };
        write!(f, "PreparedVerifying({state})")
    }
}

/// Verifies as [`Backend::verify`], with the graviola form of `key` kept in `prepared`
/// (taken from the process-wide cache, or made, on first use). `prepared` must belong to
/// `key` alone: [`super::PreparedPublicKey`] keeps the two together. Only called where
/// graviola runs.
pub(super) fn verify_prepared(
    key: &PublicKey,
    prepared: &PreparedVerifying,
    scheme: &SignatureScheme,
    digest: DigestAlgorithm,
    message: &[u8],
    signature: &[u8],
) -> Option<Result<(), SignatureError>> {
    if !covers_verify(key, scheme, digest) {
        return None;
    }
    let form = prepared.0.get_or_init(|| imp::public_form(key));
    imp::verify_with(key, form.as_ref()?, scheme, digest, message, signature)
}

#[cfg(test)]
thread_local! {
    /// How many graviola private keys were made on this thread (tests count work).
    pub(super) static SIGNING_PREPARED: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// graviola's bare RSASSA-PKCS1-v1_5 SHA-256 operations on one RSA key, its private and
/// public forms made once, with nothing of waxseal's around them: no provider choice, no
/// envelope, no fallback. The yardstick `waxseal speed` measures beside the envelope's
/// signing and verification rates, so that what the envelope adds to graviola's own
/// arithmetic is a measured figure, not a guess.
pub struct RawRsa(imp::RawRsa);

impl std::fmt::Debug for RawRsa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RawRsa")
    }
}

impl RawRsa {
    /// graviola's forms of `key`: `None` for a key that is not RSA, one graviola refuses,
    /// or where the CPU cannot run graviola ([`super::graviola_supported`]).
    pub fn new(key: &PrivateKey) -> Option<Self> {
        super::graviola_supported().ok()?;
        imp::RawRsa::new(key).map(Self)
    }

    /// Signs `message` into `out` (at least the modulus long), returning the signature's
    /// length; 0 when graviola refused to hand the signature out (its fault check).
    pub fn sign(&self, message: &[u8], out: &mut [u8]) -> usize {
        self.0.sign(message, out)
    }

    /// Whether `signature` verifies over `message` with the public half.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        self.0.verify(message, signature)
    }
}
