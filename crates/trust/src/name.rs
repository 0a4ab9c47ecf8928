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
    let text = rfc4514(name);
    if text.is_empty() {
        "(empty name)".into()
    } else {
        crate::display::escape(&text).into_owned()
    }
}

/// `name` as RFC 4514 text, exactly as `x509-cert` writes it (`Name`'s `Display`: RDNs
/// last first, `+` between the values of one RDN, a value as `KEY=text` when its type
/// has a name and it is a character string, else `OID=#hex` of its DER), without looking
/// the type's name up in `const-oid`'s database for every value: that lookup walks the
/// whole database, and a bus names the signer of every message it accepts (a
/// certificate carried by the message is new each time). The names are looked up once
/// per type and kept; a test compares the output with `x509-cert`'s.
fn rfc4514(name: &Name) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(64);
    let rdns: Vec<&RelativeDistinguishedName> = name.iter_rdn().collect();
    for (i, rdn) in rdns.into_iter().rev().enumerate() {
        if i > 0 {
            out.push(',');
        }
        for (j, atv) in rdn.iter().enumerate() {
            if j > 0 {
                out.push('+');
            }
            let value = string_text(&atv.value);
            match (type_name(&atv.oid), value) {
                (Some(key), Some(value)) => {
                    out.push_str(&key);
                    out.push('=');
                    let mut chars = value.char_indices().peekable();
                    while let Some((k, c)) = chars.next() {
                        match c {
                            '#' if k == 0 => out.push_str("\\#"),
                            ' ' if k == 0 || chars.peek().is_none() => out.push_str("\\ "),
                            '"' | '+' | ',' | ';' | '<' | '>' | '\\' => {
                                out.push('\\');
                                out.push(c);
                            }
                            '\x00'..='\x1f' | '\x7f' => {
                                let _ = write!(out, "\\{:02x}", c as u8);
                            }
                            _ => out.push(c),
                        }
                    }
                }
                _ => {
                    let _ = write!(out, "{}=#", atv.oid);
                    for b in der::Encode::to_der(&atv.value).unwrap_or_default() {
                        let _ = write!(out, "{b:02x}");
                    }
                }
            }
        }
    }
    out
}

/// The text of a PrintableString, UTF8String, IA5String or TeletexString value (what
/// `x509-cert` writes as text), else `None`.
fn string_text(value: &Any) -> Option<&str> {
    use der::asn1::{Ia5StringRef, PrintableStringRef, TeletexStringRef, Utf8StringRef};
    match value.tag() {
        Tag::PrintableString => PrintableStringRef::try_from(value).ok().map(|s| s.as_str()),
        Tag::Utf8String => Utf8StringRef::try_from(value).ok().map(|s| s.as_str()),
        Tag::Ia5String => Ia5StringRef::try_from(value).ok().map(|s| s.as_str()),
        Tag::TeletexString => TeletexStringRef::try_from(value).ok().map(|s| s.as_str()),
        _ => None,
    }
}

/// The shortest name `const-oid`'s database has for an attribute type, upper case (what
/// `x509-cert` writes), looked up once per type. Bounded: at most [`TYPE_NAMES`] types
/// are kept (a flood of made-up types is looked up each time beyond that, as before).
fn type_name(oid: &der::asn1::ObjectIdentifier) -> Option<String> {
    use std::collections::HashMap;
    use std::sync::{LazyLock, RwLock};
    static NAMES: LazyLock<RwLock<HashMap<der::asn1::ObjectIdentifier, Option<String>>>> =
        LazyLock::new(Default::default);
    if let Some(known) = NAMES.read().unwrap_or_else(|p| p.into_inner()).get(oid) {
        return known.clone();
    }
    // The first of the shortest names, as x509-cert picks it.
    let mut shortest: Option<&str> = None;
    for n in const_oid::db::DB.find_names_for_oid(*oid) {
        if shortest.is_none_or(|s| n.len() < s.len()) {
            shortest = Some(n);
        }
    }
    let name = shortest.map(str::to_ascii_uppercase);
    let mut names = NAMES.write().unwrap_or_else(|p| p.into_inner());
    if names.len() < TYPE_NAMES {
        names.insert(*oid, name.clone());
    }
    name
}

/// How many attribute types [`type_name`] keeps the name of.
const TYPE_NAMES: usize = 256;

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

    #[test]
    fn names_display_exactly_as_x509_cert_writes_them() {
        use der::asn1::{Ia5StringRef, PrintableStringRef, TeletexStringRef, Utf8StringRef};
        use x509_cert::attr::AttributeTypeAndValue;
        let texts = [
            "CN=speed-rsa2048.example.org,O=waxseal tests",
            "CN=a+OU=b,O=Org\\, Inc.,C=US",
            "DC=org,DC=example,UID=jdoe,SERIALNUMBER=1234",
            "CN=\\#hash\\ ,L=Zürich,ST=Genève",
            "CN=quote\\\"plus\\+semi\\;lt\\<gt\\>back\\\\slash",
            "1.2.3.4=#0c03616263,CN=x",
            "CN= lead and trail ",
        ];
        let mut names: Vec<Name> = texts.iter().map(|t| Name::from_str(t).unwrap()).collect();
        // Every string type, controls and DEL, an unknown type, a value of another type.
        let oid = |s: &str| der::asn1::ObjectIdentifier::new_unwrap(s);
        let values = [
            Any::from(Utf8StringRef::new("ctl\u{1}\u{1f}\u{7f}end").unwrap()),
            Any::from(PrintableStringRef::new("Printable").unwrap()),
            Any::from(Ia5StringRef::new("user@example.org").unwrap()),
            Any::from(TeletexStringRef::new("teletex").unwrap()),
            Any::from(der::asn1::OctetStringRef::new(&[1, 2, 255]).unwrap()),
            Any::from(Utf8StringRef::new("").unwrap()),
        ];
        for type_oid in [
            "2.5.4.3",
            "2.5.4.10",
            "1.2.840.113549.1.9.1",
            "0.9.2342.19200300.100.1.25",
            "1.3.6.1.4.1.99999.1",
        ] {
            for v in &values {
                let mut seq: x509_cert::name::RdnSequence =
                    Name::from_str("O=base").unwrap().into();
                let atv = AttributeTypeAndValue {
                    oid: oid(type_oid),
                    value: v.clone(),
                };
                seq.push(RelativeDistinguishedName::try_from(vec![atv]).unwrap());
                let der = der::Encode::to_der(&seq).unwrap();
                names.push(<Name as der::Decode>::from_der(&der).unwrap());
            }
        }
        names.push(Name::default());
        for n in &names {
            assert_eq!(rfc4514(n), n.to_string(), "{n:?}");
            // Again, with the type names kept.
            assert_eq!(rfc4514(n), n.to_string(), "{n:?}");
        }
        assert_eq!(display(&Name::default()), "(empty name)");
    }

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
