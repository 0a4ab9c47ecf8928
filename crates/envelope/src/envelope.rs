//! [`Envelope`]: a parsed, not yet verified, CMS SignedData, and [`EnvelopeBuilder`], which
//! signs a new one. Signing itself is [`crate::sign`]'s; this module uses it, never the other
//! way round.

use crate::format::{self, Format};
use const_oid::ObjectIdentifier as Oid;

use crate::oid;
use crate::rfc5652::{EncapsulatedContentInfo, Limits, ParseError, SignedData};
use crate::sign::{SignError, Signer, add_signer_to};

/// A CMS SignedData envelope, parsed but **not verified**.
///
/// It gives access to the structure (signers, algorithms, certificates) for inspection
/// and for adding signers or countersignatures, but not to the content: that is handed
/// out only by a successful [`crate::Verifier::verify`].
#[derive(Debug, Clone)]
pub struct Envelope {
    signed_data: SignedData,
    format: Format,
    /// For `multipart/signed` input: the signed first body part.
    smime_content: Option<Vec<u8>>,
}

impl Envelope {
    /// Parses DER, BER, PEM, base64 or S/MIME (auto-detected) with default [`Limits`].
    pub fn parse(input: &[u8]) -> Result<Self, ParseError> {
        Self::parse_with_limits(input, &Limits::default())
    }

    /// Parses with explicit limits.
    pub fn parse_with_limits(input: &[u8], limits: &Limits) -> Result<Self, ParseError> {
        if input.len() > limits.max_input_len {
            return Err(ParseError::TooLarge {
                len: input.len(),
                max: limits.max_input_len,
            });
        }
        let unwrapped = format::unwrap(input)?;
        let der = waxseal_trust::asn1::normalize(
            &unwrapped.cms,
            limits.max_depth.min(crate::rfc5652::MAX_DEPTH_CAP),
        )?;
        let format = match (unwrapped.format, &der) {
            (Format::Der, std::borrow::Cow::Owned(_)) => Format::Ber,
            (f, _) => f,
        };
        let signed_data = SignedData::from_content_info(&der, limits)?;
        if unwrapped.detached_content.is_some() && !signed_data.encap_content_info.is_detached() {
            // RFC 8551 §3.5.3: the signature part of multipart/signed is detached. One that
            // carries content of its own would sign something other than the visible part.
            return Err(ParseError::Format(
                "multipart/signed signature part carries its own content (eContent); \
                 its signature must be detached"
                    .into(),
            ));
        }
        Ok(Self {
            signed_data,
            format,
            smime_content: unwrapped.detached_content,
        })
    }

    pub(crate) fn from_signed_data(signed_data: SignedData) -> Self {
        Self {
            signed_data,
            format: Format::Der,
            smime_content: None,
        }
    }

    /// The SignedData structure.
    pub fn signed_data(&self) -> &SignedData {
        &self.signed_data
    }

    /// Mutable access to the structure, for adding unsigned attributes such as
    /// countersignatures. Changing signed parts breaks their signatures.
    pub fn signed_data_mut(&mut self) -> &mut SignedData {
        &mut self.signed_data
    }

    /// The encoding the envelope was read from.
    pub fn format(&self) -> Format {
        self.format
    }

    /// Whether the content travels outside the envelope (detached signature). An
    /// S/MIME `multipart/signed` input is detached but brings its content along.
    pub fn is_detached(&self) -> bool {
        self.signed_data.encap_content_info.is_detached()
    }

    /// Whether the content came with the input (attached, or in a multipart/signed body).
    pub fn has_content(&self) -> bool {
        !self.is_detached() || self.smime_content.is_some()
    }

    /// The content to verify: attached, from the S/MIME body, or `detached`.
    pub(crate) fn content_for_verification<'a>(
        &'a self,
        detached: Option<&'a [u8]>,
    ) -> Option<&'a [u8]> {
        if let Some(body) = &self.smime_content {
            // A multipart/signed verifies its first part and nothing else.
            return self
                .signed_data
                .encap_content_info
                .is_detached()
                .then_some(body);
        }
        self.signed_data
            .encap_content_info
            .content()
            .or(detached)
            .or(self.smime_content.as_deref())
    }

    /// The content of an S/MIME `multipart/signed` body in canonical form (RFC 8551
    /// §3.1.1: CRLF line ends) when that differs from the received bytes. Signers in text
    /// mode sign the canonical form; `-binary` signers sign the bytes as sent.
    pub(crate) fn canonical_smime_content(&self) -> Option<Vec<u8>> {
        let raw = self.smime_content.as_deref()?;
        let canonical = format::canonical_crlf(raw);
        (canonical != raw).then_some(canonical)
    }

    /// DER encoding (`ContentInfo`).
    pub fn to_der(&self) -> Vec<u8> {
        self.signed_data.to_content_info_der()
    }

    /// PEM encoding (`-----BEGIN CMS-----`).
    pub fn to_pem(&self) -> String {
        format::to_pem(&self.to_der())
    }

    /// S/MIME: `application/pkcs7-mime` when the content is attached; `multipart/signed`
    /// with `content` as the first part when detached (`content` must then be given,
    /// in canonical CRLF form, and is what was signed).
    pub fn to_smime(&self, content: Option<&[u8]>) -> Result<Vec<u8>, SignError> {
        if !self.is_detached() {
            return Ok(format::to_smime_opaque(&self.to_der()));
        }
        let content = content
            .or(self.smime_content.as_deref())
            .ok_or(SignError::MissingContent)?;
        let mut micalg: Vec<&str> = Vec::new();
        for si in &self.signed_data.signer_infos {
            if let Ok(d) = waxseal_trust::algorithm::DigestAlgorithm::from_algorithm_identifier(
                &si.digest_algorithm,
            ) && !micalg.contains(&d.micalg())
            {
                micalg.push(d.micalg());
            }
        }
        Ok(format::to_smime_detached(&self.to_der(), content, &micalg))
    }

    /// Adds a signer (RFC 5652 allows any number). For a detached envelope, `content`
    /// must be the content that was signed. Existing signers are kept byte for byte.
    pub fn add_signer(
        &mut self,
        signer: &Signer,
        content: Option<&[u8]>,
        include_certificates: bool,
    ) -> Result<(), SignError> {
        let content = self
            .content_for_verification(content)
            .ok_or(SignError::MissingContent)?
            .to_vec();
        add_signer_to(
            &mut self.signed_data,
            signer,
            &content,
            include_certificates,
        )
    }
}

/// Builds a new envelope.
///
/// ```
/// # use waxseal_envelope::{EnvelopeBuilder, Signer};
/// # fn demo(signer: &Signer) -> Result<(), waxseal_envelope::SignError> {
/// let envelope = EnvelopeBuilder::new(b"hello").add_signer(signer).build()?;
/// let der = envelope.to_der();
/// # Ok(()) }
/// ```
pub struct EnvelopeBuilder<'a> {
    content: &'a [u8],
    content_type: Oid,
    detached: bool,
    include_certificates: bool,
    signers: Vec<&'a Signer>,
}

impl<'a> EnvelopeBuilder<'a> {
    /// An envelope for `content` (type id-data, attached, certificates embedded).
    pub fn new(content: &'a [u8]) -> Self {
        Self {
            content,
            content_type: oid::ID_DATA,
            detached: false,
            include_certificates: true,
            signers: Vec::new(),
        }
    }

    crate::sign::signing_setters!('a);

    /// Leave the content out of the envelope (a detached signature).
    pub fn detached(mut self, detached: bool) -> Self {
        self.detached = detached;
        self
    }

    /// Signs and assembles the envelope.
    pub fn build(self) -> Result<Envelope, SignError> {
        if self.signers.is_empty() {
            return Err(SignError::NoSigners);
        }
        let content = (!self.detached).then(|| self.content.to_vec());
        let mut sd = SignedData {
            version: 1,
            digest_algorithms: Vec::new(),
            encap_content_info: EncapsulatedContentInfo::new(self.content_type, content),
            certificates: Vec::new(),
            crls: Vec::new(),
            signer_infos: Vec::new(),
        };
        for signer in &self.signers {
            add_signer_to(&mut sd, signer, self.content, self.include_certificates)?;
        }
        Ok(Envelope::from_signed_data(sd))
    }
}
