//! Distinguished name comparison (RFC 5280 §7.1).
//!
//! Two names match when they have the same RDNs in the same order and each attribute value
//! matches after the RFC 4518 string preparation that matters in practice: character
//! strings are compared independent of their ASN.1 string type (a PrintableString issuer
//! matches a UTF8String subject), case-folded, with leading and trailing white space removed
//! and inner runs of white space collapsed. Values that are not character strings compare
//! as bytes. NIST PKITS §4.3 exercises exactly these rules.

use std::fmt;

use der::{Tag, Tagged, asn1::Any};
use x509_cert::name::{Name, RelativeDistinguishedName};

/// A distinguished name in comparison form: equal keys mean matching names.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NameKey(Vec<u8>);

impl fmt::Debug for NameKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NameKey({})", hex::encode(&self.0))
    }
}

impl NameKey {
    /// The comparison form of `name`.
    pub fn new(name: &Name) -> Self {
        Self::from_rdns(name.iter_rdn())
    }

    /// The comparison form of a name given as its RDNs (most significant first).
    pub fn from_rdns<'a>(rdns: impl Iterator<Item = &'a RelativeDistinguishedName>) -> Self {
        let mut key = Vec::new();
        for rdn in rdns {
            let mut avas: Vec<Vec<u8>> = rdn
                .iter()
                .map(|ava| {
                    let mut out = Vec::new();
                    let oid = ava.oid.as_bytes();
                    push_chunk(&mut out, oid);
                    match string_value(&ava.value) {
                        Some(s) => {
                            out.push(b's');
                            push_chunk(&mut out, prepare(&s).as_bytes());
                        }
                        None => {
                            out.push(b'b');
                            out.extend(der::Encode::to_der(&ava.value.tag()).unwrap_or_default());
                            push_chunk(&mut out, ava.value.value());
                        }
                    }
                    out
                })
                .collect();
            avas.sort();
            key.push(b'[');
            for a in avas {
                push_chunk(&mut key, &a);
            }
        }
        Self(key)
    }

    /// Whether this is the empty name.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `self` starts with all the RDNs of `prefix` (RFC 5280 §4.2.1.10 directory
    /// name subtrees).
    pub fn starts_with(&self, prefix: &NameKey) -> bool {
        // RDNs are framed, so a byte prefix that ends on an RDN boundary is an RDN prefix.
        self.0.starts_with(&prefix.0)
            && (self.0.len() == prefix.0.len() || self.0[prefix.0.len()] == b'[')
    }
}

fn push_chunk(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
    out.extend_from_slice(bytes);
}

/// Decodes a character-string attribute value, whatever its ASN.1 string type.
pub fn string_value(value: &Any) -> Option<String> {
    let bytes = value.value();
    match value.tag() {
        Tag::Utf8String => std::str::from_utf8(bytes).ok().map(str::to_owned),
        Tag::PrintableString
        | Tag::Ia5String
        | Tag::VisibleString
        | Tag::NumericString
        | Tag::TeletexString => Some(bytes.iter().map(|b| *b as char).collect()),
        Tag::BmpString => {
            if !bytes.len().is_multiple_of(2) {
                return None;
            }
            let units: Vec<u16> = bytes
                .chunks(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]))
                .collect();
            String::from_utf16(&units).ok()
        }
        _ => None,
    }
}

/// RFC 4518 in the form that matters for matching: case fold, trim, collapse white space.
fn prepare(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for word in s.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.extend(word.chars().flat_map(char::to_lowercase));
    }
    out
}

/// A name as RFC 4514 text, for messages (`CN=bodhi-app01.example.org,O=Example`), with
/// control and invisible characters escaped ([`crate::display::escape`]): a subject
/// name never forges a log line.
pub fn display(name: &Name) -> String {
    let text = name.to_string();
    if text.is_empty() {
        "(empty name)".into()
    } else {
        crate::display::escape(&text).into_owned()
    }
}

/// The first common name of `name`, as text.
pub fn common_name(name: &Name) -> Option<String> {
    name.iter()
        .find(|ava| ava.oid == crate::oid::AT_COMMON_NAME)
        .and_then(|ava| string_value(&ava.value))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn key(s: &str) -> NameKey {
        NameKey::new(&Name::from_str(s).unwrap())
    }

    #[test]
    fn case_and_white_space_do_not_matter() {
        assert_eq!(
            key("CN=Good  CA,O=Test Certificates"),
            key("CN=good ca,O=test certificates")
        );
        assert_ne!(key("CN=Good CA,O=Test"), key("CN=Good CB,O=Test"));
    }

    #[test]
    fn display_escapes_controls() {
        // x509-cert escapes C0 controls and DEL itself (`\0a`); C1 controls (NEL is a
        // line break to some terminals) and bidi overrides get through it.
        let name = Name::from_str("CN=a\u{85}waxseal: verified \u{202e}gpj.exe,O=Example").unwrap();
        assert!(name.to_string().contains('\u{85}'));
        let shown = display(&name);
        assert!(
            !shown.contains('\u{85}') && !shown.contains('\u{202e}'),
            "{shown}"
        );
        assert!(
            shown.contains("a\\u{85}waxseal: verified \\u{202e}gpj.exe"),
            "{shown}"
        );
        let c0 = display(&Name::from_str("CN=a\\0Ab\\1B,O=Example").unwrap());
        assert!(!c0.contains('\n') && !c0.contains('\x1b'), "{c0}");
        // The positive twin: an ordinary name is shown as it is.
        assert_eq!(
            display(&Name::from_str("CN=x,O=Example").unwrap()),
            "CN=x,O=Example"
        );
    }

    #[test]
    fn rdn_order_matters() {
        assert_ne!(key("CN=a,O=b"), key("O=b,CN=a"));
    }

    #[test]
    fn prefix_matches_whole_rdns_only() {
        let full = key("CN=leaf,OU=x,O=Example,C=US");
        assert!(full.starts_with(&key("OU=x,O=Example,C=US")));
        assert!(!full.starts_with(&key("OU=y,O=Example,C=US")));
        let base = key("C=US");
        let longer = key("O=Example,C=US");
        assert!(longer.starts_with(&base));
        assert!(!key("C=USA").starts_with(&base));
    }
}
