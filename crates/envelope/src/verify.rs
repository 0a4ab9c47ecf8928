//! Verification: [`Verifier`] and its only successful result, [`Verified`]; a
//! [`VerificationSession`] keeps what verifying an envelope built for the signatures that
//! continue from it (a routing slip's countersignatures).

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use const_oid::ObjectIdentifier as Oid;
use der::Decode;

use crate::envelope::Envelope;
use crate::format::Format;
use crate::oid;
use crate::rfc5652::{Attributes, Limits, ParseError, SignedData, SignerIdentifier, SignerInfo};
use waxseal_trust::algorithm::{AlgorithmError, AlgorithmPolicy, DigestAlgorithm, SignatureScheme};
use waxseal_trust::cert::Certificate;
use waxseal_trust::key::KeyError;
use waxseal_trust::path::{
    self as trust, Budget, CacheStats, ErrorKind, Meter, PathCache, PathError, PolicyInputs,
    Purpose, RevocationPolicy, TrustAnchors, ValidatedPath, ValidationOptions,
};
use waxseal_trust::provider::{PreparedPublicKey, Provider};
use waxseal_trust::store::{CertStore, CrlSet};

/// Why one signer of an envelope was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignerError {
    /// The digest or signature algorithm is unknown, malformed, refused or inconsistent.
    #[error("{0}")]
    Algorithm(AlgorithmError),
    /// The signature algorithm does not fit the signer's key, or names another digest.
    #[error("{0}")]
    AlgorithmMismatch(AlgorithmError),
    /// The signer's certificate is neither in the envelope nor in the store.
    #[error("signer certificate not found ({0}); supply it with the certificate store")]
    CertificateNotFound(String),
    /// The signer certificate's key is unusable.
    #[error("signer certificate key: {0}")]
    BadKey(String),
    /// The signer certificate's key is larger than the budget allows (refused before any
    /// arithmetic).
    #[error("signer certificate key: {0}")]
    KeyTooLarge(String),
    /// The message-digest attribute does not equal the digest of the content.
    #[error("message digest does not match the content (content altered?)")]
    MessageDigestMismatch,
    /// The content-type attribute does not equal `eContentType`.
    #[error("content-type attribute {} does not match eContentType {}", oid::name(.attribute), oid::name(.econtent))]
    ContentTypeMismatch {
        /// The attribute's value.
        attribute: Oid,
        /// `eContentType`.
        econtent: Oid,
    },
    /// Signed attributes without a content-type attribute (RFC 5652 §5.3).
    #[error("signed attributes lack the content-type attribute")]
    MissingContentType,
    /// Signed attributes without a message-digest attribute (RFC 5652 §5.3).
    #[error("signed attributes lack the message-digest attribute")]
    MissingMessageDigest,
    /// A content-type, message-digest or signing-time attribute appears twice, or with
    /// several values (RFC 5652 §11).
    #[error("signed attribute {} appears more than once", oid::name(.0))]
    DuplicateAttribute(Oid),
    /// An attribute value that does not decode.
    #[error("signed attribute {} is malformed", oid::name(.0))]
    MalformedAttribute(Oid),
    /// A countersignature carrying a content-type attribute (RFC 5652 §11.4 forbids it).
    #[error("a countersignature may not carry a content-type attribute")]
    ContentTypeInCountersignature,
    /// A countersignature among the signed attributes (RFC 5652 §11.4 forbids it).
    #[error("a countersignature may not be a signed attribute")]
    CountersignatureSigned,
    /// Content of a type other than id-data signed without signed attributes.
    #[error("content type {} requires signed attributes", oid::name(.0))]
    AttributesRequired(Oid),
    /// The signature does not verify with the signer certificate's key.
    #[error("signature does not verify")]
    BadSignature,
    /// The signer certificate does not validate.
    #[error("{0}")]
    Untrusted(PathError),
    /// Streamed content was hashed only with the algorithms `SignedData.digestAlgorithms`
    /// announces (RFC 5652 §5.1), and this signer uses another.
    #[error("digest algorithm {0} is not listed in SignedData.digestAlgorithms")]
    DigestNotAnnounced(DigestAlgorithm),
    /// The signer's time-stamp token was refused ([`crate::rfc3161`]; its own reason codes).
    #[error("{0}")]
    Timestamp(crate::rfc3161::TimestampError),
    /// A pure signature (Ed25519, ML-DSA) without signed attributes covers the content
    /// itself, which a streamed verification keeps only up to
    /// [`crate::stream::RETAIN_LIMIT`] bytes.
    #[error(
        "a pure signature (ed25519, ml-dsa) without signed attributes signs the content itself, which is too large to keep in memory"
    )]
    ContentNotRetained,
}

impl SignerError {
    /// A stable, machine-readable reason code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Algorithm(AlgorithmError::LegacyDigest(_)) => "legacy-algorithm",
            Self::Algorithm(_) => "unsupported-algorithm",
            Self::AlgorithmMismatch(_) => "algorithm-mismatch",
            Self::CertificateNotFound(_) => "signer-certificate-not-found",
            Self::BadKey(_) => "bad-public-key",
            Self::KeyTooLarge(_) => "key-too-large",
            Self::MessageDigestMismatch => "message-digest-mismatch",
            Self::ContentTypeMismatch { .. } => "content-type-mismatch",
            Self::MissingContentType => "missing-content-type",
            Self::MissingMessageDigest => "missing-message-digest",
            Self::DuplicateAttribute(_) => "duplicate-attribute",
            Self::MalformedAttribute(_) => "malformed-attribute",
            Self::CountersignatureSigned => "countersignature-signed",
            Self::ContentTypeInCountersignature => "countersignature-content-type",
            Self::AttributesRequired(_) => "signed-attributes-required",
            Self::BadSignature => "bad-signature",
            Self::Untrusted(e) => e.code(),
            Self::DigestNotAnnounced(_) => "digest-not-announced",
            Self::ContentNotRetained => "content-too-large",
            Self::Timestamp(e) => e.code(),
        }
    }

    /// What the error is about. The signer's certificate (not found, its key, its path)
    /// is [`ErrorKind::Certificate`] (or [`ErrorKind::Untrusted`], [`ErrorKind::Budget`]
    /// from the path); a time-stamp is [`ErrorKind::Signature`] unless validating the
    /// TSA's path spent the budget; everything else is [`ErrorKind::Signature`].
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::Untrusted(e) => e.kind(),
            Self::CertificateNotFound(_) | Self::BadKey(_) | Self::KeyTooLarge(_) => {
                ErrorKind::Certificate
            }
            Self::Timestamp(e) => e.kind(),
            _ => ErrorKind::Signature,
        }
    }

    /// Whether the work budget ran out ([`ErrorKind::Budget`]): the envelope's other
    /// signers are not tried.
    pub fn is_budget_exceeded(&self) -> bool {
        self.kind() == ErrorKind::Budget
    }

    /// Whether the content does not match the signature (`message-digest-mismatch`,
    /// `bad-signature`): another encoding of the same content (the canonical CRLF form of
    /// an S/MIME body) may still verify.
    pub fn is_content_mismatch(&self) -> bool {
        matches!(self, Self::MessageDigestMismatch | Self::BadSignature)
    }
}

/// Why an envelope was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The input is not a well-formed envelope.
    #[error("malformed envelope: {0}")]
    Parse(#[from] ParseError),
    /// The envelope has no signers.
    #[error("envelope has no signers")]
    NoSigners,
    /// A detached envelope was given without its content.
    #[error("detached signature: the signed content must be supplied")]
    MissingContent,
    /// Content was supplied for an envelope that carries its own (attached, or the first
    /// part of an S/MIME `multipart/signed`).
    #[error("content supplied, but the envelope already contains its content")]
    ContentConflict,
    /// The envelope needs more work than the verifier's [`Budget`] allows (before any
    /// signer was looked at: for instance more CRL bytes than `max_crl_bytes`).
    #[error("work budget exhausted ({0}); the envelope is too large or hostile")]
    BudgetExceeded(&'static str),
    /// A signer was rejected.
    #[error("signer {} ({signer}): {error}", .index + 1)]
    Signer {
        /// Index in `signerInfos` (0-based).
        index: usize,
        /// The signer's identification.
        signer: String,
        /// What was wrong.
        error: SignerError,
    },
}

impl VerifyError {
    /// A stable, machine-readable reason code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Parse(_) => "malformed",
            Self::NoSigners => "no-signers",
            Self::MissingContent => "missing-content",
            Self::ContentConflict => "content-conflict",
            Self::BudgetExceeded(_) => "budget-exceeded",
            Self::Signer { error, .. } => error.code(),
        }
    }

    /// What the error is about: [`ErrorKind::Malformed`] for an envelope that does not
    /// parse, [`ErrorKind::Budget`] for one too large for the budget, the signer's
    /// [`SignerError::kind`] for a rejected signer, else [`ErrorKind::Signature`].
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::Parse(_) => ErrorKind::Malformed,
            Self::BudgetExceeded(_) => ErrorKind::Budget,
            Self::Signer { error, .. } => error.kind(),
            Self::NoSigners | Self::MissingContent | Self::ContentConflict => ErrorKind::Signature,
        }
    }

    /// Whether a signer's content does not match its signature
    /// ([`SignerError::is_content_mismatch`]).
    pub fn is_content_mismatch(&self) -> bool {
        matches!(self, Self::Signer { error, .. } if error.is_content_mismatch())
    }
}

/// How many signers must verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SignerRequirement {
    /// Every signer (the default, as `openssl cms -verify`).
    #[default]
    All,
    /// At least one; the others are reported in [`Verified::rejected`].
    Any,
}

/// A signer that verified.
#[derive(Debug, Clone)]
pub struct VerifiedSigner {
    /// Index in `signerInfos` (0-based).
    pub index: usize,
    /// The signer's certificate.
    pub certificate: Certificate,
    /// The validated path (`None` only for [`Verifier::signature_only_unauthenticated`]).
    pub path: Option<ValidatedPath>,
    /// The signing-time attribute, if present (the signer's claim, not a timestamp).
    pub signing_time: Option<u64>,
    /// The digest algorithm.
    pub digest: DigestAlgorithm,
    /// The signature algorithm, described (`rsa-pkcs1-sha256`, `ed25519`...).
    pub signature_algorithm: String,
    /// The `SignerInfo` as received (for countersignatures and further checks).
    pub signer_info: SignerInfo,
    /// The signer's time-stamp, when it carries one and TSA trust anchors were given
    /// ([`Verifier::with_timestamp_trust`]); with [`Verifier::at_timestamp`] the path was
    /// validated at its `gen_time`.
    pub timestamp: Option<crate::rfc3161::Timestamp>,
}

impl VerifiedSigner {
    /// The signed attributes, if any.
    pub fn signed_attributes(&self) -> Option<&Attributes> {
        self.signer_info.signed_attrs.as_ref()
    }

    /// The signer as a JSON report, the one `waxseal verify --json` and the Python binding
    /// print: index, subject, common name, issuer, serial, signing time, algorithms, the
    /// path's subjects and whether revocation was checked.
    pub fn report(&self) -> serde_json::Value {
        serde_json::json!({
            "index": self.index,
            "subject": self.certificate.subject_display(),
            "common_name": self.certificate.common_name(),
            "issuer": self.certificate.issuer_display(),
            "serial": self.certificate.serial_hex(),
            "signing_time": self.signing_time.map(waxseal_trust::time::format),
            "digest": self.digest.name(),
            "signature_algorithm": self.signature_algorithm,
            "path": self.path.as_ref().map(ValidatedPath::subjects),
            "revocation_checked": self.path.as_ref().is_some_and(|p| p.revocation_checked),
            "timestamp": self.timestamp.as_ref().map(crate::rfc3161::Timestamp::report),
        })
    }
}

/// A signer that did not verify under [`SignerRequirement::Any`].
#[derive(Debug, Clone)]
pub struct RejectedSigner {
    /// Index in `signerInfos`.
    pub index: usize,
    /// Why.
    pub error: SignerError,
}

/// The result of a successful verification: the only way to the content.
#[derive(Debug, Clone)]
pub struct Verified {
    content: Vec<u8>,
    content_type: Oid,
    signers: Vec<VerifiedSigner>,
    rejected: Vec<RejectedSigner>,
    format: Format,
    authenticated: bool,
}

impl Verified {
    /// The verified content.
    pub fn content(&self) -> &[u8] {
        &self.content
    }

    /// The verified content, by value.
    pub fn into_content(self) -> Vec<u8> {
        self.content
    }

    /// `eContentType`.
    pub fn content_type(&self) -> Oid {
        self.content_type
    }

    /// The signers that verified, in envelope order.
    pub fn signers(&self) -> &[VerifiedSigner] {
        &self.signers
    }

    /// Signers that failed (only with [`SignerRequirement::Any`]).
    pub fn rejected(&self) -> &[RejectedSigner] {
        &self.rejected
    }

    /// The input encoding.
    pub fn format(&self) -> Format {
        self.format
    }

    /// `false` when verified in signature-only mode (no trust anchor: anyone could have
    /// made the signer certificate).
    pub fn is_authenticated(&self) -> bool {
        self.authenticated
    }
}

/// One envelope's verification, kept open for the signatures that depend on it.
///
/// Made by [`Verifier::session`]: the envelope verified (its [`Verified`] result), and
/// what that verification built to do so, the envelope's certificates indexed as a store,
/// its CRLs (with the verifier's), the [`ValidationOptions`] and the [`Meter`]. A routing
/// slip's hops are countersignatures (RFC 5652 §11.4) of the same envelope, checked with
/// exactly these, so [`VerificationSession::verify_countersignature`] continues from them
/// instead of building them a second time, and counts its work against the envelope's one
/// budget.
///
/// It borrows the [`Verifier`] (and nothing of the envelope); it is not `Send`, as a
/// [`Meter`] belongs to one verification in progress.
pub struct VerificationSession<'v> {
    verifier: &'v Verifier,
    verified: Verified,
    embedded: Cow<'v, CertStore>,
    crls: Cow<'v, CrlSet>,
    options: ValidationOptions,
    meter: Meter,
}

impl<'v> VerificationSession<'v> {
    /// The envelope's verification.
    pub fn verified(&self) -> &Verified {
        &self.verified
    }

    /// The envelope's verification, by value (the session ends).
    pub fn into_verified(self) -> Verified {
        self.verified
    }

    /// The verifier this session runs under.
    pub fn verifier(&self) -> &'v Verifier {
        self.verifier
    }

    /// The certificates the envelope carries (and any given beside it), where signers and
    /// intermediates are looked up before the verifier's store.
    pub fn certificates(&self) -> &CertStore {
        &self.embedded
    }

    /// The CRLs paths are checked against: the verifier's and those the envelope carries
    /// (still unparsed until a path needs one).
    pub fn crls(&self) -> &CrlSet {
        &self.crls
    }

    /// The validation options the envelope's signers were checked with (at the
    /// verifier's time; a signer validated at its time-stamp's time had its own copy).
    pub fn options(&self) -> &ValidationOptions {
        &self.options
    }

    /// The meter counting this envelope's work.
    pub fn meter(&self) -> &Meter {
        &self.meter
    }

    /// Verifies `countersignature`, a `SignerInfo` whose signature covers `countersigned`
    /// (the signature value of the `SignerInfo` it countersigns, RFC 5652 §11.4), with the
    /// checks of any signer of the envelope: algorithms, the message-digest attribute
    /// (which must not come with a content-type), the signature, and the signer's path
    /// through the envelope's certificates and CRLs at the session's time. Its work
    /// counts against the session's meter, so an envelope and all its countersignatures
    /// share one budget. The result's `index` is 0: a countersignature is not in
    /// `signerInfos`.
    pub fn verify_countersignature(
        &self,
        countersignature: &SignerInfo,
        countersigned: &[u8],
    ) -> Result<VerifiedSigner, SignerError> {
        self.verifier.verify_signer_info_with_meter(
            countersignature,
            countersigned,
            None,
            &self.embedded,
            &self.crls,
            &self.options,
            &self.meter,
        )
    }
}

impl std::fmt::Debug for VerificationSession<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerificationSession")
            .field("verified", &self.verified)
            .field("time", &self.options.time)
            .field("meter", &self.meter)
            .finish_non_exhaustive()
    }
}

enum Trust {
    Anchors(TrustAnchors),
    SignatureOnly,
}

/// Verifies envelopes against trust anchors, a certificate store and CRLs.
///
/// Build one per configuration and share it (it is `Sync`); give it a [`PathCache`] so a
/// stream of messages from the same signers costs one signature check each.
///
/// ```no_run
/// # use waxseal_envelope::*;
/// # use waxseal_trust::*;
/// # fn demo(root: Certificate, input: &[u8]) -> Result<(), Box<dyn std::error::Error>> {
/// let verifier = Verifier::new(TrustAnchors::new([root])?);
/// let verified = verifier.verify(&Envelope::parse(input)?, None)?;
/// println!("{} bytes from {}", verified.content().len(), verified.signers()[0].certificate.subject_display());
/// # Ok(()) }
/// ```
pub struct Verifier {
    trust: Trust,
    store: CertStore,
    crls: CrlSet,
    algorithms: AlgorithmPolicy,
    revocation: Option<RevocationPolicy>,
    time: Option<u64>,
    accepted_purposes: Vec<Oid>,
    policy: PolicyInputs,
    budget: Budget,
    cache: Option<Arc<PathCache>>,
    requirement: SignerRequirement,
    limits: Limits,
    timestamps: Option<Arc<crate::rfc3161::TimestampTrust>>,
    at_timestamp: bool,
    provider: Provider,
}

impl Verifier {
    /// A verifier trusting `anchors`, with strict algorithms and no CRLs.
    pub fn new(anchors: TrustAnchors) -> Self {
        Self::with_trust(Trust::Anchors(anchors))
    }

    /// A verifier that checks signatures but **not** who made them: no path validation,
    /// so any self-made certificate passes. Results say [`Verified::is_authenticated`]
    /// `false`. Only for diagnostics; never for authorization decisions.
    pub fn signature_only_unauthenticated() -> Self {
        Self::with_trust(Trust::SignatureOnly)
    }

    fn with_trust(trust: Trust) -> Self {
        Self {
            trust,
            store: CertStore::new(),
            crls: CrlSet::new(),
            algorithms: AlgorithmPolicy::default(),
            revocation: None,
            time: None,
            accepted_purposes: trust::DEFAULT_SIGNING_PURPOSES.to_vec(),
            policy: PolicyInputs::default(),
            budget: Budget::default(),
            cache: None,
            requirement: SignerRequirement::All,
            limits: Limits::default(),
            timestamps: None,
            at_timestamp: false,
            provider: Provider::default(),
        }
    }

    /// Certificates to find signers (for `--no-certs` envelopes) and intermediates in.
    pub fn with_store(mut self, store: CertStore) -> Self {
        self.store = store;
        self
    }

    /// CRLs to check revocation against. Unless [`Verifier::with_revocation`] says
    /// otherwise, supplying CRLs makes revocation checking mandatory for every
    /// certificate of the path ([`RevocationPolicy::RequireAll`]).
    pub fn with_crls(mut self, crls: CrlSet) -> Self {
        self.crls = crls;
        self
    }

    /// How revocation is checked.
    pub fn with_revocation(mut self, policy: RevocationPolicy) -> Self {
        self.revocation = Some(policy);
        self
    }

    /// Acceptable algorithms ([`AlgorithmPolicy::LEGACY_SHA1`] for legacy messages).
    pub fn with_algorithms(mut self, policy: AlgorithmPolicy) -> Self {
        self.algorithms = policy;
        self
    }

    /// Verify as of `time` (seconds since the epoch) instead of now.
    pub fn at_time(mut self, time: u64) -> Self {
        self.time = Some(time);
        self
    }

    /// The extendedKeyUsage purposes accepted of a signer certificate that has the
    /// extension (replacing [`trust::DEFAULT_SIGNING_PURPOSES`]: emailProtection,
    /// anyExtendedKeyUsage and waxseal's bus-signing OID). A signer whose extendedKeyUsage
    /// lists none of them is refused (`ext-key-usage`); anyExtendedKeyUsage counts only
    /// when listed. keyUsage, when present, must allow digitalSignature or nonRepudiation
    /// whatever the purposes (`key-usage`).
    pub fn with_accepted_purposes(mut self, purposes: impl IntoIterator<Item = Oid>) -> Self {
        self.accepted_purposes = purposes.into_iter().collect();
        self
    }

    /// Accepts only signers whose extendedKeyUsage (when present) lists `eku` or
    /// anyExtendedKeyUsage.
    pub fn with_required_eku(self, eku: Oid) -> Self {
        self.with_accepted_purposes([eku, waxseal_trust::oid::ANY_EXTENDED_KEY_USAGE])
    }

    /// Certificate policy inputs (RFC 5280 §6.1.1).
    pub fn with_policy(mut self, policy: PolicyInputs) -> Self {
        self.policy = policy;
        self
    }

    /// The work budget of one envelope (all its signers, candidates, paths and CRLs
    /// together); [`Budget::default`] unless set.
    pub fn with_budget(mut self, budget: Budget) -> Self {
        self.budget = budget;
        self
    }

    /// The cryptography every signature check and digest goes through (signers, their
    /// paths, CRLs, time-stamps): [`Provider::default`] unless set.
    pub fn with_provider(mut self, provider: Provider) -> Self {
        self.provider = provider;
        self
    }

    /// The cryptography this verifier uses.
    pub fn provider(&self) -> &Provider {
        &self.provider
    }

    /// A path cache, possibly shared between verifiers.
    pub fn with_cache(mut self, cache: Arc<PathCache>) -> Self {
        self.cache = Some(cache);
        self
    }

    /// How many signers must verify.
    pub fn with_requirement(mut self, requirement: SignerRequirement) -> Self {
        self.requirement = requirement;
        self
    }

    /// Trust for signature time-stamps (RFC 3161): a signer carrying a token then has it
    /// verified, and refused if it fails ([`crate::rfc3161`]). Without this, tokens are
    /// ignored unless [`Verifier::at_timestamp`] is set, which then refuses them
    /// (`timestamp-no-trust`).
    pub fn with_timestamp_trust(mut self, trust: crate::rfc3161::TimestampTrust) -> Self {
        self.timestamps = Some(Arc::new(trust));
        self
    }

    /// Validates each signer's path at the time its time-stamp proves (`genTime`), with
    /// revocation as of then ([`ValidationOptions::at_proven_time`]), instead of at the
    /// verifier's time; the TSA's own path is validated at the verifier's time. A signer
    /// without a verified time-stamp is refused (`timestamp-missing`,
    /// `timestamp-no-trust`).
    pub fn at_timestamp(mut self, on: bool) -> Self {
        self.at_timestamp = on;
        self
    }

    /// Parsing limits for [`Verifier::verify_bytes`].
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// The verification time: the one set with [`Verifier::at_time`], or now.
    pub fn time(&self) -> u64 {
        self.time.unwrap_or_else(waxseal_trust::time::now)
    }

    /// The work budget of one envelope.
    pub fn budget(&self) -> &Budget {
        &self.budget
    }

    /// A fresh [`Meter`] for one envelope: this verifier's budget, and its cache for
    /// signature outcomes.
    pub fn meter(&self) -> Meter {
        Meter::with_cache(self.budget, self.cache.clone())
    }

    /// The CRLs to check an envelope's paths against: the verifier's, and those the
    /// envelope carries, left unparsed (only those of issuers on a path being checked are
    /// parsed, under the budget). Refuses with [`VerifyError::BudgetExceeded`] an envelope
    /// carrying more than [`Budget::max_crl_bytes`] of CRLs, before hashing or parsing any.
    /// Built once per envelope, by [`Verifier::session`] (or a time-stamp token's check),
    /// and kept in the [`VerificationSession`] for the envelope's further signatures.
    pub(crate) fn envelope_crls<'s>(
        &'s self,
        sd: &SignedData,
    ) -> Result<Cow<'s, CrlSet>, VerifyError> {
        if sd.crls.is_empty() {
            return Ok(Cow::Borrowed(&self.crls));
        }
        let carried: usize = sd.crls.iter().map(|c| c.der().len()).sum();
        if carried > self.budget.max_crl_bytes {
            return Err(VerifyError::BudgetExceeded(
                "CRL bytes carried by the envelope",
            ));
        }
        let mut all = self.crls.clone();
        for c in &sd.crls {
            all.add_lazy(c.clone());
        }
        Ok(Cow::Owned(all))
    }

    /// The algorithm policy.
    pub fn algorithms(&self) -> AlgorithmPolicy {
        self.algorithms
    }

    /// The parsing limits.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The trust anchors (`None` in signature-only mode).
    pub fn anchors(&self) -> Option<&TrustAnchors> {
        match &self.trust {
            Trust::Anchors(a) => Some(a),
            Trust::SignatureOnly => None,
        }
    }

    /// The certificate store.
    pub fn store(&self) -> &CertStore {
        &self.store
    }

    /// The CRLs.
    pub fn crls(&self) -> &CrlSet {
        &self.crls
    }

    /// The path cache, if any.
    pub fn cache(&self) -> Option<&Arc<PathCache>> {
        self.cache.as_ref()
    }

    /// What the cache did so far (hits, misses, entries); all zero without a cache.
    /// Several verifiers sharing one [`PathCache`] report the same figures.
    pub fn cache_stats(&self) -> CacheStats {
        self.cache
            .as_deref()
            .map(PathCache::stats)
            .unwrap_or_default()
    }

    /// The validation options used at `time`.
    pub fn validation_options(&self, time: u64) -> ValidationOptions {
        let revocation = self.revocation.unwrap_or(if self.crls.is_empty() {
            RevocationPolicy::Off
        } else {
            RevocationPolicy::RequireAll
        });
        ValidationOptions {
            time,
            algorithms: self.algorithms,
            revocation,
            purpose: Purpose::Signing,
            accepted_purposes: self.accepted_purposes.clone(),
            policy: self.policy.clone(),
            budget: self.budget,
            at_proven_time: false,
            provider: self.provider,
        }
    }

    /// Parses and verifies `input`; `detached` is the content of a detached signature.
    pub fn verify_bytes(
        &self,
        input: &[u8],
        detached: Option<&[u8]>,
    ) -> Result<Verified, VerifyError> {
        let envelope = Envelope::parse_with_limits(input, &self.limits)?;
        self.verify(&envelope, detached)
    }

    /// Verifies an envelope; `detached` is the content of a detached signature.
    pub fn verify(
        &self,
        envelope: &Envelope,
        detached: Option<&[u8]>,
    ) -> Result<Verified, VerifyError> {
        self.verify_with_meter(envelope, detached, &self.meter())
    }

    /// [`Verifier::verify`], counting the work against `meter` (from
    /// [`Verifier::meter`]), which can then say how much was done, or be shared with
    /// further checks of the same envelope (the hops of a routing slip: see
    /// [`Verifier::session`], which keeps what those checks need).
    pub fn verify_with_meter(
        &self,
        envelope: &Envelope,
        detached: Option<&[u8]>,
        meter: &Meter,
    ) -> Result<Verified, VerifyError> {
        self.session(envelope, detached, meter)
            .map(VerificationSession::into_verified)
    }

    /// Verifies an envelope as [`Verifier::verify_with_meter`] does, and keeps what the
    /// verification built (the envelope's certificate store, its CRLs, the validation
    /// options, the meter) in a [`VerificationSession`], so that further signatures of the
    /// same envelope (the countersignatures of a routing slip's hops) are checked with
    /// them instead of building them again, under the same budget.
    pub fn session<'v>(
        &'v self,
        envelope: &Envelope,
        detached: Option<&[u8]>,
        meter: &Meter,
    ) -> Result<VerificationSession<'v>, VerifyError> {
        self.verify_envelope(envelope, detached, None, meter)
    }

    /// [`Verifier::verify`], with `certificates` as if the envelope carried them (after
    /// its own): a fedmsg-style message gives its signer's certificate and chain beside
    /// the signature, and a caller that keeps them indexed from one message to the next
    /// spares every verification indexing them again.
    pub fn verify_with_certificates(
        &self,
        envelope: &Envelope,
        detached: Option<&[u8]>,
        certificates: &CertStore,
    ) -> Result<Verified, VerifyError> {
        self.verify_envelope(envelope, detached, Some(certificates), &self.meter())
            .map(VerificationSession::into_verified)
    }

    fn verify_envelope<'v>(
        &'v self,
        envelope: &Envelope,
        detached: Option<&[u8]>,
        certificates: Option<&'v CertStore>,
        meter: &Meter,
    ) -> Result<VerificationSession<'v>, VerifyError> {
        let sd = envelope.signed_data();
        if sd.signer_infos.is_empty() {
            return Err(VerifyError::NoSigners);
        }
        // An S/MIME multipart/signed brings its content (the first part): other content
        // supplied with it would be verified in its place.
        if detached.is_some() && envelope.has_content() {
            return Err(VerifyError::ContentConflict);
        }
        let content = envelope
            .content_for_verification(detached)
            .ok_or(VerifyError::MissingContent)?;
        let result = self.verify_content(envelope, content, certificates, meter);
        // An S/MIME body may have been signed in canonical (CRLF) form.
        match (&result, envelope.canonical_smime_content()) {
            (Err(e), Some(canonical)) if detached.is_none() && e.is_content_mismatch() => self
                .verify_content(envelope, &canonical, certificates, meter)
                .or(result),
            _ => result,
        }
    }

    fn verify_content<'v>(
        &'v self,
        envelope: &Envelope,
        content: &[u8],
        certificates: Option<&'v CertStore>,
        meter: &Meter,
    ) -> Result<VerificationSession<'v>, VerifyError> {
        let mut session = self.session_of(
            envelope.signed_data(),
            envelope.format(),
            Content::Bytes(content),
            certificates,
            meter,
        )?;
        session.verified.content = content.to_vec();
        Ok(session)
    }

    /// Verifies the signers of `sd` over `content` (its bytes, or its digests computed
    /// while it streamed past). The result holds no content: callers put it there.
    pub(crate) fn verify_signed_data(
        &self,
        sd: &SignedData,
        format: Format,
        content: Content<'_>,
        certificates: Option<&CertStore>,
        meter: &Meter,
    ) -> Result<Verified, VerifyError> {
        self.session_of(sd, format, content, certificates, meter)
            .map(VerificationSession::into_verified)
    }

    /// [`Verifier::verify_signed_data`], keeping the certificate store, CRLs and options
    /// it built (once per envelope) for further signatures of the same envelope.
    fn session_of<'v>(
        &'v self,
        sd: &SignedData,
        format: Format,
        content: Content<'_>,
        certificates: Option<&'v CertStore>,
        meter: &Meter,
    ) -> Result<VerificationSession<'v>, VerifyError> {
        if sd.signer_infos.is_empty() {
            return Err(VerifyError::NoSigners);
        }
        let options = self.validation_options(self.time());
        let embedded = match certificates {
            Some(given) if sd.x509_certificates().next().is_none() => Cow::Borrowed(given),
            Some(given) => {
                let mut store = CertStore::from_certificates(sd.x509_certificates().cloned());
                for c in given.iter() {
                    store.add(c.clone());
                }
                Cow::Owned(store)
            }
            None => Cow::Owned(CertStore::from_certificates(
                sd.x509_certificates().cloned(),
            )),
        };
        let crls = self.envelope_crls(sd)?;
        let ctx = SignerInputs {
            content,
            content_type: sd.encap_content_info.content_type,
            embedded: &embedded,
            crls: &crls,
            options,
            digests: std::cell::RefCell::new(HashMap::new()),
            meter: meter.clone(),
        };
        let verified = self.verify_signers(sd, format, &ctx)?;
        let SignerInputs { options, meter, .. } = ctx;
        Ok(VerificationSession {
            verifier: self,
            verified,
            embedded,
            crls,
            options,
            meter,
        })
    }

    /// Verifies every signer of `sd` with `ctx`, as [`SignerRequirement`] asks.
    fn verify_signers(
        &self,
        sd: &SignedData,
        format: Format,
        ctx: &SignerInputs<'_>,
    ) -> Result<Verified, VerifyError> {
        let mut signers = Vec::new();
        let mut rejected = Vec::new();
        for (index, si) in sd.signer_infos.iter().enumerate() {
            let outcome = self.signer_timestamp(si, ctx).and_then(|timestamp| {
                match timestamp.as_ref().filter(|_| self.at_timestamp) {
                    // The signer's path at the proven time, as of then.
                    Some(ts) => {
                        let mut options = ctx.options.clone();
                        options.time = ts.gen_time;
                        options.at_proven_time = true;
                        // CRLs stapled to the envelope are the revocation data of the
                        // signing time: applied (the signer's required) even when the
                        // verifier has none of its own.
                        if self.revocation.is_none() && self.crls.is_empty() && !sd.crls.is_empty()
                        {
                            options.revocation = RevocationPolicy::RequireEndEntity;
                        }
                        self.verify_signer(&ctx.with_options(options), si)
                    }
                    None => self.verify_signer(ctx, si),
                }
                .map(|ok| (ok, timestamp))
            });
            match outcome {
                Ok(((certificate, path, signing_time, digest, scheme), timestamp)) => {
                    signers.push(VerifiedSigner {
                        index,
                        certificate,
                        path,
                        signing_time,
                        digest,
                        signature_algorithm: scheme.describe(Some(digest)),
                        signer_info: si.clone(),
                        timestamp,
                    })
                }
                Err(error) => {
                    // A spent budget ends the envelope: the other signers would only
                    // spend more (fail closed, bounded).
                    if self.requirement == SignerRequirement::All || error.is_budget_exceeded() {
                        return Err(VerifyError::Signer {
                            index,
                            signer: describe_sid(&si.sid),
                            error,
                        });
                    }
                    rejected.push(RejectedSigner { index, error });
                }
            }
        }
        if signers.is_empty() {
            let first = rejected.remove(0);
            return Err(VerifyError::Signer {
                index: first.index,
                signer: describe_sid(&sd.signer_infos[first.index].sid),
                error: first.error,
            });
        }
        Ok(Verified {
            content: Vec::new(),
            content_type: ctx.content_type,
            signers,
            rejected,
            format,
            authenticated: matches!(self.trust, Trust::Anchors(_)),
        })
    }

    /// Validates `cert`'s path (through the cache), with `embedded` certificates as extra
    /// intermediates, under a fresh [`Meter`].
    pub fn validate_certificate(
        &self,
        cert: &Certificate,
        embedded: &CertStore,
        crls: &CrlSet,
        options: &ValidationOptions,
    ) -> Result<ValidatedPath, PathError> {
        self.validate_certificate_with_meter(cert, embedded, crls, options, &self.meter())
    }

    /// [`Verifier::validate_certificate`], counting the work against `meter`.
    pub fn validate_certificate_with_meter(
        &self,
        cert: &Certificate,
        embedded: &CertStore,
        crls: &CrlSet,
        options: &ValidationOptions,
        meter: &Meter,
    ) -> Result<ValidatedPath, PathError> {
        let Trust::Anchors(anchors) = &self.trust else {
            return Err(PathError::NoTrustAnchors);
        };
        // At a proven past time, revocation depends on the exact time (an entry's
        // revocationDate), which the cache's time buckets do not keep apart.
        let cache = self.cache.as_ref().filter(|_| !options.at_proven_time);
        if let Some(cache) = cache
            && let Some(path) = cache.get(cert, anchors, crls, options)
        {
            return Ok(path);
        }
        let path = trust::validate_with_meter(
            cert,
            anchors,
            &[embedded, &self.store],
            crls,
            options,
            meter,
        )?;
        if let Some(cache) = cache {
            cache.insert(cert, anchors, crls, options, path.clone());
        }
        Ok(path)
    }

    /// Verifies one `SignerInfo` over `content` (or, for a countersignature, over the
    /// countersigned signature value, with `content_type` `None`), counting the work
    /// against `meter` (the envelope's, so that every hop of a routing slip shares one
    /// budget). A countersignature is checked through
    /// [`VerificationSession::verify_countersignature`], which supplies the envelope's
    /// store, CRLs, options and meter; a time-stamp token's signer directly.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn verify_signer_info_with_meter(
        &self,
        si: &SignerInfo,
        content: &[u8],
        content_type: Option<Oid>,
        embedded: &CertStore,
        crls: &CrlSet,
        options: &ValidationOptions,
        meter: &Meter,
    ) -> Result<VerifiedSigner, SignerError> {
        let ctx = SignerInputs {
            content: Content::Bytes(content),
            content_type: content_type.unwrap_or(oid::ID_DATA),
            embedded,
            crls,
            options: options.clone(),
            digests: std::cell::RefCell::new(HashMap::new()),
            meter: meter.clone(),
        };
        let (certificate, path, signing_time, digest, scheme) =
            self.verify_signer_as(&ctx, si, content_type.is_none())?;
        Ok(VerifiedSigner {
            index: 0,
            certificate,
            path,
            signing_time,
            digest,
            signature_algorithm: scheme.describe(Some(digest)),
            signer_info: si.clone(),
            timestamp: None,
        })
    }

    /// The signer's time-stamp, verified (at the verifier's time), when TSA trust is
    /// configured; refusals as [`Verifier::at_timestamp`] describes.
    fn signer_timestamp(
        &self,
        si: &SignerInfo,
        ctx: &SignerInputs<'_>,
    ) -> Result<Option<crate::rfc3161::Timestamp>, SignerError> {
        use crate::rfc3161::TimestampError;
        if self.timestamps.is_none() && !self.at_timestamp {
            // Not asked about: tokens are left alone, as any unsigned attribute is.
            return Ok(None);
        }
        let token = crate::rfc3161::token(si).map_err(SignerError::Timestamp)?;
        match (token, &self.timestamps) {
            (None, _) if self.at_timestamp => Err(SignerError::Timestamp(TimestampError::Missing)),
            (Some(_), None) if self.at_timestamp => {
                Err(SignerError::Timestamp(TimestampError::NoTrust))
            }
            (None, _) | (Some(_), None) => Ok(None),
            (Some(token), Some(trust)) => trust
                .verify_token(token, &si.signature, ctx.options.time, None, &ctx.meter)
                .map(Some)
                .map_err(SignerError::Timestamp),
        }
    }

    fn verify_signer(
        &self,
        ctx: &SignerInputs<'_>,
        si: &SignerInfo,
    ) -> Result<SignerOk, SignerError> {
        self.verify_signer_as(ctx, si, false)
    }

    /// `countersignature`: the signed attributes must not (instead of must) carry a
    /// content-type (RFC 5652 §11.4).
    fn verify_signer_as(
        &self,
        ctx: &SignerInputs<'_>,
        si: &SignerInfo,
        countersignature: bool,
    ) -> Result<SignerOk, SignerError> {
        let digest = DigestAlgorithm::from_algorithm_identifier(&si.digest_algorithm)
            .map_err(SignerError::Algorithm)?;
        self.algorithms
            .check_digest(digest)
            .map_err(SignerError::Algorithm)?;
        let scheme = SignatureScheme::from_algorithm_identifier(&si.signature_algorithm)
            .map_err(SignerError::Algorithm)?;
        let consistent = match scheme {
            SignatureScheme::Ed25519 => digest == DigestAlgorithm::Sha512,
            // RFC 9882 §3.3: the message-digest attribute's hash at least twice ML-DSA's
            // collision strength; without signed attributes the digestAlgorithm is not
            // part of what is signed.
            SignatureScheme::MlDsa(set) => si.signed_attrs.is_none() || digest >= set.min_digest(),
            _ => scheme.named_digest().is_none_or(|d| d == digest),
        };
        if !consistent {
            return Err(SignerError::AlgorithmMismatch(
                AlgorithmError::DigestMismatch {
                    digest,
                    signature: scheme.describe(None),
                },
            ));
        }

        let candidates = self.find_signer(&si.sid, ctx.embedded);
        if candidates.is_empty() {
            return Err(SignerError::CertificateNotFound(describe_sid(&si.sid)));
        }

        let content_digest = ctx
            .digest(digest)
            .ok_or(SignerError::DigestNotAnnounced(digest))?;
        let (message, signing_time): (Cow<'_, [u8]>, Option<u64>) = match &si.signed_attrs {
            Some(attrs) => {
                let signing_time = check_signed_attributes(
                    attrs,
                    (!countersignature).then_some(ctx.content_type),
                    &content_digest,
                )?;
                (Cow::Owned(attrs.signed_bytes()), signing_time)
            }
            None => {
                if ctx.content_type != oid::ID_DATA || countersignature {
                    return Err(SignerError::AttributesRequired(ctx.content_type));
                }
                match (ctx.content.bytes(), &scheme) {
                    (Some(bytes), _) => (Cow::Borrowed(bytes), None),
                    // Only the digest is used below.
                    (None, s) if !s.is_pure() => (Cow::Borrowed(&[][..]), None),
                    (None, _) => return Err(SignerError::ContentNotRetained),
                }
            }
        };

        // What identifies the signed bytes in the signature memo and cache (computed once,
        // not per candidate): a hash of the signed attributes, or the content digest.
        let message_id: Cow<'_, [u8]> = match &si.signed_attrs {
            Some(_) => Cow::Owned(
                ctx.options
                    .provider
                    .digest(DigestAlgorithm::Sha256, &message),
            ),
            None => Cow::Borrowed(&content_digest),
        };
        let max_bits = self.budget.max_rsa_bits;
        let signature_algorithm = der::Encode::to_der(&si.signature_algorithm).unwrap_or_default();
        let mut last = SignerError::BadSignature;
        for cert in candidates {
            // Every candidate counts, whatever it costs: 255 certificates sharing one
            // subjectKeyIdentifier must not mean 255 signature checks per signer.
            ctx.meter.tick_candidate().map_err(SignerError::Untrusted)?;
            let mut path = None;
            let key = match cert.public_key_bounded(None, max_bits) {
                Ok(k) => k,
                Err(KeyError::MissingDsaParameters) => {
                    // The key inherits its DSA parameters along the path (RFC 3279).
                    let p = self.path(&cert, ctx)?;
                    let k = trust::end_entity_key(&p, max_bits).map_err(SignerError::Untrusted)?;
                    path = Some(p);
                    Arc::new(PreparedPublicKey::new(k))
                }
                Err(e @ KeyError::TooLarge { .. }) => {
                    last = SignerError::KeyTooLarge(e.to_string());
                    continue;
                }
                Err(e) => {
                    last = SignerError::BadKey(e.to_string());
                    continue;
                }
            };
            key.key()
                .check_scheme(&scheme, digest, &self.algorithms)
                .map_err(|e| match e {
                    AlgorithmError::LegacyDigest(_) => SignerError::Algorithm(e),
                    e => SignerError::AlgorithmMismatch(e),
                })?;
            let mode: &[u8] = match (&si.signed_attrs, &scheme) {
                (Some(_), _) => b"signed attributes",
                (None, s) if s.is_pure() => b"content",
                (None, _) => b"content digest",
            };
            let id = trust::prepared_signature_id(
                &key,
                &[mode, &signature_algorithm, digest.name().as_bytes()],
                &message_id,
                &si.signature,
            );
            // The signed attributes, or the content itself for a pure scheme: verified over
            // `message`; otherwise over the content digest.
            let good = if si.signed_attrs.is_some() || scheme.is_pure() {
                ctx.meter.signature(id, message.len(), || {
                    ctx.options
                        .provider
                        .verify_prepared(&key, &scheme, digest, &message, &si.signature)
                        .is_ok()
                })
            } else {
                ctx.meter.signature(id, content_digest.len(), || {
                    ctx.options
                        .provider
                        .verify_prehash(key.key(), &scheme, digest, &content_digest, &si.signature)
                        .is_ok()
                })
            }
            .map_err(SignerError::Untrusted)?;
            if !good {
                last = SignerError::BadSignature;
                continue;
            }
            let path = match (path, &self.trust) {
                (Some(p), _) => Some(p),
                (None, Trust::Anchors(_)) => Some(self.path(&cert, ctx)?),
                (None, Trust::SignatureOnly) => None,
            };
            return Ok((cert, path, signing_time, digest, scheme));
        }
        Err(last)
    }

    fn path(
        &self,
        cert: &Certificate,
        ctx: &SignerInputs<'_>,
    ) -> Result<ValidatedPath, SignerError> {
        self.validate_certificate_with_meter(cert, ctx.embedded, ctx.crls, &ctx.options, &ctx.meter)
            .map_err(SignerError::Untrusted)
    }

    /// Certificates matching `sid`, envelope first, then the store.
    fn find_signer(&self, sid: &SignerIdentifier, embedded: &CertStore) -> Vec<Certificate> {
        let mut out: Vec<Certificate> = Vec::new();
        for store in [embedded, &self.store] {
            let found: Vec<&Certificate> = match sid {
                SignerIdentifier::IssuerAndSerialNumber(ias) => store
                    .by_issuer_name_serial(&ias.issuer, ias.serial_number.as_bytes())
                    .into_iter()
                    .collect(),
                SignerIdentifier::SubjectKeyIdentifier(ski) => {
                    store.by_ski(ski.0.as_bytes()).collect()
                }
            };
            for c in found {
                if !out.contains(c) {
                    out.push(c.clone());
                }
            }
        }
        out
    }
}

type SignerOk = (
    Certificate,
    Option<ValidatedPath>,
    Option<u64>,
    DigestAlgorithm,
    SignatureScheme,
);

/// The content a verification checks signatures over.
#[derive(Clone, Copy)]
pub(crate) enum Content<'a> {
    /// The content itself.
    Bytes(&'a [u8]),
    /// Digests of content that streamed past, and the content itself when it was short
    /// enough to keep.
    Digested {
        digests: &'a HashMap<DigestAlgorithm, Vec<u8>>,
        retained: Option<&'a [u8]>,
    },
}

impl<'a> Content<'a> {
    fn bytes(&self) -> Option<&'a [u8]> {
        match self {
            Self::Bytes(b) => Some(b),
            Self::Digested { retained, .. } => *retained,
        }
    }
}

/// What one envelope's signers are checked with. The certificate store and CRLs are
/// borrowed (from the [`VerificationSession`] that keeps them, or a caller's): a signer
/// checked under other options ([`SignerInputs::with_options`]) shares them instead of
/// copying them.
struct SignerInputs<'a> {
    content: Content<'a>,
    content_type: Oid,
    embedded: &'a CertStore,
    crls: &'a CrlSet,
    options: ValidationOptions,
    digests: std::cell::RefCell<HashMap<DigestAlgorithm, Vec<u8>>>,
    meter: Meter,
}

impl<'a> SignerInputs<'a> {
    /// The same envelope under other validation options (one signer's proven time); the
    /// content digests are shared by copying those already computed.
    fn with_options(&self, options: ValidationOptions) -> SignerInputs<'a> {
        SignerInputs {
            content: self.content,
            content_type: self.content_type,
            embedded: self.embedded,
            crls: self.crls,
            options,
            digests: std::cell::RefCell::new(self.digests.borrow().clone()),
            meter: self.meter.clone(),
        }
    }

    /// The content digest, computed once per algorithm (`None`: streamed content that
    /// was not hashed with `alg`).
    fn digest(&self, alg: DigestAlgorithm) -> Option<Vec<u8>> {
        match self.content {
            Content::Bytes(content) => Some(
                self.digests
                    .borrow_mut()
                    .entry(alg)
                    .or_insert_with(|| self.options.provider.digest(alg, content))
                    .clone(),
            ),
            Content::Digested { digests, .. } => digests.get(&alg).cloned(),
        }
    }
}

/// Checks RFC 5652 §5.3/§11 rules on signed attributes; returns the signing time.
/// `content_type` is `None` for countersignatures (which must not carry one).
fn check_signed_attributes(
    attrs: &Attributes,
    content_type: Option<Oid>,
    content_digest: &[u8],
) -> Result<Option<u64>, SignerError> {
    let single = |oid: Oid| -> Result<Option<&[u8]>, SignerError> {
        let mut it = attrs.get(oid);
        let Some(first) = it.next() else {
            return Ok(None);
        };
        if it.next().is_some() || first.values.len() != 1 {
            return Err(SignerError::DuplicateAttribute(oid));
        }
        Ok(Some(&first.values[0]))
    };
    if attrs.get(oid::ID_COUNTERSIGNATURE).next().is_some() {
        return Err(SignerError::CountersignatureSigned);
    }
    let ct = single(oid::ID_CONTENT_TYPE)?;
    match (content_type, ct) {
        (Some(_), None) => return Err(SignerError::MissingContentType),
        (Some(expected), Some(raw)) => {
            let got = Oid::from_der(raw)
                .map_err(|_| SignerError::MalformedAttribute(oid::ID_CONTENT_TYPE))?;
            if got != expected {
                return Err(SignerError::ContentTypeMismatch {
                    attribute: got,
                    econtent: expected,
                });
            }
        }
        (None, Some(_)) => return Err(SignerError::ContentTypeInCountersignature),
        (None, None) => {}
    }
    let md = single(oid::ID_MESSAGE_DIGEST)?.ok_or(SignerError::MissingMessageDigest)?;
    let md = der::asn1::OctetString::from_der(md)
        .map_err(|_| SignerError::MalformedAttribute(oid::ID_MESSAGE_DIGEST))?;
    if md.as_bytes() != content_digest {
        return Err(SignerError::MessageDigestMismatch);
    }
    let signing_time = match single(oid::ID_SIGNING_TIME)? {
        Some(raw) => {
            Some(decode_time(raw).ok_or(SignerError::MalformedAttribute(oid::ID_SIGNING_TIME))?)
        }
        None => None,
    };
    Ok(signing_time)
}

/// Decodes a UTCTime or GeneralizedTime TLV to seconds since the epoch.
pub fn decode_time(raw: &[u8]) -> Option<u64> {
    x509_cert::time::Time::from_der(raw)
        .ok()
        .map(|t| t.to_unix_duration().as_secs())
}

/// A signer identifier as text (`issuer CN=CA, serial 0a1b` or `ski 01ab...`).
pub fn describe_sid(sid: &SignerIdentifier) -> String {
    match sid {
        SignerIdentifier::IssuerAndSerialNumber(ias) => format!(
            "issuer {}, serial {}",
            waxseal_trust::name::display(&ias.issuer),
            hex::encode(ias.serial_number.as_bytes())
        ),
        SignerIdentifier::SubjectKeyIdentifier(ski) => {
            format!("subject key id {}", hex::encode(ski.0.as_bytes()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rfc3161::TimestampError;

    fn spent() -> SignerError {
        SignerError::Untrusted(PathError::BudgetExceeded { what: "paths" })
    }

    /// A spent budget is told by type wherever it is nested, exactly where its reason
    /// code is `budget-exceeded`: it ends the envelope, the other signers are not tried.
    #[test]
    fn a_spent_budget_is_known_by_its_kind_and_agrees_with_its_code() {
        let cases = [
            (spent(), true),
            (
                SignerError::Timestamp(TimestampError::BadSignature(Box::new(spent()))),
                true,
            ),
            (SignerError::BadSignature, false),
            (SignerError::Untrusted(PathError::NoTrustAnchors), false),
            (
                SignerError::Timestamp(TimestampError::BadSignature(Box::new(
                    SignerError::BadSignature,
                ))),
                false,
            ),
        ];
        for (e, spent) in cases {
            assert_eq!(e.is_budget_exceeded(), spent, "{}", e.code());
            assert_eq!(e.code() == "budget-exceeded", spent, "{}", e.code());
        }
        let e = VerifyError::BudgetExceeded("CRL bytes");
        assert_eq!(e.kind(), ErrorKind::Budget);
    }

    /// Only a digest or signature that does not match the content sends an S/MIME body
    /// to its canonical form; an untrusted signer or a malformed attribute does not.
    #[test]
    fn only_a_content_mismatch_retries_the_canonical_form() {
        let signer = |error| VerifyError::Signer {
            index: 0,
            signer: "s".into(),
            error,
        };
        assert!(signer(SignerError::MessageDigestMismatch).is_content_mismatch());
        assert!(signer(SignerError::BadSignature).is_content_mismatch());
        for e in [
            signer(SignerError::Untrusted(PathError::NoTrustAnchors)),
            signer(SignerError::MissingMessageDigest),
            VerifyError::MissingContent,
        ] {
            assert!(!e.is_content_mismatch(), "{}", e.code());
        }
    }
}
