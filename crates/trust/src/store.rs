//! Collections of certificates and CRLs, indexed the way lookups need them.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::OnceLock;

use sha2::Digest;

use crate::cert::{CertError, Certificate};
use crate::crl::{Crl, CrlError, LazyCrl};
use crate::name::NameKey;

/// A problem reading certificate or CRL files.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// The file or directory could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The path.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A certificate file did not parse.
    #[error("{path}: {source}")]
    Certificate {
        /// The path.
        path: String,
        /// The parse error.
        source: CertError,
    },
    /// A CRL file did not parse.
    #[error("{path}: {source}")]
    Crl {
        /// The path.
        path: String,
        /// The parse error.
        source: CrlError,
    },
}

/// The files named by `path`: the file itself, or the regular files of a directory
/// (not recursive), sorted by name.
pub fn files_in(path: &Path) -> Result<Vec<std::path::PathBuf>, LoadError> {
    let io = |source| LoadError::Io {
        path: path.display().to_string(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(io)?;
    if !meta.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut files = Vec::new();
    for entry in std::fs::read_dir(path).map_err(io)? {
        let p = entry.map_err(io)?.path();
        if p.is_file() {
            files.push(p);
        }
    }
    files.sort();
    Ok(files)
}

fn read(path: &Path) -> Result<Vec<u8>, LoadError> {
    std::fs::read(path).map_err(|source| LoadError::Io {
        path: path.display().to_string(),
        source,
    })
}

fn extension(path: &Path) -> String {
    path.extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default()
}

/// Reads every certificate in a PEM/DER file, or in a directory's `.crt`, `.cer`, `.pem`
/// and `.der` files (PEM files there without a certificate, such as a CRL bundle, are
/// skipped; other files are ignored).
pub fn load_certificates(path: &Path) -> Result<Vec<Certificate>, LoadError> {
    let is_dir = path.is_dir();
    let mut out = Vec::new();
    for file in files_in(path)? {
        let ext = extension(&file);
        if is_dir && !matches!(ext.as_str(), "crt" | "cer" | "pem" | "der") {
            continue;
        }
        let bytes = read(&file)?;
        // In a directory a DER file may be a CRL: only certificates count there.
        if is_dir && ext == "der" && Certificate::from_der(&bytes).is_err() {
            continue;
        }
        match Certificate::load_all(&bytes) {
            Ok(certs) => out.extend(certs),
            Err(CertError::NoCertificate) if is_dir => {}
            Err(source) => {
                return Err(LoadError::Certificate {
                    path: file.display().to_string(),
                    source,
                });
            }
        }
    }
    Ok(out)
}

/// Reads every CRL in a PEM/DER file, or in a directory's `.crl`, `.pem` and `.der` files
/// (PEM files there without a CRL are skipped; other files are ignored).
pub fn load_crls(path: &Path) -> Result<Vec<Crl>, LoadError> {
    let is_dir = path.is_dir();
    let mut out = Vec::new();
    for file in files_in(path)? {
        let ext = extension(&file);
        if is_dir && !matches!(ext.as_str(), "crl" | "pem" | "der") {
            continue;
        }
        let bytes = read(&file)?;
        // In a directory a DER file may be a certificate: only CRLs count there.
        if is_dir && ext == "der" && Crl::from_der(&bytes).is_err() {
            continue;
        }
        match Crl::load_all(&bytes) {
            Ok(crls) => out.extend(crls),
            Err(CrlError::NoCrl) if is_dir => {}
            Err(source) => {
                return Err(LoadError::Crl {
                    path: file.display().to_string(),
                    source,
                });
            }
        }
    }
    Ok(out)
}

/// A certificate store: intermediates for path building and signer certificates for
/// envelopes that omit them (`--no-certs`). Looks up by subject, by issuer and serial
/// number, and by subject key identifier.
#[derive(Clone, Default)]
pub struct CertStore {
    certs: Vec<Certificate>,
    by_subject: HashMap<NameKey, Vec<usize>>,
    by_ski: HashMap<Vec<u8>, Vec<usize>>,
    seen: HashSet<[u8; 32]>,
}

impl std::fmt::Debug for CertStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CertStore({} certificates)", self.certs.len())
    }
}

impl CertStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// A store holding `certs` (duplicates dropped).
    pub fn from_certificates(certs: impl IntoIterator<Item = Certificate>) -> Self {
        let mut s = Self::new();
        for c in certs {
            s.add(c);
        }
        s
    }

    /// Adds a certificate; returns `false` if it was already present.
    pub fn add(&mut self, cert: Certificate) -> bool {
        if !self.seen.insert(cert.fingerprint()) {
            return false;
        }
        let i = self.certs.len();
        self.by_subject
            .entry(cert.subject_key().clone())
            .or_default()
            .push(i);
        if let Some(ski) = cert.subject_key_identifier() {
            self.by_ski.entry(ski.to_vec()).or_default().push(i);
        }
        self.certs.push(cert);
        true
    }

    /// Number of certificates.
    pub fn len(&self) -> usize {
        self.certs.len()
    }

    /// Whether the store is empty.
    pub fn is_empty(&self) -> bool {
        self.certs.is_empty()
    }

    /// All certificates, in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = &Certificate> {
        self.certs.iter()
    }

    /// Whether the store holds this exact certificate.
    pub fn contains(&self, cert: &Certificate) -> bool {
        self.seen.contains(&cert.fingerprint())
    }

    /// Certificates whose subject matches `subject`.
    pub fn by_subject<'a>(
        &'a self,
        subject: &NameKey,
    ) -> impl Iterator<Item = &'a Certificate> + 'a {
        self.by_subject
            .get(subject)
            .into_iter()
            .flatten()
            .map(|i| &self.certs[*i])
    }

    /// Certificates with subject key identifier `ski`.
    pub fn by_ski<'a>(&'a self, ski: &[u8]) -> impl Iterator<Item = &'a Certificate> + 'a {
        self.by_ski
            .get(ski)
            .into_iter()
            .flatten()
            .map(|i| &self.certs[*i])
    }

    /// The certificate with this issuer and serial number.
    pub fn by_issuer_serial(&self, issuer: &NameKey, serial: &[u8]) -> Option<&Certificate> {
        self.certs
            .iter()
            .find(|c| c.serial() == serial && c.issuer_key() == issuer)
    }

    /// [`CertStore::by_issuer_serial`] for an issuer name as a SignerInfo writes it. Only
    /// a certificate whose serial number matches has its issuer compared, byte for byte
    /// first; the name's RFC 5280 §7.1 form ([`NameKey`]) is built only when the bytes
    /// differ, so the usual lookup builds none.
    pub fn by_issuer_name_serial(
        &self,
        issuer: &x509_cert::name::Name,
        serial: &[u8],
    ) -> Option<&Certificate> {
        let mut key = None;
        self.certs.iter().find(|c| {
            c.serial() == serial
                && (c.issuer() == issuer
                    || c.issuer_key() == key.get_or_insert_with(|| NameKey::new(issuer)))
        })
    }
}

/// A set of CRLs, indexed by issuer, with an identity that changes when its contents do
/// (path-cache keys include it, so a new CRL invalidates cached paths). CRLs may be
/// held unparsed ([`LazyCrl`]), as those an envelope carries are.
#[derive(Clone, Default)]
pub struct CrlSet {
    crls: Vec<LazyCrl>,
    by_issuer: HashMap<NameKey, Vec<usize>>,
    /// The fingerprints of the CRLs, for duplicates and the identity.
    seen: HashSet<[u8; 32]>,
    /// The identity, computed on first use after a change.
    id: OnceLock<[u8; 32]>,
}

impl std::fmt::Debug for CrlSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CrlSet({} CRLs)", self.crls.len())
    }
}

impl CrlSet {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// A set holding `crls` (duplicates dropped).
    pub fn from_crls(crls: impl IntoIterator<Item = Crl>) -> Self {
        let mut s = Self::new();
        for c in crls {
            s.add(c);
        }
        s
    }

    /// Adds a CRL.
    pub fn add(&mut self, crl: Crl) {
        self.add_lazy(crl.into());
    }

    /// Adds a CRL that is parsed only if a path needs it.
    pub fn add_lazy(&mut self, crl: LazyCrl) {
        if !self.seen.insert(crl.fingerprint()) {
            return;
        }
        self.by_issuer
            .entry(crl.issuer_key().clone())
            .or_default()
            .push(self.crls.len());
        self.crls.push(crl);
        self.id = OnceLock::new();
    }

    /// Number of CRLs.
    pub fn len(&self) -> usize {
        self.crls.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.crls.is_empty()
    }

    /// All CRLs, parsed or not.
    pub fn iter(&self) -> impl Iterator<Item = &LazyCrl> {
        self.crls.iter()
    }

    /// CRLs issued by `issuer`, parsed or not, in the order they were added.
    pub fn by_issuer<'a>(&'a self, issuer: &NameKey) -> impl Iterator<Item = &'a LazyCrl> + 'a {
        self.by_issuer
            .get(issuer)
            .into_iter()
            .flatten()
            .map(|i| &self.crls[*i])
    }

    /// Identity of the contents (SHA-256 over the sorted CRL fingerprints).
    pub fn id(&self) -> [u8; 32] {
        *self.id.get_or_init(|| {
            let mut fps: Vec<&[u8; 32]> = self.seen.iter().collect();
            fps.sort();
            let mut h = sha2::Sha256::new();
            for fp in fps {
                h.update(fp);
            }
            h.finalize().into()
        })
    }
}
