//! Digest and signature algorithms (RFC 5754, RFC 4055, RFC 5753, RFC 8419, RFC 3370), and
//! the policy that decides which of them a verifier accepts.

use const_oid::ObjectIdentifier as Oid;
use der::Decode;
use spki::AlgorithmIdentifierOwned;

use crate::oid;

/// A message digest algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DigestAlgorithm {
    /// MD5: broken; verification only, and only when [`AlgorithmPolicy::allow_md5`] is set.
    Md5,
    /// SHA-1: legacy; verification only, and only when [`AlgorithmPolicy::allow_sha1`] is set.
    Sha1,
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512 (required with Ed25519, RFC 8419).
    Sha512,
}

impl DigestAlgorithm {
    /// Every algorithm, weakest first.
    pub const ALL: [DigestAlgorithm; 5] = [
        DigestAlgorithm::Md5,
        DigestAlgorithm::Sha1,
        DigestAlgorithm::Sha256,
        DigestAlgorithm::Sha384,
        DigestAlgorithm::Sha512,
    ];

    /// The algorithm's object identifier.
    pub fn oid(self) -> Oid {
        match self {
            Self::Md5 => oid::ID_MD5,
            Self::Sha1 => oid::ID_SHA1,
            Self::Sha256 => oid::ID_SHA256,
            Self::Sha384 => oid::ID_SHA384,
            Self::Sha512 => oid::ID_SHA512,
        }
    }

    /// Looks an algorithm up by object identifier.
    pub fn from_oid(oid: &Oid) -> Option<Self> {
        Self::ALL.into_iter().find(|d| d.oid() == *oid)
    }

    /// The lower-case name used on the command line and in reports (`sha256`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Md5 => "md5",
            Self::Sha1 => "sha1",
            Self::Sha256 => "sha256",
            Self::Sha384 => "sha384",
            Self::Sha512 => "sha512",
        }
    }

    /// The S/MIME `micalg` parameter value (RFC 5751 §3.4.3.2).
    pub fn micalg(self) -> &'static str {
        match self {
            Self::Md5 => "md5",
            Self::Sha1 => "sha-1",
            Self::Sha256 => "sha-256",
            Self::Sha384 => "sha-384",
            Self::Sha512 => "sha-512",
        }
    }

    /// Parses a name as [`DigestAlgorithm::name`] prints it (also accepts `sha-256`).
    pub fn from_name(name: &str) -> Option<Self> {
        let n = name.to_ascii_lowercase().replace('-', "");
        Self::ALL.into_iter().find(|d| d.name() == n)
    }

    /// Digest length in bytes.
    pub fn output_len(self) -> usize {
        match self {
            Self::Md5 => 16,
            Self::Sha1 => 20,
            Self::Sha256 => 32,
            Self::Sha384 => 48,
            Self::Sha512 => 64,
        }
    }

    /// The `AlgorithmIdentifier` waxseal writes: parameters absent (RFC 5754 §2).
    pub fn algorithm_identifier(self) -> AlgorithmIdentifierOwned {
        AlgorithmIdentifierOwned {
            oid: self.oid(),
            parameters: None,
        }
    }

    /// Reads a digest `AlgorithmIdentifier`; parameters must be absent or NULL.
    pub fn from_algorithm_identifier(
        alg: &AlgorithmIdentifierOwned,
    ) -> Result<Self, AlgorithmError> {
        let d = Self::from_oid(&alg.oid).ok_or(AlgorithmError::UnsupportedDigest(alg.oid))?;
        match &alg.parameters {
            None => Ok(d),
            Some(p) if p.is_null() => Ok(d),
            Some(_) => Err(AlgorithmError::BadParameters("digest algorithm")),
        }
    }
}

impl std::fmt::Display for DigestAlgorithm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A signature algorithm identifier, as read from a `SignerInfo` or a certificate.
///
/// `digest` is `None` where the identifier names only the key type (`rsaEncryption`,
/// `id-ecPublicKey`, `id-dsa`), which CMS allows: the digest then comes from the
/// `SignerInfo`'s `digestAlgorithm`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureScheme {
    /// RSASSA-PKCS1-v1_5.
    RsaPkcs1 {
        /// Digest named by the identifier.
        digest: Option<DigestAlgorithm>,
    },
    /// RSASSA-PSS with MGF1 (RFC 4055).
    RsaPss {
        /// The hash and MGF1 hash (waxseal accepts only equal ones).
        digest: DigestAlgorithm,
        /// Salt length in bytes.
        salt_len: usize,
    },
    /// ECDSA (RFC 5753 / RFC 5758).
    Ecdsa {
        /// Digest named by the identifier.
        digest: Option<DigestAlgorithm>,
    },
    /// Pure Ed25519 (RFC 8410, RFC 8419).
    Ed25519,
    /// Pure ML-DSA with an empty context (FIPS 204, RFC 9881, RFC 9882), of one
    /// parameter set.
    MlDsa(MlDsaParameterSet),
    /// DSA (RFC 3279, RFC 5758): verification only.
    Dsa {
        /// Digest named by the identifier.
        digest: Option<DigestAlgorithm>,
    },
}

impl SignatureScheme {
    /// Parses a signature `AlgorithmIdentifier`.
    pub fn from_algorithm_identifier(
        alg: &AlgorithmIdentifierOwned,
    ) -> Result<Self, AlgorithmError> {
        use DigestAlgorithm::*;
        let no_params = || match &alg.parameters {
            None => Ok(()),
            Some(p) if p.is_null() => Ok(()),
            Some(_) => Err(AlgorithmError::BadParameters("signature algorithm")),
        };
        let o = alg.oid;
        let scheme = if o == oid::RSA_ENCRYPTION {
            no_params()?;
            Self::RsaPkcs1 { digest: None }
        } else if let Some(d) = [
            (oid::MD5_WITH_RSA, Md5),
            (oid::SHA1_WITH_RSA, Sha1),
            (oid::SHA256_WITH_RSA, Sha256),
            (oid::SHA384_WITH_RSA, Sha384),
            (oid::SHA512_WITH_RSA, Sha512),
        ]
        .iter()
        .find(|(x, _)| *x == o)
        {
            no_params()?;
            Self::RsaPkcs1 { digest: Some(d.1) }
        } else if o == oid::ID_RSASSA_PSS {
            parse_pss_params(alg)?
        } else if o == oid::ID_EC_PUBLIC_KEY {
            // Some producers put the key algorithm here; parameters may name the curve.
            Self::Ecdsa { digest: None }
        } else if let Some(d) = [
            (oid::ECDSA_WITH_SHA1, Sha1),
            (oid::ECDSA_WITH_SHA256, Sha256),
            (oid::ECDSA_WITH_SHA384, Sha384),
            (oid::ECDSA_WITH_SHA512, Sha512),
        ]
        .iter()
        .find(|(x, _)| *x == o)
        {
            // RFC 5758 §3.2: parameters MUST be absent.
            if alg.parameters.is_some() {
                return Err(AlgorithmError::BadParameters("ECDSA signature algorithm"));
            }
            Self::Ecdsa { digest: Some(d.1) }
        } else if o == oid::ID_ED25519 {
            if alg.parameters.is_some() {
                return Err(AlgorithmError::BadParameters("Ed25519 signature algorithm"));
            }
            Self::Ed25519
        } else if let Some(set) = MlDsaParameterSet::from_oid(&o) {
            // RFC 9881 §2, RFC 9882 §2: parameters MUST be absent.
            if alg.parameters.is_some() {
                return Err(AlgorithmError::BadParameters("ML-DSA signature algorithm"));
            }
            Self::MlDsa(set)
        } else if o == oid::ID_DSA {
            Self::Dsa { digest: None }
        } else if o == oid::DSA_WITH_SHA1 {
            no_params()?;
            Self::Dsa { digest: Some(Sha1) }
        } else if o == oid::DSA_WITH_SHA256 {
            no_params()?;
            Self::Dsa {
                digest: Some(Sha256),
            }
        } else {
            return Err(AlgorithmError::UnsupportedSignature(o));
        };
        Ok(scheme)
    }

    /// The digest the identifier itself names, if any.
    pub fn named_digest(&self) -> Option<DigestAlgorithm> {
        match self {
            Self::RsaPkcs1 { digest } | Self::Ecdsa { digest } | Self::Dsa { digest } => *digest,
            Self::RsaPss { digest, .. } => Some(*digest),
            Self::Ed25519 | Self::MlDsa(_) => None,
        }
    }

    /// Whether the scheme signs the message itself rather than a digest computed outside
    /// it (pure Ed25519 and pure ML-DSA): without signed attributes such a signature
    /// covers the whole content, and the `digestAlgorithm` is not part of it.
    pub fn is_pure(&self) -> bool {
        matches!(self, Self::Ed25519 | Self::MlDsa(_))
    }

    /// A short name for reports (`rsa-pkcs1-sha256`, `ecdsa-sha384`, `ed25519`).
    pub fn describe(&self, digest: Option<DigestAlgorithm>) -> String {
        let d = self
            .named_digest()
            .or(digest)
            .map(|d| format!("-{d}"))
            .unwrap_or_default();
        match self {
            Self::RsaPkcs1 { .. } => format!("rsa-pkcs1{d}"),
            Self::RsaPss { .. } => format!("rsa-pss{d}"),
            Self::Ecdsa { .. } => format!("ecdsa{d}"),
            Self::Ed25519 => "ed25519".into(),
            Self::MlDsa(set) => set.name().into(),
            Self::Dsa { .. } => format!("dsa{d}"),
        }
    }
}

/// `RSASSA-PSS-params` (RFC 4055 §3.1), with its defaults (SHA-1, MGF1-SHA-1, salt 20).
fn parse_pss_params(alg: &AlgorithmIdentifierOwned) -> Result<SignatureScheme, AlgorithmError> {
    const BAD: AlgorithmError = AlgorithmError::BadParameters("RSASSA-PSS parameters");
    let params = alg.parameters.as_ref().ok_or(BAD)?;
    let (digest, salt_len) = pss_params(&der::Encode::to_der(params).map_err(|_| BAD)?)?;
    Ok(SignatureScheme::RsaPss { digest, salt_len })
}

/// `RSASSA-PSS-params` (RFC 4055 §3.1). Not `pkcs1`'s type: it holds the salt length in a
/// `u8`, and OpenSSL's default (the largest salt) is over 255 bytes for 3072-bit keys.
#[derive(Clone, Debug, der::Sequence)]
struct RsaPssParams {
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    hash: Option<AlgorithmIdentifierOwned>,
    #[asn1(context_specific = "1", tag_mode = "EXPLICIT", optional = "true")]
    mask_gen: Option<AlgorithmIdentifierOwned>,
    #[asn1(context_specific = "2", tag_mode = "EXPLICIT", optional = "true")]
    salt_len: Option<u32>,
    #[asn1(context_specific = "3", tag_mode = "EXPLICIT", optional = "true")]
    trailer_field: Option<u32>,
}

/// Decodes DER `RSASSA-PSS-params` into (hash, salt length), with the defaults (SHA-1,
/// MGF1-SHA-1, salt 20): waxseal accepts MGF1 with the message hash and the trailer
/// field BC (1) only.
pub(crate) fn pss_params(der: &[u8]) -> Result<(DigestAlgorithm, usize), AlgorithmError> {
    const BAD: AlgorithmError = AlgorithmError::BadParameters("RSASSA-PSS parameters");
    let params = RsaPssParams::from_der(der).map_err(|_| BAD)?;
    let hash = match &params.hash {
        Some(h) => DigestAlgorithm::from_algorithm_identifier(h)?,
        None => DigestAlgorithm::Sha1,
    };
    let mgf_hash = match &params.mask_gen {
        None => DigestAlgorithm::Sha1,
        Some(m) if m.oid == oid::ID_MGF1 => {
            let h: AlgorithmIdentifierOwned = m
                .parameters
                .as_ref()
                .ok_or(BAD)?
                .decode_as()
                .map_err(|_| BAD)?;
            DigestAlgorithm::from_algorithm_identifier(&h)?
        }
        Some(_) => {
            return Err(AlgorithmError::BadParameters(
                "RSASSA-PSS mask generation function",
            ));
        }
    };
    if mgf_hash != hash {
        return Err(AlgorithmError::BadParameters(
            "RSASSA-PSS with an MGF1 hash different from the message hash",
        ));
    }
    if params.trailer_field.unwrap_or(1) != 1 {
        return Err(BAD);
    }
    let salt_len = params.salt_len.unwrap_or(20);
    Ok((hash, usize::try_from(salt_len).map_err(|_| BAD)?))
}

/// The `AlgorithmIdentifier` of RSASSA-PSS with `digest` for the hash and MGF1, salt
/// `salt_len` bytes and trailer BC (RFC 4055 §3.1; hash parameters NULL, as OpenSSL;
/// DEFAULT values omitted, as DER wants).
pub(crate) fn pss_algorithm_identifier(
    digest: DigestAlgorithm,
    salt_len: usize,
) -> Result<AlgorithmIdentifierOwned, AlgorithmError> {
    const BAD: AlgorithmError = AlgorithmError::BadParameters("RSASSA-PSS parameters");
    if digest == DigestAlgorithm::Md5 {
        return Err(BAD);
    }
    let hash = AlgorithmIdentifierOwned {
        oid: digest.oid(),
        parameters: Some(der::asn1::Null.into()),
    };
    let sha1 = digest == DigestAlgorithm::Sha1;
    let params = RsaPssParams {
        hash: (!sha1).then(|| hash.clone()),
        mask_gen: (!sha1)
            .then(|| {
                Ok::<_, der::Error>(AlgorithmIdentifierOwned {
                    oid: oid::ID_MGF1,
                    parameters: Some(der::Any::encode_from(&hash)?),
                })
            })
            .transpose()
            .map_err(|_| BAD)?,
        salt_len: Some(u32::try_from(salt_len).map_err(|_| BAD)?).filter(|s| *s != 20),
        trailer_field: None,
    };
    let der = der::Encode::to_der(&params).map_err(|_| BAD)?;
    Ok(AlgorithmIdentifierOwned {
        oid: oid::ID_RSASSA_PSS,
        parameters: Some(der::Any::from_der(&der).map_err(|_| BAD)?),
    })
}

/// Which algorithms a verifier accepts.
///
/// The default is strict: SHA-256/384/512 only, RSA keys of at least 2048 bits.
/// Legacy material (RFC 4134's examples, old Keystone tokens, NIST PKITS) needs
/// [`AlgorithmPolicy::allow_sha1`], which also admits the 1024-bit RSA and DSA keys such
/// material is invariably signed with. MD5 has its own switch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AlgorithmPolicy {
    /// Accept SHA-1 digests and signatures, and RSA/DSA keys down to 1024 bits.
    pub allow_sha1: bool,
    /// Accept MD5 digests and signatures.
    pub allow_md5: bool,
}

impl Default for AlgorithmPolicy {
    fn default() -> Self {
        Self::STRICT
    }
}

impl AlgorithmPolicy {
    /// SHA-2 only; RSA keys of at least 2048 bits.
    pub const STRICT: Self = Self {
        allow_sha1: false,
        allow_md5: false,
    };

    /// [`AlgorithmPolicy::STRICT`] plus SHA-1 and 1024-bit keys, for legacy messages.
    pub const LEGACY_SHA1: Self = Self {
        allow_sha1: true,
        allow_md5: false,
    };

    /// Smallest RSA (and DSA) modulus accepted, in bits.
    pub fn min_rsa_bits(&self) -> usize {
        if self.allow_sha1 || self.allow_md5 {
            1024
        } else {
            2048
        }
    }

    /// Fails unless `digest` is acceptable.
    pub fn check_digest(&self, digest: DigestAlgorithm) -> Result<(), AlgorithmError> {
        match digest {
            DigestAlgorithm::Sha1 if !self.allow_sha1 => Err(AlgorithmError::LegacyDigest(digest)),
            DigestAlgorithm::Md5 if !self.allow_md5 => Err(AlgorithmError::LegacyDigest(digest)),
            _ => Ok(()),
        }
    }
}

/// An algorithm problem: unknown, malformed, refused by policy, or inconsistent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AlgorithmError {
    /// A digest algorithm waxseal does not implement.
    #[error("unsupported digest algorithm {}", oid::name(.0))]
    UnsupportedDigest(Oid),
    /// A signature algorithm waxseal does not implement.
    #[error("unsupported signature algorithm {}", oid::name(.0))]
    UnsupportedSignature(Oid),
    /// A public key algorithm (or curve) waxseal does not implement.
    #[error("unsupported public key algorithm {}", oid::name(.0))]
    UnsupportedKey(Oid),
    /// Malformed or unsupported algorithm parameters.
    #[error("invalid {0}")]
    BadParameters(&'static str),
    /// SHA-1 or MD5 without the caller's opt-in.
    #[error("{0} is a legacy digest and is refused unless explicitly allowed (allow_{0})")]
    LegacyDigest(DigestAlgorithm),
    /// The digest algorithm and the signature algorithm name different hashes.
    #[error("digest algorithm {digest} does not match signature algorithm {signature}")]
    DigestMismatch {
        /// The `digestAlgorithm`.
        digest: DigestAlgorithm,
        /// What the signature algorithm names.
        signature: String,
    },
    /// The signature algorithm does not fit the signer's key type.
    #[error("signature algorithm {signature} does not fit a {key} key")]
    KeyMismatch {
        /// Signature algorithm.
        signature: String,
        /// Key type.
        key: &'static str,
    },
    /// A signature algorithm (or digest) that an RSASSA-PSS key's parameters rule out
    /// (RFC 4055 §3.3: such a key is used only for PSS, with its hash and at least its
    /// salt length).
    #[error("{signature} is not allowed by the key's RSASSA-PSS parameters ({allowed})")]
    PssKeyRestriction {
        /// What was asked for.
        signature: String,
        /// What the key allows.
        allowed: String,
    },
    /// A key below the policy's minimum size.
    #[error("{key} key of {bits} bits is below the minimum of {min}")]
    KeyTooSmall {
        /// Key type.
        key: &'static str,
        /// Its size.
        bits: usize,
        /// The policy minimum.
        min: usize,
    },
}

/// An ML-DSA parameter set (FIPS 204 §4, Table 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MlDsaParameterSet {
    /// ML-DSA-44 (NIST security category 2).
    MlDsa44,
    /// ML-DSA-65 (category 3).
    MlDsa65,
    /// ML-DSA-87 (category 5).
    MlDsa87,
}

impl MlDsaParameterSet {
    /// Every parameter set, smallest first.
    pub const ALL: [MlDsaParameterSet; 3] = [Self::MlDsa44, Self::MlDsa65, Self::MlDsa87];

    /// The algorithm identifier's object identifier (`id-ml-dsa-44`...; the same names
    /// the key and the signature, RFC 9881 §2).
    pub fn oid(self) -> Oid {
        match self {
            Self::MlDsa44 => oid::ID_ML_DSA_44,
            Self::MlDsa65 => oid::ID_ML_DSA_65,
            Self::MlDsa87 => oid::ID_ML_DSA_87,
        }
    }

    /// Looks a parameter set up by object identifier.
    pub fn from_oid(oid: &Oid) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.oid() == *oid)
    }

    /// The name on the command line and in reports (`ml-dsa-65`).
    pub fn name(self) -> &'static str {
        match self {
            Self::MlDsa44 => "ml-dsa-44",
            Self::MlDsa65 => "ml-dsa-65",
            Self::MlDsa87 => "ml-dsa-87",
        }
    }

    /// The length of an encoded public key (`pkEncode`), in bytes.
    pub fn public_key_len(self) -> usize {
        match self {
            Self::MlDsa44 => 1312,
            Self::MlDsa65 => 1952,
            Self::MlDsa87 => 2592,
        }
    }

    /// The length of a signature, in bytes.
    pub fn signature_len(self) -> usize {
        match self {
            Self::MlDsa44 => 2420,
            Self::MlDsa65 => 3309,
            Self::MlDsa87 => 4627,
        }
    }

    /// The length of an expanded private key (`skEncode`), in bytes.
    pub fn expanded_key_len(self) -> usize {
        match self {
            Self::MlDsa44 => 2560,
            Self::MlDsa65 => 4032,
            Self::MlDsa87 => 4896,
        }
    }

    /// The weakest digest accepted in a `SignerInfo` with signed attributes: RFC 9882 §3.3
    /// wants a hash at least twice the collision strength of ML-DSA's own commitment hash
    /// (128, 192 and 256 bits), so SHA-256, SHA-384 and SHA-512. waxseal signs with
    /// SHA-512 for all three (the one RFC 9882 requires every implementation to support).
    pub fn min_digest(self) -> DigestAlgorithm {
        match self {
            Self::MlDsa44 => DigestAlgorithm::Sha256,
            Self::MlDsa65 => DigestAlgorithm::Sha384,
            Self::MlDsa87 => DigestAlgorithm::Sha512,
        }
    }

    /// Memory a parsed public key takes besides its encoding, in bytes: the expanded
    /// matrix A (k x l polynomials of 256 32-bit coefficients) and t1 in NTT form, which
    /// verification uses and the key caches must count.
    pub fn prepared_bytes(self) -> u64 {
        let (k, l) = match self {
            Self::MlDsa44 => (4, 4),
            Self::MlDsa65 => (6, 5),
            Self::MlDsa87 => (8, 7),
        };
        (k * l + 2 * k) * 1024
    }
}

impl std::fmt::Display for MlDsaParameterSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_names_round_trip() {
        for d in DigestAlgorithm::ALL {
            assert_eq!(DigestAlgorithm::from_name(d.name()), Some(d));
            assert_eq!(DigestAlgorithm::from_oid(&d.oid()), Some(d));
        }
        assert_eq!(
            DigestAlgorithm::from_name("SHA-256"),
            Some(DigestAlgorithm::Sha256)
        );
        assert_eq!(DigestAlgorithm::from_name("sha3"), None);
    }

    #[test]
    fn strict_policy_refuses_sha1_and_md5() {
        let p = AlgorithmPolicy::default();
        assert!(p.check_digest(DigestAlgorithm::Sha256).is_ok());
        assert_eq!(
            p.check_digest(DigestAlgorithm::Sha1),
            Err(AlgorithmError::LegacyDigest(DigestAlgorithm::Sha1))
        );
        assert!(p.check_digest(DigestAlgorithm::Md5).is_err());
        assert!(
            AlgorithmPolicy::LEGACY_SHA1
                .check_digest(DigestAlgorithm::Sha1)
                .is_ok()
        );
        assert!(
            AlgorithmPolicy::LEGACY_SHA1
                .check_digest(DigestAlgorithm::Md5)
                .is_err()
        );
        assert_eq!(p.min_rsa_bits(), 2048);
        assert_eq!(AlgorithmPolicy::LEGACY_SHA1.min_rsa_bits(), 1024);
    }

    #[test]
    fn rsassa_pss_params_round_trip_and_refuse_what_waxseal_does_not_do() {
        use DigestAlgorithm::*;
        for (d, salt) in [
            (Sha256, 32),
            (Sha384, 48),
            (Sha512, 64),
            (Sha1, 20),
            (Sha256, 350),
        ] {
            let ai = pss_algorithm_identifier(d, salt).unwrap();
            let der = der::Encode::to_der(ai.parameters.as_ref().unwrap()).unwrap();
            assert_eq!(pss_params(&der).unwrap(), (d, salt), "{d} {salt}");
            assert_eq!(
                SignatureScheme::from_algorithm_identifier(&ai).unwrap(),
                SignatureScheme::RsaPss {
                    digest: d,
                    salt_len: salt
                }
            );
        }
        // SHA-1 with salt 20: every field DEFAULT, so an empty SEQUENCE (DER).
        let ai = pss_algorithm_identifier(Sha1, 20).unwrap();
        assert_eq!(
            der::Encode::to_der(ai.parameters.as_ref().unwrap()).unwrap(),
            [0x30, 0x00]
        );
        // MGF1 with another hash, a trailer field other than BC, MD5: refused.
        let mixed = RsaPssParams {
            mask_gen: Some(AlgorithmIdentifierOwned {
                oid: oid::ID_MGF1,
                parameters: Some(der::Any::encode_from(&Sha384.algorithm_identifier()).unwrap()),
            }),
            ..RsaPssParams::from_der(
                &der::Encode::to_der(
                    pss_algorithm_identifier(Sha256, 32)
                        .unwrap()
                        .parameters
                        .as_ref()
                        .unwrap(),
                )
                .unwrap(),
            )
            .unwrap()
        };
        assert!(pss_params(&der::Encode::to_der(&mixed).unwrap()).is_err());
        let trailer = RsaPssParams {
            hash: None,
            mask_gen: None,
            salt_len: None,
            trailer_field: Some(2),
        };
        assert!(pss_params(&der::Encode::to_der(&trailer).unwrap()).is_err());
        assert!(pss_algorithm_identifier(Md5, 16).is_err());
    }

    #[test]
    fn signature_identifiers_parse() {
        let ecdsa = AlgorithmIdentifierOwned {
            oid: oid::ECDSA_WITH_SHA384,
            parameters: None,
        };
        assert_eq!(
            SignatureScheme::from_algorithm_identifier(&ecdsa).unwrap(),
            SignatureScheme::Ecdsa {
                digest: Some(DigestAlgorithm::Sha384)
            }
        );
        let unknown = AlgorithmIdentifierOwned {
            oid: Oid::new_unwrap("1.2.3.4"),
            parameters: None,
        };
        assert!(matches!(
            SignatureScheme::from_algorithm_identifier(&unknown),
            Err(AlgorithmError::UnsupportedSignature(_))
        ));
    }
}
