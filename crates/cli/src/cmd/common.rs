//! Loading trust material and mapping library errors to CLI errors.

use std::path::{Path, PathBuf};

use waxseal_envelope::store::{load_certificates, load_crls};
use waxseal_envelope::{CertStore, Certificate, CrlSet, PathError, TrustAnchors, VerifyError};

use crate::error::CliError;

/// Loads certificates from each file or directory.
pub fn certificates(paths: &[PathBuf]) -> Result<Vec<Certificate>, CliError> {
    let mut out = Vec::new();
    for p in paths {
        out.extend(load_certificates(p).map_err(|e| CliError::usage(e.to_string()))?);
    }
    Ok(out)
}

/// Trust anchors from `--trust` files.
pub fn anchors(paths: &[PathBuf]) -> Result<TrustAnchors, CliError> {
    TrustAnchors::new(certificates(paths)?)
        .map_err(|_| CliError::usage("no trust anchor certificates found in --trust"))
}

/// A store from `--certs`/`--untrusted` files and directories.
pub fn store(paths: &[PathBuf]) -> Result<CertStore, CliError> {
    Ok(CertStore::from_certificates(certificates(paths)?))
}

/// CRLs from `--crl` files and directories.
pub fn crls(paths: &[PathBuf]) -> Result<CrlSet, CliError> {
    let mut set = CrlSet::new();
    for p in paths {
        for c in load_crls(p).map_err(|e| CliError::usage(e.to_string()))? {
            set.add(c);
        }
    }
    Ok(set)
}

/// `--at` as seconds since the epoch (now when absent).
pub fn time(at: Option<&str>) -> Result<u64, CliError> {
    match at {
        Some(t) => waxseal_envelope::time::parse_rfc3339(t).map_err(CliError::usage),
        None => Ok(waxseal_envelope::time::now()),
    }
}

/// Reads one certificate file (the first certificate in it).
pub fn one_certificate(path: &Path) -> Result<Certificate, CliError> {
    let mut certs = load_certificates(path).map_err(|e| CliError::usage(e.to_string()))?;
    if certs.is_empty() {
        return Err(CliError::usage(format!(
            "{}: no certificate",
            path.display()
        )));
    }
    Ok(certs.remove(0))
}

/// A verification failure as a rejection.
pub fn rejected(e: &VerifyError) -> CliError {
    CliError::rejected(e.code(), e.to_string())
}

/// A path validation failure as a rejection.
pub fn path_rejected(e: &PathError) -> CliError {
    CliError::rejected(e.code(), e.to_string())
}
