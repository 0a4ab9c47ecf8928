//! Envelope encodings: DER, BER, PEM, base64 and S/MIME, detected automatically.
//!
//! MIME parsing is `mailparse`'s. S/MIME output is written here because it must be byte
//! exact: in `multipart/signed` (RFC 1847, RFC 8551 §3.5) the first body part *is* the
//! signed content, and MIME builders re-encode parts.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::rfc5652::ParseError;

/// How an envelope was (or is to be) encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// Binary DER.
    Der,
    /// Binary BER (indefinite lengths, chunked content), as streaming signers write it.
    Ber,
    /// PEM (`-----BEGIN CMS-----` or `-----BEGIN PKCS7-----`).
    Pem,
    /// Bare base64 of DER/BER, as JSON buses carry it.
    Base64,
    /// S/MIME `application/pkcs7-mime` (content inside the envelope).
    SmimeOpaque,
    /// S/MIME `multipart/signed` (content in the first body part).
    SmimeDetached,
}

impl Format {
    /// A short name (`der`, `ber`, `pem`, `base64`, `smime`, `smime-multipart`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Der => "der",
            Self::Ber => "ber",
            Self::Pem => "pem",
            Self::Base64 => "base64",
            Self::SmimeOpaque => "smime",
            Self::SmimeDetached => "smime-multipart",
        }
    }
}

/// An envelope's bytes unwrapped from their armour.
#[derive(Debug, Clone)]
pub struct Unwrapped {
    /// The CMS bytes (DER or BER).
    pub cms: Vec<u8>,
    /// The armour found.
    pub format: Format,
    /// For `multipart/signed`: the first body part, exactly as received.
    pub detached_content: Option<Vec<u8>>,
}

const PEM_LABELS: [&str; 3] = ["CMS", "PKCS7", "PKCS #7 SIGNED DATA"];

fn format_err(msg: impl Into<String>) -> ParseError {
    ParseError::Format(msg.into())
}

/// Detects the armour of `input` and removes it.
pub fn unwrap(input: &[u8]) -> Result<Unwrapped, ParseError> {
    let first = input.iter().copied().find(|b| !b.is_ascii_whitespace());
    match first {
        None => Err(ParseError::Empty),
        Some(0x30) if input.first() == Some(&0x30) => Ok(Unwrapped {
            cms: input.to_vec(),
            format: Format::Der,
            detached_content: None,
        }),
        _ => {
            let text = std::str::from_utf8(input).map_err(|_| {
                format_err("input is neither DER/BER nor text (PEM, base64, S/MIME)")
            })?;
            if text.contains("-----BEGIN ") {
                return unwrap_pem(text);
            }
            if looks_like_mime(text) {
                return unwrap_smime(input);
            }
            let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
            let cms = STANDARD
                .decode(compact.as_bytes())
                .map_err(|_| format_err("input is not DER, BER, PEM, base64 or S/MIME"))?;
            if cms.first() != Some(&0x30) {
                return Err(format_err(
                    "base64 input does not decode to a CMS structure",
                ));
            }
            Ok(Unwrapped {
                cms,
                format: Format::Base64,
                detached_content: None,
            })
        }
    }
}

fn unwrap_pem(text: &str) -> Result<Unwrapped, ParseError> {
    let blocks = pem::parse_many(text).map_err(|e| format_err(format!("bad PEM: {e}")))?;
    let block = blocks
        .into_iter()
        .find(|b| PEM_LABELS.contains(&b.tag()))
        .ok_or_else(|| format_err("PEM input has no CMS or PKCS7 block"))?;
    Ok(Unwrapped {
        cms: block.into_contents(),
        format: Format::Pem,
        detached_content: None,
    })
}

fn looks_like_mime(text: &str) -> bool {
    let head = text.split("\n\n").next().unwrap_or("").to_ascii_lowercase();
    head.contains("content-type:") || head.starts_with("mime-version:")
}

fn unwrap_smime(input: &[u8]) -> Result<Unwrapped, ParseError> {
    let mail = mailparse::parse_mail(input).map_err(|e| format_err(format!("bad MIME: {e}")))?;
    let mime = mail.ctype.mimetype.to_ascii_lowercase();
    match mime.as_str() {
        "application/pkcs7-mime" | "application/x-pkcs7-mime" => {
            let cms = mail
                .get_body_raw()
                .map_err(|e| format_err(format!("bad S/MIME body: {e}")))?;
            Ok(Unwrapped {
                cms,
                format: Format::SmimeOpaque,
                detached_content: None,
            })
        }
        "multipart/signed" => {
            // RFC 1847 §2.1: exactly two parts, the content and its signature. A third part
            // would travel unsigned next to signed content.
            let [content, signature] = mail.subparts.as_slice() else {
                return Err(format_err(format!(
                    "multipart/signed must have exactly two body parts, found {}",
                    mail.subparts.len()
                )));
            };
            let is_signature_type = |t: &str| {
                let t = t.trim().to_ascii_lowercase();
                t == "application/pkcs7-signature" || t == "application/x-pkcs7-signature"
            };
            if let Some(protocol) = mail.ctype.params.get("protocol")
                && !is_signature_type(protocol)
            {
                return Err(format_err(format!(
                    "multipart/signed protocol is {protocol}, not application/pkcs7-signature"
                )));
            }
            let sig_type = signature.ctype.mimetype.to_ascii_lowercase();
            if !is_signature_type(&sig_type) {
                return Err(format_err(format!(
                    "multipart/signed second part is {sig_type}, not application/pkcs7-signature"
                )));
            }
            let cms = signature
                .get_body_raw()
                .map_err(|e| format_err(format!("bad S/MIME signature part: {e}")))?;
            Ok(Unwrapped {
                cms,
                format: Format::SmimeDetached,
                detached_content: Some(content.raw_bytes.to_vec()),
            })
        }
        other => Err(format_err(format!(
            "MIME type {other} is not an S/MIME signed message"
        ))),
    }
}

/// Converts bare LF line ends to CRLF, the canonical form S/MIME signs (RFC 8551 §3.1.1).
pub fn canonical_crlf(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + data.len() / 32);
    let mut prev = 0u8;
    for &b in data {
        if b == b'\n' && prev != b'\r' {
            out.push(b'\r');
        }
        out.push(b);
        prev = b;
    }
    out
}

/// PEM armour with label `CMS`, as `openssl cms -outform PEM` writes.
pub fn to_pem(der: &[u8]) -> String {
    pem::encode_config(
        &pem::Pem::new("CMS", der.to_vec()),
        pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF),
    )
}

fn base64_lines(der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut out = String::with_capacity(b64.len() + b64.len() / 32);
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).expect("base64 is ASCII"));
        out.push_str("\r\n");
    }
    out
}

/// S/MIME `application/pkcs7-mime; smime-type=signed-data` (content inside).
pub fn to_smime_opaque(der: &[u8]) -> Vec<u8> {
    let mut out = String::new();
    out.push_str("MIME-Version: 1.0\r\n");
    out.push_str("Content-Disposition: attachment; filename=\"smime.p7m\"\r\n");
    out.push_str(
        "Content-Type: application/pkcs7-mime; smime-type=signed-data; name=\"smime.p7m\"\r\n",
    );
    out.push_str("Content-Transfer-Encoding: base64\r\n\r\n");
    out.push_str(&base64_lines(der));
    out.into_bytes()
}

/// S/MIME `multipart/signed`: `content` (already canonical, CRLF) as the first part and
/// the detached signature as the second. `micalg` lists the digests (RFC 8551 §3.5.3.2).
pub fn to_smime_detached(der: &[u8], content: &[u8], micalg: &[&str]) -> Vec<u8> {
    let mut nonce = [0u8; 12];
    rand_core::Rng::fill_bytes(&mut waxseal_trust::key::rng(), &mut nonce);
    let boundary = format!("----waxseal-{}", hex::encode(nonce));
    let mut out = Vec::new();
    out.extend_from_slice(b"MIME-Version: 1.0\r\n");
    out.extend_from_slice(
        format!(
            "Content-Type: multipart/signed; protocol=\"application/pkcs7-signature\"; micalg=\"{}\"; boundary=\"{boundary}\"\r\n\r\n",
            micalg.join(",")
        )
        .as_bytes(),
    );
    out.extend_from_slice(b"This is an S/MIME signed message\r\n\r\n");
    out.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
    out.extend_from_slice(content);
    out.extend_from_slice(format!("\r\n--{boundary}\r\n").as_bytes());
    out.extend_from_slice(b"Content-Type: application/pkcs7-signature; name=\"smime.p7s\"\r\n");
    out.extend_from_slice(b"Content-Transfer-Encoding: base64\r\n");
    out.extend_from_slice(b"Content-Disposition: attachment; filename=\"smime.p7s\"\r\n\r\n");
    out.extend_from_slice(base64_lines(der).as_bytes());
    out.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_each_armour() {
        let der = vec![0x30, 0x03, 0x02, 0x01, 0x01];
        assert_eq!(unwrap(&der).unwrap().format, Format::Der);
        let pem = to_pem(&der);
        let u = unwrap(pem.as_bytes()).unwrap();
        assert_eq!((u.format, u.cms), (Format::Pem, der.clone()));
        let b64 = STANDARD.encode(&der);
        assert_eq!(unwrap(b64.as_bytes()).unwrap().format, Format::Base64);
        let opaque = to_smime_opaque(&der);
        let u = unwrap(&opaque).unwrap();
        assert_eq!((u.format, u.cms), (Format::SmimeOpaque, der.clone()));
        let multi = to_smime_detached(
            &der,
            b"Content-Type: text/plain\r\n\r\nhello\r\n",
            &["sha-256"],
        );
        let u = unwrap(&multi).unwrap();
        assert_eq!(u.format, Format::SmimeDetached);
        assert_eq!(u.cms, der);
        assert_eq!(
            u.detached_content.unwrap(),
            b"Content-Type: text/plain\r\n\r\nhello\r\n"
        );
    }

    #[test]
    fn garbage_is_a_format_error() {
        assert!(matches!(unwrap(b""), Err(ParseError::Empty)));
        assert!(matches!(
            unwrap(b"hello world!"),
            Err(ParseError::Format(_))
        ));
        assert!(matches!(
            unwrap(&[0xff, 0x00, 0x12]),
            Err(ParseError::Format(_))
        ));
        assert!(matches!(
            unwrap(b"-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n"),
            Err(ParseError::Format(_))
        ));
    }

    #[test]
    fn crlf_canonicalisation() {
        assert_eq!(canonical_crlf(b"a\nb\r\nc"), b"a\r\nb\r\nc");
    }
}
