//! Certificate revocation lists (RFC 5280 §5), decoded once for lookups by serial number.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use der::Decode;
use sha2::Digest;
use spki::AlgorithmIdentifierOwned;
use x509_cert::crl::CertificateList;
use x509_cert::ext::pkix::crl::CrlReason;
use x509_cert::ext::pkix::crl::dp::IssuingDistributionPoint;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{BaseCrlNumber, CrlNumber};
use x509_cert::name::Name;

use crate::cert::pem_blocks;
use crate::name::{self, NameKey};
use crate::oid;

/// A CRL could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CrlError {
    /// Not DER (or PEM) for an X.509 CRL.
    #[error("not an X.509 CRL: {0}")]
    Malformed(String),
    /// A PEM file without any `X509 CRL` block.
    #[error("no CRL found in PEM input")]
    NoCrl,
}

/// One revoked certificate.
#[derive(Debug, Clone)]
pub struct CrlEntry {
    /// Serial number content octets.
    pub serial: Vec<u8>,
    /// `revocationDate`, seconds since the Unix epoch.
    pub revocation_date: u64,
    /// `reasonCode`, if given.
    pub reason: Option<CrlReason>,
    /// The certificate issuer this entry is about: the CRL issuer unless an indirect CRL's
    /// `certificateIssuer` entry extension (carried forward) says otherwise.
    pub certificate_issuer: NameKey,
    /// Whether the entry carries a critical extension waxseal does not know.
    pub unknown_critical: bool,
}

struct Inner {
    der: Vec<u8>,
    tbs: std::ops::Range<usize>,
    crl: CertificateList,
    fingerprint: [u8; 32],
    issuer_key: NameKey,
    crl_number: Option<Vec<u8>>,
    delta_base: Option<Vec<u8>>,
    idp: Option<IssuingDistributionPoint>,
    idp_der: Option<Vec<u8>>,
    has_freshest: bool,
    unknown_critical: bool,
    malformed_extension: bool,
    entries: Vec<CrlEntry>,
    by_serial: HashMap<Vec<u8>, Vec<usize>>,
}

/// An X.509 CRL. Cheap to clone (shared).
#[derive(Clone)]
pub struct Crl(Arc<Inner>);

impl std::fmt::Debug for Crl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Crl({})", self.issuer_display())
    }
}

impl Crl {
    /// Parses one DER CRL.
    pub fn from_der(der: &[u8]) -> Result<Self, CrlError> {
        let crl = decode_crl(der)?;
        let (_, body) =
            crate::asn1::read_one(der).map_err(|e| CrlError::Malformed(e.to_string()))?;
        let tbs_len = crate::asn1::split_tlvs(body)
            .map_err(|e| CrlError::Malformed(e.to_string()))?
            .first()
            .map(|(_, tlv, _)| tlv.len())
            .ok_or_else(|| CrlError::Malformed("empty CRL".into()))?;
        let start = der.len() - body.len();
        let tbs = &crl.tbs_cert_list;
        let issuer_key = NameKey::new(&tbs.issuer);

        let mut crl_number = None;
        let mut delta_base = None;
        let mut idp = None;
        let mut idp_der = None;
        let mut has_freshest = false;
        let mut unknown_critical = false;
        let mut malformed_extension = false;
        for ext in tbs.crl_extensions.iter().flatten() {
            let v = ext.extn_value.as_bytes();
            let id = ext.extn_id;
            if id == oid::CE_CRL_NUMBER {
                match CrlNumber::from_der(v) {
                    Ok(n) => crl_number = Some(n.0.as_bytes().to_vec()),
                    Err(_) => malformed_extension = true,
                }
            } else if id == oid::CE_DELTA_CRL_INDICATOR {
                match BaseCrlNumber::from_der(v) {
                    Ok(n) => delta_base = Some(n.0.as_bytes().to_vec()),
                    Err(_) => malformed_extension = true,
                }
            } else if id == oid::CE_ISSUING_DISTRIBUTION_POINT {
                idp_der = Some(v.to_vec());
                match IssuingDistributionPoint::from_der(v) {
                    Ok(i) => idp = Some(i),
                    Err(_) => malformed_extension = true,
                }
            } else if id == oid::CE_FRESHEST_CRL {
                has_freshest = true;
            } else if id == oid::CE_AUTHORITY_KEY_IDENTIFIER || id == oid::CE_ISSUER_ALT_NAME {
                // Recognised; not needed.
            } else if ext.critical {
                unknown_critical = true;
            }
        }

        let mut entries = Vec::new();
        let mut by_serial: HashMap<Vec<u8>, Vec<usize>> = HashMap::new();
        let indirect = idp.as_ref().is_some_and(|i| i.indirect_crl);
        let mut current_issuer = issuer_key.clone();
        for rc in tbs.revoked_certificates.iter().flatten() {
            let mut reason = None;
            let mut entry_unknown = false;
            for ext in rc.crl_entry_extensions.iter().flatten() {
                let v = ext.extn_value.as_bytes();
                let id = ext.extn_id;
                if id == oid::CE_CRL_REASONS {
                    match CrlReason::from_der(v) {
                        Ok(r) => reason = Some(r),
                        Err(_) => malformed_extension = true,
                    }
                } else if id == oid::CE_CERTIFICATE_ISSUER && indirect {
                    match x509_cert::ext::pkix::name::GeneralNames::from_der(v) {
                        Ok(names) => match names.iter().find_map(|n| match n {
                            GeneralName::DirectoryName(dn) => Some(NameKey::new(dn)),
                            _ => None,
                        }) {
                            Some(k) => current_issuer = k,
                            None => malformed_extension = true,
                        },
                        Err(_) => malformed_extension = true,
                    }
                } else if id == oid::CE_INVALIDITY_DATE || id == oid::CE_HOLD_INSTRUCTION_CODE {
                    // Informational.
                } else if ext.critical {
                    entry_unknown = true;
                }
            }
            let serial = rc.serial_number.as_bytes().to_vec();
            by_serial
                .entry(serial.clone())
                .or_default()
                .push(entries.len());
            entries.push(CrlEntry {
                serial,
                revocation_date: rc.revocation_date.to_unix_duration().as_secs(),
                reason,
                certificate_issuer: current_issuer.clone(),
                unknown_critical: entry_unknown,
            });
        }

        Ok(Self(Arc::new(Inner {
            der: der.to_vec(),
            tbs: start..start + tbs_len,
            fingerprint: sha2::Sha256::digest(der).into(),
            issuer_key,
            crl_number,
            delta_base,
            idp,
            idp_der,
            has_freshest,
            unknown_critical,
            malformed_extension,
            entries,
            by_serial,
            crl,
        })))
    }

    /// Reads CRLs from PEM (any number of `X509 CRL` blocks) or a single DER CRL.
    pub fn load_all(bytes: &[u8]) -> Result<Vec<Self>, CrlError> {
        match pem_blocks(bytes, &["X509 CRL"]) {
            Some(Ok(blocks)) if blocks.is_empty() => Err(CrlError::NoCrl),
            Some(Ok(blocks)) => blocks.iter().map(|b| Self::from_der(b)).collect(),
            Some(Err(e)) => Err(CrlError::Malformed(e.to_string())),
            None => Ok(vec![Self::from_der(bytes)?]),
        }
    }

    /// The CRL's DER encoding.
    pub fn der(&self) -> &[u8] {
        &self.0.der
    }

    /// The CRL as PEM.
    pub fn to_pem(&self) -> String {
        pem::encode_config(
            &pem::Pem::new("X509 CRL", self.0.der.clone()),
            pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF),
        )
    }

    /// The raw `tbsCertList` bytes the issuer signed.
    pub fn tbs_der(&self) -> &[u8] {
        &self.0.der[self.0.tbs.clone()]
    }

    /// The parsed CRL.
    pub fn x509(&self) -> &CertificateList {
        &self.0.crl
    }

    /// SHA-256 of the DER encoding.
    pub fn fingerprint(&self) -> [u8; 32] {
        self.0.fingerprint
    }

    /// Issuer name.
    pub fn issuer(&self) -> &Name {
        &self.0.crl.tbs_cert_list.issuer
    }

    /// Comparison form of the issuer.
    pub fn issuer_key(&self) -> &NameKey {
        &self.0.issuer_key
    }

    /// Issuer as RFC 4514 text.
    pub fn issuer_display(&self) -> String {
        name::display(self.issuer())
    }

    /// `thisUpdate`, seconds since the Unix epoch.
    pub fn this_update(&self) -> u64 {
        self.0
            .crl
            .tbs_cert_list
            .this_update
            .to_unix_duration()
            .as_secs()
    }

    /// `nextUpdate`, seconds since the Unix epoch.
    pub fn next_update(&self) -> Option<u64> {
        self.0
            .crl
            .tbs_cert_list
            .next_update
            .map(|t| t.to_unix_duration().as_secs())
    }

    /// The `cRLNumber` content octets.
    pub fn crl_number(&self) -> Option<&[u8]> {
        self.0.crl_number.as_deref()
    }

    /// How recent this CRL is next to `other` (of the same issuer): by `cRLNumber` (a CRL
    /// without one is older than any with one), then by `thisUpdate`. `Greater`: this one
    /// is newer. A total order, so that a stale CRL replayed next to (or instead of) a
    /// newer one can always be told apart.
    pub fn cmp_recency(&self, other: &Crl) -> std::cmp::Ordering {
        use std::cmp::Ordering;
        let number = match (self.crl_number(), other.crl_number()) {
            (Some(x), Some(y)) => cmp_uint(x, y),
            (Some(_), None) => Ordering::Greater,
            (None, Some(_)) => Ordering::Less,
            (None, None) => Ordering::Equal,
        };
        number.then_with(|| self.this_update().cmp(&other.this_update()))
    }

    /// For a delta CRL, the `deltaCRLIndicator` base CRL number.
    pub fn delta_base(&self) -> Option<&[u8]> {
        self.0.delta_base.as_deref()
    }

    /// Whether this is a delta CRL.
    pub fn is_delta(&self) -> bool {
        self.0.delta_base.is_some()
    }

    /// `issuingDistributionPoint`, if present.
    pub fn issuing_distribution_point(&self) -> Option<&IssuingDistributionPoint> {
        self.0.idp.as_ref()
    }

    /// The DER encoding of `issuingDistributionPoint` (delta CRLs must have the same).
    pub fn issuing_distribution_point_der(&self) -> Option<&[u8]> {
        self.0.idp_der.as_deref()
    }

    /// Whether the CRL points at delta CRLs (`freshestCRL`).
    pub fn has_freshest_crl(&self) -> bool {
        self.0.has_freshest
    }

    /// Whether the CRL (or one of its entries) has an unknown critical extension, or a
    /// malformed known one: such a CRL cannot be used (RFC 5280 §5.2, §5.3).
    pub fn is_unusable(&self) -> bool {
        self.0.unknown_critical
            || self.0.malformed_extension
            || self.0.entries.iter().any(|e| e.unknown_critical)
    }

    /// The signature algorithm.
    pub fn signature_algorithm(&self) -> &AlgorithmIdentifierOwned {
        &self.0.crl.signature_algorithm
    }

    /// The inner `tbsCertList.signature` algorithm.
    pub fn tbs_signature_algorithm(&self) -> &AlgorithmIdentifierOwned {
        &self.0.crl.tbs_cert_list.signature
    }

    /// The signature value.
    pub fn signature(&self) -> &[u8] {
        self.0.crl.signature.raw_bytes()
    }

    /// Every entry, in CRL order.
    pub fn entries(&self) -> &[CrlEntry] {
        &self.0.entries
    }

    /// The entry for the certificate with `serial` issued by `issuer`, if revoked here.
    pub fn find(&self, issuer: &NameKey, serial: &[u8]) -> Option<&CrlEntry> {
        self.0
            .by_serial
            .get(serial)?
            .iter()
            .map(|i| &self.0.entries[*i])
            .find(|e| &e.certificate_issuer == issuer)
    }
}

enum Source {
    Parsed(Crl),
    Raw {
        der: Vec<u8>,
        issuer: Name,
        issuer_key: NameKey,
        fingerprint: OnceLock<[u8; 32]>,
        parsed: OnceLock<Result<Crl, CrlError>>,
    },
}

/// A CRL that is parsed only when needed: the CRLs an envelope carries are kept as bytes
/// with their issuer name (read from the first few TLV headers), and only those of
/// issuers on a path being checked are parsed, once, under the envelope's budget. A
/// hostile bag of CRLs then costs its framing, not megabytes of decoded entries. Cheap to
/// clone (shared, parse result included).
#[derive(Clone)]
pub struct LazyCrl(Arc<Source>);

impl std::fmt::Debug for LazyCrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "LazyCrl({}, {} bytes)",
            self.issuer_display(),
            self.der().len()
        )
    }
}

impl From<Crl> for LazyCrl {
    fn from(crl: Crl) -> Self {
        Self(Arc::new(Source::Parsed(crl)))
    }
}

impl LazyCrl {
    /// Reads only the issuer of the DER CRL `der`; the rest is parsed by
    /// [`LazyCrl::parse`]. Fails when the framing or the issuer name is malformed.
    pub fn from_der(der: &[u8]) -> Result<Self, CrlError> {
        let issuer = read_issuer(der)?;
        Ok(Self(Arc::new(Source::Raw {
            der: der.to_vec(),
            issuer_key: NameKey::new(&issuer),
            issuer,
            fingerprint: OnceLock::new(),
            parsed: OnceLock::new(),
        })))
    }

    /// The DER encoding.
    pub fn der(&self) -> &[u8] {
        match &*self.0 {
            Source::Parsed(c) => c.der(),
            Source::Raw { der, .. } => der,
        }
    }

    /// Issuer name.
    pub fn issuer(&self) -> &Name {
        match &*self.0 {
            Source::Parsed(c) => c.issuer(),
            Source::Raw { issuer, .. } => issuer,
        }
    }

    /// Comparison form of the issuer.
    pub fn issuer_key(&self) -> &NameKey {
        match &*self.0 {
            Source::Parsed(c) => c.issuer_key(),
            Source::Raw { issuer_key, .. } => issuer_key,
        }
    }

    /// Issuer as RFC 4514 text.
    pub fn issuer_display(&self) -> String {
        name::display(self.issuer())
    }

    /// SHA-256 of the DER encoding (computed on first use).
    pub fn fingerprint(&self) -> [u8; 32] {
        match &*self.0 {
            Source::Parsed(c) => c.fingerprint(),
            Source::Raw {
                der, fingerprint, ..
            } => *fingerprint.get_or_init(|| sha2::Sha256::digest(der).into()),
        }
    }

    /// The parsed CRL, if it has been parsed already (or was given parsed).
    pub fn parsed(&self) -> Option<Result<&Crl, &CrlError>> {
        match &*self.0 {
            Source::Parsed(c) => Some(Ok(c)),
            Source::Raw { parsed, .. } => parsed.get().map(Result::as_ref),
        }
    }

    /// Parses the CRL (once; later calls return the same result).
    pub fn parse(&self) -> Result<&Crl, &CrlError> {
        match &*self.0 {
            Source::Parsed(c) => Ok(c),
            Source::Raw { der, parsed, .. } => parsed.get_or_init(|| Crl::from_der(der)).as_ref(),
        }
    }
}

/// The issuer of a DER CRL, read from its TLV headers without decoding the rest:
/// `CertificateList { tbsCertList { [version], signature, issuer, ... }, ... }`.
fn read_issuer(der: &[u8]) -> Result<Name, CrlError> {
    use crate::asn1::{read_one, split_tlvs};
    let malformed = |what: &str| CrlError::Malformed(format!("CRL framing: {what}"));
    let (tag, body) = read_one(der).map_err(|e| CrlError::Malformed(e.to_string()))?;
    if tag != 0x30 {
        return Err(malformed("not a SEQUENCE"));
    }
    let (tag, _, tbs) = *split_tlvs(body)
        .map_err(|e| CrlError::Malformed(e.to_string()))?
        .first()
        .ok_or_else(|| malformed("empty"))?;
    if tag != 0x30 {
        return Err(malformed("tbsCertList is not a SEQUENCE"));
    }
    let fields = split_tlvs(tbs).map_err(|e| CrlError::Malformed(e.to_string()))?;
    let skip = usize::from(fields.first().is_some_and(|(t, _, _)| *t == 0x02));
    match fields.get(skip..skip + 2) {
        Some([(0x30, _, _), (0x30, issuer, _)]) => {
            Name::from_der(issuer).map_err(|e| CrlError::Malformed(e.to_string()))
        }
        _ => Err(malformed("no issuer")),
    }
}

/// Decodes a CRL, tolerating what `x509-cert` refuses but RFC 5280 allows: a v1 CRL
/// without the (optional) version field, and times before 1970. Only the parsed copy is
/// adjusted; the signature is checked over the received `tbsCertList`.
fn decode_crl(der: &[u8]) -> Result<CertificateList, CrlError> {
    let malformed = |e: der::Error| CrlError::Malformed(e.to_string());
    let first_err = match CertificateList::from_der(der) {
        Ok(c) => return Ok(c),
        Err(e) => e,
    };
    let mut candidate = der.to_vec();
    if let Some(with_version) = insert_v1_version(der) {
        candidate = with_version;
    }
    if let Some(clamped) = crate::asn1::clamp_pre_epoch_times(&candidate) {
        candidate = clamped;
    }
    if candidate == der {
        return Err(malformed(first_err));
    }
    CertificateList::from_der(&candidate).map_err(malformed)
}

/// For a `tbsCertList` that starts with its signature AlgorithmIdentifier (no version),
/// returns the CRL re-framed with an explicit `version v1(0)`.
fn insert_v1_version(der: &[u8]) -> Option<Vec<u8>> {
    use crate::asn1::{read_one, split_tlvs, tlv};
    let (_, body) = read_one(der).ok()?;
    let parts = split_tlvs(body).ok()?;
    let (tbs_tag, _, tbs_body) = *parts.first()?;
    if tbs_body.first() != Some(&0x30) {
        return None;
    }
    let mut new_tbs_body = vec![0x02, 0x01, 0x00];
    new_tbs_body.extend_from_slice(tbs_body);
    let mut new_body = tlv(tbs_tag, &new_tbs_body);
    for (_, raw, _) in &parts[1..] {
        new_body.extend_from_slice(raw);
    }
    Some(tlv(0x30, &new_body))
}

/// Compares two unsigned big-endian integers given as content octets.
pub(crate) fn cmp_uint(a: &[u8], b: &[u8]) -> std::cmp::Ordering {
    let strip = |x: &[u8]| -> Vec<u8> { x.iter().copied().skip_while(|b| *b == 0).collect() };
    let (a, b) = (strip(a), strip(b));
    a.len().cmp(&b.len()).then_with(|| a.cmp(&b))
}
