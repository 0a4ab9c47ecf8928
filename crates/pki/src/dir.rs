//! A PKI directory: the layout operators know, and every lifecycle operation on it.
//!
//! ```text
//! DIR/
//!   inventory.json          what was issued (human-readable JSON, the source of truth)
//!   root-ca.crt             root CA certificate (PEM): the trust anchor verifiers configure
//!   root-ca.key             its private key (0600)
//!   signing-ca.crt          signing CA certificate (PEM), issued by the root
//!   signing-ca.key          its private key (0600)
//!   crl.pem                 current CRLs: the signing CA's, then the root's (PEM)
//!   crl.der                 the signing CA's CRL in DER (only with `crl --der`)
//!   <service>-<fqdn>.crt    one certificate per service per host (PEM)
//!   <service>-<fqdn>.key    its private key (0600)
//!   archive/                superseded files, moved here instead of deleted
//!   .lock                   held while a command runs
//! ```
//!
//! A single-tier PKI ([`PkiDir::init_single_tier`], `waxseal pki init --single-tier`) has
//! no signing CA: the root issues the service-host certificates itself, `crl.pem` holds the
//! root's CRL (listing the revoked certificates) and `crl.der` the same CRL in DER. It is
//! for consumers that trust exactly one CA certificate and build no chains, such as fedmsg
//! 1.x; the inventory records it (`"tiers": 1`), so every later command keeps the layout.

use std::fs::File;
use std::path::{Path, PathBuf};

use x509_cert::ext::pkix::crl::CrlReason;

use waxseal_envelope::Signer;
use waxseal_trust::{Certificate, KeyAlgorithm, KeyError, KeyFileCheck, PrivateKey, time};

use crate::fsutil::{self, KEY_MODE, PUBLIC_MODE};
use crate::inventory::{CaRecord, Entry, FORMAT, Inventory, Status};
use crate::issue::{CertParams, IssueError, Issuer, Revocation};
use crate::name::ServiceHost;
use crate::seed::Seed;

/// `inventory.json`
pub const INVENTORY: &str = "inventory.json";
/// `root-ca.crt`
pub const ROOT_CERT: &str = "root-ca.crt";
/// `root-ca.key`
pub const ROOT_KEY: &str = "root-ca.key";
/// `signing-ca.crt`
pub const SIGNING_CERT: &str = "signing-ca.crt";
/// `signing-ca.key`
pub const SIGNING_KEY: &str = "signing-ca.key";
/// `crl.pem`
pub const CRL_PEM: &str = "crl.pem";
/// `crl.der`
pub const CRL_DER: &str = "crl.der";
/// `archive/`
pub const ARCHIVE: &str = "archive";
const LOCK: &str = ".lock";

const DAY: u64 = 86_400;

/// Validity periods and CRL lifetime.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lifetimes {
    /// Root CA, days.
    pub root_days: u64,
    /// Signing CA, days.
    pub signing_ca_days: u64,
    /// Service-host certificates, days.
    pub leaf_days: u64,
    /// CRL `nextUpdate` after `thisUpdate`, seconds.
    pub crl_secs: u64,
}

impl Default for Lifetimes {
    fn default() -> Self {
        Self {
            root_days: 3650,
            signing_ca_days: 1825,
            leaf_days: 365,
            crl_secs: 30 * DAY,
        }
    }
}

/// Why a PKI operation failed. [`PkiError::exit_code`]: 2 for usage (bad input, not a PKI,
/// unreadable or missing files), 1 for a refusal on the merits.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PkiError {
    /// Bad input or an unusable directory; nothing was changed.
    #[error("{0}")]
    Usage(String),
    /// The operation is refused; nothing was changed.
    #[error("{0}")]
    Rejected(String),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// What happened.
        source: std::io::Error,
    },
    /// Issuing a certificate or CRL failed.
    #[error(transparent)]
    Issue(#[from] IssueError),
}

impl PkiError {
    /// The process exit status for this error.
    pub fn exit_code(&self) -> i32 {
        match self {
            Self::Rejected(_) => 1,
            _ => 2,
        }
    }
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> PkiError + '_ {
    move |source| PkiError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// A certificate issued by [`PkiDir::issue`].
#[derive(Debug, Clone)]
pub struct IssuedEntry {
    /// `<service>-<fqdn>`.
    pub name: String,
    /// Serial number, hex.
    pub serial: String,
    /// Certificate file.
    pub cert_path: PathBuf,
    /// Key file.
    pub key_path: PathBuf,
    /// Serial of the certificate it replaced (revoked), if any.
    pub replaced: Option<String>,
}

/// A CRL written by [`PkiDir::write_crl`].
#[derive(Debug, Clone)]
pub struct CrlReport {
    /// Its CRL number.
    pub number: u64,
    /// Its `nextUpdate`.
    pub next_update: u64,
    /// How many certificates it lists.
    pub revoked: usize,
    /// Files written.
    pub files: Vec<PathBuf>,
}

/// What [`PkiDir::reseed`] did.
#[derive(Debug, Clone, Default)]
pub struct ReseedReport {
    /// New certificates.
    pub issued: Vec<IssuedEntry>,
    /// Names whose certificates were revoked (superseded).
    pub revoked: Vec<String>,
    /// The CRL written, if anything changed.
    pub crl: Option<CrlReport>,
}

/// An open PKI directory (holding its lock while open).
#[derive(Debug)]
pub struct PkiDir {
    dir: PathBuf,
    inventory: Inventory,
    algorithm: KeyAlgorithm,
    key_check: KeyFileCheck,
    lifetimes: Lifetimes,
    _lock: File,
}

fn lock(dir: &Path) -> Result<File, PkiError> {
    let path = dir.join(LOCK);
    let mut options = std::fs::OpenOptions::new();
    options.create(true).truncate(false).write(true);
    // Never through a link: the lock file is created where it is named or not at all.
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(
        &mut options,
        rustix::fs::OFlags::NOFOLLOW.bits() as i32,
    );
    let f = options.open(&path).map_err(io(&path))?;
    // A lock held a moment longer than its command: a process forked by another thread of
    // the same program (to run a child) holds a copy of the descriptor until it execs. So
    // a busy lock is tried again for a short while before it counts as another command.
    let mut wait = std::time::Duration::from_millis(5);
    let deadline = std::time::Instant::now() + LOCK_PATIENCE;
    loop {
        match f.try_lock() {
            Ok(()) => return Ok(f),
            Err(std::fs::TryLockError::WouldBlock) if std::time::Instant::now() < deadline => {
                std::thread::sleep(wait);
                wait = (wait * 2).min(std::time::Duration::from_millis(100));
            }
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(PkiError::Usage(format!(
                    "another waxseal pki command is working on {}",
                    dir.display()
                )));
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io(&path)(e)),
        }
    }
}

/// How long a busy PKI lock is tried again before the command gives up.
const LOCK_PATIENCE: std::time::Duration = std::time::Duration::from_secs(2);

fn read_text(path: &Path) -> Result<String, PkiError> {
    std::fs::read_to_string(path).map_err(io(path))
}

fn load_cert(path: &Path) -> Result<Certificate, PkiError> {
    let bytes = std::fs::read(path).map_err(io(path))?;
    Certificate::load_all(&bytes)
        .map_err(|e| PkiError::Usage(format!("{}: {e}", path.display())))?
        .into_iter()
        .next()
        .ok_or_else(|| PkiError::Usage(format!("{}: no certificate", path.display())))
}

/// Loads the signer for service-host `name` from a directory laid out as a PKI directory
/// (or a host's deployment directory): `<name>.crt`, `<name>.key` and `signing-ca.crt` as
/// the chain. Read-only: takes no lock. The key must match the certificate, and is
/// checked for its file mode as `key_check` says. Without `signing-ca.crt`, a certificate
/// issued by `root-ca.crt` itself (a single-tier PKI) loads with no chain.
pub fn load_signer(dir: &Path, name: &str, key_check: KeyFileCheck) -> Result<Signer, PkiError> {
    let cert = load_cert(&dir.join(format!("{name}.crt")))?;
    let root_path = dir.join(ROOT_CERT);
    let single_tier = !dir.join(SIGNING_CERT).exists()
        && root_path.is_file()
        && load_cert(&root_path)?.subject() == cert.issuer();
    let key_path = dir.join(format!("{name}.key"));
    let key = PrivateKey::load(&key_path, key_check).map_err(|e| match e {
        KeyError::Io { .. } => PkiError::Usage(e.to_string()),
        e => PkiError::Usage(format!("{}: {e}", key_path.display())),
    })?;
    let signer = Signer::new(cert, key).map_err(|e| PkiError::Usage(format!("{name}: {e}")))?;
    if single_tier {
        return Ok(signer);
    }
    Ok(signer.with_chain(vec![load_cert(&dir.join(SIGNING_CERT))?]))
}

fn ca_record(cert: &Certificate) -> CaRecord {
    CaRecord {
        subject: cert.subject_display(),
        serial: cert.serial_hex(),
        not_after: time::format(cert.not_after()),
    }
}

/// The names of `entry`'s files in `dir`.
fn files_of(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    (
        dir.join(format!("{name}.crt")),
        dir.join(format!("{name}.key")),
    )
}

fn parse_reason(reason: &str) -> Result<CrlReason, PkiError> {
    Ok(match reason {
        "unspecified" => CrlReason::Unspecified,
        "keyCompromise" => CrlReason::KeyCompromise,
        "cACompromise" => CrlReason::CaCompromise,
        "affiliationChanged" => CrlReason::AffiliationChanged,
        "superseded" => CrlReason::Superseded,
        "cessationOfOperation" => CrlReason::CessationOfOperation,
        "certificateHold" => CrlReason::CertificateHold,
        "privilegeWithdrawn" => CrlReason::PrivilegeWithdrawn,
        "aACompromise" => CrlReason::AaCompromise,
        other => {
            return Err(PkiError::Usage(format!(
                "unknown revocation reason {other:?} (one of {})",
                REASONS.join(", ")
            )));
        }
    })
}

/// The revocation reasons `revoke --reason` accepts.
pub const REASONS: [&str; 9] = [
    "unspecified",
    "keyCompromise",
    "cACompromise",
    "affiliationChanged",
    "superseded",
    "cessationOfOperation",
    "certificateHold",
    "privilegeWithdrawn",
    "aACompromise",
];

impl PkiDir {
    /// Creates a PKI in `dir` (created if missing; it must not hold a PKI already): a root
    /// CA, a signing CA, an empty CRL and the inventory.
    pub fn init(
        dir: &Path,
        seed: Seed,
        algorithm: KeyAlgorithm,
        lifetimes: Lifetimes,
    ) -> Result<Self, PkiError> {
        Self::create(dir, seed, algorithm, lifetimes, 2)
    }

    /// Creates a single-tier PKI in `dir`: a root CA that issues the service-host
    /// certificates itself (no signing CA), its empty CRL and the inventory. For consumers
    /// that trust one CA certificate and no intermediates (fedmsg 1.x).
    pub fn init_single_tier(
        dir: &Path,
        seed: Seed,
        algorithm: KeyAlgorithm,
        lifetimes: Lifetimes,
    ) -> Result<Self, PkiError> {
        Self::create(dir, seed, algorithm, lifetimes, 1)
    }

    fn create(
        dir: &Path,
        seed: Seed,
        algorithm: KeyAlgorithm,
        lifetimes: Lifetimes,
        tiers: u8,
    ) -> Result<Self, PkiError> {
        seed.check_fields()
            .map_err(|e| PkiError::Usage(e.to_string()))?;
        for f in [
            INVENTORY,
            ROOT_CERT,
            ROOT_KEY,
            SIGNING_CERT,
            SIGNING_KEY,
            CRL_PEM,
        ] {
            if dir.join(f).exists() {
                return Err(PkiError::Usage(format!(
                    "{} already exists: {} already holds a PKI (to start over: waxseal pki rebuild --dir {} --yes)",
                    dir.join(f).display(),
                    dir.display(),
                    dir.display()
                )));
            }
        }
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let lock = lock(dir)?;
        let inventory = Inventory {
            format: FORMAT.into(),
            algorithm: algorithm.name().into(),
            seed,
            crl_number: 0,
            tiers,
            root: CaRecord {
                subject: String::new(),
                serial: String::new(),
                not_after: String::new(),
            },
            signing_ca: None,
            entries: Vec::new(),
        };
        let mut pki = Self {
            dir: dir.to_path_buf(),
            inventory,
            algorithm,
            key_check: KeyFileCheck::OwnerOnly,
            lifetimes,
            _lock: lock,
        };
        pki.make_cas()?;
        pki.write_crl(None, false)?;
        Ok(pki)
    }

    /// Generates and writes the root and (two-tier) signing CAs (files must not exist).
    fn make_cas(&mut self) -> Result<(), PkiError> {
        let now = time::now();
        let seed = &self.inventory.seed;
        let org = seed.organization.as_deref().unwrap_or("waxseal");
        let single = self.inventory.single_tier();
        let root_params = CertParams::ca(
            seed.subject(&format!("{org} root CA"))?,
            now,
            self.lifetimes.root_days,
            Some(if single { 0 } else { 1 }),
        );
        let root = Issuer::self_signed(
            &root_params,
            PrivateKey::generate(self.algorithm).map_err(IssueError::from)?,
        )?;
        if single {
            self.write_new(ROOT_KEY, root.key.to_pkcs8_pem().as_bytes(), KEY_MODE)?;
            self.write_new(ROOT_CERT, root.cert.to_pem().as_bytes(), PUBLIC_MODE)?;
            self.inventory.root = ca_record(&root.cert);
            self.inventory.signing_ca = None;
            return self.save();
        }
        let ca_key = PrivateKey::generate(self.algorithm).map_err(IssueError::from)?;
        let ca_params = CertParams::ca(
            seed.subject(&format!("{org} signing CA"))?,
            now,
            self.lifetimes.signing_ca_days,
            Some(0),
        );
        let ca_cert = root.issue(&ca_params, &ca_key.subject_public_key_info())?;
        self.write_new(ROOT_KEY, root.key.to_pkcs8_pem().as_bytes(), KEY_MODE)?;
        self.write_new(ROOT_CERT, root.cert.to_pem().as_bytes(), PUBLIC_MODE)?;
        self.write_new(SIGNING_KEY, ca_key.to_pkcs8_pem().as_bytes(), KEY_MODE)?;
        self.write_new(SIGNING_CERT, ca_cert.to_pem().as_bytes(), PUBLIC_MODE)?;
        self.inventory.root = ca_record(&root.cert);
        self.inventory.signing_ca = Some(ca_record(&ca_cert));
        self.save()
    }

    /// Opens an existing PKI. `key_check` governs loading the CA keys.
    pub fn open(dir: &Path, key_check: KeyFileCheck) -> Result<Self, PkiError> {
        let inv_path = dir.join(INVENTORY);
        if !inv_path.is_file() {
            return Err(PkiError::Usage(format!(
                "{} is not a waxseal PKI (no {INVENTORY}; create one with: waxseal pki init --dir {})",
                dir.display(),
                dir.display()
            )));
        }
        let inventory = Inventory::from_json(&read_text(&inv_path)?)
            .map_err(|e| PkiError::Usage(format!("{}: {e}", inv_path.display())))?;
        let algorithm =
            KeyAlgorithm::from_name(&inventory.algorithm).expect("checked by Inventory::from_json");
        let lock = lock(dir)?;
        Ok(Self {
            dir: dir.to_path_buf(),
            inventory,
            algorithm,
            key_check,
            lifetimes: Lifetimes::default(),
            _lock: lock,
        })
    }

    /// Uses other lifetimes for what this handle issues from now on.
    pub fn with_lifetimes(mut self, lifetimes: Lifetimes) -> Self {
        self.lifetimes = lifetimes;
        self
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The inventory.
    pub fn inventory(&self) -> &Inventory {
        &self.inventory
    }

    /// The key algorithm.
    pub fn algorithm(&self) -> KeyAlgorithm {
        self.algorithm
    }

    /// The root CA certificate.
    pub fn root_certificate(&self) -> Result<Certificate, PkiError> {
        load_cert(&self.dir.join(ROOT_CERT))
    }

    /// Whether this is a single-tier PKI (the root issues the service-host certificates).
    pub fn single_tier(&self) -> bool {
        self.inventory.single_tier()
    }

    /// The signing CA certificate (a single-tier PKI has none: an error).
    pub fn signing_certificate(&self) -> Result<Certificate, PkiError> {
        load_cert(&self.dir.join(SIGNING_CERT))
    }

    /// The signer for service-host `name`: `<name>.crt`, `<name>.key` (checked as this
    /// directory checks keys) and the signing CA as its chain (none in a single-tier PKI),
    /// ready to sign messages.
    /// For a deployment directory or a process that must not take the PKI's lock, use
    /// [`load_signer`].
    pub fn signer(&self, name: &str) -> Result<Signer, PkiError> {
        load_signer(&self.dir, name, self.key_check)
    }

    /// Writes a newly issued key and certificate as `<name>.key` (0600) and `<name>.crt`
    /// (never over an existing file) and records the entry; the caller saves the inventory.
    fn install(
        &mut self,
        name: &str,
        cert: &Certificate,
        key: &PrivateKey,
        algorithm: KeyAlgorithm,
        replaced: Option<String>,
    ) -> Result<IssuedEntry, PkiError> {
        let (crt_path, key_path) = files_of(&self.dir, name);
        fsutil::create_new(&key_path, key.to_pkcs8_pem().as_bytes(), KEY_MODE)
            .map_err(io(&key_path))?;
        fsutil::create_new(&crt_path, cert.to_pem().as_bytes(), PUBLIC_MODE)
            .map_err(io(&crt_path))?;
        self.inventory.entries.push(Entry {
            name: name.to_string(),
            serial: cert.serial_hex(),
            not_before: time::format(cert.not_before()),
            not_after: time::format(cert.not_after()),
            status: Status::Active,
            revoked_at: None,
            reason: None,
            // Recorded only where it differs from the PKI's, so a PKI-wide change stays one field.
            algorithm: (algorithm != self.algorithm).then(|| algorithm.name().to_string()),
        });
        Ok(IssuedEntry {
            name: name.to_string(),
            serial: cert.serial_hex(),
            cert_path: crt_path,
            key_path,
            replaced,
        })
    }

    /// The CA that issues service-host certificates and lists them on its CRL: the
    /// signing CA, or the root in a single-tier PKI.
    fn leaf_issuer(&self) -> Result<Issuer, PkiError> {
        if self.single_tier() {
            self.issuer(ROOT_CERT, ROOT_KEY)
        } else {
            self.issuer(SIGNING_CERT, SIGNING_KEY)
        }
    }

    fn issuer(&self, cert: &str, key: &str) -> Result<Issuer, PkiError> {
        let key_path = self.dir.join(key);
        if !key_path.exists() {
            return Err(PkiError::Usage(format!(
                "{} is missing: this PKI cannot issue without its CA key",
                key_path.display()
            )));
        }
        let key = PrivateKey::load(&key_path, self.key_check).map_err(|e| match e {
            KeyError::Io { .. } => PkiError::Usage(e.to_string()),
            e => PkiError::Usage(format!("{}: {e}", key_path.display())),
        })?;
        let issuer = Issuer {
            cert: load_cert(&self.dir.join(cert))?,
            key,
        };
        let cert_key = waxseal_trust::PublicKey::from_spki(issuer.cert.public_key_info())
            .map_err(|e| PkiError::Usage(format!("{cert}: {e}")))?;
        if issuer.key.public_key() != cert_key {
            return Err(PkiError::Usage(format!(
                "{} does not belong to {cert}",
                key_path.display()
            )));
        }
        Ok(issuer)
    }

    fn write_new(&self, name: &str, data: &[u8], mode: u32) -> Result<(), PkiError> {
        let path = self.dir.join(name);
        fsutil::create_new(&path, data, mode).map_err(io(&path))
    }

    fn save(&self) -> Result<(), PkiError> {
        let path = self.dir.join(INVENTORY);
        fsutil::replace(&path, self.inventory.to_json().as_bytes(), PUBLIC_MODE).map_err(io(&path))
    }

    fn archive_path(&self, file_name: &str) -> PathBuf {
        self.dir.join(ARCHIVE).join(file_name)
    }

    /// Moves `name`'s certificate and key (if present) to `archive/<name>-<tag>.*`.
    fn archive_files(&self, name: &str, tag: &str) -> Result<(), PkiError> {
        let (crt, key) = files_of(&self.dir, name);
        for (from, ext) in [(crt, "crt"), (key, "key")] {
            if from.exists() {
                let mut to = self.archive_path(&format!("{name}-{tag}.{ext}"));
                let mut n = 1;
                while to.exists() {
                    to = self.archive_path(&format!("{name}-{tag}-{n}.{ext}"));
                    n += 1;
                }
                fsutil::move_file(&from, &to).map_err(io(&from))?;
            }
        }
        Ok(())
    }

    fn revoke_entry(&mut self, name: &str, reason: &str) {
        let now = time::format(time::now());
        for e in self
            .inventory
            .entries
            .iter_mut()
            .filter(|e| e.name == name && e.status == Status::Active)
        {
            e.status = Status::Revoked;
            e.revoked_at = Some(now.clone());
            e.reason = Some(reason.to_string());
        }
    }

    /// Issues a key pair and certificate for each name. A name with a live certificate is
    /// refused unless `renew`, which revokes (superseded) and archives the old one. Stray
    /// `<NAME>.crt`/`.key` files not in the inventory are refused unless `force`, which
    /// archives them. Every check runs before anything is written.
    pub fn issue(
        &mut self,
        names: &[ServiceHost],
        renew: bool,
        force: bool,
    ) -> Result<Vec<IssuedEntry>, PkiError> {
        self.issue_with(names, renew, force, None)
    }

    /// As [`PkiDir::issue`], with keys of `algorithm` instead of the PKI's (recorded in the
    /// inventory, so `rebuild`, `reseed` and later renewals keep it). With `None`, a new name
    /// gets the PKI's algorithm and a renewal keeps the entry's.
    pub fn issue_with(
        &mut self,
        names: &[ServiceHost],
        renew: bool,
        force: bool,
        algorithm: Option<KeyAlgorithm>,
    ) -> Result<Vec<IssuedEntry>, PkiError> {
        let mut seen = std::collections::HashSet::new();
        for n in names {
            let name = n.to_string();
            if !seen.insert(name.clone()) {
                return Err(PkiError::Usage(format!("{name} is given twice")));
            }
            if let Some(e) = self.inventory.active_named(&name) {
                if !renew {
                    // Like `init` of an existing PKI (and `--out` of an existing file):
                    // the operator's choice, exit 2, not a rejected input.
                    return Err(PkiError::Usage(format!(
                        "{name} already has a live certificate (serial {}); one key per service per host: pass --renew to replace it (the old one is revoked)",
                        e.serial
                    )));
                }
            } else {
                let (crt, key) = files_of(&self.dir, &name);
                for f in [crt, key] {
                    if f.exists() && !force {
                        return Err(PkiError::Usage(format!(
                            "{} exists but is not in the inventory; move it away or pass --force (it is archived)",
                            f.display()
                        )));
                    }
                }
            }
        }
        let issuer = self.leaf_issuer()?;
        if renew {
            // A renewal writes a CRL: the root key must be usable before anything changes.
            self.issuer(ROOT_CERT, ROOT_KEY)?;
        }
        // Make everything first: a failure here leaves the directory untouched. A renewal
        // keeps the entry's algorithm unless one is given.
        let mut made = Vec::new();
        for n in names {
            let name = n.to_string();
            let key_algorithm = algorithm.unwrap_or_else(|| {
                self.inventory
                    .active_named(&name)
                    .map_or(self.algorithm, |e| e.key_algorithm(self.algorithm))
            });
            let key = PrivateKey::generate(key_algorithm).map_err(IssueError::from)?;
            let cert = self.leaf(&issuer, n, &key)?;
            made.push((name, cert, key, key_algorithm));
        }
        let mut out = Vec::new();
        let mut revoked_any = false;
        for (name, cert, key, key_algorithm) in made {
            let replaced = self.inventory.active_named(&name).map(|e| e.serial.clone());
            match &replaced {
                Some(serial) => {
                    self.revoke_entry(&name, "superseded");
                    self.archive_files(&name, serial)?;
                    revoked_any = true;
                }
                None => self.archive_files(&name, &format!("stray-{}", time::now()))?,
            }
            out.push(self.install(&name, &cert, &key, key_algorithm, replaced)?);
            self.save()?;
        }
        if revoked_any {
            self.write_crl(None, false)?;
        }
        Ok(out)
    }

    fn leaf(
        &self,
        issuer: &Issuer,
        name: &ServiceHost,
        key: &PrivateKey,
    ) -> Result<Certificate, PkiError> {
        let mut params = CertParams::end_entity(
            self.inventory.seed.subject(&name.to_string())?,
            time::now(),
            self.lifetimes.leaf_days,
        );
        params.dns_names = vec![name.host().to_string()];
        Ok(issuer.issue(&params, &key.subject_public_key_info())?)
    }

    /// Revokes `name`'s live certificate with `reason`, archives its files and writes a
    /// new CRL.
    pub fn revoke(&mut self, name: &str, reason: &str) -> Result<CrlReport, PkiError> {
        parse_reason(reason)?;
        if self.inventory.active_named(name).is_none() {
            return Err(if self.inventory.entries.iter().any(|e| e.name == name) {
                PkiError::Usage(format!(
                    "{name} has no live certificate: it is already revoked"
                ))
            } else {
                PkiError::Usage(format!("no certificate named {name} in the inventory"))
            });
        }
        // Check the CA keys (the CRLs need both) before changing anything.
        self.leaf_issuer()?;
        self.issuer(ROOT_CERT, ROOT_KEY)?;
        let serial = self
            .inventory
            .active_named(name)
            .map(|e| e.serial.clone())
            .unwrap_or_default();
        self.revoke_entry(name, reason);
        self.save()?;
        self.archive_files(name, &serial)?;
        self.write_crl(None, false)
    }

    /// Signs and writes new CRLs (the signing CA's, listing every revoked certificate, and
    /// the root's) to `crl.pem`, and the signing CA's to `crl.der` if `der`. In a
    /// single-tier PKI, `crl.pem` (and `crl.der`) hold the root's CRL, which lists every
    /// revoked certificate. The CRL number increases every time; `next_update` is in
    /// seconds from now.
    pub fn write_crl(
        &mut self,
        next_update: Option<u64>,
        der: bool,
    ) -> Result<CrlReport, PkiError> {
        let single = self.single_tier();
        let signing = self.leaf_issuer()?;
        let root = self.issuer(ROOT_CERT, ROOT_KEY)?;
        let now = time::now();
        let next = now + next_update.unwrap_or(self.lifetimes.crl_secs);
        let mut revoked = Vec::new();
        for e in self
            .inventory
            .entries
            .iter()
            .filter(|e| e.status == Status::Revoked)
        {
            let date = e
                .revoked_at
                .as_deref()
                .and_then(|t| time::parse_rfc3339(t).ok())
                .unwrap_or(now);
            let reason = e.reason.as_deref().map(parse_reason).transpose()?;
            revoked.push(Revocation {
                serial: hex::decode(&e.serial)
                    .map_err(|_| PkiError::Usage(format!("bad serial for {}", e.name)))?,
                date,
                reason,
            });
        }
        self.inventory.crl_number += 1;
        let number = self.inventory.crl_number;
        // Record the number first: a crash afterwards skips a number, never reuses one.
        self.save()?;
        let this_update = now.saturating_sub(60);
        let ca_crl = signing.issue_crl(number, this_update, next, &revoked)?;
        let pem = if single {
            ca_crl.to_pem()
        } else {
            let root_crl = root.issue_crl(number, this_update, next, &[])?;
            format!("{}{}", ca_crl.to_pem(), root_crl.to_pem())
        };
        let mut files = Vec::new();
        let pem_path = self.dir.join(CRL_PEM);
        fsutil::replace(&pem_path, pem.as_bytes(), PUBLIC_MODE).map_err(io(&pem_path))?;
        files.push(pem_path);
        if der {
            let der_path = self.dir.join(CRL_DER);
            fsutil::replace(&der_path, ca_crl.der(), PUBLIC_MODE).map_err(io(&der_path))?;
            files.push(der_path);
        }
        Ok(CrlReport {
            number,
            next_update: next,
            revoked: revoked.len(),
            files,
        })
    }

    /// Wipes and regenerates: the current files move to `archive/rebuild-<time>/`, then a
    /// new root and (unless single-tier) signing CA are made with the same seed, algorithm
    /// and number of tiers, and every live
    /// inventory entry is issued again. `progress(done, total, name)` is called per entry.
    pub fn rebuild(
        &mut self,
        progress: &mut dyn FnMut(usize, usize, &str),
    ) -> Result<Vec<IssuedEntry>, PkiError> {
        let names: Vec<(ServiceHost, KeyAlgorithm)> = self
            .inventory
            .active()
            .map(|e| {
                ServiceHost::parse(&e.name)
                    .map(|n| (n, e.key_algorithm(self.algorithm)))
                    .map_err(|err| PkiError::Usage(err.to_string()))
            })
            .collect::<Result<_, _>>()?;
        let stamp = format!("rebuild-{}", time::now());
        let target = self.dir.join(ARCHIVE).join(&stamp);
        std::fs::create_dir_all(&target).map_err(io(&target))?;
        for entry in std::fs::read_dir(&self.dir).map_err(io(&self.dir))? {
            let path = entry.map_err(io(&self.dir))?.path();
            let file = path
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_default();
            if file == ARCHIVE || file == LOCK || !path.is_file() {
                continue;
            }
            fsutil::move_file(&path, &target.join(&file)).map_err(io(&path))?;
        }
        self.inventory.entries.clear();
        self.make_cas()?;
        let total = names.len();
        let mut out = Vec::new();
        let issuer = self.leaf_issuer()?;
        for (i, (n, alg)) in names.iter().enumerate() {
            progress(i, total, &n.to_string());
            let key = PrivateKey::generate(*alg).map_err(IssueError::from)?;
            let cert = self.leaf(&issuer, n, &key)?;
            out.push(self.install(&n.to_string(), &cert, &key, *alg, None)?);
        }
        progress(total, total, "");
        self.save()?;
        self.write_crl(None, false)?;
        Ok(out)
    }

    /// Moves every live certificate of host `from` to host `to`: issues `<service>-<to>`
    /// (unless already live), revokes `<service>-<from>` (superseded), archives its files
    /// and writes a new CRL. Running it again changes nothing.
    pub fn reseed(&mut self, from: &str, to: &str) -> Result<ReseedReport, PkiError> {
        crate::name::check_fqdn(to)
            .map_err(|why| PkiError::Usage(format!("--to {to:?}: {why}")))?;
        if from == to {
            return Err(PkiError::Usage("--from and --to are the same host".into()));
        }
        let olds: Vec<ServiceHost> = self
            .inventory
            .active()
            .filter_map(|e| ServiceHost::parse(&e.name).ok())
            .filter(|n| n.host() == from)
            .collect();
        let mut report = ReseedReport::default();
        if olds.is_empty() {
            return Ok(report);
        }
        self.issuer(ROOT_CERT, ROOT_KEY)?;
        for old in &olds {
            let new = old
                .on_host(to)
                .map_err(|e| PkiError::Usage(e.to_string()))?;
            if self.inventory.active_named(&new.to_string()).is_none() {
                // Keep the old entry's key algorithm.
                let alg = self
                    .inventory
                    .active_named(&old.to_string())
                    .map(|e| e.key_algorithm(self.algorithm));
                report
                    .issued
                    .extend(self.issue_with(&[new], false, false, alg)?);
            }
        }
        for old in &olds {
            let name = old.to_string();
            let serial = self
                .inventory
                .active_named(&name)
                .map(|e| e.serial.clone())
                .unwrap_or_default();
            self.revoke_entry(&name, "superseded");
            self.archive_files(&name, &serial)?;
            report.revoked.push(name);
        }
        self.save()?;
        report.crl = Some(self.write_crl(None, false)?);
        Ok(report)
    }
}
