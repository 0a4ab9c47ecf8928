//! `<service>-<fqdn>` names: one key pair per service per host.

use std::fmt;

/// A service-host name such as `bodhi-app01.example.org`: service `bodhi` on host
/// `app01.example.org`. The service is `[a-z0-9_]+` (so the first `-` separates it), the
/// host a lower-case DNS name with at least two labels.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ServiceHost {
    service: String,
    host: String,
}

/// A name that is not `<service>-<fqdn>`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{name:?} is not <service>-<fqdn> (e.g. bodhi-app01.example.org): {why}")]
pub struct NameError {
    /// The rejected name.
    pub name: String,
    /// What is wrong with it.
    pub why: &'static str,
}

impl ServiceHost {
    /// Parses `<service>-<fqdn>`.
    pub fn parse(name: &str) -> Result<Self, NameError> {
        let err = |why| NameError {
            name: name.to_string(),
            why,
        };
        let (service, host) = name
            .split_once('-')
            .ok_or(err("no '-' between service and host"))?;
        if service.is_empty()
            || !service
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        {
            return Err(err("the service must be lower-case letters, digits or '_'"));
        }
        check_fqdn(host).map_err(err)?;
        Ok(Self {
            service: service.to_string(),
            host: host.to_string(),
        })
    }

    /// A name from its parts.
    pub fn new(service: &str, host: &str) -> Result<Self, NameError> {
        Self::parse(&format!("{service}-{host}"))
    }

    /// The service (`bodhi`).
    pub fn service(&self) -> &str {
        &self.service
    }

    /// The host (`app01.example.org`).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The same service on another host.
    pub fn on_host(&self, host: &str) -> Result<Self, NameError> {
        Self::new(&self.service, host)
    }
}

impl fmt::Display for ServiceHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.service, self.host)
    }
}

/// Checks a fully qualified host name: lower case, at least two labels, each 1-63 of
/// `[a-z0-9-]` not starting or ending with `-`, 253 characters at most.
pub fn check_fqdn(host: &str) -> Result<(), &'static str> {
    if host.len() > 253 {
        return Err("the host name is longer than 253 characters");
    }
    let labels: Vec<&str> = host.split('.').collect();
    if labels.len() < 2 {
        return Err("the host must be a fully qualified name with a domain (app01.example.org)");
    }
    for l in labels {
        if l.is_empty() || l.len() > 63 {
            return Err("a host label is empty or longer than 63 characters");
        }
        if !l
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err("the host must be lower-case letters, digits, '-' and '.'");
        }
        if l.starts_with('-') || l.ends_with('-') {
            return Err("a host label starts or ends with '-'");
        }
    }
    Ok(())
}

/// Whether `host` is an identity a machine has only while being built
/// (`localhost.localdomain`, `*.localdomain`, `localhost.*`).
pub fn is_temporary_identity(host: &str) -> bool {
    host == "localhost"
        || host.starts_with("localhost.")
        || host.ends_with(".localdomain")
        || host == "localdomain"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_host_names() {
        let n = ServiceHost::parse("bodhi-app01.example.org").unwrap();
        assert_eq!((n.service(), n.host()), ("bodhi", "app01.example.org"));
        assert_eq!(n.to_string(), "bodhi-app01.example.org");
        let n = ServiceHost::parse("fedmsg_relay-app-02.example.org").unwrap();
        assert_eq!(n.host(), "app-02.example.org");
        for bad in [
            "bodhi",
            "-app01.example.org",
            "bodhi-app01",
            "Bodhi-app01.example.org",
            "bodhi-app01..org",
            "bodhi-app01.example.org-",
            "bodhi-APP01.example.org",
            "bo dhi-a.b",
        ] {
            assert!(ServiceHost::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn temporary_identities() {
        assert!(is_temporary_identity("localhost.localdomain"));
        assert!(is_temporary_identity("build7.localdomain"));
        assert!(!is_temporary_identity("app01.example.org"));
    }
}
