//! Signature time-stamps (RFC 3161, with ESSCertIDv2 of RFC 5816): a TSA's token proving
//! that a signature value existed at a time (`genTime`), carried as the unsigned attribute
//! id-aa-signatureTimeStampToken of the `SignerInfo` it stamps (RFC 3161 Appendix A).
//!
//! The ASN.1 types are written here with `der`'s derive: RustCrypto's `x509-tsp` is on
//! the `der` 0.7 line, and this workspace is on 0.8 (one version of each crate).
//!
//! A token is accepted only when every check passes, each refusal with its own reason
//! code ([`TimestampError::code`]): the token is a SignedData of id-ct-TSTInfo with one
//! signer; its imprint is the hash of the stamped signature value; its signature verifies;
//! the TSA's certificate has a path to the TSA trust anchors (their own set, not the
//! message signers') at the verifier's time, was valid at `genTime`, carries
//! extendedKeyUsage timeStamping as its only purpose, marked critical (RFC 3161 §2.3);
//! and the token's signingCertificate (ESSCertID, SHA-1) or signingCertificateV2
//! (ESSCertIDv2) names that certificate (RFC 3161 §2.4.2, RFC 5816).

use const_oid::ObjectIdentifier as Oid;
use der::asn1::{Any, BitString, Int, OctetString, Utf8StringRef};
use der::{Decode, Encode, Sequence};
use spki::AlgorithmIdentifierOwned;
use x509_cert::ext::pkix::name::{GeneralName, GeneralNames};
use x509_cert::serial_number::SerialNumber;

use crate::rfc5652::{Attribute, Attributes, Limits, SignedData, SignerInfo};
use crate::verify::{SignerError, Verifier};
use waxseal_trust::algorithm::{AlgorithmPolicy, DigestAlgorithm};
use waxseal_trust::asn1::{read_one, split_tlvs};
use waxseal_trust::cert::Certificate;
use waxseal_trust::name::NameKey;
use waxseal_trust::path::{
    ErrorKind, Meter, PathError, RevocationPolicy, TrustAnchors, ValidatedPath,
};
use waxseal_trust::provider::Provider;
use waxseal_trust::store::{CertStore, CrlSet};

const fn oid(s: &str) -> Oid {
    Oid::new_unwrap(s)
}

/// id-ct-TSTInfo: the content type of a time-stamp token's SignedData.
pub const ID_CT_TST_INFO: Oid = oid("1.2.840.113549.1.9.16.1.4");
/// id-aa-signatureTimeStampToken: the unsigned attribute carrying a token that stamps
/// the `SignerInfo`'s signature value (RFC 3161 Appendix A).
pub const ID_AA_SIGNATURE_TIME_STAMP_TOKEN: Oid = oid("1.2.840.113549.1.9.16.2.14");
/// id-aa-signingCertificate (RFC 2634 §5.4): ESSCertID, SHA-1 of the TSA certificate.
pub const ID_AA_SIGNING_CERTIFICATE: Oid = oid("1.2.840.113549.1.9.16.2.12");
/// id-aa-signingCertificateV2 (RFC 5035, RFC 5816): ESSCertIDv2.
pub const ID_AA_SIGNING_CERTIFICATE_V2: Oid = oid("1.2.840.113549.1.9.16.2.47");
/// id-kp-timeStamping: the only extendedKeyUsage a TSA certificate may have.
pub const KP_TIME_STAMPING: Oid = oid("1.3.6.1.5.5.7.3.8");
/// The extendedKeyUsage extension.
const CE_EXT_KEY_USAGE: Oid = oid("2.5.29.37");

/// The media type of a time-stamp request (RFC 3161 §3.4).
pub const QUERY_MEDIA_TYPE: &str = "application/timestamp-query";
/// The media type of a time-stamp response.
pub const REPLY_MEDIA_TYPE: &str = "application/timestamp-reply";

/// `MessageImprint ::= SEQUENCE { hashAlgorithm AlgorithmIdentifier, hashedMessage OCTET STRING }`.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct MessageImprint {
    /// The hash algorithm.
    pub hash_algorithm: AlgorithmIdentifierOwned,
    /// The hash of the stamped data.
    pub hashed_message: OctetString,
}

/// `TimeStampReq` (RFC 3161 §2.4.1).
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct TimeStampReq {
    /// `version` (1).
    pub version: u8,
    /// What is to be stamped.
    pub message_imprint: MessageImprint,
    /// The TSA policy asked for.
    pub req_policy: Option<Oid>,
    /// A random nonce the reply must repeat.
    pub nonce: Option<Int>,
    /// Whether the TSA must include its certificate.
    #[asn1(default = "Default::default")]
    pub cert_req: bool,
    /// `[0] IMPLICIT Extensions`.
    #[asn1(context_specific = "0", tag_mode = "IMPLICIT", optional = "true")]
    pub extensions: Option<x509_cert::ext::Extensions>,
}

/// `PKIStatusInfo` (RFC 3161 §2.4.2).
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct PkiStatusInfo {
    /// 0 granted, 1 grantedWithMods, 2 rejection, 3 waiting, 4 revocationWarning,
    /// 5 revocationNotification.
    pub status: u8,
    /// `PKIFreeText`: what the TSA says.
    pub status_string: Option<Vec<Any>>,
    /// `PKIFailureInfo`.
    pub fail_info: Option<BitString>,
}

/// `Accuracy` (RFC 3161 §2.4.2).
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct Accuracy {
    /// Seconds.
    pub seconds: Option<u64>,
    /// Milliseconds, 1..999.
    #[asn1(context_specific = "0", tag_mode = "IMPLICIT", optional = "true")]
    pub millis: Option<u16>,
    /// Microseconds, 1..999.
    #[asn1(context_specific = "1", tag_mode = "IMPLICIT", optional = "true")]
    pub micros: Option<u16>,
}

/// `TSTInfo` (RFC 3161 §2.4.2), the content a TSA signs.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct TstInfo {
    /// `version` (1).
    pub version: u8,
    /// The TSA policy under which the token was made.
    pub policy: Oid,
    /// The imprint of what was stamped.
    pub message_imprint: MessageImprint,
    /// The token's serial number.
    pub serial_number: Int,
    /// `genTime`, a GeneralizedTime, kept raw: fractions of a second are allowed here
    /// (RFC 3161 §2.4.2), which `der`'s `GeneralizedTime` refuses ([`TstInfo::gen_time`]).
    pub gen_time: Any,
    /// The TSA's accuracy.
    pub accuracy: Option<Accuracy>,
    /// `ordering`.
    #[asn1(default = "Default::default")]
    pub ordering: bool,
    /// The request's nonce, repeated.
    pub nonce: Option<Int>,
    /// The TSA's name.
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    pub tsa: Option<GeneralName>,
    /// `[1] IMPLICIT Extensions`.
    #[asn1(context_specific = "1", tag_mode = "IMPLICIT", optional = "true")]
    pub extensions: Option<x509_cert::ext::Extensions>,
}

impl TstInfo {
    /// `genTime` in whole seconds since the epoch (a fraction is dropped: the time proven
    /// is then at most one second early, never late).
    pub fn gen_time(&self) -> Option<u64> {
        if der::Tagged::tag(&self.gen_time) != der::Tag::GeneralizedTime {
            return None;
        }
        parse_generalized_time(self.gen_time.value())
    }
}

/// `YYYYMMDDHHMMSS[.f+]Z` to seconds since the epoch.
fn parse_generalized_time(v: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(v).ok()?;
    let text = text.strip_suffix('Z')?;
    let (whole, fraction) = match text.split_once('.') {
        Some((w, f)) => (w, Some(f)),
        None => (text, None),
    };
    if let Some(f) = fraction
        && (f.is_empty() || f.ends_with('0') || !f.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    if whole.len() != 14 || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let rfc3339 = format!(
        "{}-{}-{}T{}:{}:{}Z",
        &whole[0..4],
        &whole[4..6],
        &whole[6..8],
        &whole[8..10],
        &whole[10..12],
        &whole[12..14]
    );
    waxseal_trust::time::parse_rfc3339(&rfc3339).ok()
}

/// `IssuerSerial ::= SEQUENCE { issuer GeneralNames, serialNumber CertificateSerialNumber }`.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct IssuerSerial {
    /// The issuer's names.
    pub issuer: GeneralNames,
    /// The certificate's serial number.
    pub serial_number: SerialNumber,
}

/// `ESSCertID ::= SEQUENCE { certHash OCTET STRING (SHA-1), issuerSerial IssuerSerial OPTIONAL }`.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct EssCertId {
    /// SHA-1 of the certificate's DER.
    pub cert_hash: OctetString,
    /// The certificate's issuer and serial.
    pub issuer_serial: Option<IssuerSerial>,
}

/// `SigningCertificate ::= SEQUENCE { certs SEQUENCE OF ESSCertID, policies ... OPTIONAL }`.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct SigningCertificate {
    /// The signer's certificate first.
    pub certs: Vec<EssCertId>,
    /// `policies`, not used.
    pub policies: Option<Any>,
}

/// `ESSCertIDv2` (RFC 5035): `hashAlgorithm` absent means SHA-256.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct EssCertIdV2 {
    /// The hash algorithm (`None`: SHA-256, the DEFAULT).
    pub hash_algorithm: Option<AlgorithmIdentifierOwned>,
    /// The certificate's hash.
    pub cert_hash: OctetString,
    /// The certificate's issuer and serial.
    pub issuer_serial: Option<IssuerSerial>,
}

/// `SigningCertificateV2 ::= SEQUENCE { certs SEQUENCE OF ESSCertIDv2, policies ... OPTIONAL }`.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct SigningCertificateV2 {
    /// The signer's certificate first.
    pub certs: Vec<EssCertIdV2>,
    /// `policies`, not used.
    pub policies: Option<Any>,
}

/// Why a time-stamp was refused. Each kind has its own stable reason code
/// ([`TimestampError::code`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TimestampError {
    /// The token, or a structure in it, does not decode, or is not a SignedData of
    /// id-ct-TSTInfo with exactly one signer.
    #[error("time-stamp token is malformed: {0}")]
    Malformed(String),
    /// More than one time-stamp token on one signer.
    #[error("a signer carries more than one time-stamp token")]
    Duplicate,
    /// The imprint's hash algorithm is unknown or refused (SHA-1 and MD5 are).
    #[error("time-stamp imprint hash algorithm refused: {0}")]
    ImprintAlgorithm(String),
    /// The imprint is not the hash of the stamped signature value (a token made for other
    /// data).
    #[error("time-stamp imprint does not match the signature it stamps")]
    ImprintMismatch,
    /// The token's own signature does not verify (or its signed attributes are wrong).
    #[error("time-stamp token signature: {0}")]
    BadSignature(Box<SignerError>),
    /// The TSA's certificate has no valid path to the TSA trust anchors, or was not valid
    /// at `genTime`.
    #[error("time-stamp authority not trusted: {0}")]
    Untrusted(String),
    /// The TSA's certificate lacks the critical extendedKeyUsage timeStamping as its only
    /// purpose (RFC 3161 §2.3).
    #[error("time-stamp authority certificate: {0}")]
    ExtKeyUsage(String),
    /// No signingCertificate(V2) attribute names the certificate that signed the token.
    #[error("time-stamp token does not bind its TSA certificate: {0}")]
    CertId(String),
    /// The reply does not repeat the request's nonce.
    #[error("time-stamp nonce does not match the request")]
    NonceMismatch,
    /// `genTime` is later than the verification time.
    #[error("time-stamp genTime {} is after the verification time", waxseal_trust::time::format(*.0))]
    InFuture(u64),
    /// A verification at the time-stamp was asked for, and the signer has no token.
    #[error("the signer has no time-stamp token")]
    Missing,
    /// A verification at the time-stamp was asked for, and no TSA trust anchors were given.
    #[error("time-stamp present, but no TSA trust anchors configured (--tsa-trust)")]
    NoTrust,
    /// The TSA did not grant the request.
    #[error("time-stamp authority refused the request: status {status}{}", .text.as_deref().map(|t| format!(" ({})", waxseal_trust::display::escape(t))).unwrap_or_default())]
    Rejected {
        /// The PKIStatus.
        status: u8,
        /// The TSA's text.
        text: Option<String>,
    },
}

impl TimestampError {
    /// A stable, machine-readable reason code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Malformed(_) => "timestamp-malformed",
            Self::Duplicate => "timestamp-duplicate",
            Self::ImprintAlgorithm(_) => "timestamp-unsupported-algorithm",
            Self::ImprintMismatch => "timestamp-imprint-mismatch",
            Self::BadSignature(e)
                if matches!(
                    &**e,
                    SignerError::Untrusted(PathError::BudgetExceeded { .. })
                ) =>
            {
                "budget-exceeded"
            }
            Self::BadSignature(e)
                if matches!(&**e, SignerError::Untrusted(PathError::ExtKeyUsage { .. })) =>
            {
                "timestamp-ext-key-usage"
            }
            Self::BadSignature(e)
                if matches!(
                    **e,
                    SignerError::Untrusted(_) | SignerError::CertificateNotFound(_)
                ) =>
            {
                "timestamp-untrusted"
            }
            Self::BadSignature(_) => "timestamp-bad-signature",
            Self::Untrusted(_) => "timestamp-untrusted",
            Self::ExtKeyUsage(_) => "timestamp-ext-key-usage",
            Self::CertId(_) => "timestamp-cert-id",
            Self::NonceMismatch => "timestamp-nonce-mismatch",
            Self::InFuture(_) => "timestamp-in-future",
            Self::Missing => "timestamp-missing",
            Self::NoTrust => "timestamp-no-trust",
            Self::Rejected { .. } => "timestamp-rejected",
        }
    }

    /// What the error is about: [`ErrorKind::Budget`] when validating the TSA's
    /// certificate spent the work budget (`budget-exceeded`), else
    /// [`ErrorKind::Signature`] (a time-stamp belongs to its signer's signature).
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::BadSignature(e)
                if matches!(
                    &**e,
                    SignerError::Untrusted(PathError::BudgetExceeded { .. })
                ) =>
            {
                ErrorKind::Budget
            }
            _ => ErrorKind::Signature,
        }
    }
}

fn malformed(what: &str) -> impl Fn(der::Error) -> TimestampError + '_ {
    move |e| TimestampError::Malformed(format!("{what}: {e}"))
}

/// A time-stamp request for `data` (its SHA-256, computed by `provider`), with a fresh random 64-bit nonce and
/// certReq true (so the token carries the TSA certificate). Returns the request's DER
/// and its nonce (to give to [`TimestampTrust::verify_response`]).
pub fn request(provider: &Provider, data: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let mut nonce = [0u8; 8];
    rand_core::Rng::fill_bytes(&mut waxseal_trust::key::rng(), &mut nonce);
    // A positive INTEGER: clear the top bit rather than prepend a zero.
    nonce[0] &= 0x7f;
    if nonce[0] == 0 {
        nonce[0] = 1;
    }
    let req = TimeStampReq {
        version: 1,
        message_imprint: imprint(provider, DigestAlgorithm::Sha256, data),
        req_policy: None,
        nonce: Some(Int::new(&nonce).expect("8 bytes make an INTEGER")),
        cert_req: true,
        extensions: None,
    };
    (req.to_der().expect("requests encode"), nonce.to_vec())
}

fn imprint(provider: &Provider, alg: DigestAlgorithm, data: &[u8]) -> MessageImprint {
    MessageImprint {
        hash_algorithm: alg.algorithm_identifier(),
        hashed_message: OctetString::new(provider.digest(alg, data)).expect("digests fit"),
    }
}

/// The token of a `TimeStampResp`, as received, once its status says granted (0 or 1);
/// otherwise [`TimestampError::Rejected`]. Nothing of the token is checked here: verify it
/// with [`TimestampTrust::verify_response`] (or [`TimestampTrust::verify_token`]) before
/// attaching or believing it.
pub fn response_token(response: &[u8]) -> Result<Vec<u8>, TimestampError> {
    let bad =
        |e: waxseal_trust::asn1::BerError| TimestampError::Malformed(format!("TimeStampResp: {e}"));
    let (tag, body) = read_one(response).map_err(bad)?;
    if tag != 0x30 {
        return Err(TimestampError::Malformed(
            "TimeStampResp: not a SEQUENCE".into(),
        ));
    }
    let parts = split_tlvs(body).map_err(bad)?;
    let (status, token) = match parts.as_slice() {
        [(0x30, s, _)] => (s, None),
        [(0x30, s, _), (0x30, t, _)] => (s, Some(t)),
        _ => {
            return Err(TimestampError::Malformed(
                "TimeStampResp: expected SEQUENCE { status, token OPTIONAL }".into(),
            ));
        }
    };
    let status = PkiStatusInfo::from_der(status).map_err(malformed("PKIStatusInfo"))?;
    if status.status > 1 {
        let text = status.status_string.as_ref().map(|texts| {
            texts
                .iter()
                .filter_map(|t| Utf8StringRef::try_from(t).ok().map(|s| s.to_string()))
                .collect::<Vec<_>>()
                .join("; ")
        });
        return Err(TimestampError::Rejected {
            status: status.status,
            text,
        });
    }
    token.map(|t| t.to_vec()).ok_or(TimestampError::Malformed(
        "TimeStampResp: granted without a token".into(),
    ))
}

/// A time-stamp that verified.
#[derive(Debug, Clone)]
pub struct Timestamp {
    /// The time the token proves, seconds since the epoch.
    pub gen_time: u64,
    /// The token's serial number (hex).
    pub serial: String,
    /// The TSA policy.
    pub policy: Oid,
    /// The imprint's hash algorithm.
    pub imprint_algorithm: DigestAlgorithm,
    /// The TSA's certificate.
    pub tsa: Certificate,
    /// Its path to a TSA trust anchor.
    pub tsa_path: ValidatedPath,
}

impl Timestamp {
    /// The time-stamp as a JSON report (`verify --json`'s `timestamp`).
    pub fn report(&self) -> serde_json::Value {
        serde_json::json!({
            "gen_time": waxseal_trust::time::format(self.gen_time),
            "serial": self.serial,
            "policy": self.policy.to_string(),
            "imprint_algorithm": self.imprint_algorithm.name(),
            "tsa": self.tsa.subject_display(),
            "tsa_path": self.tsa_path.subjects(),
        })
    }
}

/// What a time-stamp authority is trusted with: its own trust anchors (never the message
/// signers'), certificates and CRLs to check its certificate with, and algorithms.
pub struct TimestampTrust {
    verifier: Verifier,
    /// How far a token's `genTime` may be after the verification time (seconds).
    clock_skew: u64,
}

impl TimestampTrust {
    /// Trusts TSAs whose certificates chain to `anchors`; strict algorithms, no CRLs.
    pub fn new(anchors: TrustAnchors) -> Self {
        Self {
            verifier: Verifier::new(anchors).with_accepted_purposes([KP_TIME_STAMPING]),
            clock_skew: 0,
        }
    }

    /// Accepts a token whose `genTime` is up to `secs` after the verification time: the
    /// TSA's clock is another host's, and a reply to a request is checked against a time
    /// read before the request went out. Default 0 (`timestamp-in-future` for any later
    /// `genTime`). The TSA's path is still validated at the verification time itself.
    pub fn with_clock_skew(mut self, secs: u64) -> Self {
        self.clock_skew = secs;
        self
    }

    /// Intermediate (and TSA) certificates to build paths with.
    pub fn with_store(mut self, store: CertStore) -> Self {
        self.verifier = self.verifier.with_store(store);
        self
    }

    /// CRLs to check the TSA's path against (revocation is then required for every
    /// certificate of it unless [`TimestampTrust::with_revocation`] says otherwise).
    pub fn with_crls(mut self, crls: CrlSet) -> Self {
        self.verifier = self.verifier.with_crls(crls);
        self
    }

    /// How the TSA's path is checked for revocation.
    pub fn with_revocation(mut self, policy: RevocationPolicy) -> Self {
        self.verifier = self.verifier.with_revocation(policy);
        self
    }

    /// Acceptable algorithms for the token's signature and the TSA's path (the imprint
    /// is always SHA-256, SHA-384 or SHA-512).
    pub fn with_algorithms(mut self, policy: AlgorithmPolicy) -> Self {
        self.verifier = self.verifier.with_algorithms(policy);
        self
    }

    /// The cryptography the token's signature, its imprint and the TSA's path are checked
    /// with: [`Provider::default`] unless set.
    pub fn with_provider(mut self, provider: Provider) -> Self {
        self.verifier = self.verifier.with_provider(provider);
        self
    }

    /// The cryptography this trust checks tokens with.
    pub fn provider(&self) -> &Provider {
        self.verifier.provider()
    }

    /// Verifies `token`, a time-stamp of `stamped` (a signature value), at `time` (the
    /// verifier's clock: the TSA's path must be valid then), counting the work against
    /// `meter`. `nonce`: the request's, when the token answers a request of ours.
    pub fn verify_token(
        &self,
        token: &[u8],
        stamped: &[u8],
        time: u64,
        nonce: Option<&[u8]>,
        meter: &Meter,
    ) -> Result<Timestamp, TimestampError> {
        let limits = Limits::default();
        let normalized = waxseal_trust::asn1::normalize(token, limits.max_depth)
            .map_err(|e| TimestampError::Malformed(e.to_string()))?;
        let sd = SignedData::from_content_info(&normalized, &limits)
            .map_err(|e| TimestampError::Malformed(e.to_string()))?;
        if sd.encap_content_info.content_type != ID_CT_TST_INFO {
            return Err(TimestampError::Malformed(format!(
                "content type is {}, not id-ct-TSTInfo",
                crate::oid::name(&sd.encap_content_info.content_type)
            )));
        }
        let [si] = sd.signer_infos.as_slice() else {
            return Err(TimestampError::Malformed(format!(
                "{} signers; a token has exactly one (RFC 3161 §2.4.2)",
                sd.signer_infos.len()
            )));
        };
        let content = sd
            .encap_content_info
            .content()
            .ok_or_else(|| TimestampError::Malformed("TSTInfo is not attached".into()))?;
        let info = TstInfo::from_der(content).map_err(malformed("TSTInfo"))?;
        if info.version != 1 {
            return Err(TimestampError::Malformed(format!(
                "TSTInfo version {}",
                info.version
            )));
        }
        let gen_time = info
            .gen_time()
            .ok_or_else(|| TimestampError::Malformed("TSTInfo.genTime".into()))?;

        // What it stamps: cheap checks before any signature.
        let alg = DigestAlgorithm::from_algorithm_identifier(&info.message_imprint.hash_algorithm)
            .map_err(|e| TimestampError::ImprintAlgorithm(e.to_string()))?;
        if !matches!(
            alg,
            DigestAlgorithm::Sha256 | DigestAlgorithm::Sha384 | DigestAlgorithm::Sha512
        ) {
            return Err(TimestampError::ImprintAlgorithm(alg.name().into()));
        }
        if info.message_imprint.hashed_message.as_bytes()
            != self.provider().digest(alg, stamped).as_slice()
        {
            return Err(TimestampError::ImprintMismatch);
        }
        if let Some(want) = nonce {
            let got = info.nonce.as_ref().map(|n| strip_zeros(n.as_bytes()));
            if got != Some(strip_zeros(want)) {
                return Err(TimestampError::NonceMismatch);
            }
        }
        if gen_time > time.saturating_add(self.clock_skew) {
            return Err(TimestampError::InFuture(gen_time));
        }

        // The token's signature, and the TSA's path at the verifier's time.
        let embedded = CertStore::from_certificates(sd.x509_certificates().cloned());
        let crls = self
            .verifier
            .envelope_crls(&sd)
            .map_err(|e| TimestampError::Malformed(e.to_string()))?;
        let options = self.verifier.validation_options(time);
        let signer = self
            .verifier
            .verify_signer_info_with_meter(
                si,
                content,
                Some(ID_CT_TST_INFO),
                &embedded,
                &crls,
                &options,
                meter,
            )
            .map_err(|e| TimestampError::BadSignature(Box::new(e)))?;
        let tsa = signer.certificate;
        let tsa_path = signer
            .path
            .ok_or_else(|| TimestampError::Untrusted("no path".into()))?;
        if gen_time < tsa.not_before() || gen_time > tsa.not_after() {
            return Err(TimestampError::Untrusted(format!(
                "{} was not valid at genTime {}",
                tsa.subject_display(),
                waxseal_trust::time::format(gen_time)
            )));
        }
        check_tsa_eku(&tsa)?;
        let attrs = si
            .signed_attrs
            .as_ref()
            .ok_or_else(|| TimestampError::CertId("no signed attributes".into()))?;
        check_cert_id(self.provider(), attrs, &tsa)?;
        Ok(Timestamp {
            gen_time,
            serial: hex::encode(info.serial_number.as_bytes()),
            policy: info.policy,
            imprint_algorithm: alg,
            tsa,
            tsa_path,
        })
    }

    /// Checks a TSA's reply to [`request`] for `stamped` with `nonce`: status granted,
    /// then the token as [`TimestampTrust::verify_token`] does, nonce included. Returns
    /// the token (as received) and what it proves.
    pub fn verify_response(
        &self,
        response: &[u8],
        stamped: &[u8],
        nonce: &[u8],
        time: u64,
    ) -> Result<(Vec<u8>, Timestamp), TimestampError> {
        let token = response_token(response)?;
        let ts = self.verify_token(&token, stamped, time, Some(nonce), &self.verifier.meter())?;
        Ok((token, ts))
    }

    /// A fresh work meter under the TSA verifier's budget.
    pub fn meter(&self) -> Meter {
        self.verifier.meter()
    }
}

fn strip_zeros(b: &[u8]) -> &[u8] {
    let n = b.iter().take_while(|&&x| x == 0).count();
    &b[n..]
}

/// RFC 3161 §2.3: extendedKeyUsage present, critical, and timeStamping its only purpose.
fn check_tsa_eku(tsa: &Certificate) -> Result<(), TimestampError> {
    let mut found = tsa
        .raw_extensions()
        .iter()
        .filter(|e| e.extn_id == CE_EXT_KEY_USAGE);
    let Some(ext) = found.next() else {
        return Err(TimestampError::ExtKeyUsage(
            "no extendedKeyUsage (timeStamping required)".into(),
        ));
    };
    if found.next().is_some() {
        return Err(TimestampError::ExtKeyUsage(
            "extendedKeyUsage appears twice".into(),
        ));
    }
    if !ext.critical {
        return Err(TimestampError::ExtKeyUsage(
            "extendedKeyUsage is not critical".into(),
        ));
    }
    let eku = x509_cert::ext::pkix::ExtendedKeyUsage::from_der(ext.extn_value.as_bytes())
        .map_err(|e| TimestampError::ExtKeyUsage(format!("extendedKeyUsage: {e}")))?;
    if eku.0.as_slice() != [KP_TIME_STAMPING] {
        let names: Vec<String> = eku.0.iter().map(crate::oid::name).collect();
        return Err(TimestampError::ExtKeyUsage(format!(
            "extendedKeyUsage is {}, not timeStamping alone",
            names.join(", ")
        )));
    }
    Ok(())
}

/// The signingCertificate(V2) attribute must name `tsa` first (RFC 3161 §2.4.2: the
/// TSA's certificate is identified in the token). V2 is checked where both are present.
fn check_cert_id(
    provider: &Provider,
    attrs: &Attributes,
    tsa: &Certificate,
) -> Result<(), TimestampError> {
    let single = |oid: Oid| -> Result<Option<&[u8]>, TimestampError> {
        let mut it = attrs.get(oid);
        let Some(first) = it.next() else {
            return Ok(None);
        };
        if it.next().is_some() || first.values.len() != 1 {
            return Err(TimestampError::CertId(format!(
                "{} appears more than once",
                crate::oid::name(&oid)
            )));
        }
        Ok(Some(&first.values[0]))
    };
    let (alg, hash, issuer_serial) = if let Some(raw) = single(ID_AA_SIGNING_CERTIFICATE_V2)? {
        let v2 = SigningCertificateV2::from_der(raw)
            .map_err(|e| TimestampError::CertId(format!("signingCertificateV2: {e}")))?;
        let first = v2
            .certs
            .into_iter()
            .next()
            .ok_or_else(|| TimestampError::CertId("signingCertificateV2 is empty".into()))?;
        let alg = match &first.hash_algorithm {
            None => DigestAlgorithm::Sha256,
            Some(a) => DigestAlgorithm::from_algorithm_identifier(a)
                .map_err(|e| TimestampError::CertId(e.to_string()))?,
        };
        if !matches!(
            alg,
            DigestAlgorithm::Sha256 | DigestAlgorithm::Sha384 | DigestAlgorithm::Sha512
        ) {
            return Err(TimestampError::CertId(format!(
                "ESSCertIDv2 hash {} refused",
                alg.name()
            )));
        }
        (alg, first.cert_hash, first.issuer_serial)
    } else if let Some(raw) = single(ID_AA_SIGNING_CERTIFICATE)? {
        let v1 = SigningCertificate::from_der(raw)
            .map_err(|e| TimestampError::CertId(format!("signingCertificate: {e}")))?;
        let first = v1
            .certs
            .into_iter()
            .next()
            .ok_or_else(|| TimestampError::CertId("signingCertificate is empty".into()))?;
        // ESSCertID is SHA-1 by definition; it identifies a certificate already
        // authenticated by its path, so SHA-1's collisions do not forge a time.
        (DigestAlgorithm::Sha1, first.cert_hash, first.issuer_serial)
    } else {
        return Err(TimestampError::CertId(
            "neither signingCertificate nor signingCertificateV2".into(),
        ));
    };
    if hash.as_bytes() != provider.digest(alg, tsa.der()).as_slice() {
        return Err(TimestampError::CertId(format!(
            "the certificate hash is not that of {}",
            tsa.subject_display()
        )));
    }
    if let Some(is) = issuer_serial {
        let issuer_matches = is.issuer.iter().any(|n| match n {
            GeneralName::DirectoryName(dn) => NameKey::new(dn) == *tsa.issuer_key(),
            _ => false,
        });
        if !issuer_matches || is.serial_number.as_bytes() != tsa.serial() {
            return Err(TimestampError::CertId(
                "issuerSerial does not name the TSA certificate".into(),
            ));
        }
    }
    Ok(())
}

/// The time-stamp tokens a `SignerInfo` carries (id-aa-signatureTimeStampToken values).
pub fn tokens(si: &SignerInfo) -> Vec<&[u8]> {
    si.unsigned_attrs
        .iter()
        .flat_map(|a| a.get(ID_AA_SIGNATURE_TIME_STAMP_TOKEN))
        .flat_map(|a| a.values.iter().map(Vec::as_slice))
        .collect()
}

/// The one token of `si`: `None` without, [`TimestampError::Duplicate`] with several.
pub fn token(si: &SignerInfo) -> Result<Option<&[u8]>, TimestampError> {
    match tokens(si).as_slice() {
        [] => Ok(None),
        [one] => Ok(Some(one)),
        _ => Err(TimestampError::Duplicate),
    }
}

/// Adds `token` to `si`'s unsigned attributes (after those already there), as given: call
/// it with a token [`TimestampTrust`] verified for this signature. Refuses a signer that
/// already has one: a second token would be one more thing to check and
/// prove nothing the first does not.
pub fn attach(si: &mut SignerInfo, token: Vec<u8>) -> Result<(), TimestampError> {
    if !tokens(si).is_empty() {
        return Err(TimestampError::Duplicate);
    }
    let mut items: Vec<Attribute> = si
        .unsigned_attrs
        .as_ref()
        .map(|a| a.iter().cloned().collect())
        .unwrap_or_default();
    items.push(Attribute::new(ID_AA_SIGNATURE_TIME_STAMP_TOKEN, token));
    si.unsigned_attrs = Some(Attributes::from_items_in_order(items));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gen_time_with_and_without_fraction() {
        assert_eq!(parse_generalized_time(b"19700101000001Z"), Some(1));
        assert_eq!(parse_generalized_time(b"19700101000001.5Z"), Some(1));
        // Trailing zeros, an empty fraction, a local time: refused (RFC 3161 §2.4.2).
        assert_eq!(parse_generalized_time(b"19700101000001.50Z"), None);
        assert_eq!(parse_generalized_time(b"19700101000001.Z"), None);
        assert_eq!(parse_generalized_time(b"19700101000001"), None);
        assert_eq!(parse_generalized_time(b"1970010100000Z"), None);
    }

    #[test]
    fn request_has_a_positive_nonce_and_cert_req() {
        let (der, nonce) = request(&Provider::RUSTCRYPTO, b"signature");
        let req = TimeStampReq::from_der(&der).unwrap();
        assert!(req.cert_req);
        assert_eq!(req.version, 1);
        assert_eq!(req.nonce.unwrap().as_bytes(), nonce.as_slice());
        assert!(nonce[0] & 0x80 == 0 && nonce[0] != 0);
        assert_eq!(
            req.message_imprint.hashed_message.as_bytes(),
            Provider::RUSTCRYPTO
                .digest(DigestAlgorithm::Sha256, b"signature")
                .as_slice()
        );
        // Two requests, two nonces.
        assert_ne!(request(&Provider::RUSTCRYPTO, b"signature").1, nonce);
    }

    #[test]
    fn garbage_responses_are_malformed_not_panics() {
        for bad in [&b""[..], b"\x30\x00", b"\x30\x03\x02\x01\x01", b"\xff\xff"] {
            assert_eq!(
                response_token(bad).unwrap_err().code(),
                "timestamp-malformed",
                "{bad:?}"
            );
        }
        // A refusal: status 2 with a text.
        let refusal = b"\x30\x0b\x30\x09\x02\x01\x02\x30\x04\x0c\x02no";
        let e = response_token(refusal).unwrap_err();
        assert_eq!(e.code(), "timestamp-rejected");
        assert!(e.to_string().contains("no"), "{e}");
    }
}
