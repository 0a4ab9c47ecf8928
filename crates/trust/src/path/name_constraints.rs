//! Name constraints (RFC 5280 §4.2.1.10, §6.1.3 (b)-(c), §6.1.4 (g)).
//!
//! Rather than intersecting subtrees into one `permitted_subtrees` state, each CA's
//! constraints are kept and a name must satisfy every one of them: the same result, and
//! each check stays a simple match against one certificate's subtrees.

use x509_cert::ext::pkix::NameConstraints;
use x509_cert::ext::pkix::constraints::name::GeneralSubtree;
use x509_cert::ext::pkix::name::GeneralName;

use super::PathError;
use crate::cert::Certificate;
use crate::name::{NameKey, string_value};
use crate::oid;

/// A name of the certificate being checked, in the form constraints compare.
enum Subject {
    Directory(NameKey, String),
    Email(String),
    Dns(String),
    Uri(String),
    Ip(Vec<u8>),
    /// otherName, x400Address, ediPartyName, registeredID: kinds waxseal cannot match.
    Other(u8),
}

impl Subject {
    fn kind(&self) -> u8 {
        match self {
            Self::Directory(..) => 4,
            Self::Email(_) => 1,
            Self::Dns(_) => 2,
            Self::Uri(_) => 6,
            Self::Ip(_) => 7,
            Self::Other(k) => *k,
        }
    }

    fn describe(&self) -> String {
        match self {
            Self::Directory(_, s) => format!("directoryName {s}"),
            Self::Email(s) => format!("rfc822Name {s}"),
            Self::Dns(s) => format!("dNSName {s}"),
            Self::Uri(s) => format!("uniformResourceIdentifier {s}"),
            Self::Ip(b) => format!("iPAddress {}", hex::encode(b)),
            Self::Other(k) => format!("name of type [{k}]"),
        }
    }
}

fn kind_of(name: &GeneralName) -> u8 {
    match name {
        GeneralName::OtherName(_) => 0,
        GeneralName::Rfc822Name(_) => 1,
        GeneralName::DnsName(_) => 2,
        GeneralName::DirectoryName(_) => 4,
        GeneralName::EdiPartyName(_) => 5,
        GeneralName::UniformResourceIdentifier(_) => 6,
        GeneralName::IpAddress(_) => 7,
        GeneralName::RegisteredId(_) => 8,
    }
}

fn subject_names(cert: &Certificate) -> Vec<Subject> {
    let mut names = Vec::new();
    if !cert.subject().is_empty() {
        names.push(Subject::Directory(
            cert.subject_key().clone(),
            cert.subject_display(),
        ));
    }
    match &cert.extensions().subject_alt_name {
        Some(san) => {
            for n in san {
                names.push(match n {
                    GeneralName::Rfc822Name(s) => Subject::Email(s.to_string()),
                    GeneralName::DnsName(s) => Subject::Dns(s.to_string()),
                    GeneralName::UniformResourceIdentifier(s) => Subject::Uri(s.to_string()),
                    GeneralName::IpAddress(b) => Subject::Ip(b.as_bytes().to_vec()),
                    GeneralName::DirectoryName(dn) => {
                        Subject::Directory(NameKey::new(dn), crate::name::display(dn))
                    }
                    other => Subject::Other(kind_of(other)),
                });
            }
        }
        // "When constraints are imposed on the rfc822Name name form, but the certificate
        // does not include a subject alternative name, the rfc822Name constraint MUST be
        // applied to the attribute of type emailAddress in the subject distinguished name."
        None => {
            for ava in cert.subject().iter() {
                if ava.oid == oid::AT_EMAIL_ADDRESS
                    && let Some(s) = string_value(&ava.value)
                {
                    names.push(Subject::Email(s));
                }
            }
        }
    }
    names
}

fn matches(base: &GeneralName, name: &Subject) -> bool {
    match (base, name) {
        (GeneralName::DirectoryName(dn), Subject::Directory(key, _)) => {
            key.starts_with(&NameKey::new(dn))
        }
        (GeneralName::Rfc822Name(c), Subject::Email(e)) => email_matches(c.as_ref(), e),
        (GeneralName::DnsName(c), Subject::Dns(d)) => dns_matches(c.as_ref(), d),
        (GeneralName::UniformResourceIdentifier(c), Subject::Uri(u)) => {
            uri_host(u).is_some_and(|h| host_matches(c.as_ref(), &h))
        }
        (GeneralName::IpAddress(c), Subject::Ip(ip)) => ip_matches(c.as_bytes(), ip),
        _ => false,
    }
}

fn email_matches(constraint: &str, email: &str) -> bool {
    let Some((local, host)) = email.rsplit_once('@') else {
        return false;
    };
    if let Some((c_local, c_host)) = constraint.rsplit_once('@') {
        return c_local == local && c_host.eq_ignore_ascii_case(host);
    }
    host_matches(constraint, host)
}

/// `host` against a constraint naming a host (`example.com`: exactly that host) or a
/// domain (`.example.com`: any host inside it), as rfc822Name and URI constraints do.
fn host_matches(constraint: &str, host: &str) -> bool {
    let (c, h) = (constraint.to_ascii_lowercase(), host.to_ascii_lowercase());
    if c.starts_with('.') {
        h.ends_with(&c)
    } else {
        h == c
    }
}

/// dNSName: the constraint and every name formed by adding labels on the left.
fn dns_matches(constraint: &str, name: &str) -> bool {
    let c = constraint.trim_end_matches('.').to_ascii_lowercase();
    let n = name.trim_end_matches('.').to_ascii_lowercase();
    if c.is_empty() {
        return true;
    }
    if let Some(domain) = c.strip_prefix('.') {
        return n.ends_with(&format!(".{domain}"));
    }
    n == c || n.ends_with(&format!(".{c}"))
}

/// The host of a URI with an authority (`scheme://[userinfo@]host[:port]/...`).
fn uri_host(uri: &str) -> Option<String> {
    let rest = uri.split_once("://")?.1;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host_port = authority
        .rsplit_once('@')
        .map(|(_, h)| h)
        .unwrap_or(authority);
    let host = if host_port.starts_with('[') {
        host_port.split(']').next()?.trim_start_matches('[')
    } else {
        host_port.split(':').next()?
    };
    (!host.is_empty()).then(|| host.to_string())
}

fn ip_matches(constraint: &[u8], ip: &[u8]) -> bool {
    if constraint.len() != ip.len() * 2 {
        return false;
    }
    let (base, mask) = constraint.split_at(ip.len());
    ip.iter()
        .zip(base)
        .zip(mask)
        .all(|((a, b), m)| a & m == b & m)
}

/// The name constraints of the CAs processed so far.
#[derive(Default)]
pub(crate) struct NameConstraintsState {
    sets: Vec<NameConstraints>,
}

impl NameConstraintsState {
    /// Records `cert`'s constraints for the certificates below it.
    pub(crate) fn add(&mut self, cert: &Certificate) {
        if let Some(nc) = &cert.extensions().name_constraints {
            self.sets.push(nc.clone());
        }
    }

    /// Checks `cert`'s names against every recorded set.
    pub(crate) fn check_names(&self, cert: &Certificate) -> Result<(), PathError> {
        if self.sets.is_empty() {
            return Ok(());
        }
        let names = subject_names(cert);
        let violation = |n: &Subject| PathError::NameConstraints {
            cert: cert.subject_display(),
            name: n.describe(),
        };
        for set in &self.sets {
            let permitted: &[GeneralSubtree] = set.permitted_subtrees.as_deref().unwrap_or(&[]);
            let excluded: &[GeneralSubtree] = set.excluded_subtrees.as_deref().unwrap_or(&[]);
            for name in &names {
                let kind = name.kind();
                let same_kind = |t: &&GeneralSubtree| kind_of(&t.base) == kind;
                if let Subject::Other(_) = name {
                    if permitted.iter().any(|t| same_kind(&t))
                        || excluded.iter().any(|t| same_kind(&t))
                    {
                        return Err(violation(name));
                    }
                    continue;
                }
                if excluded
                    .iter()
                    .filter(same_kind)
                    .any(|t| matches(&t.base, name))
                {
                    return Err(violation(name));
                }
                let mut of_kind = permitted.iter().filter(same_kind).peekable();
                if of_kind.peek().is_some() && !of_kind.any(|t| matches(&t.base, name)) {
                    return Err(violation(name));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_constraints_match_whole_labels() {
        assert!(dns_matches("example.com", "example.com"));
        assert!(dns_matches("example.com", "a.b.example.com"));
        assert!(!dns_matches("example.com", "badexample.com"));
        assert!(dns_matches(".example.com", "a.example.com"));
        assert!(!dns_matches(".example.com", "example.com"));
    }

    #[test]
    fn email_and_uri_constraints() {
        assert!(email_matches("example.com", "bob@EXAMPLE.com"));
        assert!(!email_matches("example.com", "bob@mail.example.com"));
        assert!(email_matches(".example.com", "bob@mail.example.com"));
        assert!(email_matches("bob@example.com", "bob@example.com"));
        assert!(!email_matches("bob@example.com", "alice@example.com"));
        assert_eq!(
            uri_host("http://user@host.example:8080/x").as_deref(),
            Some("host.example")
        );
        assert_eq!(uri_host("urn:example:compute:1"), None);
    }

    #[test]
    fn ip_constraints_use_the_mask() {
        assert!(ip_matches(&[10, 0, 0, 0, 255, 0, 0, 0], &[10, 1, 2, 3]));
        assert!(!ip_matches(&[10, 0, 0, 0, 255, 0, 0, 0], &[11, 1, 2, 3]));
        assert!(!ip_matches(&[10, 0, 0, 0, 255, 0, 0, 0], &[0; 16]));
    }
}
