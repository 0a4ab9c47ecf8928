//! `doctor`: what is wrong with the certificates and keys in a directory, each with its fix.
//!
//! It reads a PKI directory (with `inventory.json`) or a deployment directory (the
//! certificates and keys installed on one host). Identity: in a deployment directory every
//! `<service>-<fqdn>` certificate must name this host; in a PKI directory, which holds every
//! host's certificates, only temporary identities (`localhost.localdomain`, `*.localdomain`)
//! are flagged, since other hosts' names are expected there.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use waxseal_envelope::{Certificate, Crl, time};

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
    let inv_path = dir.join(INVENTORY);
    let inventory = if inv_path.is_file() {
        let text = std::fs::read_to_string(&inv_path).map_err(|source| PkiError::Io {
            path: inv_path.display().to_string(),
            source,
        })?;
        Some(
            Inventory::from_json(&text)
                .map_err(|e| PkiError::Usage(format!("{}: {e}", inv_path.display())))?,
        )
    } else {
        None
    };
    let d = dir.display();
    let mut out = Vec::new();
    let mut add =
        |file: PathBuf, problem: String, fix: String| out.push(Finding { file, problem, fix });

    // Revoked serials: the inventory's, and those on crl.pem.
    let mut revoked: HashSet<String> = inventory
        .iter()
        .flat_map(|i| i.entries.iter())
        .filter(|e| e.status == Status::Revoked)
        .map(|e| e.serial.clone())
        .collect();
    let crl_path = dir.join(CRL_PEM);
    if crl_path.is_file() {
        match std::fs::read(&crl_path)
            .ok()
            .and_then(|b| Crl::load_all(&b).ok())
        {
            Some(crls) => {
                for crl in crls {
                    revoked.extend(crl.entries().iter().map(|e| hex::encode(&e.serial)));
                    match crl.next_update() {
                        Some(t) if t < now => add(
                            crl_path.clone(),
                            format!(
                                "the CRL from {} expired at {}",
                                crl.issuer_display(),
                                time::format(t)
                            ),
                            format!("waxseal pki crl --dir {d}, then publish crl.pem"),
                        ),
                        Some(t) if t - now < CRL_WARN_SECS => add(
                            crl_path.clone(),
                            format!(
                                "the CRL from {} expires at {}",
                                crl.issuer_display(),
                                time::format(t)
                            ),
                            format!("waxseal pki crl --dir {d}, then publish crl.pem"),
                        ),
                        _ => {}
                    }
                }
            }
            None => add(
                crl_path.clone(),
                "unreadable CRL file".into(),
                format!("waxseal pki crl --dir {d}"),
            ),
        }
    }

    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|source| PkiError::Io {
            path: dir.display().to_string(),
            source,
        })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    let warn = warn_days * 86_400;
    let renew_fix = |name: &str| match &inventory {
        Some(_) => format!("waxseal pki issue --dir {d} --renew {name}"),
        None => format!(
            "re-issue {name} on the CA (waxseal pki issue --renew {name}) and install it here"
        ),
    };

    for path in &files {
        let file = path
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default();
        if let Some(stem) = file.strip_suffix(".key") {
            if let Some(mode) = fsutil::mode(path)
                && mode & 0o077 != 0
            {
                add(
                    path.clone(),
                    format!("private key readable by group or others (mode {mode:04o})"),
                    format!("chmod 600 {}", path.display()),
                );
            }
            if !dir.join(format!("{stem}.crt")).exists() && !file.ends_with("-ca.key") {
                add(
                    path.clone(),
                    "private key without a certificate".into(),
                    "remove it, or re-issue the certificate".into(),
                );
            }
            continue;
        }
        let Some(stem) = file.strip_suffix(".crt") else {
            continue;
        };
        let cert = match std::fs::read(path)
            .ok()
            .and_then(|b| Certificate::load_all(&b).ok())
            .and_then(|mut v| v.pop())
        {
            Some(c) => c,
            None => {
                add(
                    path.clone(),
                    "unreadable certificate".into(),
                    "remove or replace it".into(),
                );
                continue;
            }
        };
        let is_ca_file = file == ROOT_CERT || file == SIGNING_CERT;
        let expiry_fix = || {
            if is_ca_file {
                format!("waxseal pki rebuild --dir {d} --yes")
            } else {
                renew_fix(stem)
            }
        };
        if cert.not_after() < now {
            add(
                path.clone(),
                format!("expired at {}", time::format(cert.not_after())),
                expiry_fix(),
            );
        } else if cert.not_after() - now < warn {
            add(
                path.clone(),
                format!(
                    "expires at {} (in {} days)",
                    time::format(cert.not_after()),
                    (cert.not_after() - now) / 86_400
                ),
                expiry_fix(),
            );
        }
        if is_ca_file {
            continue;
        }
        if revoked.contains(&cert.serial_hex()) {
            add(
                path.clone(),
                format!("revoked (serial {}) but still on disk", cert.serial_hex()),
                format!("remove {stem}.crt and {stem}.key: a revoked certificate cannot sign"),
            );
        }
        let name = match ServiceHost::parse(stem) {
            Ok(n) => n,
            Err(e) => {
                add(path.clone(), e.to_string(), "rename or remove it".into());
                continue;
            }
        };
        if cert.common_name().as_deref() != Some(stem) {
            add(
                path.clone(),
                format!(
                    "file name does not match the certificate's CN {:?}",
                    cert.common_name().unwrap_or_default()
                ),
                "rename the file to <CN>.crt".into(),
            );
        }
        let wrong_identity =
            name.host() != hostname && (is_temporary_identity(name.host()) || inventory.is_none());
        if wrong_identity {
            let fix = match &inventory {
                Some(_) => format!(
                    "waxseal pki reseed --dir {d} --from {} --to {hostname}",
                    name.host()
                ),
                None => format!(
                    "on the CA: waxseal pki reseed --dir CA_DIR --from {} --to {hostname}; install {}-{hostname}.crt/.key here",
                    name.host(),
                    name.service()
                ),
            };
            add(
                path.clone(),
                format!(
                    "identity {} does not match this host ({hostname})",
                    name.host()
                ),
                fix,
            );
        }
        if let Some(inv) = &inventory
            && inv
                .active_named(stem)
                .is_none_or(|e| e.serial != cert.serial_hex())
            && !revoked.contains(&cert.serial_hex())
        {
            add(
                path.clone(),
                "not in the inventory (a rebuild would not include it)".into(),
                format!("waxseal pki issue --dir {d} --force {stem}"),
            );
        }
    }
    if let Some(inv) = &inventory {
        for e in inv.active() {
            let crt = dir.join(format!("{}.crt", e.name));
            if !crt.exists() {
                add(
                    crt,
                    "listed as live in the inventory but missing".into(),
                    renew_fix(&e.name),
                );
            }
        }
    }
    Ok(out)
}
