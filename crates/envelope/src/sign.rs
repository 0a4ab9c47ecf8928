//! Signing: [`Signer`] (one key and certificate), and adding its `SignerInfo` to a
//! [`SignedData`]. [`crate::EnvelopeBuilder`] (in [`crate::envelope`]) assembles new
//! envelopes from it; this module does not know about [`crate::Envelope`], so the imports run
//! one way (envelope -> sign -> rfc5652).
//!
//! Written on top of the RFC 5652 types rather than `cms`'s builder, which (0.3.0-rc.0)
//! omits signing-time, duplicates a user-added message-digest, keeps duplicate digest
//! algorithms and certificates, does not check the digest against the key, picks SKI
//! signer identifiers whenever a certificate has the extension, and can panic in `build()`.

use const_oid::ObjectIdentifier as Oid;
use der::Encode;
use x509_cert::ext::pkix::SubjectKeyIdentifier;

use crate::oid;
use crate::rfc5652::{
    Attribute, Attributes, CertificateChoice, SignedData, SignerIdentifier, SignerInfo,
};
use waxseal_trust::algorithm::{AlgorithmError, DigestAlgorithm};
use waxseal_trust::cert::Certificate;
use waxseal_trust::key::{KeyError, PrivateKey};
use waxseal_trust::provider::{PreparedPrivateKey, Provider};

/// Why an envelope could not be signed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SignError {
    /// The private key could not be used.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The private key is not the certificate's.
    #[error("the private key does not match the certificate {0}")]
    KeyMismatch(String),
    /// An algorithm choice that does not fit the key, or is refused.
    #[error(transparent)]
    Algorithm(#[from] AlgorithmError),
    /// `--signer-id ski` with a certificate lacking subjectKeyIdentifier.
    #[error(
        "certificate {0} has no subjectKeyIdentifier; identify the signer by issuer and serial number"
    )]
    MissingSubjectKeyIdentifier(String),
    /// Content other than id-data without signed attributes (RFC 5652 §5.3).
    #[error("content type {} requires signed attributes", oid::name(.0))]
    AttributesRequired(Oid),
    /// An extra signed attribute that waxseal sets itself.
    #[error("attribute {} is set by waxseal and cannot be given", oid::name(.0))]
    ReservedAttribute(Oid),
    /// No signer was added.
    #[error("no signer given")]
    NoSigners,
    /// A detached envelope needs its content to add a signer.
    #[error("the envelope is detached: the content is needed to add a signer")]
    MissingContent,
    /// Streamed content can be signed only through signed attributes (a signer without
    /// them signs the content itself, which would have to sit in memory).
    #[error("content read from a stream can only be signed with signed attributes")]
    StreamingWithoutAttributes,
    /// The content changed while it was being signed (a file read twice to write
    /// definite lengths had another length the second time).
    #[error("the content changed while it was being signed")]
    ContentChanged,
    /// Reading the content or writing the envelope failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// How the signer is identified in `SignerInfo.sid`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SignerIdKind {
    /// `issuerAndSerialNumber` (version 1 SignerInfo; the default).
    #[default]
    IssuerSerial,
    /// `subjectKeyIdentifier` (version 3 SignerInfo).
    SubjectKeyIdentifier,
}

/// One signing identity with its options. Cloning it (to derive a variant with
/// [`Signer::with_signed_attribute`] and the like) clones the private key.
///
/// The key is kept prepared ([`PreparedPrivateKey`]): what the cryptography provider
/// makes from it (graviola's RSA key and its Montgomery parameters, for example) is made
/// on the first signature and reused by every later one, and shared by clones.
#[derive(Debug, Clone)]
pub struct Signer {
    key: PreparedPrivateKey,
    cert: Certificate,
    chain: Vec<Certificate>,
    digest: DigestAlgorithm,
    signer_id: SignerIdKind,
    signed_attributes: bool,
    rsa_pss: bool,
    extra_attributes: Vec<Attribute>,
    signing_time: Option<u64>,
    provider: Provider,
}

impl Signer {
    /// A signer for `cert` with `key`, which must be the certificate's key. Defaults:
    /// the key's usual digest (SHA-256; SHA-384 for P-384; SHA-512 for Ed25519), signed
    /// attributes, issuer-and-serial identification, PKCS #1 v1.5 for RSA.
    ///
    /// An RSA key whose certificate is id-RSASSA-PSS (or which is one itself, in PKCS #8)
    /// signs only with RSASSA-PSS and within the parameters of both: their hash (also the
    /// default digest) and at least their salt length. Contradicting restrictions are an
    /// error.
    pub fn new(cert: Certificate, key: PrivateKey) -> Result<Self, SignError> {
        use waxseal_trust::key::PublicKey;
        let cert_key = PublicKey::from_spki(cert.public_key_info())?;
        let same = match (key.public_key(), &cert_key) {
            (
                PublicKey::Rsa(a) | PublicKey::RsaPss(a, _),
                PublicKey::Rsa(b) | PublicKey::RsaPss(b, _),
            ) => a == *b,
            (public, cert_key) => public == *cert_key,
        };
        if !same {
            return Err(SignError::KeyMismatch(cert.subject_display()));
        }
        let key = match (&cert_key, key.pss_restriction()) {
            (PublicKey::RsaPss(_, Some(c)), Some(Some(k))) if *c != k => {
                return Err(SignError::Algorithm(AlgorithmError::PssKeyRestriction {
                    signature: format!(
                        "the private key's rsa-pss-{} (salt {})",
                        k.digest, k.min_salt_len
                    ),
                    allowed: format!(
                        "the certificate's rsa-pss-{} (salt {})",
                        c.digest, c.min_salt_len
                    ),
                }));
            }
            (PublicKey::RsaPss(_, Some(c)), _) => key.into_rsa_pss(Some(*c))?,
            (PublicKey::RsaPss(_, None), None) => key.into_rsa_pss(None)?,
            _ => key,
        };
        Ok(Self {
            digest: key.default_digest(),
            key: PreparedPrivateKey::new(key),
            cert,
            chain: Vec::new(),
            signer_id: SignerIdKind::default(),
            signed_attributes: true,
            rsa_pss: false,
            extra_attributes: Vec::new(),
            signing_time: None,
            provider: Provider::default(),
        })
    }

    /// Uses `digest`; fails when it does not fit the key (Ed25519 needs SHA-512).
    pub fn with_digest(mut self, digest: DigestAlgorithm) -> Result<Self, SignError> {
        self.key.key().check_digest(digest, self.rsa_pss)?;
        self.digest = digest;
        Ok(self)
    }

    /// RSASSA-PSS instead of PKCS #1 v1.5 (RSA keys only). RSASSA-PSS keys always sign
    /// with PSS: `false` does not change that.
    pub fn with_rsa_pss(mut self, pss: bool) -> Result<Self, SignError> {
        self.key.key().check_digest(self.digest, pss)?;
        self.rsa_pss = pss;
        Ok(self)
    }

    /// How to identify the signer.
    pub fn with_signer_id(mut self, kind: SignerIdKind) -> Result<Self, SignError> {
        if kind == SignerIdKind::SubjectKeyIdentifier
            && self.cert.subject_key_identifier().is_none()
        {
            return Err(SignError::MissingSubjectKeyIdentifier(
                self.cert.subject_display(),
            ));
        }
        self.signer_id = kind;
        Ok(self)
    }

    /// Sign the content directly, without signed attributes (Keystone's PKI tokens:
    /// `openssl cms -sign -noattr`). Only for id-data content.
    pub fn without_signed_attributes(mut self) -> Self {
        self.signed_attributes = false;
        self
    }

    /// Certificates to embed after the signer's own (its chain up to, not including,
    /// the root).
    pub fn with_chain(mut self, chain: Vec<Certificate>) -> Self {
        self.chain = chain;
        self
    }

    /// An extra signed attribute (hop metadata, content hints...).
    pub fn with_signed_attribute(mut self, attr: Attribute) -> Result<Self, SignError> {
        if [
            oid::ID_CONTENT_TYPE,
            oid::ID_MESSAGE_DIGEST,
            oid::ID_SIGNING_TIME,
        ]
        .contains(&attr.oid)
        {
            return Err(SignError::ReservedAttribute(attr.oid));
        }
        self.extra_attributes.push(attr);
        Ok(self)
    }

    /// A fixed signing time (seconds since the epoch) instead of the current time.
    pub fn with_signing_time(mut self, time: u64) -> Self {
        self.signing_time = Some(time);
        self
    }

    /// The cryptography that signs and hashes the content (streamed content too):
    /// [`Provider::default`] unless set.
    pub fn with_provider(mut self, provider: Provider) -> Self {
        self.provider = provider;
        self
    }

    /// The cryptography this signer uses.
    pub fn provider(&self) -> &Provider {
        &self.provider
    }

    /// The signer's certificate.
    pub fn certificate(&self) -> &Certificate {
        &self.cert
    }

    /// The chain embedded after the certificate.
    pub fn chain(&self) -> &[Certificate] {
        &self.chain
    }

    /// The digest algorithm.
    pub fn digest(&self) -> DigestAlgorithm {
        self.digest
    }

    /// Signs raw `message` bytes with this signer's RSA key, PKCS #1 v1.5 over SHA-1
    /// ([`PreparedPrivateKey::sign_legacy_rsa_pkcs1_sha1`]): no envelope, no attributes. Only for
    /// legacy wire formats that verify nothing better (fedmsg 1.x's `x509` messages).
    pub fn sign_legacy_rsa_pkcs1_sha1(&self, message: &[u8]) -> Result<Vec<u8>, SignError> {
        Ok(self
            .key
            .sign_legacy_rsa_pkcs1_sha1(&self.provider, message)?)
    }

    /// Whether the signer signs through signed attributes (the default).
    pub fn has_signed_attributes(&self) -> bool {
        self.signed_attributes
    }

    /// The `SignerInfo` version this signer writes (1, or 3 with a subjectKeyIdentifier).
    pub(crate) fn signer_info_version(&self) -> u8 {
        match self.signer_id {
            SignerIdKind::IssuerSerial => 1,
            SignerIdKind::SubjectKeyIdentifier => 3,
        }
    }

    fn sid(&self) -> (u8, SignerIdentifier) {
        match self.signer_id {
            SignerIdKind::IssuerSerial => (
                1,
                SignerIdentifier::IssuerAndSerialNumber(cms::cert::IssuerAndSerialNumber {
                    issuer: self.cert.issuer().clone(),
                    serial_number: self.cert.x509().tbs_certificate().serial_number().clone(),
                }),
            ),
            SignerIdKind::SubjectKeyIdentifier => {
                let ski = self.cert.subject_key_identifier().unwrap_or_default();
                (
                    3,
                    SignerIdentifier::SubjectKeyIdentifier(SubjectKeyIdentifier(
                        der::asn1::OctetString::new(ski).expect("key identifiers are short"),
                    )),
                )
            }
        }
    }

    /// Signs `content` of type `content_type` whose digest (with [`Signer::digest`]) is
    /// `content_digest`.
    pub(crate) fn sign_content(
        &self,
        content_type: Oid,
        content: &[u8],
        content_digest: &[u8],
    ) -> Result<SignerInfo, SignError> {
        if !self.signed_attributes {
            if content_type != oid::ID_DATA {
                return Err(SignError::AttributesRequired(content_type));
            }
            let (signature_algorithm, signature) =
                self.key
                    .sign(&self.provider, content, self.digest, self.rsa_pss)?;
            return Ok(self.signer_info(None, signature_algorithm, signature));
        }
        self.sign_attributes(Some(content_type), content_digest)
    }

    /// Builds, signs and returns a `SignerInfo` whose signed attributes carry
    /// `content_type` (if any), signing-time, message-digest and the extra attributes.
    fn sign_attributes(
        &self,
        content_type: Option<Oid>,
        digest: &[u8],
    ) -> Result<SignerInfo, SignError> {
        let mut attrs = Vec::new();
        if let Some(ct) = content_type {
            attrs.push(Attribute::new(
                oid::ID_CONTENT_TYPE,
                ct.to_der().expect("OIDs encode"),
            ));
        }
        let time = self.signing_time.unwrap_or_else(waxseal_trust::time::now);
        attrs.push(Attribute::new(
            oid::ID_SIGNING_TIME,
            encode_signing_time(time),
        ));
        attrs.push(Attribute::new(
            oid::ID_MESSAGE_DIGEST,
            waxseal_trust::asn1::tlv(0x04, digest),
        ));
        attrs.extend(self.extra_attributes.iter().cloned());
        let attrs = Attributes::from_items(attrs);
        let (signature_algorithm, signature) = self.key.sign(
            &self.provider,
            &attrs.signed_bytes(),
            self.digest,
            self.rsa_pss,
        )?;
        Ok(self.signer_info(Some(attrs), signature_algorithm, signature))
    }

    fn signer_info(
        &self,
        signed_attrs: Option<Attributes>,
        signature_algorithm: spki::AlgorithmIdentifierOwned,
        signature: Vec<u8>,
    ) -> SignerInfo {
        let (version, sid) = self.sid();
        SignerInfo {
            version,
            sid,
            digest_algorithm: self.digest.algorithm_identifier(),
            signed_attrs,
            signature_algorithm,
            signature,
            unsigned_attrs: None,
        }
    }

    /// A countersignature of `signer_info` (RFC 5652 §11.4): a `SignerInfo` over its
    /// signature value, with signing-time and message-digest but no content-type.
    pub fn countersign(&self, signer_info: &SignerInfo) -> Result<SignerInfo, SignError> {
        let digest = self.provider.digest(self.digest, &signer_info.signature);
        self.sign_attributes(None, &digest)
    }
}

/// Encodes signing-time: UTCTime through 2049, GeneralizedTime after (RFC 5652 §11.3).
fn encode_signing_time(secs: u64) -> Vec<u8> {
    let d = std::time::Duration::from_secs(secs);
    let time = der::asn1::UtcTime::from_unix_duration(d)
        .ok()
        .and_then(|t| t.to_der().ok())
        .or_else(|| {
            der::asn1::GeneralizedTime::from_unix_duration(d)
                .ok()?
                .to_der()
                .ok()
        });
    time.expect("times after 1970 encode")
}

/// Signs `content` with `signer` and adds the result (digest algorithm, certificates,
/// `SignerInfo`) to `sd`, fixing up the version.
pub(crate) fn add_signer_to(
    sd: &mut SignedData,
    signer: &Signer,
    content: &[u8],
    include_certificates: bool,
) -> Result<(), SignError> {
    let digest = signer.provider.digest(signer.digest, content);
    add_signer_with_digest(sd, signer, &digest, Some(content), include_certificates)
}

/// [`add_signer_to`] for content already hashed with [`Signer::digest`]: `content` is
/// needed only by a signer without signed attributes.
pub(crate) fn add_signer_with_digest(
    sd: &mut SignedData,
    signer: &Signer,
    digest: &[u8],
    content: Option<&[u8]>,
    include_certificates: bool,
) -> Result<(), SignError> {
    let si = match content {
        Some(content) => {
            signer.sign_content(sd.encap_content_info.content_type, content, digest)?
        }
        None if !signer.signed_attributes => return Err(SignError::StreamingWithoutAttributes),
        None => signer.sign_content(sd.encap_content_info.content_type, &[], digest)?,
    };
    let alg = signer.digest.algorithm_identifier();
    if !sd.digest_algorithms.iter().any(|a| a.oid == alg.oid) {
        sd.digest_algorithms.push(alg);
    }
    if include_certificates {
        for cert in std::iter::once(&signer.cert).chain(&signer.chain) {
            let present = sd.x509_certificates().any(|c| c == cert);
            if !present {
                sd.certificates
                    .push(CertificateChoice::Certificate(cert.clone()));
            }
        }
    }
    sd.signer_infos.push(si);
    sd.version = signed_data_version(sd);
    Ok(())
}

/// `CMSVersion` of SignedData (RFC 5652 §5.1).
pub(crate) fn signed_data_version(sd: &SignedData) -> u8 {
    let other_certs = sd
        .certificates
        .iter()
        .any(|c| matches!(c, CertificateChoice::Other(raw) if raw.first() == Some(&0xa3)));
    if other_certs {
        5
    } else if sd.signer_infos.iter().any(|s| s.version == 3)
        || sd.encap_content_info.content_type != oid::ID_DATA
    {
        3
    } else {
        1
    }
}

/// The setters every envelope builder shares ([`crate::EnvelopeBuilder`],
/// [`crate::stream::StreamBuilder`]): the content type, whether certificates are embedded,
/// and the signers. The builder has the fields `content_type`, `include_certificates` and
/// `signers: Vec<&'a Signer>`; `$lt` is its lifetime.
macro_rules! signing_setters {
    ($lt:lifetime) => {
        /// The `eContentType` (default id-data). Other types require signed attributes.
        pub fn content_type(mut self, content_type: const_oid::ObjectIdentifier) -> Self {
            self.content_type = content_type;
            self
        }

        /// Embed the signers' certificates and chains (default) or not (`--no-certs`).
        pub fn include_certificates(mut self, include: bool) -> Self {
            self.include_certificates = include;
            self
        }

        /// Adds a signer.
        pub fn add_signer(mut self, signer: &$lt $crate::sign::Signer) -> Self {
            self.signers.push(signer);
            self
        }
    };
}
pub(crate) use signing_setters;
