//! X.509 certificates as waxseal uses them: the parsed `x509-cert` structure plus the raw
//! bytes (signatures are checked over the received `tbsCertificate`, never a re-encoding),
//! the comparison form of the names, and the extensions path validation needs, decoded once.

use std::sync::{Arc, LazyLock, OnceLock};

use const_oid::ObjectIdentifier as Oid;
use der::{Decode, Encode};
use sha2::Digest;
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, BasicConstraints, CertificatePolicies, CrlDistributionPoints,
    ExtendedKeyUsage, FreshestCrl, InhibitAnyPolicy, KeyUsage, KeyUsages, NameConstraints,
    PolicyConstraints, PolicyMappings, SubjectAltName, SubjectKeyIdentifier,
};
use x509_cert::name::Name;

use crate::key::{DsaParameters, KeyError, PublicKey};
use crate::keycache::KeyCache;
use crate::name::{self, NameKey};
use crate::oid;
use crate::provider::PreparedPublicKey;

/// A certificate could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CertError {
    /// Not DER (or PEM) for an X.509 certificate.
    #[error("not an X.509 certificate: {0}")]
    Malformed(String),
    /// A PEM file without any `CERTIFICATE` block.
    #[error("no certificate found in PEM input")]
    NoCertificate,
}

/// Decoded extensions that path validation and envelope verification consult.
///
/// An extension that fails to decode, or appears twice, makes the certificate unusable;
/// its OID is recorded in [`CertExtensions::malformed`].
#[derive(Debug, Clone, Default)]
pub struct CertExtensions {
    /// `basicConstraints`.
    pub basic_constraints: Option<BasicConstraints>,
    /// `keyUsage`.
    pub key_usage: Option<KeyUsage>,
    /// `extKeyUsage`.
    pub ext_key_usage: Option<ExtendedKeyUsage>,
    /// `subjectKeyIdentifier`.
    pub subject_key_identifier: Option<Vec<u8>>,
    /// `authorityKeyIdentifier`.
    pub authority_key_identifier: Option<AuthorityKeyIdentifier>,
    /// `subjectAltName`.
    pub subject_alt_name: Option<Vec<GeneralName>>,
    /// `nameConstraints`.
    pub name_constraints: Option<NameConstraints>,
    /// `certificatePolicies`.
    pub certificate_policies: Option<CertificatePolicies>,
    /// `policyMappings`.
    pub policy_mappings: Option<PolicyMappings>,
    /// `policyConstraints`.
    pub policy_constraints: Option<PolicyConstraints>,
    /// `inhibitAnyPolicy`.
    pub inhibit_any_policy: Option<u32>,
    /// `cRLDistributionPoints`.
    pub crl_distribution_points: Option<CrlDistributionPoints>,
    /// `freshestCRL`.
    pub freshest_crl: Option<FreshestCrl>,
    /// Critical extensions waxseal does not process (RFC 5280 §4.2: such a certificate
    /// must be rejected).
    pub unknown_critical: Vec<Oid>,
    /// The first extension that was malformed or duplicated.
    pub malformed: Option<Oid>,
}

impl CertExtensions {
    fn parse(exts: &[x509_cert::ext::Extension]) -> Self {
        let mut out = Self::default();
        let mut seen: Vec<Oid> = Vec::new();
        for ext in exts {
            if seen.contains(&ext.extn_id) {
                out.malformed.get_or_insert(ext.extn_id);
                continue;
            }
            seen.push(ext.extn_id);
            let v = ext.extn_value.as_bytes();
            let id = ext.extn_id;
            let ok = match id {
                x if x == oid::CE_BASIC_CONSTRAINTS => set(&mut out.basic_constraints, v),
                x if x == oid::CE_KEY_USAGE => set(&mut out.key_usage, v),
                x if x == oid::CE_EXT_KEY_USAGE => set(&mut out.ext_key_usage, v),
                x if x == oid::CE_SUBJECT_KEY_IDENTIFIER => {
                    let mut ski: Option<SubjectKeyIdentifier> = None;
                    let ok = set(&mut ski, v);
                    out.subject_key_identifier = ski.map(|s| s.0.as_bytes().to_vec());
                    ok
                }
                x if x == oid::CE_AUTHORITY_KEY_IDENTIFIER => {
                    set(&mut out.authority_key_identifier, v)
                }
                x if x == oid::CE_SUBJECT_ALT_NAME => {
                    let mut san: Option<SubjectAltName> = None;
                    let ok = set(&mut san, v);
                    out.subject_alt_name = san.map(|s| s.0);
                    ok
                }
                x if x == oid::CE_NAME_CONSTRAINTS => set(&mut out.name_constraints, v),
                x if x == oid::CE_CERTIFICATE_POLICIES => set(&mut out.certificate_policies, v),
                x if x == oid::CE_POLICY_MAPPINGS => set(&mut out.policy_mappings, v),
                x if x == oid::CE_POLICY_CONSTRAINTS => set(&mut out.policy_constraints, v),
                x if x == oid::CE_INHIBIT_ANY_POLICY => {
                    let mut iap: Option<InhibitAnyPolicy> = None;
                    let ok = set(&mut iap, v);
                    out.inhibit_any_policy = iap.map(|i| i.0);
                    ok
                }
                x if x == oid::CE_CRL_DISTRIBUTION_POINTS => {
                    set(&mut out.crl_distribution_points, v)
                }
                x if x == oid::CE_FRESHEST_CRL => set(&mut out.freshest_crl, v),
                // Recognised and not needed for validation.
                x if x == oid::CE_ISSUER_ALT_NAME => true,
                _ => {
                    if ext.critical {
                        out.unknown_critical.push(id);
                    }
                    true
                }
            };
            if !ok {
                out.malformed.get_or_insert(id);
            }
        }
        out
    }
}

fn set<T: for<'a> Decode<'a>>(slot: &mut Option<T>, der: &[u8]) -> bool {
    match T::from_der(der) {
        Ok(v) => {
            *slot = Some(v);
            true
        }
        Err(_) => false,
    }
}

struct Inner {
    der: Vec<u8>,
    tbs: std::ops::Range<usize>,
    cert: x509_cert::Certificate,
    fingerprint: [u8; 32],
    subject_key: NameKey,
    issuer_key: NameKey,
    ext: CertExtensions,
    /// The subject as RFC 4514 text, made on first use (it is wanted for every message
    /// a bus accepts: the entity mapping, the note, the logs).
    subject_display: OnceLock<String>,
    /// The public key, parsed and prepared on first use ([`Certificate::public_key_bounded`]).
    public_key: OnceLock<Arc<PreparedPublicKey>>,
}

/// An X.509 certificate. Cheap to clone (shared).
#[derive(Clone)]
pub struct Certificate(Arc<Inner>);

impl std::fmt::Debug for Certificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Certificate({})", self.subject_display())
    }
}

impl PartialEq for Certificate {
    fn eq(&self, other: &Self) -> bool {
        self.0.fingerprint == other.0.fingerprint
    }
}
impl Eq for Certificate {}

/// The bound of the process-wide cache of parsed certificates ([`Certificate::from_der`]),
/// in bytes: an entry weighs its DER plus [`PARSED_CERTIFICATE_BYTES`], so about 450
/// certificates of 1 KiB.
pub(crate) const CERTIFICATE_CACHE_BYTES: u64 = 4 * 1024 * 1024;

/// The estimate of what a parsed certificate takes in memory beside its DER (the copy of
/// the DER it keeps included), for certificates up to [`PARSED_ESTIMATE_COVERS_BYTES`];
/// a longer one counts twice its bytes beyond that too.
pub(crate) const PARSED_CERTIFICATE_BYTES: u64 = 8 * 1024;

/// The DER length [`PARSED_CERTIFICATE_BYTES`] covers.
pub(crate) const PARSED_ESTIMATE_COVERS_BYTES: usize = 4 * 1024;

/// Certificates longer than this are parsed every time, not kept. It admits ML-DSA-87
/// certificates signed with ML-DSA-87 (about 7.5 KiB: a 2,592-byte key and a 4,627-byte
/// signature), which every message from such a signer embeds.
pub(crate) const MAX_CACHED_CERTIFICATE_BYTES: usize = 16 * 1024;

impl crate::keycache::Weigh for Certificate {
    /// A cached certificate keeps its key once set up, and its bytes: what it holds beyond
    /// the estimate counts, so that the cache's bound holds.
    fn extra_bytes(&self) -> u64 {
        self.extra_held_bytes()
    }
}

impl Certificate {
    /// What this certificate holds in memory beyond the fixed estimate of a parsed one
    /// (8 KiB, `PARSED_CERTIFICATE_BYTES`): an ML-DSA key's expanded matrix (counted from the
    /// start, as if already set up) and twice the bytes of a certificate longer than the
    /// estimate covers. Caches that keep certificates add it to their weight.
    pub fn extra_held_bytes(&self) -> u64 {
        let prepared =
            crate::mldsa::MlDsaParameterSet::from_oid(&self.public_key_info().algorithm.oid)
                .map_or(0, |set| set.prepared_bytes());
        let beyond = self
            .der()
            .len()
            .saturating_sub(PARSED_ESTIMATE_COVERS_BYTES) as u64;
        prepared + 2 * beyond
    }

    /// Parses one DER certificate.
    ///
    /// Certificates are parsed once per process and shared: the result for a DER
    /// encoding of at most 16 KiB (`MAX_CACHED_CERTIFICATE_BYTES`) is kept in a cache
    /// bounded to 4 MiB (`CERTIFICATE_CACHE_BYTES`) keyed by the exact bytes, since every envelope from a
    /// signer embeds the same certificates and parsing them costs about as much as a
    /// quarter of an ECDSA verification. Parsing is a pure function of the bytes, so the
    /// kept certificate is exactly what parsing again would give; what it is worth is
    /// decided by path validation each time. Failures are not kept.
    /// [`crate::key::without_key_caches`] bypasses the cache.
    pub fn from_der(der: &[u8]) -> Result<Self, CertError> {
        static PARSED: LazyLock<KeyCache<Certificate>> =
            LazyLock::new(|| KeyCache::new(CERTIFICATE_CACHE_BYTES, PARSED_CERTIFICATE_BYTES));
        if der.len() > MAX_CACHED_CERTIFICATE_BYTES {
            return Self::parse(der);
        }
        PARSED.get_or_try_insert(der, || Self::parse(der))
    }

    /// Parses one DER certificate (no cache): [`Certificate::from_der`]'s work.
    fn parse(der: &[u8]) -> Result<Self, CertError> {
        let malformed = |e: der::Error| CertError::Malformed(e.to_string());
        let cert = match x509_cert::Certificate::from_der(der) {
            Ok(c) => c,
            Err(e) => match crate::asn1::clamp_pre_epoch_times(der) {
                Some(patched) => x509_cert::Certificate::from_der(&patched).map_err(malformed)?,
                None => return Err(malformed(e)),
            },
        };
        // The tbsCertificate is the first element of the outer SEQUENCE.
        let (_, body) =
            crate::asn1::read_one(der).map_err(|e| CertError::Malformed(e.to_string()))?;
        let tbs_len = crate::asn1::split_tlvs(body)
            .map_err(|e| CertError::Malformed(e.to_string()))?
            .first()
            .map(|(_, tlv, _)| tlv.len())
            .ok_or_else(|| CertError::Malformed("empty certificate".into()))?;
        let start = der.len() - body.len();
        let tbs = cert.tbs_certificate();
        let ext = CertExtensions::parse(tbs.extensions().map(|e| e.as_slice()).unwrap_or(&[]));
        Ok(Self(Arc::new(Inner {
            der: der.to_vec(),
            tbs: start..start + tbs_len,
            fingerprint: sha2::Sha256::digest(der).into(),
            subject_key: NameKey::new(tbs.subject()),
            issuer_key: NameKey::new(tbs.issuer()),
            ext,
            cert,
            subject_display: OnceLock::new(),
            public_key: OnceLock::new(),
        })))
    }

    /// Reads certificates from PEM (any number of `CERTIFICATE` blocks, other blocks and
    /// text ignored) or from a single DER certificate.
    pub fn load_all(bytes: &[u8]) -> Result<Vec<Self>, CertError> {
        match pem_blocks(
            bytes,
            &["CERTIFICATE", "X509 CERTIFICATE", "TRUSTED CERTIFICATE"],
        ) {
            Some(Ok(blocks)) if blocks.is_empty() => Err(CertError::NoCertificate),
            Some(Ok(blocks)) => blocks.iter().map(|b| Self::from_der(b)).collect(),
            Some(Err(e)) => Err(CertError::Malformed(e.to_string())),
            None => Ok(vec![Self::from_der(bytes)?]),
        }
    }

    /// The certificate's DER encoding.
    pub fn der(&self) -> &[u8] {
        &self.0.der
    }

    /// The certificate as PEM.
    pub fn to_pem(&self) -> String {
        pem::encode_config(
            &pem::Pem::new("CERTIFICATE", self.0.der.clone()),
            pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF),
        )
    }

    /// The raw `tbsCertificate` bytes the issuer signed.
    pub fn tbs_der(&self) -> &[u8] {
        &self.0.der[self.0.tbs.clone()]
    }

    /// The parsed certificate.
    pub fn x509(&self) -> &x509_cert::Certificate {
        &self.0.cert
    }

    /// SHA-256 of the DER encoding.
    pub fn fingerprint(&self) -> [u8; 32] {
        self.0.fingerprint
    }

    /// Subject name.
    pub fn subject(&self) -> &Name {
        self.0.cert.tbs_certificate().subject()
    }

    /// Issuer name.
    pub fn issuer(&self) -> &Name {
        self.0.cert.tbs_certificate().issuer()
    }

    /// Comparison form of the subject.
    pub fn subject_key(&self) -> &NameKey {
        &self.0.subject_key
    }

    /// Comparison form of the issuer.
    pub fn issuer_key(&self) -> &NameKey {
        &self.0.issuer_key
    }

    /// Subject as RFC 4514 text.
    pub fn subject_display(&self) -> String {
        self.0
            .subject_display
            .get_or_init(|| name::display(self.subject()))
            .clone()
    }

    /// Issuer as RFC 4514 text.
    pub fn issuer_display(&self) -> String {
        name::display(self.issuer())
    }

    /// The subject's first common name.
    pub fn common_name(&self) -> Option<String> {
        name::common_name(self.subject())
    }

    /// The serial number's content octets (two's complement, as encoded).
    pub fn serial(&self) -> &[u8] {
        self.0.cert.tbs_certificate().serial_number().as_bytes()
    }

    /// The serial number as colon-free lower-case hex.
    pub fn serial_hex(&self) -> String {
        hex::encode(self.serial())
    }

    /// `notBefore` as seconds since the Unix epoch.
    pub fn not_before(&self) -> u64 {
        self.0
            .cert
            .tbs_certificate()
            .validity()
            .not_before
            .to_unix_duration()
            .as_secs()
    }

    /// `notAfter` as seconds since the Unix epoch.
    pub fn not_after(&self) -> u64 {
        self.0
            .cert
            .tbs_certificate()
            .validity()
            .not_after
            .to_unix_duration()
            .as_secs()
    }

    /// The subject public key.
    pub fn public_key_info(&self) -> &SubjectPublicKeyInfoOwned {
        self.0.cert.tbs_certificate().subject_public_key_info()
    }

    /// The certificate's public key, as [`PublicKey::from_spki_bounded`] reads it (moduli
    /// above `max_bits` refused, checked on every call), parsed and prepared once per
    /// certificate and shared by its clones: path validation asks for a key at several
    /// steps (the edge being built, the path being processed, revocation), and a
    /// verifier's own certificates (its store, its anchors) are asked again for every
    /// message, as OpenSSL's `X509` keeps its `EVP_PKEY`. A key that is refused is not
    /// kept (refused again, at the same cost, next time).
    ///
    /// A DSA key may inherit its domain parameters from its issuer's (`inherited`, RFC
    /// 5280 §6.1.4): what it is then depends on the path, so DSA keys are parsed on every
    /// call. Other keys ignore `inherited`.
    pub fn public_key_bounded(
        &self,
        inherited: Option<&DsaParameters>,
        max_bits: usize,
    ) -> Result<Arc<PreparedPublicKey>, KeyError> {
        let spki = self.public_key_info();
        if spki.algorithm.oid == oid::ID_DSA {
            return PublicKey::from_spki_bounded(spki, inherited, max_bits)
                .map(|k| Arc::new(PreparedPublicKey::new(k)));
        }
        if let Some(prepared) = self.0.public_key.get() {
            // The cap of this call, as from_spki_bounded checks it on the encoding.
            let bits = prepared.key().bits();
            if matches!(prepared.key(), PublicKey::Rsa(_) | PublicKey::RsaPss(..))
                && bits > max_bits
            {
                return Err(KeyError::TooLarge {
                    key: "RSA",
                    bits,
                    max: max_bits,
                });
            }
            return Ok(prepared.clone());
        }
        let key = PublicKey::from_spki_bounded(spki, None, max_bits)?;
        Ok(self
            .0
            .public_key
            .get_or_init(|| Arc::new(PreparedPublicKey::new(key)))
            .clone())
    }

    /// The outer `signatureAlgorithm`.
    pub fn signature_algorithm(&self) -> &AlgorithmIdentifierOwned {
        self.0.cert.signature_algorithm()
    }

    /// The inner `tbsCertificate.signature` algorithm (must equal the outer one).
    pub fn tbs_signature_algorithm(&self) -> &AlgorithmIdentifierOwned {
        self.0.cert.tbs_certificate().signature()
    }

    /// The issuer's signature value.
    pub fn signature(&self) -> &[u8] {
        self.0.cert.signature().raw_bytes()
    }

    /// X.509 version number (1, 2 or 3).
    pub fn version(&self) -> u8 {
        self.0.cert.tbs_certificate().version() as u8 + 1
    }

    /// Decoded extensions.
    pub fn extensions(&self) -> &CertExtensions {
        &self.0.ext
    }

    /// The raw extensions, as encoded.
    pub fn raw_extensions(&self) -> &[x509_cert::ext::Extension] {
        self.0
            .cert
            .tbs_certificate()
            .extensions()
            .map(|e| e.as_slice())
            .unwrap_or(&[])
    }

    /// `subjectKeyIdentifier`, if present.
    pub fn subject_key_identifier(&self) -> Option<&[u8]> {
        self.0.ext.subject_key_identifier.as_deref()
    }

    /// Whether subject and issuer match (RFC 5280 "self-issued").
    pub fn is_self_issued(&self) -> bool {
        self.0.subject_key == self.0.issuer_key
    }

    /// Whether `basicConstraints` says this is a CA.
    pub fn is_ca(&self) -> bool {
        self.0.ext.basic_constraints.as_ref().is_some_and(|b| b.ca)
    }

    /// Whether `keyUsage` is absent or asserts `usage`.
    pub fn allows_key_usage(&self, usage: KeyUsages) -> bool {
        self.0.ext.key_usage.is_none_or(|ku| ku.0.contains(usage))
    }

    /// A short description for lists and reports.
    pub fn describe(&self) -> String {
        format!(
            "{} (serial {}, issuer {})",
            self.subject_display(),
            self.serial_hex(),
            self.issuer_display()
        )
    }

    /// The SHA-1 hash of the subject public key bits: the RFC 5280 §4.2.1.2 method (1)
    /// key identifier, as `openssl` and waxseal's PKI write it.
    pub fn key_identifier_sha1(spki: &SubjectPublicKeyInfoOwned) -> Vec<u8> {
        sha1::Sha1::digest(spki.subject_public_key.raw_bytes()).to_vec()
    }

    /// Re-encodes the parsed certificate; equal to [`Certificate::der`] for DER input.
    pub fn encode(&self) -> Vec<u8> {
        self.0.cert.to_der().unwrap_or_else(|_| self.0.der.clone())
    }
}

/// Extracts the contents of PEM blocks with one of `labels`. `None` when `bytes` is not
/// PEM text at all (so the caller should try DER).
pub(crate) fn pem_blocks(
    bytes: &[u8],
    labels: &[&str],
) -> Option<Result<Vec<Vec<u8>>, pem::PemError>> {
    let text = std::str::from_utf8(bytes).ok()?;
    if !text.contains("-----BEGIN ") {
        return None;
    }
    Some(pem::parse_many(text).map(|blocks| {
        blocks
            .into_iter()
            .filter(|b| labels.contains(&b.tag()))
            .map(|b| b.into_contents())
            .collect()
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keycache::builds_on_this_thread as built;

    const LEAF: &[u8] = include_bytes!("../../../testdata/x509/p256-leaf.der");
    const CA: &[u8] = include_bytes!("../../../testdata/x509/p256-ca.der");

    #[test]
    fn a_certificate_is_parsed_once_and_shared_and_bad_ones_are_refused_each_time() {
        let first = Certificate::from_der(LEAF).unwrap();
        let before = built();
        let again = Certificate::from_der(LEAF).unwrap();
        assert_eq!(built() - before, 0, "the second parse is the kept one");
        assert!(Arc::ptr_eq(&first.0, &again.0));
        assert_eq!(again.der(), LEAF);
        // Another certificate is its own entry, the same as parsing it afresh.
        let ca = Certificate::from_der(CA).unwrap();
        let fresh = crate::key::without_key_caches(|| Certificate::from_der(CA).unwrap());
        assert!(!Arc::ptr_eq(&ca.0, &fresh.0), "the bypass parses again");
        assert_eq!(ca, fresh);
        assert_eq!(ca.subject_display(), fresh.subject_display());
        assert_ne!(ca, first);
        // A byte changed anywhere: another entry, parsed (here: refused) on its own; a
        // failure is not kept, so it is refused again.
        let mut bad = LEAF.to_vec();
        bad[1] ^= 0x7f;
        for _ in 0..2 {
            let before = built();
            assert!(Certificate::from_der(&bad).is_err());
            assert_eq!(built() - before, 1, "refused bytes are parsed every time");
        }
        let mut other = LEAF.to_vec();
        *other.last_mut().unwrap() ^= 1; // inside the signature: still a certificate
        let changed = Certificate::from_der(&other).unwrap();
        assert_ne!(changed, first);
        assert_eq!(changed.der(), &other[..]);
    }

    #[test]
    fn an_ml_dsa_87_certificate_is_kept_and_weighs_what_it_holds() {
        // RFC 9881's ML-DSA-87 example: about 7.5 KiB, over the fixed estimate's 4 KiB.
        let pem = include_bytes!("../../../testdata/mldsa/ML-DSA-87.crt");
        let der = Certificate::load_all(pem).unwrap()[0].der().to_vec();
        assert!(
            der.len() > PARSED_ESTIMATE_COVERS_BYTES && der.len() <= MAX_CACHED_CERTIFICATE_BYTES
        );
        let first = Certificate::from_der(&der).unwrap();
        let before = built();
        let again = Certificate::from_der(&der).unwrap();
        assert_eq!(built() - before, 0, "the second parse is the kept one");
        assert!(Arc::ptr_eq(&first.0, &again.0));
        use crate::keycache::Weigh;
        let set = crate::mldsa::MlDsaParameterSet::MlDsa87;
        assert_eq!(
            first.extra_bytes(),
            set.prepared_bytes() + 2 * (der.len() - PARSED_ESTIMATE_COVERS_BYTES) as u64
        );
        let small = Certificate::from_der(LEAF).unwrap();
        assert_eq!(small.extra_bytes(), 0);
    }

    #[test]
    fn a_certificate_too_large_to_keep_is_parsed_every_time() {
        // Bytes longer than the bound (here the leaf followed by zeros: refused, trailing
        // data) are parsed without looking them up or keeping anything.
        let mut long = LEAF.to_vec();
        long.resize(MAX_CACHED_CERTIFICATE_BYTES + 1, 0);
        for _ in 0..2 {
            let before = built();
            assert!(Certificate::from_der(&long).is_err());
            assert_eq!(built() - before, 0, "not through the cache at all");
        }
    }
}
