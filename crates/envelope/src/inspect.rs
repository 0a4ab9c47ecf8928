//! A description of an envelope's structure, **without verifying it**: what a person
//! debugging a bus needs (signers, identifiers, algorithms, attributes, certificates,
//! countersignature chains), as text or JSON.

use std::fmt::Write as _;

use serde::Serialize;

use crate::envelope::Envelope;
use crate::oid;
use crate::rfc5652::{Attribute, Limits, SignerInfo};
use crate::verify::{decode_time, describe_sid};
use waxseal_trust::algorithm::{DigestAlgorithm, SignatureScheme};
use waxseal_trust::cert::Certificate;
use waxseal_trust::display::Escaped as E;
use waxseal_trust::time;

/// How deep [`report`] follows countersignatures of countersignatures.
pub const MAX_COUNTERSIGNATURE_DEPTH: usize = 64;

/// The structure of an envelope.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Always `false`: inspection does not verify anything.
    pub verified: bool,
    /// Input encoding (`der`, `ber`, `pem`, `smime`...).
    pub format: String,
    /// `eContentType`.
    pub content_type: String,
    /// Whether the content is detached.
    pub detached: bool,
    /// Attached content length.
    pub content_length: Option<usize>,
    /// `digestAlgorithms`.
    pub digest_algorithms: Vec<String>,
    /// Embedded certificates.
    pub certificates: Vec<CertificateSummary>,
    /// Embedded CRLs (issuer names).
    pub crls: Vec<String>,
    /// Signers, in envelope order.
    pub signers: Vec<SignerSummary>,
}

/// One certificate.
#[derive(Debug, Clone, Serialize)]
pub struct CertificateSummary {
    /// Subject (RFC 4514).
    pub subject: String,
    /// Issuer (RFC 4514).
    pub issuer: String,
    /// Serial number, hex.
    pub serial: String,
    /// `notBefore`, RFC 3339.
    pub not_before: String,
    /// `notAfter`, RFC 3339.
    pub not_after: String,
    /// Key type and size.
    pub key: String,
    /// SHA-256 fingerprint, hex.
    pub sha256: String,
}

impl CertificateSummary {
    /// Summarises `cert`.
    pub fn of(cert: &Certificate) -> Self {
        let key = match waxseal_trust::key::PublicKey::from_spki(cert.public_key_info()) {
            // An ML-DSA parameter set names its strength; its key has no size in bits.
            Ok(k @ waxseal_trust::key::PublicKey::MlDsa(_)) => k.kind().to_string(),
            Ok(k) => format!("{} {}", k.kind(), k.bits()),
            Err(_) => oid::name(&cert.public_key_info().algorithm.oid),
        };
        Self {
            subject: cert.subject_display(),
            issuer: cert.issuer_display(),
            serial: cert.serial_hex(),
            not_before: time::format(cert.not_before()),
            not_after: time::format(cert.not_after()),
            key,
            sha256: hex::encode(cert.fingerprint()),
        }
    }
}

/// One attribute.
#[derive(Debug, Clone, Serialize)]
pub struct AttributeSummary {
    /// Name (`signing-time`) or dotted OID.
    pub name: String,
    /// Decoded value, or hex of the encoding.
    pub value: String,
}

/// One `SignerInfo`, with its countersignatures.
#[derive(Debug, Clone, Serialize)]
pub struct SignerSummary {
    /// `SignerInfo.version`.
    pub version: u8,
    /// The signer identifier.
    pub signer_id: String,
    /// Subject of the matching embedded certificate, if any.
    pub certificate: Option<String>,
    /// Digest algorithm.
    pub digest: String,
    /// Signature algorithm, described.
    pub signature_algorithm: String,
    /// Signed attributes (empty when absent).
    pub signed_attributes: Vec<AttributeSummary>,
    /// Unsigned attributes other than countersignatures.
    pub unsigned_attributes: Vec<AttributeSummary>,
    /// Countersignatures (RFC 5652 §11.4), each possibly countersigned in turn.
    pub countersignatures: Vec<SignerSummary>,
    /// Set when nesting went beyond [`MAX_COUNTERSIGNATURE_DEPTH`] or a countersignature
    /// did not parse.
    pub note: Option<String>,
}

fn attribute_summary(a: &Attribute) -> AttributeSummary {
    let raw = a.values.first().map(Vec::as_slice).unwrap_or_default();
    let value = if a.oid == oid::ID_CONTENT_TYPE {
        <const_oid::ObjectIdentifier as der::Decode>::from_der(raw)
            .map(|o| oid::name(&o))
            .unwrap_or_else(|_| hex::encode(raw))
    } else if a.oid == oid::ID_MESSAGE_DIGEST {
        <der::asn1::OctetString as der::Decode>::from_der(raw)
            .map(|o| hex::encode(o.as_bytes()))
            .unwrap_or_else(|_| hex::encode(raw))
    } else if a.oid == oid::ID_SIGNING_TIME {
        decode_time(raw)
            .map(time::format)
            .unwrap_or_else(|| hex::encode(raw))
    } else if let Some(text) = <der::asn1::Any as der::Decode>::from_der(raw)
        .ok()
        .and_then(|a| waxseal_trust::name::string_value(&a))
    {
        text
    } else {
        let mut h = hex::encode(&raw[..raw.len().min(32)]);
        if raw.len() > 32 {
            h.push('…');
        }
        h
    };
    let value = if a.values.len() > 1 {
        format!("{value} (+{} more values)", a.values.len() - 1)
    } else {
        value
    };
    AttributeSummary {
        name: oid::name(&a.oid),
        value,
    }
}

fn signer_summary(
    si: &SignerInfo,
    certs: &[Certificate],
    depth: usize,
    limits: &Limits,
) -> SignerSummary {
    let digest = DigestAlgorithm::from_algorithm_identifier(&si.digest_algorithm).ok();
    let signature_algorithm = SignatureScheme::from_algorithm_identifier(&si.signature_algorithm)
        .map(|s| s.describe(digest))
        .unwrap_or_else(|_| oid::name(&si.signature_algorithm.oid));
    let certificate = certs
        .iter()
        .find(|c| match &si.sid {
            cms::signed_data::SignerIdentifier::IssuerAndSerialNumber(ias) => {
                c.serial() == ias.serial_number.as_bytes()
                    && *c.issuer_key() == waxseal_trust::name::NameKey::new(&ias.issuer)
            }
            cms::signed_data::SignerIdentifier::SubjectKeyIdentifier(ski) => {
                c.subject_key_identifier() == Some(ski.0.as_bytes())
            }
        })
        .map(Certificate::subject_display);
    let mut unsigned = Vec::new();
    let mut countersignatures = Vec::new();
    let mut note = None;
    for a in si.unsigned_attrs.iter().flat_map(|u| u.iter()) {
        if a.oid != oid::ID_COUNTERSIGNATURE {
            unsigned.push(attribute_summary(a));
            continue;
        }
        if depth >= MAX_COUNTERSIGNATURE_DEPTH {
            note = Some(format!(
                "countersignatures nested deeper than {MAX_COUNTERSIGNATURE_DEPTH} levels not shown"
            ));
            continue;
        }
        for v in &a.values {
            match SignerInfo::parse(v, limits) {
                Ok(cs) => countersignatures.push(signer_summary(&cs, certs, depth + 1, limits)),
                Err(e) => note = Some(format!("unparsable countersignature: {e}")),
            }
        }
    }
    SignerSummary {
        version: si.version,
        signer_id: describe_sid(&si.sid),
        certificate,
        digest: digest
            .map(|d| d.name().to_string())
            .unwrap_or_else(|| oid::name(&si.digest_algorithm.oid)),
        signature_algorithm,
        signed_attributes: si
            .signed_attrs
            .iter()
            .flat_map(|a| a.iter())
            .map(attribute_summary)
            .collect(),
        unsigned_attributes: unsigned,
        countersignatures,
        note,
    }
}

/// Describes `envelope`.
pub fn report(envelope: &Envelope) -> Report {
    let sd = envelope.signed_data();
    let certs: Vec<Certificate> = sd.x509_certificates().cloned().collect();
    let limits = Limits::default();
    Report {
        verified: false,
        format: envelope.format().name().to_string(),
        content_type: oid::name(&sd.encap_content_info.content_type),
        detached: envelope.is_detached(),
        content_length: sd.encap_content_info.content_len(),
        digest_algorithms: sd
            .digest_algorithms
            .iter()
            .map(|a| oid::name(&a.oid))
            .collect(),
        certificates: certs.iter().map(CertificateSummary::of).collect(),
        crls: sd.crls.iter().map(|c| c.issuer_display()).collect(),
        signers: sd
            .signer_infos
            .iter()
            .map(|si| signer_summary(si, &certs, 0, &limits))
            .collect(),
    }
}

// Every value shown below can come from the envelope: each goes through
// `display::Escaped`, so the report keeps one line per field whatever the input holds.
impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "CMS SignedData ({}) -- NOT VERIFIED: structure only",
            self.format
        )?;
        match self.content_length {
            Some(n) => writeln!(f, "content: {}, {n} bytes, attached", self.content_type)?,
            None => writeln!(f, "content: {}, detached", self.content_type)?,
        }
        writeln!(
            f,
            "digest algorithms: {}",
            E(&self.digest_algorithms.join(", "))
        )?;
        writeln!(f, "certificates: {}", self.certificates.len())?;
        for (i, c) in self.certificates.iter().enumerate() {
            writeln!(f, "  [{i}] {}", E(&c.subject))?;
            writeln!(f, "      issuer {}, serial {}", E(&c.issuer), E(&c.serial))?;
            writeln!(
                f,
                "      valid {} .. {}, {}",
                E(&c.not_before),
                E(&c.not_after),
                E(&c.key)
            )?;
        }
        if !self.crls.is_empty() {
            writeln!(f, "crls: {}", E(&self.crls.join("; ")))?;
        }
        writeln!(f, "signers: {}", self.signers.len())?;
        for (i, s) in self.signers.iter().enumerate() {
            let mut out = String::new();
            write_signer(&mut out, s, &format!("[{i}]"), "  ", 0);
            f.write_str(&out)?;
        }
        Ok(())
    }
}

/// `level`: 0 for an envelope signer, k for a countersignature k levels down (hop k of a
/// routing slip).
fn write_signer(out: &mut String, s: &SignerSummary, label: &str, indent: &str, level: usize) {
    let who = s
        .certificate
        .as_deref()
        .unwrap_or("(certificate not in envelope)");
    let _ = writeln!(out, "{indent}{label} {}", E(who));
    let _ = writeln!(out, "{indent}    id: {} (v{})", E(&s.signer_id), s.version);
    let _ = writeln!(
        out,
        "{indent}    {} with digest {}",
        E(&s.signature_algorithm),
        E(&s.digest)
    );
    if s.signed_attributes.is_empty() {
        let _ = writeln!(out, "{indent}    signed attributes: none");
    }
    for a in &s.signed_attributes {
        let _ = writeln!(out, "{indent}    signed   {}: {}", E(&a.name), E(&a.value));
    }
    for a in &s.unsigned_attributes {
        let _ = writeln!(out, "{indent}    unsigned {}: {}", E(&a.name), E(&a.value));
    }
    if let Some(n) = &s.note {
        let _ = writeln!(out, "{indent}    note: {}", E(n));
    }
    let many = s.countersignatures.len() > 1;
    for (j, cs) in s.countersignatures.iter().enumerate() {
        let label = if many {
            format!("└─ countersignature {j} (hop {}):", level + 1)
        } else {
            format!("└─ countersignature (hop {}):", level + 1)
        };
        write_signer(out, cs, &label, &format!("{indent}    "), level + 1);
    }
}
