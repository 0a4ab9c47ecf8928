//! The RFC 5652 SignedData structures, as received.
//!
//! These mirror the ASN.1 of RFC 5652 §5 but keep what signatures depend on exactly as it
//! was on the wire: the signed attributes are stored as their received content octets and
//! verified after re-tagging `[0]` as `SET` (§5.4). Decoding them into `der`'s `SetOf`
//! would silently re-sort them and break signatures made by implementations that did not
//! sort. SET OF collections (signer infos, attributes, certificates) are kept in wire
//! order; nothing here re-encodes a structure it did not build.
//!
//! Input must already be in DER shape ([`waxseal_trust::asn1::normalize`]).

use const_oid::ObjectIdentifier as Oid;
use der::{Decode, Encode};
use spki::AlgorithmIdentifierOwned;

pub use cms::signed_data::SignerIdentifier;

use crate::oid;
use waxseal_trust::asn1::{BerError, push_tlv, read_one, split_tlvs, tlv};
use waxseal_trust::cert::Certificate;
use waxseal_trust::crl::LazyCrl;

/// The deepest ASN.1 nesting any [`Limits`] may allow: parsing recurses, and this keeps
/// the recursion far from the smallest thread stacks in use (2 MiB).
pub const MAX_DEPTH_CAP: usize = 2048;

/// Structural limits applied while parsing, so hostile input costs bounded work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest accepted input, in bytes.
    pub max_input_len: usize,
    /// Deepest ASN.1 nesting accepted (at most [`MAX_DEPTH_CAP`]). A routing slip needs
    /// four levels per hop.
    pub max_depth: usize,
    /// Most `SignerInfo`s in one envelope.
    pub max_signers: usize,
    /// Most certificates (and, separately, CRLs) carried in one envelope.
    pub max_certificates: usize,
    /// Most attributes in one attribute set.
    pub max_attributes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_input_len: 64 << 20,
            max_depth: 256,
            max_signers: 64,
            max_certificates: 256,
            max_attributes: 64,
        }
    }
}

/// An envelope that is not well-formed CMS SignedData.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// The input is empty.
    #[error("input is empty")]
    Empty,
    /// The input exceeds [`Limits::max_input_len`].
    #[error("input of {len} bytes exceeds the limit of {max} bytes")]
    TooLarge {
        /// Input length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The BER/DER framing is broken.
    #[error("malformed ASN.1: {0}")]
    Ber(#[from] BerError),
    /// A field does not decode.
    #[error("malformed {field}: {detail}")]
    Field {
        /// Which field (`SignerInfo.sid`, `encapContentInfo`, ...).
        field: &'static str,
        /// What the decoder said.
        detail: String,
    },
    /// A ContentInfo of another type (enveloped, digested...).
    #[error("content type is {}, not id-signedData", oid::name(.0))]
    NotSignedData(Oid),
    /// More of something than [`Limits`] allows.
    #[error("envelope has more than {max} {what}")]
    TooMany {
        /// What there were too many of.
        what: &'static str,
        /// The limit.
        max: usize,
    },
    /// An armour (PEM, base64, S/MIME) could not be read.
    #[error("{0}")]
    Format(String),
}

fn field(field: &'static str) -> impl Fn(der::Error) -> ParseError {
    move |e| ParseError::Field {
        field,
        detail: e.to_string(),
    }
}

fn ber_field(field: &'static str) -> impl Fn(BerError) -> ParseError {
    move |e| ParseError::Field {
        field,
        detail: e.to_string(),
    }
}

fn expect_tag(field: &'static str, got: u8, want: u8) -> Result<(), ParseError> {
    if got == want {
        Ok(())
    } else {
        Err(ParseError::Field {
            field,
            detail: format!("expected tag 0x{want:02x}, found 0x{got:02x}"),
        })
    }
}

/// One attribute: its type and its values, each kept as a raw TLV.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute {
    /// `attrType`.
    pub oid: Oid,
    /// `attrValues`, each one DER TLV, in wire order.
    pub values: Vec<Vec<u8>>,
}

impl Attribute {
    /// An attribute with one value.
    pub fn new(oid: Oid, value: Vec<u8>) -> Self {
        Self {
            oid,
            values: vec![value],
        }
    }

    /// DER encoding (values sorted, as DER requires of a SET OF).
    pub fn to_der(&self) -> Vec<u8> {
        let mut values = self.values.clone();
        values.sort();
        let mut set = Vec::new();
        for v in &values {
            set.extend_from_slice(v);
        }
        let mut body = self.oid.to_der().expect("OIDs encode");
        push_tlv(&mut body, 0x31, &set);
        tlv(0x30, &body)
    }

    fn parse(raw: &[u8], max_values: usize) -> Result<Self, ParseError> {
        let (tag, body) = read_one(raw).map_err(ber_field("Attribute"))?;
        expect_tag("Attribute", tag, 0x30)?;
        let parts = split_tlvs(body).map_err(ber_field("Attribute"))?;
        let [(0x06, oid_raw, _), (0x31, _, set)] = parts.as_slice() else {
            return Err(ParseError::Field {
                field: "Attribute",
                detail: "expected SEQUENCE { OID, SET }".into(),
            });
        };
        let oid = Oid::from_der(oid_raw).map_err(field("Attribute.attrType"))?;
        let values: Vec<Vec<u8>> = split_tlvs(set)
            .map_err(ber_field("Attribute.attrValues"))?
            .into_iter()
            .map(|(_, raw, _)| raw.to_vec())
            .collect();
        if values.len() > max_values {
            return Err(ParseError::TooMany {
                what: "attribute values",
                max: max_values,
            });
        }
        Ok(Self { oid, values })
    }
}

/// A `SET OF Attribute` (signed or unsigned), with its received encoding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attributes {
    /// The SET's content octets exactly as received (or as built, DER-sorted).
    raw: Vec<u8>,
    items: Vec<Attribute>,
}

impl Attributes {
    /// Builds a DER `SET OF Attribute` from `items` (sorted by encoding, as DER requires).
    pub fn from_items(items: Vec<Attribute>) -> Self {
        let mut encoded: Vec<(Vec<u8>, Attribute)> =
            items.into_iter().map(|a| (a.to_der(), a)).collect();
        encoded.sort_by(|a, b| a.0.cmp(&b.0));
        let raw = encoded
            .iter()
            .flat_map(|(e, _)| e.iter().copied())
            .collect();
        Self {
            raw,
            items: encoded.into_iter().map(|(_, a)| a).collect(),
        }
    }

    /// Builds a SET keeping `items` in the given order (for unsigned attributes that a
    /// later hop extends: order carries meaning there, and nothing signs this encoding).
    pub fn from_items_in_order(items: Vec<Attribute>) -> Self {
        let raw = items.iter().flat_map(Attribute::to_der).collect();
        Self { raw, items }
    }

    fn parse(contents: &[u8], limits: &Limits) -> Result<Self, ParseError> {
        let parts = split_tlvs(contents).map_err(ber_field("Attributes"))?;
        if parts.len() > limits.max_attributes {
            return Err(ParseError::TooMany {
                what: "attributes",
                max: limits.max_attributes,
            });
        }
        let items = parts
            .iter()
            .map(|(_, raw, _)| Attribute::parse(raw, limits.max_attributes))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            raw: contents.to_vec(),
            items,
        })
    }

    /// The attributes, in wire order.
    pub fn iter(&self) -> impl Iterator<Item = &Attribute> {
        self.items.iter()
    }

    /// Number of attributes.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Attributes of type `oid`.
    pub fn get(&self, oid: Oid) -> impl Iterator<Item = &Attribute> {
        self.items.iter().filter(move |a| a.oid == oid)
    }

    /// The bytes a signature over these attributes covers: the received content octets
    /// under a `SET` tag (RFC 5652 §5.4).
    pub fn signed_bytes(&self) -> Vec<u8> {
        tlv(0x31, &self.raw)
    }

    /// The content octets as received.
    pub fn raw_contents(&self) -> &[u8] {
        &self.raw
    }
}

/// `SignerInfo` (RFC 5652 §5.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignerInfo {
    /// `version` (1 for issuerAndSerialNumber, 3 for subjectKeyIdentifier).
    pub version: u8,
    /// `sid`.
    pub sid: SignerIdentifier,
    /// `digestAlgorithm`.
    pub digest_algorithm: AlgorithmIdentifierOwned,
    /// `signedAttrs`.
    pub signed_attrs: Option<Attributes>,
    /// `signatureAlgorithm`.
    pub signature_algorithm: AlgorithmIdentifierOwned,
    /// `signature`.
    pub signature: Vec<u8>,
    /// `unsignedAttrs`.
    pub unsigned_attrs: Option<Attributes>,
}

impl SignerInfo {
    /// Parses one `SignerInfo` TLV.
    pub fn parse(raw: &[u8], limits: &Limits) -> Result<Self, ParseError> {
        let (tag, body) = read_one(raw).map_err(ber_field("SignerInfo"))?;
        expect_tag("SignerInfo", tag, 0x30)?;
        let parts = split_tlvs(body).map_err(ber_field("SignerInfo"))?;
        let mut it = parts.iter().peekable();
        let mut next = |name: &'static str| {
            it.next().copied().ok_or(ParseError::Field {
                field: name,
                detail: "missing".into(),
            })
        };
        let (_, v, _) = next("SignerInfo.version")?;
        let version = parse_version(v, "SignerInfo.version")?;
        let (_, sid, _) = next("SignerInfo.sid")?;
        let sid = SignerIdentifier::from_der(sid).map_err(field("SignerInfo.sid"))?;
        let (_, d, _) = next("SignerInfo.digestAlgorithm")?;
        let digest_algorithm =
            AlgorithmIdentifierOwned::from_der(d).map_err(field("SignerInfo.digestAlgorithm"))?;
        let (mut tag, mut raw_next, mut contents) = next("SignerInfo.signatureAlgorithm")?;
        let mut signed_attrs = None;
        if tag == 0xa0 {
            signed_attrs = Some(Attributes::parse(contents, limits)?);
            (tag, raw_next, contents) = next("SignerInfo.signatureAlgorithm")?;
        }
        let _ = (tag, contents);
        let signature_algorithm = AlgorithmIdentifierOwned::from_der(raw_next)
            .map_err(field("SignerInfo.signatureAlgorithm"))?;
        let (tag, _, sig) = next("SignerInfo.signature")?;
        expect_tag("SignerInfo.signature", tag, 0x04)?;
        let signature = sig.to_vec();
        let mut unsigned_attrs = None;
        if let Ok((tag, _, contents)) = next("SignerInfo.unsignedAttrs") {
            expect_tag("SignerInfo.unsignedAttrs", tag, 0xa1)?;
            unsigned_attrs = Some(Attributes::parse(contents, limits)?);
        }
        if let Ok((tag, _, _)) = next("") {
            return Err(ParseError::Field {
                field: "SignerInfo",
                detail: format!("unexpected trailing field with tag 0x{tag:02x}"),
            });
        }
        Ok(Self {
            version,
            sid,
            digest_algorithm,
            signed_attrs,
            signature_algorithm,
            signature,
            unsigned_attrs,
        })
    }

    /// DER encoding; signed attributes keep their received bytes.
    pub fn to_der(&self) -> Vec<u8> {
        let mut body = Vec::new();
        push_tlv(&mut body, 0x02, &[self.version]);
        body.extend(self.sid.to_der().expect("signer identifiers encode"));
        body.extend(
            self.digest_algorithm
                .to_der()
                .expect("algorithm identifiers encode"),
        );
        if let Some(a) = &self.signed_attrs {
            push_tlv(&mut body, 0xa0, a.raw_contents());
        }
        body.extend(
            self.signature_algorithm
                .to_der()
                .expect("algorithm identifiers encode"),
        );
        push_tlv(&mut body, 0x04, &self.signature);
        if let Some(a) = &self.unsigned_attrs {
            push_tlv(&mut body, 0xa1, a.raw_contents());
        }
        tlv(0x30, &body)
    }
}

fn parse_version(raw: &[u8], name: &'static str) -> Result<u8, ParseError> {
    let v = i64::from_der(raw).map_err(field(name))?;
    u8::try_from(v).map_err(|_| ParseError::Field {
        field: name,
        detail: format!("version {v} out of range"),
    })
}

/// `EncapsulatedContentInfo` (RFC 5652 §5.2).
///
/// The content itself is not public: waxseal hands content out only from a successful
/// verification ([`crate::Verified::content`]).
#[derive(Clone, PartialEq, Eq)]
pub struct EncapsulatedContentInfo {
    /// `eContentType`.
    pub content_type: Oid,
    content: Option<Vec<u8>>,
}

impl std::fmt::Debug for EncapsulatedContentInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EncapsulatedContentInfo")
            .field("content_type", &self.content_type)
            .field("content_len", &self.content_len())
            .finish()
    }
}

impl EncapsulatedContentInfo {
    /// Content of type `content_type`, attached (`Some`) or detached (`None`).
    pub fn new(content_type: Oid, content: Option<Vec<u8>>) -> Self {
        Self {
            content_type,
            content,
        }
    }

    /// Whether the content travels outside the envelope.
    pub fn is_detached(&self) -> bool {
        self.content.is_none()
    }

    /// Length of the attached content.
    pub fn content_len(&self) -> Option<usize> {
        self.content.as_ref().map(Vec::len)
    }

    /// The attached content, unverified: crate-internal on purpose.
    pub(crate) fn content(&self) -> Option<&[u8]> {
        self.content.as_deref()
    }
}

/// An entry of the `certificates` field: a parsed X.509 certificate, or another choice
/// (attribute certificates, `other`) kept raw.
#[derive(Debug, Clone)]
pub enum CertificateChoice {
    /// An X.509 certificate.
    Certificate(Certificate),
    /// Any other `CertificateChoices` alternative, as received.
    Other(Vec<u8>),
}

/// `SignedData` (RFC 5652 §5.1).
#[derive(Debug, Clone)]
pub struct SignedData {
    /// `version`.
    pub version: u8,
    /// `digestAlgorithms`, in wire order.
    pub digest_algorithms: Vec<AlgorithmIdentifierOwned>,
    /// `encapContentInfo`.
    pub encap_content_info: EncapsulatedContentInfo,
    /// `certificates`, in wire order.
    pub certificates: Vec<CertificateChoice>,
    /// `crls`: X.509 CRLs (other revocation formats are dropped), unparsed but for
    /// their issuer: verification parses only those of issuers on a path it checks.
    pub crls: Vec<LazyCrl>,
    /// `signerInfos`, in wire order.
    pub signer_infos: Vec<SignerInfo>,
}

impl SignedData {
    /// Parses a DER-shaped `ContentInfo` holding `SignedData`.
    pub fn from_content_info(der: &[u8], limits: &Limits) -> Result<Self, ParseError> {
        let (tag, body) = read_one(der)?;
        expect_tag("ContentInfo", tag, 0x30)?;
        let parts = split_tlvs(body).map_err(ber_field("ContentInfo"))?;
        let [(0x06, ct, _), (0xa0, _, inner)] = parts.as_slice() else {
            return Err(ParseError::Field {
                field: "ContentInfo",
                detail: "expected SEQUENCE { contentType, [0] content }".into(),
            });
        };
        let ct = Oid::from_der(ct).map_err(field("ContentInfo.contentType"))?;
        if ct != oid::ID_SIGNED_DATA {
            return Err(ParseError::NotSignedData(ct));
        }
        Self::parse(inner, limits)
    }

    /// Parses a `SignedData` TLV.
    pub fn parse(raw: &[u8], limits: &Limits) -> Result<Self, ParseError> {
        let (tag, body) = read_one(raw).map_err(ber_field("SignedData"))?;
        expect_tag("SignedData", tag, 0x30)?;
        let parts = split_tlvs(body).map_err(ber_field("SignedData"))?;
        let mut it = parts.into_iter().peekable();
        let mut next = |name: &'static str| {
            it.next().ok_or(ParseError::Field {
                field: name,
                detail: "missing".into(),
            })
        };
        let (_, v, _) = next("SignedData.version")?;
        let version = parse_version(v, "SignedData.version")?;

        let (tag, _, algs) = next("SignedData.digestAlgorithms")?;
        expect_tag("SignedData.digestAlgorithms", tag, 0x31)?;
        let digest_algorithms = split_tlvs(algs)
            .map_err(ber_field("SignedData.digestAlgorithms"))?
            .into_iter()
            .map(|(_, raw, _)| AlgorithmIdentifierOwned::from_der(raw))
            .collect::<Result<Vec<_>, _>>()
            .map_err(field("SignedData.digestAlgorithms"))?;

        let (tag, _, eci) = next("SignedData.encapContentInfo")?;
        expect_tag("SignedData.encapContentInfo", tag, 0x30)?;
        let encap_content_info = parse_encap(eci)?;

        let mut certificates = Vec::new();
        let mut crls = Vec::new();
        let mut signer_infos = None;
        while let Ok((tag, _, contents)) = next("SignedData.signerInfos") {
            match tag {
                0xa0 if signer_infos.is_none() && certificates.is_empty() && crls.is_empty() => {
                    let items =
                        split_tlvs(contents).map_err(ber_field("SignedData.certificates"))?;
                    if items.len() > limits.max_certificates {
                        return Err(ParseError::TooMany {
                            what: "certificates",
                            max: limits.max_certificates,
                        });
                    }
                    for (t, raw, _) in items {
                        certificates.push(if t == 0x30 {
                            CertificateChoice::Certificate(Certificate::from_der(raw).map_err(
                                |e| ParseError::Field {
                                    field: "SignedData.certificates",
                                    detail: e.to_string(),
                                },
                            )?)
                        } else {
                            CertificateChoice::Other(raw.to_vec())
                        });
                    }
                }
                0xa1 if signer_infos.is_none() && crls.is_empty() => {
                    let items = split_tlvs(contents).map_err(ber_field("SignedData.crls"))?;
                    if items.len() > limits.max_certificates {
                        return Err(ParseError::TooMany {
                            what: "CRLs",
                            max: limits.max_certificates,
                        });
                    }
                    for (t, raw, _) in items {
                        if t == 0x30 {
                            crls.push(LazyCrl::from_der(raw).map_err(|e| ParseError::Field {
                                field: "SignedData.crls",
                                detail: e.to_string(),
                            })?);
                        }
                    }
                }
                0x31 if signer_infos.is_none() => {
                    let items =
                        split_tlvs(contents).map_err(ber_field("SignedData.signerInfos"))?;
                    if items.len() > limits.max_signers {
                        return Err(ParseError::TooMany {
                            what: "signers",
                            max: limits.max_signers,
                        });
                    }
                    signer_infos = Some(
                        items
                            .into_iter()
                            .map(|(_, raw, _)| SignerInfo::parse(raw, limits))
                            .collect::<Result<Vec<_>, _>>()?,
                    );
                }
                _ => {
                    return Err(ParseError::Field {
                        field: "SignedData",
                        detail: format!("unexpected field with tag 0x{tag:02x}"),
                    });
                }
            }
        }
        let signer_infos = signer_infos.ok_or(ParseError::Field {
            field: "SignedData.signerInfos",
            detail: "missing".into(),
        })?;
        Ok(Self {
            version,
            digest_algorithms,
            encap_content_info,
            certificates,
            crls,
            signer_infos,
        })
    }

    /// The X.509 certificates carried in the envelope.
    pub fn x509_certificates(&self) -> impl Iterator<Item = &Certificate> {
        self.certificates.iter().filter_map(|c| match c {
            CertificateChoice::Certificate(c) => Some(c),
            CertificateChoice::Other(_) => None,
        })
    }

    /// The `ContentInfo` DER encoding. SET OF fields are emitted in DER order; signer
    /// infos keep their signed attributes byte for byte.
    pub fn to_content_info_der(&self) -> Vec<u8> {
        let mut body = self.leading_fields_der();
        let mut eci = self
            .encap_content_info
            .content_type
            .to_der()
            .expect("OIDs encode");
        if let Some(c) = &self.encap_content_info.content {
            push_tlv(&mut eci, 0xa0, &tlv(0x04, c));
        }
        push_tlv(&mut body, 0x30, &eci);
        body.extend(self.trailing_fields_der());
        let mut ci = oid::ID_SIGNED_DATA.to_der().expect("OIDs encode");
        push_tlv(&mut ci, 0xa0, &tlv(0x30, &body));
        tlv(0x30, &ci)
    }

    /// The DER of the fields before `encapContentInfo`: version and digestAlgorithms
    /// (for writers that stream the content).
    pub(crate) fn leading_fields_der(&self) -> Vec<u8> {
        let mut body = Vec::new();
        push_tlv(&mut body, 0x02, &[self.version]);
        push_tlv(
            &mut body,
            0x31,
            &sorted_concat(
                self.digest_algorithms
                    .iter()
                    .map(|a| a.to_der().expect("algorithm identifiers encode")),
            ),
        );
        body
    }

    /// The DER of the fields after `encapContentInfo`: certificates, CRLs, signerInfos.
    pub(crate) fn trailing_fields_der(&self) -> Vec<u8> {
        let mut body = Vec::new();
        if !self.certificates.is_empty() {
            push_tlv(
                &mut body,
                0xa0,
                &sorted_concat(self.certificates.iter().map(|c| match c {
                    CertificateChoice::Certificate(c) => c.der().to_vec(),
                    CertificateChoice::Other(raw) => raw.clone(),
                })),
            );
        }
        if !self.crls.is_empty() {
            push_tlv(
                &mut body,
                0xa1,
                &sorted_concat(self.crls.iter().map(|c| c.der().to_vec())),
            );
        }
        push_tlv(
            &mut body,
            0x31,
            &sorted_concat(self.signer_infos.iter().map(SignerInfo::to_der)),
        );
        body
    }
}

fn sorted_concat(items: impl Iterator<Item = Vec<u8>>) -> Vec<u8> {
    let mut v: Vec<Vec<u8>> = items.collect();
    v.sort();
    v.dedup();
    v.concat()
}

fn parse_encap(body: &[u8]) -> Result<EncapsulatedContentInfo, ParseError> {
    let parts = split_tlvs(body).map_err(ber_field("encapContentInfo"))?;
    let (content_type, content) = match parts.as_slice() {
        [(0x06, ct, _)] => (ct, None),
        [(0x06, ct, _), (0xa0, _, inner)] => {
            let (tag, octets) = read_one(inner).map_err(ber_field("encapContentInfo.eContent"))?;
            expect_tag("encapContentInfo.eContent", tag, 0x04)?;
            (ct, Some(octets.to_vec()))
        }
        _ => {
            return Err(ParseError::Field {
                field: "encapContentInfo",
                detail: "expected SEQUENCE { eContentType, [0] eContent OPTIONAL }".into(),
            });
        }
    };
    Ok(EncapsulatedContentInfo {
        content_type: Oid::from_der(content_type)
            .map_err(field("encapContentInfo.eContentType"))?,
        content,
    })
}
