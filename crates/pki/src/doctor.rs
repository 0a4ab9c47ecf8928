//! `doctor`: what is wrong with the certificates and keys in a directory, each with its fix.
//!
//! It reads a PKI directory (with `inventory.json`) or a deployment directory (the
//! certificates and keys installed on one host). Identity: in a deployment directory every
//! `<service>-<fqdn>` certificate must name this host; in a PKI directory, which holds every
//! host's certificates, only temporary identities (`localhost.localdomain`, `*.localdomain`)
//! are flagged, since other hosts' names are expected there.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use waxseal_trust::{Certificate, Crl, time};

use crate::dir::{CRL_PEM, INVENTORY, PkiError, ROOT_CERT, SIGNING_CERT};
use crate::fsutil;
use crate::inventory::{Inventory, Status};
use crate::name::{ServiceHost, is_temporary_identity};

/// One problem and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The file concerned.
    pub file: PathBuf,
    /// What is wrong.
    pub problem: String,
    /// The command or action that fixes it.
    pub fix: String,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: {}; fix: {}",
            self.file.display(),
            self.problem,
            self.fix
        )
    }
}

/// How close to expiry a CRL is flagged, in seconds.
const CRL_WARN_SECS: u64 = 2 * 86_400;

/// Examines `dir` as of `now` for host `hostname`; certificates expiring within
/// `warn_days` are flagged.
pub fn doctor(
    dir: &Path,
    hostname: &str,
    warn_days: u64,
    now: u64,
) -> Result<Vec<Finding>, PkiError> {
    if !dir.is_dir() {
        return Err(PkiError::Usage(format!(
            "{} is not a directory",
            dir.display()
        )));
    }
    let inventory = read_inventory(dir)?;
    let mut exam = Exam {
        dir,
        shown: dir.display().to_string(),
        hostname,
        now,
        warn: warn_days * 86_400,
        revoked: inventory_revoked(inventory.as_ref()),
        inventory,
        findings: Vec::new(),
    };
    exam.crls();
    for path in &files_in(dir)? {
        exam.file(path);
    }
    exam.missing_live();
    Ok(exam.findings)
}

/// The directory's inventory, when it is a PKI directory (has `inventory.json`).
fn read_inventory(dir: &Path) -> Result<Option<Inventory>, PkiError> {
    let inv_path = dir.join(INVENTORY);
    if !inv_path.is_file() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(&inv_path).map_err(|source| PkiError::Io {
        path: inv_path.display().to_string(),
        source,
    })?;
    Inventory::from_json(&text)
        .map(Some)
        .map_err(|e| PkiError::Usage(format!("{}: {e}", inv_path.display())))
}

/// The serials the inventory lists as revoked.
fn inventory_revoked(inventory: Option<&Inventory>) -> HashSet<String> {
    inventory
        .iter()
        .flat_map(|i| i.entries.iter())
        .filter(|e| e.status == Status::Revoked)
        .map(|e| e.serial.clone())
        .collect()
}

/// The regular files of `dir`, sorted (findings come out in file-name order).
fn files_in(dir: &Path) -> Result<Vec<PathBuf>, PkiError> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|source| PkiError::Io {
            path: dir.display().to_string(),
            source,
        })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    Ok(files)
}

/// One examination of a directory: what it knows so far and what it has found.
struct Exam<'a> {
    dir: &'a Path,
    /// `dir` as printed in fixes.
    shown: String,
    hostname: &'a str,
    now: u64,
    /// How close to expiry a certificate is flagged, in seconds.
    warn: u64,
    inventory: Option<Inventory>,
    /// Revoked serials: the inventory's, and (after [`Exam::crls`]) those on crl.pem.
    revoked: HashSet<String>,
    findings: Vec<Finding>,
}

impl Exam<'_> {
    fn add(&mut self, file: PathBuf, problem: String, fix: String) {
        self.findings.push(Finding { file, problem, fix });
    }

    /// crl.pem: readable, not expired nor about to; its serials count as revoked.
    fn crls(&mut self) {
        let crl_path = self.dir.join(CRL_PEM);
        if !crl_path.is_file() {
            return;
        }
        let d = self.shown.clone();
        let Some(crls) = std::fs::read(&crl_path)
            .ok()
            .and_then(|b| Crl::load_all(&b).ok())
        else {
            self.add(
                crl_path,
                "unreadable CRL file".into(),
                format!("waxseal pki crl --dir {d}"),
            );
            return;
        };
        for crl in crls {
            self.revoked
                .extend(crl.entries().iter().map(|e| hex::encode(&e.serial)));
            let (verb, t) = match crl.next_update() {
                Some(t) if t < self.now => ("expired", t),
                Some(t) if t - self.now < CRL_WARN_SECS => ("expires", t),
                _ => continue,
            };
            self.add(
                crl_path.clone(),
                format!(
                    "the CRL from {} {verb} at {}",
                    crl.issuer_display(),
                    time::format(t)
                ),
                format!("waxseal pki crl --dir {d}, then publish crl.pem"),
            );
        }
    }

    /// One file: a private key, a certificate, or something doctor does not look at.
    fn file(&mut self, path: &Path) {
        let file = path
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default();
        if let Some(stem) = file.strip_suffix(".key") {
            self.key(path, &file, stem);
        } else if let Some(stem) = file.strip_suffix(".crt") {
            self.certificate(path, &file, stem);
        }
    }

    /// A private key: only its owner reads it, and it has its certificate (CA keys aside).
    fn key(&mut self, path: &Path, file: &str, stem: &str) {
        if let Some(mode) = fsutil::mode(path)
            && mode & 0o077 != 0
        {
            self.add(
                path.to_path_buf(),
                format!("private key readable by group or others (mode {mode:04o})"),
                format!("chmod 600 {}", path.display()),
            );
        }
        if !self.dir.join(format!("{stem}.crt")).exists() && !file.ends_with("-ca.key") {
            self.add(
                path.to_path_buf(),
                "private key without a certificate".into(),
                "remove it, or re-issue the certificate".into(),
            );
        }
    }

    /// A certificate: readable, in date, and (a service's) not revoked, named as its CN,
    /// for this host and in the inventory.
    fn certificate(&mut self, path: &Path, file: &str, stem: &str) {
        let Some(cert) = std::fs::read(path)
            .ok()
            .and_then(|b| Certificate::load_all(&b).ok())
            .and_then(|mut v| v.pop())
        else {
            self.add(
                path.to_path_buf(),
                "unreadable certificate".into(),
                "remove or replace it".into(),
            );
            return;
        };
        let is_ca_file = file == ROOT_CERT || file == SIGNING_CERT;
        self.expiry(path, &cert, stem, is_ca_file);
        if is_ca_file {
            return;
        }
        if self.revoked.contains(&cert.serial_hex()) {
            self.add(
                path.to_path_buf(),
                format!("revoked (serial {}) but still on disk", cert.serial_hex()),
                format!("remove {stem}.crt and {stem}.key: a revoked certificate cannot sign"),
            );
        }
        let name = match ServiceHost::parse(stem) {
            Ok(n) => n,
            Err(e) => {
                self.add(
                    path.to_path_buf(),
                    e.to_string(),
                    "rename or remove it".into(),
                );
                return;
            }
        };
        if cert.common_name().as_deref() != Some(stem) {
            self.add(
                path.to_path_buf(),
                format!(
                    "file name does not match the certificate's CN {:?}",
                    cert.common_name().unwrap_or_default()
                ),
                "rename the file to <CN>.crt".into(),
            );
        }
        self.identity(path, &name);
        self.inventoried(path, &cert, stem);
    }

    /// A certificate expired or expiring within the warning window; a CA's fix is a
    /// rebuild, a service's a renewal.
    fn expiry(&mut self, path: &Path, cert: &Certificate, stem: &str, is_ca_file: bool) {
        let not_after = cert.not_after();
        let problem = if not_after < self.now {
            format!("expired at {}", time::format(not_after))
        } else if not_after - self.now < self.warn {
            format!(
                "expires at {} (in {} days)",
                time::format(not_after),
                (not_after - self.now) / 86_400
            )
        } else {
            return;
        };
        let fix = if is_ca_file {
            format!("waxseal pki rebuild --dir {} --yes", self.shown)
        } else {
            self.renew_fix(stem)
        };
        self.add(path.to_path_buf(), problem, fix);
    }

    /// A certificate for another host: in a deployment directory any other host, in a
    /// PKI directory a temporary identity.
    fn identity(&mut self, path: &Path, name: &ServiceHost) {
        let hostname = self.hostname;
        let wrong_identity = name.host() != hostname
            && (is_temporary_identity(name.host()) || self.inventory.is_none());
        if !wrong_identity {
            return;
        }
        let fix = match &self.inventory {
            Some(_) => format!(
                "waxseal pki reseed --dir {} --from {} --to {hostname}",
                self.shown,
                name.host()
            ),
            None => format!(
                "on the CA: waxseal pki reseed --dir CA_DIR --from {} --to {hostname}; install {}-{hostname}.crt/.key here",
                name.host(),
                name.service()
            ),
        };
        self.add(
            path.to_path_buf(),
            format!(
                "identity {} does not match this host ({hostname})",
                name.host()
            ),
            fix,
        );
    }

    /// A live certificate the inventory does not list (so a rebuild would drop it).
    fn inventoried(&mut self, path: &Path, cert: &Certificate, stem: &str) {
        if let Some(inv) = &self.inventory
            && inv
                .active_named(stem)
                .is_none_or(|e| e.serial != cert.serial_hex())
            && !self.revoked.contains(&cert.serial_hex())
        {
            self.add(
                path.to_path_buf(),
                "not in the inventory (a rebuild would not include it)".into(),
                format!("waxseal pki issue --dir {} --force {stem}", self.shown),
            );
        }
    }

    /// Certificates the inventory lists as live that are not on disk.
    fn missing_live(&mut self) {
        let Some(inv) = &self.inventory else {
            return;
        };
        let missing: Vec<(PathBuf, String)> = inv
            .active()
            .map(|e| (self.dir.join(format!("{}.crt", e.name)), e.name.clone()))
            .filter(|(crt, _)| !crt.exists())
            .collect();
        for (crt, name) in missing {
            let fix = self.renew_fix(&name);
            self.add(
                crt,
                "listed as live in the inventory but missing".into(),
                fix,
            );
        }
    }

    /// How to renew service certificate `name`: here in a PKI directory, on the CA and
    /// installed here in a deployment directory.
    fn renew_fix(&self, name: &str) -> String {
        match &self.inventory {
            Some(_) => format!("waxseal pki issue --dir {} --renew {name}", self.shown),
            None => format!(
                "re-issue {name} on the CA (waxseal pki issue --renew {name}) and install it here"
            ),
        }
    }
}
