//! Public and private keys: parsing, signing, verifying.
//!
//! Signing supports RSA (PKCS #1 v1.5 and PSS, 2048 to 4096 bits; RSASSA-PSS keys with
//! their parameters, see [`PssKeyParams`]), ECDSA P-256 and P-384, Ed25519 and ML-DSA-44,
//! -65 and -87 (FIPS 204; RFC 9881's encodings live in [`crate::mldsa`]). Verification additionally supports DSA, as legacy messages (RFC 4134) and
//! old PKIs (NIST PKITS) use it; DSA keys may inherit their domain parameters from the
//! issuer's certificate (RFC 3279 §2.3.2).

use std::path::Path;
use std::sync::LazyLock;

use const_oid::ObjectIdentifier as Oid;
use der::{Decode, Encode};
use pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey};
use rsa::traits::PublicKeyParts;
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use zeroize::Zeroizing;

use crate::algorithm::MlDsaParameterSet;
use crate::algorithm::{AlgorithmError, AlgorithmPolicy, DigestAlgorithm, SignatureScheme};
use crate::keycache::KeyCache;
pub use crate::keycache::without_key_caches;
pub use crate::keyerror::{KeyError, SignatureError, rng};
use crate::mldsa::{MlDsaPrivateKey, MlDsaPublicKey};
use crate::oid;

/// A key type waxseal can generate and sign with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyAlgorithm {
    /// RSA with a 2048-bit modulus.
    Rsa2048,
    /// RSA with a 3072-bit modulus.
    Rsa3072,
    /// RSA with a 4096-bit modulus.
    Rsa4096,
    /// ECDSA on NIST P-256.
    P256,
    /// ECDSA on NIST P-384.
    P384,
    /// Ed25519.
    Ed25519,
    /// ML-DSA (FIPS 204) of one parameter set.
    MlDsa(MlDsaParameterSet),
}

impl KeyAlgorithm {
    /// Every algorithm.
    pub const ALL: [KeyAlgorithm; 9] = [
        Self::Rsa2048,
        Self::Rsa3072,
        Self::Rsa4096,
        Self::P256,
        Self::P384,
        Self::Ed25519,
        Self::MlDsa(MlDsaParameterSet::MlDsa44),
        Self::MlDsa(MlDsaParameterSet::MlDsa65),
        Self::MlDsa(MlDsaParameterSet::MlDsa87),
    ];

    /// The name used on the command line (`rsa2048`, `p256`, `ed25519`, `ml-dsa-65`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Rsa2048 => "rsa2048",
            Self::Rsa3072 => "rsa3072",
            Self::Rsa4096 => "rsa4096",
            Self::P256 => "p256",
            Self::P384 => "p384",
            Self::Ed25519 => "ed25519",
            Self::MlDsa(set) => set.name(),
        }
    }

    /// Parses [`KeyAlgorithm::name`].
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|a| a.name().eq_ignore_ascii_case(name))
    }

    /// The digest waxseal signs with by default for this key type.
    pub fn default_digest(self) -> DigestAlgorithm {
        match self {
            Self::P384 => DigestAlgorithm::Sha384,
            // RFC 9882 §3.3: SHA-512 is the digest every implementation supports, and it
            // is strong enough for every parameter set.
            Self::Ed25519 | Self::MlDsa(_) => DigestAlgorithm::Sha512,
            _ => DigestAlgorithm::Sha256,
        }
    }
}

impl std::fmt::Display for KeyAlgorithm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The restrictions of an RSASSA-PSS key: its `SubjectPublicKeyInfo` (or PKCS #8
/// `privateKeyAlgorithm`) is id-RSASSA-PSS with `RSASSA-PSS-params` (RFC 4055 §3.1), as
/// OpenSSL's `genpkey -algorithm RSA-PSS -pkeyopt rsa_pss_keygen_md:...`, Bouncy Castle
/// and GnuTLS make them. Such a key signs only with RSASSA-PSS, with this hash for the
/// message and MGF1, and a salt of at least `min_salt_len` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PssKeyParams {
    /// The one hash allowed (for the message and for MGF1).
    pub digest: DigestAlgorithm,
    /// The smallest salt length allowed, in bytes.
    pub min_salt_len: usize,
}

impl PssKeyParams {
    /// Decodes the parameters of an id-RSASSA-PSS key: `None` when absent (or NULL): the
    /// key is then restricted to PSS, with any hash.
    pub fn from_parameters(params: Option<&der::Any>) -> Result<Option<Self>, KeyError> {
        match params {
            None => Ok(None),
            Some(p) if p.is_null() => Ok(None),
            Some(p) => {
                let der = p
                    .to_der()
                    .map_err(|_| KeyError::BadPublicKey("RSASSA-PSS (parameters)"))?;
                let (digest, min_salt_len) = crate::algorithm::pss_params(&der)?;
                Ok(Some(Self {
                    digest,
                    min_salt_len,
                }))
            }
        }
    }

    /// The parameters as an `AlgorithmIdentifier` parameter value.
    fn to_any(self) -> Option<der::Any> {
        crate::algorithm::pss_algorithm_identifier(self.digest, self.min_salt_len)
            .ok()
            .and_then(|a| a.parameters)
    }

    /// Whether an RSASSA-PSS signature with `digest` and `salt_len` is allowed.
    fn allows(self, digest: DigestAlgorithm, salt_len: usize) -> bool {
        digest == self.digest && salt_len >= self.min_salt_len
    }

    fn describe(restriction: Option<Self>) -> String {
        match restriction {
            Some(p) => format!(
                "rsa-pss with {} and MGF1-{}, salt of at least {} bytes",
                p.digest, p.digest, p.min_salt_len
            ),
            None => "rsa-pss only".into(),
        }
    }
}

/// The salt length waxseal signs with: the hash length (RFC 4055's recommendation, what
/// OpenSSL's CMS writes), or the key's minimum when that is larger.
pub(crate) fn pss_salt_len(digest: DigestAlgorithm, restriction: Option<PssKeyParams>) -> usize {
    restriction
        .map_or(0, |p| p.min_salt_len)
        .max(digest.output_len())
}

/// The largest RSA (and DSA) modulus accepted by default, in bits: verifying with a
/// 16384-bit key costs about 5 ms, so a pile of huge keys is a cheap way to burn a
/// verifier's time. Configurable per verifier (`Budget::max_rsa_bits`).
pub const DEFAULT_MAX_MODULUS_BITS: usize = 8192;

/// The bound of the process-wide cache of parsed public keys
/// ([`PublicKey::from_spki_bounded`]), in bytes: each entry weighs its
/// `SubjectPublicKeyInfo` DER plus 1 KiB for the parsed key (an RSA-2048 key with its
/// Montgomery parameters takes about that), so about 1500 RSA-2048 or 1800 P-256 keys.
pub const PUBLIC_KEY_CACHE_BYTES: u64 = 2 * 1024 * 1024;

/// Size in bits of an unsigned big-endian integer's content octets.
fn uint_bits(bytes: &[u8]) -> usize {
    let bytes = &bytes[bytes.iter().take_while(|b| **b == 0).count()..];
    match bytes.first() {
        None => 0,
        Some(b) => bytes.len() * 8 - b.leading_zeros() as usize,
    }
}

/// The checks on an RSA public key made from its encoding alone, before any arithmetic:
/// the modulus is at most `max_bits`, the public exponent odd with 3 <= e < 2^32 (what
/// every RSA implementation in use generates; others are a sign of a crafted key).
fn check_rsa_encoding(modulus: &[u8], exponent: &[u8], max_bits: usize) -> Result<(), KeyError> {
    let bits = uint_bits(modulus);
    if bits > max_bits {
        return Err(KeyError::TooLarge {
            key: "RSA",
            bits,
            max: max_bits,
        });
    }
    let e = match uint_bits(exponent) {
        0..=32 => exponent
            .iter()
            .fold(0u64, |acc, b| (acc << 8) | u64::from(*b)),
        _ => u64::MAX,
    };
    if e % 2 == 0 || !(3..1 << 32).contains(&e) {
        return Err(KeyError::BadPublicKey(
            "RSA (public exponent not odd, 3 <= e < 2^32)",
        ));
    }
    Ok(())
}

impl crate::keycache::Weigh for PublicKey {
    /// An ML-DSA key keeps its expanded matrix: counted, so that the cache's bound holds.
    fn extra_bytes(&self) -> u64 {
        match self {
            Self::MlDsa(k) => k.parameter_set().prepared_bytes(),
            _ => 0,
        }
    }
}

/// DSA domain parameters (`Dss-Parms`, RFC 3279 §2.3.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DsaParameters(Vec<u8>);

impl DsaParameters {
    /// The DER encoding of `Dss-Parms`.
    pub fn as_der(&self) -> &[u8] {
        &self.0
    }
}

/// A public key able to verify signatures.
#[derive(Clone)]
pub enum PublicKey {
    /// RSA.
    Rsa(rsa::RsaPublicKey),
    /// RSA restricted to RSASSA-PSS (an id-RSASSA-PSS key; `None`: any hash).
    RsaPss(rsa::RsaPublicKey, Option<PssKeyParams>),
    /// ECDSA P-256.
    P256(p256::ecdsa::VerifyingKey),
    /// ECDSA P-384.
    P384(p384::ecdsa::VerifyingKey),
    /// Ed25519.
    Ed25519(ed25519_dalek::VerifyingKey),
    /// DSA (verification only).
    Dsa(Box<dsa::VerifyingKey>),
    /// ML-DSA.
    MlDsa(MlDsaPublicKey),
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PublicKey({}, {} bits)", self.kind(), self.bits())
    }
}

impl PartialEq for PublicKey {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::Rsa(a), Self::Rsa(b)) => a == b,
            (Self::RsaPss(a, pa), Self::RsaPss(b, pb)) => a == b && pa == pb,
            (Self::P256(a), Self::P256(b)) => a == b,
            (Self::P384(a), Self::P384(b)) => a == b,
            (Self::Ed25519(a), Self::Ed25519(b)) => a == b,
            (Self::MlDsa(a), Self::MlDsa(b)) => a == b,
            (Self::Dsa(a), Self::Dsa(b)) => {
                a.y() == b.y() && a.components().p() == b.components().p()
            }
            _ => false,
        }
    }
}

impl PublicKey {
    /// Parses a `SubjectPublicKeyInfo`. DSA keys without parameters fail with
    /// [`KeyError::MissingDsaParameters`]; use [`PublicKey::from_spki_inheriting`].
    pub fn from_spki(spki: &SubjectPublicKeyInfoOwned) -> Result<Self, KeyError> {
        Self::from_spki_inheriting(spki, None)
    }

    /// Parses a `SubjectPublicKeyInfo`, taking DSA domain parameters from `inherited`
    /// when the key itself has none.
    pub fn from_spki_inheriting(
        spki: &SubjectPublicKeyInfoOwned,
        inherited: Option<&DsaParameters>,
    ) -> Result<Self, KeyError> {
        Self::from_spki_bounded(spki, inherited, DEFAULT_MAX_MODULUS_BITS)
    }

    /// [`PublicKey::from_spki_inheriting`] with an RSA/DSA modulus cap of `max_bits`
    /// (checked on the encoding, before any arithmetic), and RSA public exponents
    /// restricted to odd values with 3 <= e < 2^32.
    ///
    /// RSA, EC and Ed25519 keys are prepared once per process and reused: the parsed key
    /// (for RSA with its Montgomery parameters) is kept in a bounded cache keyed by the
    /// exact DER of the `SubjectPublicKeyInfo` (algorithm identifier included, so an
    /// id-RSASSA-PSS key and an rsaEncryption key with the same modulus are two entries),
    /// at most [`PUBLIC_KEY_CACHE_BYTES`]. The modulus cap is checked on
    /// every call, before the cache is consulted. DSA keys are parsed each time.
    pub fn from_spki_bounded(
        spki: &SubjectPublicKeyInfoOwned,
        inherited: Option<&DsaParameters>,
        max_bits: usize,
    ) -> Result<Self, KeyError> {
        static PREPARED: LazyLock<KeyCache<PublicKey>> =
            LazyLock::new(|| KeyCache::new(PUBLIC_KEY_CACHE_BYTES, 1024));
        let alg = spki.algorithm.oid;
        if alg == oid::ID_DSA {
            return Self::parse_spki(spki, inherited, max_bits);
        }
        if alg == oid::RSA_ENCRYPTION || alg == oid::ID_RSASSA_PSS {
            // The cap of this call, before a key prepared under another cap is reused.
            let bits = spki
                .subject_public_key
                .as_bytes()
                .ok_or(KeyError::BadPublicKey("(unaligned bit string)"))?;
            let k = pkcs1::RsaPublicKeyRef::from_der(bits)
                .map_err(|_| KeyError::BadPublicKey("RSA"))?;
            check_rsa_encoding(k.modulus.as_bytes(), k.public_exponent.as_bytes(), max_bits)?;
        }
        let der = spki
            .to_der()
            .map_err(|_| KeyError::BadPublicKey("(SubjectPublicKeyInfo encoding)"))?;
        PREPARED.get_or_try_insert(&der, || Self::parse_spki(spki, None, max_bits))
    }

    /// Parses a `SubjectPublicKeyInfo` (no cache): [`PublicKey::from_spki_bounded`]'s work.
    fn parse_spki(
        spki: &SubjectPublicKeyInfoOwned,
        inherited: Option<&DsaParameters>,
        max_bits: usize,
    ) -> Result<Self, KeyError> {
        let alg = spki.algorithm.oid;
        let bits = spki
            .subject_public_key
            .as_bytes()
            .ok_or(KeyError::BadPublicKey("(unaligned bit string)"))?;
        if alg == oid::RSA_ENCRYPTION || alg == oid::ID_RSASSA_PSS {
            let k = pkcs1::RsaPublicKeyRef::from_der(bits)
                .map_err(|_| KeyError::BadPublicKey("RSA"))?;
            check_rsa_encoding(k.modulus.as_bytes(), k.public_exponent.as_bytes(), max_bits)?;
            let n = rsa::BoxedUint::from_be_slice_vartime(k.modulus.as_bytes());
            let e = rsa::BoxedUint::from_be_slice_vartime(k.public_exponent.as_bytes());
            let key = rsa::RsaPublicKey::new_with_size_limits(n, e, 512..=max_bits.max(512))
                .map_err(|_| KeyError::BadPublicKey("RSA"))?;
            if alg == oid::ID_RSASSA_PSS {
                // RFC 4055 §1.2: the key may be used for RSASSA-PSS only, and with its
                // parameters when it has some.
                let params = PssKeyParams::from_parameters(spki.algorithm.parameters.as_ref())?;
                return Ok(Self::RsaPss(key, params));
            }
            return Ok(Self::Rsa(key));
        }
        if alg == oid::ID_EC_PUBLIC_KEY {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.decode_as::<Oid>().ok())
                .ok_or(KeyError::BadPublicKey("EC (curve parameters)"))?;
            return if curve == oid::SECP256R1 {
                p256::ecdsa::VerifyingKey::from_sec1_bytes(bits)
                    .map(Self::P256)
                    .map_err(|_| KeyError::BadPublicKey("P-256"))
            } else if curve == oid::SECP384R1 {
                p384::ecdsa::VerifyingKey::from_sec1_bytes(bits)
                    .map(Self::P384)
                    .map_err(|_| KeyError::BadPublicKey("P-384"))
            } else {
                Err(AlgorithmError::UnsupportedKey(curve).into())
            };
        }
        if alg == oid::ID_ED25519 {
            let bytes: &[u8; 32] = bits
                .try_into()
                .map_err(|_| KeyError::BadPublicKey("Ed25519"))?;
            return ed25519_dalek::VerifyingKey::from_bytes(bytes)
                .map(Self::Ed25519)
                .map_err(|_| KeyError::BadPublicKey("Ed25519"));
        }
        if let Some(set) = MlDsaParameterSet::from_oid(&alg) {
            // RFC 9881 §4: parameters absent; the BIT STRING holds pkEncode's output.
            if spki.algorithm.parameters.is_some() {
                return Err(KeyError::BadPublicKey("ML-DSA (parameters present)"));
            }
            return MlDsaPublicKey::from_bytes(set, bits).map(Self::MlDsa);
        }
        if alg == oid::ID_DSA {
            let own = match &spki.algorithm.parameters {
                Some(p) if !p.is_null() => Some(DsaParameters(
                    p.to_der().map_err(|_| KeyError::BadPublicKey("DSA"))?,
                )),
                _ => None,
            };
            let params = own
                .as_ref()
                .or(inherited)
                .ok_or(KeyError::MissingDsaParameters)?;
            return dsa_key(params, bits, max_bits).map(|k| Self::Dsa(Box::new(k)));
        }
        Err(AlgorithmError::UnsupportedKey(alg).into())
    }

    /// The DSA domain parameters of a `SubjectPublicKeyInfo`, for keys that inherit them.
    pub fn dsa_parameters(spki: &SubjectPublicKeyInfoOwned) -> Option<DsaParameters> {
        if spki.algorithm.oid != oid::ID_DSA {
            return None;
        }
        match &spki.algorithm.parameters {
            Some(p) if !p.is_null() => p.to_der().ok().map(DsaParameters),
            _ => None,
        }
    }

    /// The key type, for messages (`RSA`, `ECDSA P-256`, `Ed25519`, `DSA`).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Rsa(_) => "RSA",
            Self::RsaPss(..) => "RSASSA-PSS",
            Self::P256(_) => "ECDSA P-256",
            Self::P384(_) => "ECDSA P-384",
            Self::Ed25519(_) => "Ed25519",
            Self::Dsa(_) => "DSA",
            Self::MlDsa(k) => match k.parameter_set() {
                MlDsaParameterSet::MlDsa44 => "ML-DSA-44",
                MlDsaParameterSet::MlDsa65 => "ML-DSA-65",
                MlDsaParameterSet::MlDsa87 => "ML-DSA-87",
            },
        }
    }

    /// Key size in bits (modulus size for RSA and DSA; for ML-DSA, which has none, the
    /// length of the encoded public key in bits).
    pub fn bits(&self) -> usize {
        match self {
            Self::Rsa(k) | Self::RsaPss(k, _) => k.n().bits() as usize,
            Self::P256(_) => 256,
            Self::P384(_) => 384,
            Self::Ed25519(_) => 256,
            Self::Dsa(k) => k.components().p().bits() as usize,
            // The size of the encoded public key.
            Self::MlDsa(k) => k.parameter_set().public_key_len() * 8,
        }
    }

    /// Checks that `scheme` (with effective digest `digest`) is a sensible signature
    /// algorithm for this key under `policy`.
    pub fn check_scheme(
        &self,
        scheme: &SignatureScheme,
        digest: DigestAlgorithm,
        policy: &AlgorithmPolicy,
    ) -> Result<(), AlgorithmError> {
        let fits = matches!(
            (self, scheme),
            (
                Self::Rsa(_),
                SignatureScheme::RsaPkcs1 { .. } | SignatureScheme::RsaPss { .. }
            ) | (Self::P256(_) | Self::P384(_), SignatureScheme::Ecdsa { .. })
                | (Self::Ed25519(_), SignatureScheme::Ed25519)
                | (Self::MlDsa(_), SignatureScheme::MlDsa(_))
                | (Self::Dsa(_), SignatureScheme::Dsa { .. })
                | (Self::RsaPss(..), SignatureScheme::RsaPss { .. })
        );
        if !fits {
            return Err(match self {
                Self::RsaPss(_, restriction) => AlgorithmError::PssKeyRestriction {
                    signature: scheme.describe(Some(digest)),
                    allowed: PssKeyParams::describe(*restriction),
                },
                _ => AlgorithmError::KeyMismatch {
                    signature: scheme.describe(Some(digest)),
                    key: self.kind(),
                },
            });
        }
        if let (
            Self::RsaPss(_, Some(restriction)),
            SignatureScheme::RsaPss {
                digest: d,
                salt_len,
            },
        ) = (self, scheme)
            && !restriction.allows(*d, *salt_len)
        {
            return Err(AlgorithmError::PssKeyRestriction {
                signature: format!("{} with a salt of {salt_len} bytes", scheme.describe(None)),
                allowed: PssKeyParams::describe(Some(*restriction)),
            });
        }
        if let (Self::MlDsa(k), SignatureScheme::MlDsa(set)) = (self, scheme)
            && k.parameter_set() != *set
        {
            return Err(AlgorithmError::KeyMismatch {
                signature: scheme.describe(None),
                key: self.kind(),
            });
        }
        if matches!(self, Self::Rsa(_) | Self::RsaPss(..) | Self::Dsa(_))
            && self.bits() < policy.min_rsa_bits()
        {
            return Err(AlgorithmError::KeyTooSmall {
                key: self.kind(),
                bits: self.bits(),
                min: policy.min_rsa_bits(),
            });
        }
        if !matches!(self, Self::Ed25519(_) | Self::MlDsa(_)) {
            policy.check_digest(digest)?;
        }
        Ok(())
    }

    /// The key encoded as a `SubjectPublicKeyInfo` (DER). DSA keys are not encodable.
    pub fn to_spki_der(&self) -> Option<Vec<u8>> {
        let doc = match self {
            Self::Rsa(k) => k.to_public_key_der(),
            Self::RsaPss(k, params) => {
                let spki = spki::SubjectPublicKeyInfoOwned {
                    algorithm: AlgorithmIdentifierOwned {
                        oid: oid::ID_RSASSA_PSS,
                        parameters: params.and_then(PssKeyParams::to_any),
                    },
                    subject_public_key: der::asn1::BitString::from_bytes(
                        &pkcs1::EncodeRsaPublicKey::to_pkcs1_der(k).ok()?.into_vec(),
                    )
                    .ok()?,
                };
                return spki.to_der().ok();
            }
            Self::P256(k) => k.to_public_key_der(),
            Self::P384(k) => k.to_public_key_der(),
            Self::Ed25519(k) => k.to_public_key_der(),
            Self::Dsa(k) => k.to_public_key_der(),
            Self::MlDsa(k) => return k.to_spki_der(),
        };
        doc.ok().map(|d| d.as_bytes().to_vec())
    }
}

fn dsa_key(
    params: &DsaParameters,
    y_bits: &[u8],
    max_bits: usize,
) -> Result<dsa::VerifyingKey, KeyError> {
    use der::asn1::UintRef;
    let bad = |_: der::Error| KeyError::BadPublicKey("DSA");
    let (p, q, g) = der::asn1::AnyRef::from_der(&params.0)
        .map_err(bad)?
        .sequence(|r| {
            let p = UintRef::decode(r)?;
            let q = UintRef::decode(r)?;
            let g = UintRef::decode(r)?;
            Ok::<_, der::Error>((p, q, g))
        })
        .map_err(bad)?;
    let y = UintRef::from_der(y_bits).map_err(bad)?;
    let bits = uint_bits(p.as_bytes());
    if bits > max_bits {
        return Err(KeyError::TooLarge {
            key: "DSA",
            bits,
            max: max_bits,
        });
    }
    let uint = |u: UintRef<'_>, bits: u32| {
        crypto_bigint::BoxedUint::from_be_slice(u.as_bytes(), bits)
            .map_err(|_| KeyError::BadPublicKey("DSA"))
    };
    let p_bits = (p.as_bytes().len() * 8) as u32;
    let q_bits = (q.as_bytes().len() * 8) as u32;
    let components =
        dsa::Components::from_components(uint(p, p_bits)?, uint(q, q_bits)?, uint(g, p_bits)?)
            .map_err(|_| KeyError::BadPublicKey("DSA"))?;
    dsa::VerifyingKey::from_components(components, uint(y, p_bits)?)
        .map_err(|_| KeyError::BadPublicKey("DSA"))
}

/// A private key waxseal can sign with. A clone is another copy of the secret, zeroized
/// on drop like the first.
#[derive(Clone)]
pub enum PrivateKey {
    /// RSA.
    Rsa(Box<rsa::RsaPrivateKey>),
    /// RSA restricted to RSASSA-PSS (an id-RSASSA-PSS key; `None`: any hash). It always
    /// signs with PSS, whatever the `pss` argument of [`PrivateKey::sign`] says.
    RsaPss(Box<rsa::RsaPrivateKey>, Option<PssKeyParams>),
    /// ECDSA P-256.
    P256(p256::ecdsa::SigningKey),
    /// ECDSA P-384.
    P384(p384::ecdsa::SigningKey),
    /// Ed25519.
    Ed25519(ed25519_dalek::SigningKey),
    /// ML-DSA.
    MlDsa(MlDsaPrivateKey),
}

impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PrivateKey({})", self.public_key().kind())
    }
}

/// Whether [`PrivateKey::load`] insists that only the owner can read the key file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KeyFileCheck {
    /// Refuse a key file readable or writable by group or others (the default, as ssh does).
    #[default]
    OwnerOnly,
    /// Load it anyway (the insecure-key-permissions setting of the CLI and the Python
    /// package).
    AllowInsecure,
}

impl PrivateKey {
    /// Generates a fresh key.
    pub fn generate(algorithm: KeyAlgorithm) -> Result<Self, KeyError> {
        use p256::elliptic_curve::Generate;
        let mut os = rng();
        let rsa = |bits| {
            rsa::RsaPrivateKey::new(&mut rng(), bits)
                .map(|k| Self::Rsa(Box::new(k)))
                .map_err(|e| KeyError::Sign(e.to_string()))
        };
        match algorithm {
            KeyAlgorithm::Rsa2048 => rsa(2048),
            KeyAlgorithm::Rsa3072 => rsa(3072),
            KeyAlgorithm::Rsa4096 => rsa(4096),
            KeyAlgorithm::P256 => Ok(Self::P256(p256::ecdsa::SigningKey::generate_from_rng(
                &mut os,
            ))),
            KeyAlgorithm::P384 => Ok(Self::P384(p384::ecdsa::SigningKey::generate_from_rng(
                &mut os,
            ))),
            KeyAlgorithm::Ed25519 => {
                Ok(Self::Ed25519(ed25519_dalek::SigningKey::generate(&mut os)))
            }
            KeyAlgorithm::MlDsa(set) => MlDsaPrivateKey::generate(set).map(Self::MlDsa),
        }
    }

    /// Reads a key file, refusing group/other-readable files unless `check` allows it.
    pub fn load(path: &Path, check: KeyFileCheck) -> Result<Self, KeyError> {
        let io = |source| KeyError::Io {
            path: path.display().to_string(),
            source,
        };
        if check == KeyFileCheck::OwnerOnly {
            check_owner_only(path).map_err(|e| match e {
                Ok(mode) => KeyError::InsecurePermissions {
                    path: path.display().to_string(),
                    mode,
                },
                Err(source) => io(source),
            })?;
        }
        let bytes = Zeroizing::new(std::fs::read(path).map_err(io)?);
        Self::from_bytes(&bytes)
    }

    /// Parses a key from PEM (`PRIVATE KEY`, `RSA PRIVATE KEY`, `EC PRIVATE KEY`) or DER
    /// (PKCS #8, PKCS #1 or SEC1).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, KeyError> {
        let text = std::str::from_utf8(bytes)
            .ok()
            .filter(|t| t.contains("-----BEGIN"));
        let Some(text) = text else {
            return Self::from_der(bytes);
        };
        let blocks = pem::parse_many(text).map_err(|e| KeyError::Unreadable(e.to_string()))?;
        let mut curve = None;
        for block in &blocks {
            let der = Zeroizing::new(block.contents().to_vec());
            match block.tag() {
                "PRIVATE KEY" => return Self::from_pkcs8(&der),
                "RSA PRIVATE KEY" => return Self::from_pkcs1(&der),
                "EC PRIVATE KEY" => return Self::from_sec1(&der, curve),
                "EC PARAMETERS" => curve = Oid::from_der(&der).ok(),
                "ENCRYPTED PRIVATE KEY" => return Err(KeyError::Encrypted),
                _ => {}
            }
        }
        Err(KeyError::Unreadable(
            "no private key PEM block found".into(),
        ))
    }

    /// Parses a DER key: PKCS #8, then PKCS #1, then SEC1.
    pub fn from_der(der: &[u8]) -> Result<Self, KeyError> {
        // EncryptedPrivateKeyInfo starts with an AlgorithmIdentifier (a SEQUENCE) where
        // PrivateKeyInfo starts with its version INTEGER.
        if let Ok((0x30, body)) = crate::asn1::read_one(der)
            && body.first() == Some(&0x30)
        {
            return Err(KeyError::Encrypted);
        }
        Self::from_pkcs8(der)
            .or_else(|_| Self::from_pkcs1(der))
            .or_else(|_| Self::from_sec1(der, None))
            .map_err(|_| KeyError::Unreadable("DER is not PKCS #8, PKCS #1 or SEC1".into()))
    }

    fn from_pkcs8(der: &[u8]) -> Result<Self, KeyError> {
        let info = pkcs8::PrivateKeyInfoRef::from_der(der)
            .map_err(|e| KeyError::Unreadable(e.to_string()))?;
        let unreadable = |e: pkcs8::Error| KeyError::Unreadable(e.to_string());
        let alg = info.algorithm.oid;
        if alg == oid::RSA_ENCRYPTION {
            return rsa::RsaPrivateKey::from_pkcs8_der(der)
                .map(|k| Self::Rsa(Box::new(k)))
                .map_err(unreadable);
        }
        if alg == oid::ID_RSASSA_PSS {
            let params = info
                .algorithm
                .parameters
                .map(der::Any::from)
                .map(|p| PssKeyParams::from_parameters(Some(&p)))
                .transpose()?
                .flatten();
            let key = Self::from_pkcs1(info.private_key.as_bytes())?;
            return key.into_rsa_pss(params);
        }
        if alg == oid::ID_ED25519 {
            return ed25519_dalek::SigningKey::from_pkcs8_der(der)
                .map(Self::Ed25519)
                .map_err(unreadable);
        }
        if let Some(set) = MlDsaParameterSet::from_oid(&alg) {
            if info.algorithm.parameters.is_some() {
                return Err(AlgorithmError::BadParameters("ML-DSA private key algorithm").into());
            }
            let key = MlDsaPrivateKey::from_private_key_choice(set, info.private_key.as_bytes())?;
            // A PKCS #8 v2 (RFC 5958) key may carry its public key: it must be this key's.
            if let Some(public) = info.public_key.as_ref()
                && public.as_bytes() != Some(key.public_key().to_bytes().as_slice())
            {
                return Err(KeyError::Unreadable(
                    "ML-DSA private key whose public key is another key's".into(),
                ));
            }
            return Ok(Self::MlDsa(key));
        }
        if alg == oid::ID_EC_PUBLIC_KEY {
            let curve = info
                .algorithm
                .parameters
                .and_then(|p| p.decode_as::<Oid>().ok())
                .ok_or_else(|| KeyError::Unreadable("EC key without a named curve".into()))?;
            if curve == oid::SECP256R1 {
                return p256::ecdsa::SigningKey::from_pkcs8_der(der)
                    .map(Self::P256)
                    .map_err(unreadable);
            }
            if curve == oid::SECP384R1 {
                return p384::ecdsa::SigningKey::from_pkcs8_der(der)
                    .map(Self::P384)
                    .map_err(unreadable);
            }
            return Err(AlgorithmError::UnsupportedKey(curve).into());
        }
        Err(AlgorithmError::UnsupportedKey(alg).into())
    }

    fn from_pkcs1(der: &[u8]) -> Result<Self, KeyError> {
        use pkcs1::DecodeRsaPrivateKey;
        rsa::RsaPrivateKey::from_pkcs1_der(der)
            .map(|k| Self::Rsa(Box::new(k)))
            .map_err(|e| KeyError::Unreadable(e.to_string()))
    }

    fn from_sec1(der: &[u8], curve_hint: Option<Oid>) -> Result<Self, KeyError> {
        let key =
            sec1::EcPrivateKey::from_der(der).map_err(|e| KeyError::Unreadable(e.to_string()))?;
        let curve = key
            .parameters
            .and_then(|p| p.named_curve())
            .or(curve_hint)
            .or(match key.private_key.len() {
                32 => Some(oid::SECP256R1),
                48 => Some(oid::SECP384R1),
                _ => None,
            })
            .ok_or_else(|| KeyError::Unreadable("EC key of unknown curve".into()))?;
        let unreadable = |e: elliptic_curve_error::Error| KeyError::Unreadable(e.to_string());
        if curve == oid::SECP256R1 {
            return p256::SecretKey::from_slice(key.private_key)
                .map(|k| Self::P256(k.into()))
                .map_err(unreadable);
        }
        if curve == oid::SECP384R1 {
            return p384::SecretKey::from_slice(key.private_key)
                .map(|k| Self::P384(k.into()))
                .map_err(unreadable);
        }
        Err(AlgorithmError::UnsupportedKey(curve).into())
    }

    /// This RSA key restricted to RSASSA-PSS with `params` (`None`: any hash), as an
    /// id-RSASSA-PSS key: it then signs only with PSS and its `SubjectPublicKeyInfo` and
    /// PKCS #8 say so. Fails for other key types.
    pub fn into_rsa_pss(self, params: Option<PssKeyParams>) -> Result<Self, KeyError> {
        if let Some(p) = params
            && (p.digest == DigestAlgorithm::Md5 || u32::try_from(p.min_salt_len).is_err())
        {
            return Err(AlgorithmError::BadParameters("RSASSA-PSS parameters").into());
        }
        match self {
            Self::Rsa(k) | Self::RsaPss(k, _) => Ok(Self::RsaPss(k, params)),
            other => Err(AlgorithmError::KeyMismatch {
                signature: "rsa-pss".into(),
                key: other.public_key().kind(),
            }
            .into()),
        }
    }

    /// The RSASSA-PSS restriction of an id-RSASSA-PSS key: `None` for other keys,
    /// `Some(None)` for a PSS key without parameters.
    pub fn pss_restriction(&self) -> Option<Option<PssKeyParams>> {
        match self {
            Self::RsaPss(_, p) => Some(*p),
            _ => None,
        }
    }

    /// The digest waxseal signs with by default: the key's RSASSA-PSS hash when it is
    /// restricted to one, else [`KeyAlgorithm::default_digest`].
    pub fn default_digest(&self) -> DigestAlgorithm {
        match self {
            Self::RsaPss(_, Some(p)) => p.digest,
            _ => self.algorithm().default_digest(),
        }
    }

    /// The key type.
    pub fn algorithm(&self) -> KeyAlgorithm {
        match self {
            Self::Rsa(k) | Self::RsaPss(k, _) => match k.n().bits() {
                0..=2048 => KeyAlgorithm::Rsa2048,
                2049..=3072 => KeyAlgorithm::Rsa3072,
                _ => KeyAlgorithm::Rsa4096,
            },
            Self::P256(_) => KeyAlgorithm::P256,
            Self::P384(_) => KeyAlgorithm::P384,
            Self::Ed25519(_) => KeyAlgorithm::Ed25519,
            Self::MlDsa(k) => KeyAlgorithm::MlDsa(k.parameter_set()),
        }
    }

    /// The matching public key.
    pub fn public_key(&self) -> PublicKey {
        match self {
            Self::Rsa(k) => PublicKey::Rsa(k.to_public_key()),
            Self::RsaPss(k, p) => PublicKey::RsaPss(k.to_public_key(), *p),
            Self::P256(k) => PublicKey::P256(*k.verifying_key()),
            Self::P384(k) => PublicKey::P384(*k.verifying_key()),
            Self::Ed25519(k) => PublicKey::Ed25519(k.verifying_key()),
            Self::MlDsa(k) => PublicKey::MlDsa(k.public_key()),
        }
    }

    /// The public key as a `SubjectPublicKeyInfo`.
    pub fn subject_public_key_info(&self) -> SubjectPublicKeyInfoOwned {
        let der = self
            .public_key()
            .to_spki_der()
            .expect("RSA, EC, Ed25519 and ML-DSA public keys always encode");
        SubjectPublicKeyInfoOwned::from_der(&der).expect("freshly encoded SPKI decodes")
    }

    /// The key as unencrypted PKCS #8 DER.
    pub fn to_pkcs8_der(&self) -> Zeroizing<Vec<u8>> {
        let doc = match self {
            Self::Rsa(k) => k.to_pkcs8_der(),
            Self::RsaPss(k, params) => {
                let pkcs1 = pkcs1::EncodeRsaPrivateKey::to_pkcs1_der(k.as_ref())
                    .expect("RSA private keys always encode");
                let any = params.and_then(PssKeyParams::to_any);
                let info = pkcs8::PrivateKeyInfoRef::new(
                    spki::AlgorithmIdentifierRef {
                        oid: oid::ID_RSASSA_PSS,
                        parameters: any.as_ref().map(der::AnyRef::from),
                    },
                    der::asn1::OctetStringRef::new(pkcs1.as_bytes())
                        .expect("RSA private keys are short enough"),
                );
                return Zeroizing::new(info.to_der().expect("RSA-PSS PKCS #8 encodes"));
            }
            Self::P256(k) => k.to_pkcs8_der(),
            Self::P384(k) => k.to_pkcs8_der(),
            // PKCS #8 v1 (RFC 8410 §7, no public key): the form OpenSSL 3.0 reads;
            // ed25519-dalek writes v2 (RFC 5958, with the public key), which it does not.
            Self::Ed25519(k) => {
                let seed = Zeroizing::new(crate::asn1::tlv(0x04, k.as_bytes()));
                let octets = der::asn1::OctetStringRef::new(&seed).expect("32-byte seeds encode");
                let info = pkcs8::PrivateKeyInfoRef::new(
                    spki::AlgorithmIdentifierRef {
                        oid: oid::ID_ED25519,
                        parameters: None,
                    },
                    octets,
                );
                return Zeroizing::new(info.to_der().expect("Ed25519 PKCS #8 encodes"));
            }
            // PKCS #8 v1 holding the ML-DSA-PrivateKey CHOICE: the seed form (RFC 9881 §6).
            Self::MlDsa(k) => {
                let choice = k.to_private_key_choice();
                let octets =
                    der::asn1::OctetStringRef::new(&choice).expect("ML-DSA keys are short enough");
                let info = pkcs8::PrivateKeyInfoRef::new(
                    spki::AlgorithmIdentifierRef {
                        oid: k.parameter_set().oid(),
                        parameters: None,
                    },
                    octets,
                );
                return Zeroizing::new(info.to_der().expect("ML-DSA PKCS #8 encodes"));
            }
        }
        .expect("supported private keys always encode");
        Zeroizing::new(doc.as_bytes().to_vec())
    }

    /// The key as unencrypted PKCS #8 PEM (`-----BEGIN PRIVATE KEY-----`).
    pub fn to_pkcs8_pem(&self) -> Zeroizing<String> {
        let block = pem::Pem::new("PRIVATE KEY", self.to_pkcs8_der().to_vec());
        Zeroizing::new(pem::encode_config(
            &block,
            pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF),
        ))
    }

    /// Checks that `digest` can be used with this key for `pss` or not, as waxseal signs.
    pub fn check_digest(&self, digest: DigestAlgorithm, pss: bool) -> Result<(), AlgorithmError> {
        AlgorithmPolicy::STRICT.check_digest(digest)?;
        match self {
            Self::Ed25519(_) if digest != DigestAlgorithm::Sha512 => {
                Err(AlgorithmError::DigestMismatch {
                    digest,
                    signature: "ed25519 (RFC 8419 requires sha512)".into(),
                })
            }
            Self::MlDsa(k) if digest < k.parameter_set().min_digest() => {
                Err(AlgorithmError::DigestMismatch {
                    digest,
                    signature: format!(
                        "{} (RFC 9882 wants {} or stronger)",
                        k.parameter_set(),
                        k.parameter_set().min_digest()
                    ),
                })
            }
            Self::Ed25519(_) | Self::P256(_) | Self::P384(_) | Self::MlDsa(_) if pss => {
                Err(AlgorithmError::KeyMismatch {
                    signature: "rsa-pss".into(),
                    key: self.public_key().kind(),
                })
            }
            Self::RsaPss(_, Some(p)) if p.digest != digest => {
                Err(AlgorithmError::PssKeyRestriction {
                    signature: format!("rsa-pss-{digest}"),
                    allowed: PssKeyParams::describe(Some(*p)),
                })
            }
            _ => Ok(()),
        }
    }

    /// The signature algorithm identifier [`PrivateKey::sign`] produces for `digest`.
    pub fn signature_algorithm(
        &self,
        digest: DigestAlgorithm,
        pss: bool,
    ) -> Result<AlgorithmIdentifierOwned, KeyError> {
        self.check_digest(digest, pss)?;
        let no_params = |oid| AlgorithmIdentifierOwned {
            oid,
            parameters: None,
        };
        Ok(match self {
            Self::Ed25519(_) => no_params(oid::ID_ED25519),
            Self::MlDsa(k) => no_params(k.parameter_set().oid()),
            Self::P256(_) | Self::P384(_) => no_params(ecdsa_oid(digest)),
            Self::Rsa(_) if pss => {
                crate::algorithm::pss_algorithm_identifier(digest, pss_salt_len(digest, None))?
            }
            Self::RsaPss(_, params) => {
                crate::algorithm::pss_algorithm_identifier(digest, pss_salt_len(digest, *params))?
            }
            // RFC 4055 §5: the parameters of sha*WithRSAEncryption are NULL.
            Self::Rsa(_) => AlgorithmIdentifierOwned {
                oid: match digest {
                    DigestAlgorithm::Sha256 => oid::SHA256_WITH_RSA,
                    DigestAlgorithm::Sha384 => oid::SHA384_WITH_RSA,
                    _ => oid::SHA512_WITH_RSA,
                },
                parameters: Some(der::asn1::Null.into()),
            },
        })
    }
}

mod elliptic_curve_error {
    pub use p256::elliptic_curve::Error;
}

fn ecdsa_oid(digest: DigestAlgorithm) -> Oid {
    match digest {
        DigestAlgorithm::Sha384 => oid::ECDSA_WITH_SHA384,
        DigestAlgorithm::Sha512 => oid::ECDSA_WITH_SHA512,
        _ => oid::ECDSA_WITH_SHA256,
    }
}

/// `Ok(())` when only the owner may access `path`; `Err(Ok(mode))` when group or others
/// may; `Err(Err(io))` when the file cannot be inspected.
#[cfg(unix)]
fn check_owner_only(path: &Path) -> Result<(), Result<u32, std::io::Error>> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).map_err(Err)?.permissions().mode() & 0o7777;
    if mode & 0o077 != 0 {
        Err(Ok(mode))
    } else {
        Ok(())
    }
}

#[cfg(not(unix))]
fn check_owner_only(_path: &Path) -> Result<(), Result<u32, std::io::Error>> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_not_a_key() {
        assert!(matches!(
            PrivateKey::from_bytes(b"not a key"),
            Err(KeyError::Unreadable(_))
        ));
        assert!(matches!(
            PrivateKey::from_bytes(
                b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
            ),
            Err(KeyError::Unreadable(_))
        ));
    }
}
