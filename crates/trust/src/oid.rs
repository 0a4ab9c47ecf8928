//! Object identifiers of X.509 (RFC 5280) and of the algorithms waxseal knows, named as in
//! the RFCs that define them; those of CMS are `waxseal_envelope::oid`'s.

/// An object identifier (`const-oid`'s type, re-exported for users of these constants).
pub use const_oid::ObjectIdentifier as Oid;

const fn oid(s: &str) -> Oid {
    Oid::new_unwrap(s)
}

// Digest algorithms.
/// `id-md5` (RFC 1321)
pub(crate) const ID_MD5: Oid = oid("1.2.840.113549.2.5");
/// `id-sha1`
pub(crate) const ID_SHA1: Oid = oid("1.3.14.3.2.26");
/// `id-sha256` (RFC 5754)
pub(crate) const ID_SHA256: Oid = oid("2.16.840.1.101.3.4.2.1");
/// `id-sha384`
pub(crate) const ID_SHA384: Oid = oid("2.16.840.1.101.3.4.2.2");
/// `id-sha512`
pub(crate) const ID_SHA512: Oid = oid("2.16.840.1.101.3.4.2.3");

// RSA (RFC 8017, RFC 4055).
/// `rsaEncryption`
pub(crate) const RSA_ENCRYPTION: Oid = oid("1.2.840.113549.1.1.1");
/// `md5WithRSAEncryption`
pub(crate) const MD5_WITH_RSA: Oid = oid("1.2.840.113549.1.1.4");
/// `sha1WithRSAEncryption`
pub(crate) const SHA1_WITH_RSA: Oid = oid("1.2.840.113549.1.1.5");
/// `sha256WithRSAEncryption`
pub(crate) const SHA256_WITH_RSA: Oid = oid("1.2.840.113549.1.1.11");
/// `sha384WithRSAEncryption`
pub(crate) const SHA384_WITH_RSA: Oid = oid("1.2.840.113549.1.1.12");
/// `sha512WithRSAEncryption`
pub(crate) const SHA512_WITH_RSA: Oid = oid("1.2.840.113549.1.1.13");
/// `id-RSASSA-PSS`
pub(crate) const ID_RSASSA_PSS: Oid = oid("1.2.840.113549.1.1.10");
/// `id-mgf1`
pub(crate) const ID_MGF1: Oid = oid("1.2.840.113549.1.1.8");

// ECDSA (RFC 5480, RFC 5758).
/// `id-ecPublicKey`
pub(crate) const ID_EC_PUBLIC_KEY: Oid = oid("1.2.840.10045.2.1");
/// `secp256r1`
pub(crate) const SECP256R1: Oid = oid("1.2.840.10045.3.1.7");
/// `secp384r1`
pub(crate) const SECP384R1: Oid = oid("1.3.132.0.34");
/// `ecdsa-with-SHA1`
pub(crate) const ECDSA_WITH_SHA1: Oid = oid("1.2.840.10045.4.1");
/// `ecdsa-with-SHA256`
pub(crate) const ECDSA_WITH_SHA256: Oid = oid("1.2.840.10045.4.3.2");
/// `ecdsa-with-SHA384`
pub(crate) const ECDSA_WITH_SHA384: Oid = oid("1.2.840.10045.4.3.3");
/// `ecdsa-with-SHA512`
pub(crate) const ECDSA_WITH_SHA512: Oid = oid("1.2.840.10045.4.3.4");

// EdDSA (RFC 8410, RFC 8419).
/// `id-Ed25519`
pub(crate) const ID_ED25519: Oid = oid("1.3.101.112");

// ML-DSA (FIPS 204, RFC 9881, RFC 9882): one identifier names the key and the signature.
/// `id-ml-dsa-44`
pub(crate) const ID_ML_DSA_44: Oid = oid("2.16.840.1.101.3.4.3.17");
/// `id-ml-dsa-65`
pub(crate) const ID_ML_DSA_65: Oid = oid("2.16.840.1.101.3.4.3.18");
/// `id-ml-dsa-87`
pub(crate) const ID_ML_DSA_87: Oid = oid("2.16.840.1.101.3.4.3.19");

// DSA (RFC 3279, RFC 5758).
/// `id-dsa`
pub(crate) const ID_DSA: Oid = oid("1.2.840.10040.4.1");
/// `id-dsa-with-sha1`
pub(crate) const DSA_WITH_SHA1: Oid = oid("1.2.840.10040.4.3");
/// `id-dsa-with-sha256`
pub(crate) const DSA_WITH_SHA256: Oid = oid("2.16.840.1.101.3.4.3.2");

// RFC 5280 certificate and CRL extensions.
/// `id-ce-subjectKeyIdentifier`
pub const CE_SUBJECT_KEY_IDENTIFIER: Oid = oid("2.5.29.14");
/// `id-ce-keyUsage`
pub const CE_KEY_USAGE: Oid = oid("2.5.29.15");
/// `id-ce-subjectAltName`
pub const CE_SUBJECT_ALT_NAME: Oid = oid("2.5.29.17");
/// `id-ce-issuerAltName`
pub(crate) const CE_ISSUER_ALT_NAME: Oid = oid("2.5.29.18");
/// `id-ce-basicConstraints`
pub const CE_BASIC_CONSTRAINTS: Oid = oid("2.5.29.19");
/// `id-ce-cRLNumber`
pub const CE_CRL_NUMBER: Oid = oid("2.5.29.20");
/// `id-ce-cRLReasons`
pub const CE_CRL_REASONS: Oid = oid("2.5.29.21");
/// `id-ce-holdInstructionCode`
pub(crate) const CE_HOLD_INSTRUCTION_CODE: Oid = oid("2.5.29.23");
/// `id-ce-invalidityDate`
pub(crate) const CE_INVALIDITY_DATE: Oid = oid("2.5.29.24");
/// `id-ce-deltaCRLIndicator`
pub(crate) const CE_DELTA_CRL_INDICATOR: Oid = oid("2.5.29.27");
/// `id-ce-issuingDistributionPoint`
pub(crate) const CE_ISSUING_DISTRIBUTION_POINT: Oid = oid("2.5.29.28");
/// `id-ce-certificateIssuer`
pub(crate) const CE_CERTIFICATE_ISSUER: Oid = oid("2.5.29.29");
/// `id-ce-nameConstraints`
pub(crate) const CE_NAME_CONSTRAINTS: Oid = oid("2.5.29.30");
/// `id-ce-cRLDistributionPoints`
pub const CE_CRL_DISTRIBUTION_POINTS: Oid = oid("2.5.29.31");
/// `id-ce-certificatePolicies`
pub(crate) const CE_CERTIFICATE_POLICIES: Oid = oid("2.5.29.32");
/// `anyPolicy`
pub(crate) const ANY_POLICY: Oid = oid("2.5.29.32.0");
/// `id-ce-policyMappings`
pub(crate) const CE_POLICY_MAPPINGS: Oid = oid("2.5.29.33");
/// `id-ce-authorityKeyIdentifier`
pub const CE_AUTHORITY_KEY_IDENTIFIER: Oid = oid("2.5.29.35");
/// `id-ce-policyConstraints`
pub(crate) const CE_POLICY_CONSTRAINTS: Oid = oid("2.5.29.36");
/// `id-ce-extKeyUsage`
pub const CE_EXT_KEY_USAGE: Oid = oid("2.5.29.37");
/// `id-ce-freshestCRL`
pub(crate) const CE_FRESHEST_CRL: Oid = oid("2.5.29.46");
/// `id-ce-inhibitAnyPolicy`
pub(crate) const CE_INHIBIT_ANY_POLICY: Oid = oid("2.5.29.54");

// Extended key usage purposes (RFC 5280 §4.2.1.12).
/// `anyExtendedKeyUsage`
pub const ANY_EXTENDED_KEY_USAGE: Oid = oid("2.5.29.37.0");
/// `id-kp-serverAuth`
pub const KP_SERVER_AUTH: Oid = oid("1.3.6.1.5.5.7.3.1");
/// `id-kp-clientAuth`
pub(crate) const KP_CLIENT_AUTH: Oid = oid("1.3.6.1.5.5.7.3.2");
/// `id-kp-codeSigning`
pub const KP_CODE_SIGNING: Oid = oid("1.3.6.1.5.5.7.3.3");
/// `id-kp-emailProtection` (what S/MIME signers carry, RFC 8550 §4.4.4)
pub const KP_EMAIL_PROTECTION: Oid = oid("1.3.6.1.5.5.7.3.4");

// Name attributes.
/// `id-at-commonName`
pub(crate) const AT_COMMON_NAME: Oid = oid("2.5.4.3");
/// `emailAddress` (PKCS #9), which RFC 5280 §4.2.1.10 constrains like rfc822Name.
pub(crate) const AT_EMAIL_ADDRESS: Oid = oid("1.2.840.113549.1.9.1");

// waxseal's own key purpose, under an arc minted from a random UUID with the GUID-to-OID
// method of 1.2.840.113556.1.8000.2554 (no registration needed; const-oid's 32-bit arcs rule
// out the 2.25 UUID arc). UUID f479fe25-f706-44ee-a106-f6bfc135a41b. The CMS attributes
// under the same arc (`...42011.1`) are `waxseal_envelope::oid`'s.
/// The waxseal bus-signing purpose (an extendedKeyUsage key purpose): "this key signs
/// messages on a message bus". It is **not registered** anywhere: it sits under waxseal's
/// private, unregistered GUID-derived arc above (`...42011.2` = key purposes), which only
/// waxseal gives meaning to. `waxseal pki` writes it, with emailProtection, into every
/// certificate it issues, and verifiers accept it by default. An operator with an arc of
/// their own replaces it: issue certificates with their OID and verify with
/// `Verifier::with_accepted_purposes` (CLI: `--purpose OID`).
pub const WAXSEAL_KP_BUS_SIGNING: Oid =
    oid("1.2.840.113556.1.8000.2554.62585.65061.63238.17646.10553078.12575029.42011.2.1");

/// An extendedKeyUsage purpose by name (case-insensitive: emailProtection, codeSigning,
/// serverAuth, clientAuth, bus-signing, any-eku / anyExtendedKeyUsage) or dotted OID, as
/// the CLI's `--purpose` and the Python `purposes` arguments take it.
pub fn parse_purpose(text: &str) -> Result<Oid, PurposeError> {
    let named = [
        ("emailprotection", KP_EMAIL_PROTECTION),
        ("codesigning", KP_CODE_SIGNING),
        ("serverauth", KP_SERVER_AUTH),
        ("clientauth", KP_CLIENT_AUTH),
        ("bus-signing", WAXSEAL_KP_BUS_SIGNING),
        ("any-eku", ANY_EXTENDED_KEY_USAGE),
        ("anyextendedkeyusage", ANY_EXTENDED_KEY_USAGE),
    ];
    let lower = text.to_ascii_lowercase();
    if let Some((_, o)) = named.iter().find(|(n, _)| *n == lower) {
        return Ok(*o);
    }
    Oid::new(text).map_err(|_| PurposeError::Unknown)
}

/// Why a purpose given as text was refused ([`parse_purpose`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PurposeError {
    /// Neither a purpose's name nor a dotted OID.
    #[error(
        "expected emailProtection, codeSigning, serverAuth, clientAuth, bus-signing, any-eku \
         or a dotted OID"
    )]
    Unknown,
}

/// A human-readable name for well-known OIDs, else the dotted form.
pub fn name(oid: &Oid) -> String {
    const KNOWN: &[(Oid, &str)] = &[
        (ANY_EXTENDED_KEY_USAGE, "anyExtendedKeyUsage"),
        (KP_SERVER_AUTH, "serverAuth"),
        (KP_CLIENT_AUTH, "clientAuth"),
        (KP_CODE_SIGNING, "codeSigning"),
        (KP_EMAIL_PROTECTION, "emailProtection"),
        (WAXSEAL_KP_BUS_SIGNING, "waxsealBusSigning"),
        (ID_MD5, "md5"),
        (ID_SHA1, "sha1"),
        (ID_SHA256, "sha256"),
        (ID_SHA384, "sha384"),
        (ID_SHA512, "sha512"),
        (RSA_ENCRYPTION, "rsaEncryption"),
        (MD5_WITH_RSA, "md5WithRSAEncryption"),
        (SHA1_WITH_RSA, "sha1WithRSAEncryption"),
        (SHA256_WITH_RSA, "sha256WithRSAEncryption"),
        (SHA384_WITH_RSA, "sha384WithRSAEncryption"),
        (SHA512_WITH_RSA, "sha512WithRSAEncryption"),
        (ID_RSASSA_PSS, "RSASSA-PSS"),
        (ID_EC_PUBLIC_KEY, "id-ecPublicKey"),
        (ECDSA_WITH_SHA1, "ecdsa-with-SHA1"),
        (ECDSA_WITH_SHA256, "ecdsa-with-SHA256"),
        (ECDSA_WITH_SHA384, "ecdsa-with-SHA384"),
        (ECDSA_WITH_SHA512, "ecdsa-with-SHA512"),
        (ID_ED25519, "Ed25519"),
        (ID_ML_DSA_44, "id-ml-dsa-44"),
        (ID_ML_DSA_65, "id-ml-dsa-65"),
        (ID_ML_DSA_87, "id-ml-dsa-87"),
        (ID_DSA, "id-dsa"),
        (DSA_WITH_SHA1, "id-dsa-with-sha1"),
        (DSA_WITH_SHA256, "id-dsa-with-sha256"),
    ];
    KNOWN
        .iter()
        .find(|(o, _)| o == oid)
        .map(|(_, n)| (*n).to_string())
        .unwrap_or_else(|| oid.to_string())
}
