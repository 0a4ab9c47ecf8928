//! CA bundles and CRLs from files or http(s) URLs: fetched with a timeout, cached on disk,
//! refreshed, and failing closed.
//!
//! Wherever trust material is configured (the bus configuration's `trust`, `certs` and
//! `crls`, the CLI's `--trust`, `--certs` and `--crl`, Python's `Verifier` and `Bus`), a
//! [`Source`] is either a file (or directory) path or an `http://` / `https://` URL.
//! [`Material`] holds the last good copy of each source and refreshes it:
//!
//! - a URL when its cache expires (`crl_cache_expiry_secs`, `ca_cache_expiry_secs` of
//!   [`FetchConfig`]), and a CRL URL also once the verification time reaches the CRL's
//!   `nextUpdate`;
//! - a file when it changes (its size or modification time, or a directory's list of files).
//!
//! A fetched copy is written to the cache directory (`cache_dir`, one file per URL) and read
//! back from there when a process starts, so that a restart does not need the server. On a
//! failed fetch or an unreadable file the last good copy is kept; for a CRL only while it is
//! still current (before its `nextUpdate`). Once a CRL URL has nothing current,
//! [`Material::check_crls`] refuses: validation fails closed with [`CRL_UNAVAILABLE`].
//!
//! CA bundles: trust anchors (`trust`) are only accepted from files and `https://` URLs,
//! never plain `http://`, where anyone on the path could replace them (intermediates in
//! `certs` and CRLs are signed, so plain HTTP is fine for them, and is what CRL distribution
//! points use). A CA URL that cannot be fetched at start-up and has no cached copy is a
//! configuration error; later failures keep the last good copy (certificates carry their
//! own validity period).
//!
//! https uses rustls with graviola, a pure-Rust crypto provider (no ring, no aws-lc), and
//! Mozilla's root certificates (webpki-roots); it is the `https` feature (on by default;
//! graviola supports x86_64 and aarch64). Without it, https URLs are a configuration error.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};
use sha2::Digest;

use waxseal_envelope::store::{files_in, load_certificates, load_crls};
use waxseal_envelope::{Certificate, Crl, CrlSet};

use crate::error::{ConfigError, Rejection, Stage};

/// The reason code of a validation refused because a configured CRL URL has no current copy
/// (never fetched, or the last good copy is past its `nextUpdate` and fetching failed).
pub const CRL_UNAVAILABLE: &str = "crl-unavailable";

/// Where a CA bundle or CRL comes from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Source {
    /// A file, or a directory of files.
    Path(PathBuf),
    /// An `http://` or `https://` URL.
    Url(String),
}

impl Source {
    /// Parses a configured value: an `http://` or `https://` URL, or else a path. Other
    /// URL schemes (`ldap://`, `ftp://`, `file://`...) are refused.
    pub fn parse(s: &str) -> Result<Self, ConfigError> {
        let lower = s.to_ascii_lowercase();
        if lower.starts_with("http://") || lower.starts_with("https://") {
            if s.len() <= "https://".len() || s.chars().any(|c| c.is_whitespace()) {
                return Err(ConfigError(format!("{s}: not a usable URL")));
            }
            return Ok(Self::Url(s.to_string()));
        }
        if let Some((scheme, _)) = s.split_once("://")
            && !scheme.is_empty()
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
        {
            return Err(ConfigError(format!(
                "{s}: only file paths and http(s) URLs are supported"
            )));
        }
        Ok(Self::Path(PathBuf::from(s)))
    }

    /// Whether this is a URL.
    pub fn is_url(&self) -> bool {
        matches!(self, Self::Url(_))
    }

    /// Whether this is an `https://` URL.
    pub fn is_https(&self) -> bool {
        matches!(self, Self::Url(u) if u.to_ascii_lowercase().starts_with("https://"))
    }

    /// A relative path made relative to `base`; URLs are unchanged.
    pub fn resolve(&mut self, base: &Path) {
        if let Self::Path(p) = self
            && p.is_relative()
        {
            *p = base.join(&*p);
        }
    }
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Path(p) => write!(f, "{}", p.display()),
            Self::Url(u) => f.write_str(u),
        }
    }
}

impl std::str::FromStr for Source {
    type Err = ConfigError;
    fn from_str(s: &str) -> Result<Self, ConfigError> {
        Self::parse(s)
    }
}

impl From<PathBuf> for Source {
    fn from(p: PathBuf) -> Self {
        Self::Path(p)
    }
}

impl From<&Path> for Source {
    fn from(p: &Path) -> Self {
        Self::Path(p.to_path_buf())
    }
}

impl Serialize for Source {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Source {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(|e| serde::de::Error::custom(e.0))
    }
}

fn default_timeout_ms() -> u64 {
    10_000
}
fn default_crl_expiry() -> u64 {
    3600
}
fn default_ca_expiry() -> u64 {
    86_400
}
fn default_max_bytes() -> usize {
    16 << 20
}

/// How URLs are fetched and cached (the bus configuration's `fetch` key).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FetchConfig {
    /// Where fetched copies are kept (one file per URL), so that they survive a restart.
    /// None: in memory only.
    #[serde(default)]
    pub cache_dir: Option<PathBuf>,
    /// The most a fetch may take, connection and body included, milliseconds (default
    /// 10000).
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// How long a fetched CRL is used before it is fetched again, seconds (default 3600;
    /// 0: before every validation). It is also fetched again at its `nextUpdate`.
    #[serde(default = "default_crl_expiry")]
    pub crl_cache_expiry_secs: u64,
    /// How long a fetched CA bundle is used before it is fetched again, seconds (default
    /// 86400).
    #[serde(default = "default_ca_expiry")]
    pub ca_cache_expiry_secs: u64,
    /// Largest response accepted, bytes (default 16 MiB).
    #[serde(default = "default_max_bytes")]
    pub max_bytes: usize,
    /// CA certificates (a PEM file) trusted for https servers, e.g. the internal CA of the
    /// web server publishing the CRL; none: Mozilla's root certificates (webpki-roots).
    #[serde(default)]
    pub https_roots: Option<PathBuf>,
}

impl Default for FetchConfig {
    fn default() -> Self {
        Self {
            cache_dir: None,
            timeout_ms: default_timeout_ms(),
            crl_cache_expiry_secs: default_crl_expiry(),
            ca_cache_expiry_secs: default_ca_expiry(),
            max_bytes: default_max_bytes(),
            https_roots: None,
        }
    }
}

/// Fetches URLs over HTTP (and https with the `https` feature), with a timeout.
pub struct Fetcher {
    config: FetchConfig,
    agent: ureq::Agent,
}

impl std::fmt::Debug for Fetcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fetcher")
            .field("config", &self.config)
            .finish()
    }
}

impl Fetcher {
    /// A fetcher with these settings; `https_roots` must be readable.
    pub fn new(config: FetchConfig) -> Result<Self, ConfigError> {
        let builder = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_millis(config.timeout_ms.max(1))))
            .http_status_as_error(true)
            .max_redirects(5)
            .user_agent(concat!("waxseal/", env!("CARGO_PKG_VERSION")));
        let roots = match &config.https_roots {
            Some(p) => Some(
                load_certificates(p).map_err(|e| ConfigError(format!("fetch.https_roots: {e}")))?,
            ),
            None => None,
        };
        #[cfg(feature = "https")]
        let builder = builder.tls_config(
            ureq::tls::TlsConfig::builder()
                .provider(ureq::tls::TlsProvider::Rustls)
                .unversioned_rustls_crypto_provider(std::sync::Arc::new(
                    rustls_graviola::default_provider(),
                ))
                .root_certs(match roots {
                    Some(certs) => ureq::tls::RootCerts::Specific(std::sync::Arc::new(
                        certs
                            .iter()
                            .map(|c| ureq::tls::Certificate::from_der(c.der()).to_owned())
                            .collect(),
                    )),
                    None => ureq::tls::RootCerts::WebPki,
                })
                .build(),
        );
        #[cfg(not(feature = "https"))]
        drop(roots);
        let agent = builder.build().new_agent();
        Ok(Self { config, agent })
    }

    /// The settings.
    pub fn config(&self) -> &FetchConfig {
        &self.config
    }

    /// Whether https URLs can be fetched (the `https` feature).
    pub const HTTPS: bool = cfg!(feature = "https");

    /// GETs `url`; a status other than 2xx, a timeout or a body larger than `max_bytes` is
    /// an error. `no_downgrade`: redirects are not followed (for CA bundles over https).
    pub fn get(&self, url: &str, no_downgrade: bool) -> Result<Vec<u8>, String> {
        if url.to_ascii_lowercase().starts_with("https://") && !Self::HTTPS {
            return Err(format!("{url}: https is not built in (feature https)"));
        }
        let mut request = self.agent.get(url);
        if no_downgrade {
            request = request.config().max_redirects(0).build();
        }
        let mut response = request.call().map_err(|e| format!("{url}: {e}"))?;
        response
            .body_mut()
            .with_config()
            .limit(self.config.max_bytes as u64)
            .read_to_vec()
            .map_err(|e| format!("{url}: {e}"))
    }
}

/// What a source holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Trust anchors (files and https only).
    Anchors,
    /// Other certificates (intermediates).
    Certificates,
    /// CRLs.
    Crls,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Self::Anchors => "trust",
            Self::Certificates => "certs",
            Self::Crls => "crls",
        }
    }
}

/// One good copy of a source.
#[derive(Debug, Clone, Default)]
struct Copy {
    certs: Vec<Certificate>,
    crls: Vec<Crl>,
}

impl Copy {
    fn parse(kind: Kind, bytes: &[u8]) -> Result<Self, String> {
        Ok(match kind {
            Kind::Crls => Self {
                crls: Crl::load_all(bytes).map_err(|e| e.to_string())?,
                certs: Vec::new(),
            },
            _ => Self {
                certs: Certificate::load_all(bytes).map_err(|e| e.to_string())?,
                crls: Vec::new(),
            },
        })
    }

    /// The earliest `nextUpdate` of its CRLs.
    fn next_update(&self) -> Option<u64> {
        self.crls.iter().filter_map(|c| c.next_update()).min()
    }

    /// Whether every CRL is current at `time`.
    fn current(&self, time: u64) -> bool {
        self.next_update().is_none_or(|n| time < n)
    }
}

type Stamp = Vec<(PathBuf, u64, Option<SystemTime>)>;

fn stamp(path: &Path) -> Option<Stamp> {
    let files = files_in(path).ok()?;
    Some(
        files
            .into_iter()
            .map(|f| {
                let m = std::fs::metadata(&f).ok();
                let len = m.as_ref().map_or(0, |m| m.len());
                let mtime = m.and_then(|m| m.modified().ok());
                (f, len, mtime)
            })
            .collect(),
    )
}

/// One configured source and its last good copy.
#[derive(Debug)]
struct Tracked {
    source: Source,
    kind: Kind,
    copy: Option<Copy>,
    /// Files: what they looked like when read.
    stamp: Option<Stamp>,
    /// URLs: when the copy expires (wall clock).
    expires: SystemTime,
    /// URLs: the last failed fetch, or fetch that brought nothing current (wall clock).
    failed: Option<SystemTime>,
    /// The last failure, for messages.
    error: Option<String>,
}

fn cache_file(dir: &Path, kind: Kind, url: &str) -> PathBuf {
    let digest = sha2::Sha256::digest(url.as_bytes());
    let hex: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
    dir.join(format!("{}-{hex}.cache", kind.name()))
}

fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

impl Tracked {
    fn expiry(&self, fetch: &FetchConfig) -> Duration {
        Duration::from_secs(match self.kind {
            Kind::Crls => fetch.crl_cache_expiry_secs,
            _ => fetch.ca_cache_expiry_secs,
        })
    }

    /// The first load: a file must be readable; a URL is read from the disk cache when
    /// that is fresh, fetched otherwise, and falls back to the disk cache.
    fn load(source: Source, kind: Kind, fetcher: &Fetcher, time: u64) -> Result<Self, ConfigError> {
        let mut t = Self {
            source,
            kind,
            copy: None,
            stamp: None,
            expires: SystemTime::UNIX_EPOCH,
            failed: None,
            error: None,
        };
        let name = kind.name();
        match &t.source {
            Source::Path(p) => {
                t.stamp = stamp(p);
                t.copy = Some(read_path(p, kind).map_err(|e| ConfigError(format!("{name}: {e}")))?);
            }
            Source::Url(url) => {
                if kind == Kind::Anchors && !t.source.is_https() {
                    return Err(ConfigError(format!(
                        "{name}: {url}: trust anchors are not fetched over plain http (anyone \
                         on the path could replace them): use https or a file"
                    )));
                }
                if t.source.is_https() && !Fetcher::HTTPS {
                    return Err(ConfigError(format!(
                        "{name}: {url}: https URLs need waxseal built with the `https` feature"
                    )));
                }
                let expiry = t.expiry(fetcher.config());
                if let Some(dir) = &fetcher.config().cache_dir {
                    let file = cache_file(dir, kind, url);
                    if let (Ok(bytes), Ok(meta)) = (std::fs::read(&file), std::fs::metadata(&file))
                        && let Ok(copy) = Copy::parse(kind, &bytes)
                    {
                        let fetched = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
                        t.expires = fetched + expiry;
                        t.copy = Some(copy);
                    }
                }
                let fresh = t.copy.as_ref().is_some_and(|c| c.current(time))
                    && SystemTime::now() < t.expires;
                if !fresh {
                    t.fetch(fetcher, time);
                }
                if t.copy.is_none() && kind != Kind::Crls {
                    return Err(ConfigError(format!(
                        "{name}: {}",
                        t.error.as_deref().unwrap_or("nothing fetched")
                    )));
                }
            }
        }
        Ok(t)
    }

    /// Fetches the URL; keeps the old copy on failure. Returns whether the copy changed.
    fn fetch(&mut self, fetcher: &Fetcher, time: u64) -> bool {
        let Source::Url(url) = &self.source else {
            return false;
        };
        let now = SystemTime::now();
        self.failed = Some(now);
        let got = fetcher
            .get(url, self.kind == Kind::Anchors)
            .and_then(|bytes| Copy::parse(self.kind, &bytes).map(|c| (bytes, c)));
        match got {
            Ok((bytes, copy)) => {
                if let Some(dir) = &fetcher.config().cache_dir {
                    let file = cache_file(dir, self.kind, url);
                    if let Err(e) =
                        std::fs::create_dir_all(dir).and_then(|_| write_atomically(&file, &bytes))
                    {
                        self.error = Some(format!("{}: {e}", file.display()));
                    }
                }
                self.expires = now + self.expiry(fetcher.config());
                self.error = None;
                if copy.current(time) {
                    self.failed = None;
                }
                let changed = self.copy.as_ref().is_none_or(|old| !same(old, &copy));
                self.copy = Some(copy);
                changed
            }
            Err(e) => {
                self.error = Some(e);
                false
            }
        }
    }

    /// Refreshes when due. Returns whether the copy changed.
    fn refresh(&mut self, fetcher: &Fetcher, time: u64) -> bool {
        match &self.source {
            Source::Path(p) => {
                let now = stamp(p);
                if now.is_some() && now == self.stamp {
                    return false;
                }
                match read_path(p, self.kind) {
                    Ok(copy) => {
                        self.stamp = now;
                        self.error = None;
                        self.copy = Some(copy);
                        true
                    }
                    Err(e) => {
                        // Keep the last good copy (a file being rewritten, or removed).
                        self.error = Some(e);
                        false
                    }
                }
            }
            Source::Url(_) => {
                let now = SystemTime::now();
                let expiry = self.expiry(fetcher.config());
                // After a failure (or a fetch that brought nothing current), try again at
                // most every 30 s (or the expiry, if shorter), so that a dead server does
                // not cost a timeout on every validation.
                let retry = self
                    .failed
                    .is_none_or(|a| now >= a + expiry.min(Duration::from_secs(30)));
                let stale = self.copy.as_ref().is_none_or(|c| !c.current(time));
                let due = now >= self.expires || stale;
                if due && retry {
                    self.fetch(fetcher, time)
                } else {
                    false
                }
            }
        }
    }
}

fn same(a: &Copy, b: &Copy) -> bool {
    a.certs == b.certs
        && a.crls.len() == b.crls.len()
        && a.crls
            .iter()
            .zip(&b.crls)
            .all(|(x, y)| x.fingerprint() == y.fingerprint())
}

fn read_path(p: &Path, kind: Kind) -> Result<Copy, String> {
    Ok(match kind {
        Kind::Crls => Copy {
            crls: load_crls(p).map_err(|e| e.to_string())?,
            certs: Vec::new(),
        },
        _ => Copy {
            certs: load_certificates(p).map_err(|e| e.to_string())?,
            crls: Vec::new(),
        },
    })
}

/// Trust anchors, intermediates and CRLs from their [`Source`]s, with their last good
/// copies (see the [module documentation](self)).
#[derive(Debug)]
pub struct Material {
    fetcher: Fetcher,
    sources: Vec<Tracked>,
}

impl Material {
    /// Loads every source. `time` is the verification time (seconds since the epoch), for
    /// deciding whether a cached CRL is still current. Files that cannot be read, and CA
    /// URLs with nothing fetched or cached, are configuration errors; a CRL URL with nothing
    /// current is not (validation then fails with [`CRL_UNAVAILABLE`] until it can be had).
    pub fn load(
        trust: &[Source],
        certs: &[Source],
        crls: &[Source],
        fetch: &FetchConfig,
        time: u64,
    ) -> Result<Self, ConfigError> {
        let fetcher = Fetcher::new(fetch.clone())?;
        let mut sources = Vec::new();
        for (list, kind) in [
            (trust, Kind::Anchors),
            (certs, Kind::Certificates),
            (crls, Kind::Crls),
        ] {
            for s in list {
                sources.push(Tracked::load(s.clone(), kind, &fetcher, time)?);
            }
        }
        Ok(Self { fetcher, sources })
    }

    /// Refreshes what is due (expired caches, CRLs past their `nextUpdate` at `time`,
    /// changed files). Returns whether anything changed (the verifier must be rebuilt).
    pub fn refresh(&mut self, time: u64) -> bool {
        let mut changed = false;
        for t in &mut self.sources {
            changed |= t.refresh(&self.fetcher, time);
        }
        changed
    }

    fn of(&self, kind: Kind) -> impl Iterator<Item = &Tracked> {
        self.sources.iter().filter(move |t| t.kind == kind)
    }

    /// The trust anchors.
    pub fn anchors(&self) -> Vec<Certificate> {
        self.of(Kind::Anchors)
            .filter_map(|t| t.copy.as_ref())
            .flat_map(|c| c.certs.iter().cloned())
            .collect()
    }

    /// The intermediates.
    pub fn certificates(&self) -> Vec<Certificate> {
        self.of(Kind::Certificates)
            .filter_map(|t| t.copy.as_ref())
            .flat_map(|c| c.certs.iter().cloned())
            .collect()
    }

    /// Whether any CRL source is configured.
    pub fn has_crls(&self) -> bool {
        self.of(Kind::Crls).next().is_some()
    }

    /// The CRLs (the last good copy of each source).
    pub fn crls(&self) -> CrlSet {
        let mut set = CrlSet::new();
        for t in self.of(Kind::Crls) {
            for c in t.copy.iter().flat_map(|c| c.crls.iter()) {
                set.add(c.clone());
            }
        }
        set
    }

    /// Refuses ([`CRL_UNAVAILABLE`], certificate stage) when a CRL URL has no copy current
    /// at `time`. (CRL files are used as they are: a file past its `nextUpdate` is refused
    /// by path validation, `crl-expired`.)
    pub fn check_crls(&self, time: u64) -> Result<(), Rejection> {
        for t in self.of(Kind::Crls).filter(|t| t.source.is_url()) {
            let ok = t.copy.as_ref().is_some_and(|c| c.current(time));
            if !ok {
                let why = match (&t.copy, &t.error) {
                    (Some(c), e) => format!(
                        "the last copy expired at {}{}",
                        c.next_update()
                            .map(waxseal_envelope::time::format)
                            .unwrap_or_default(),
                        e.as_ref()
                            .map(|e| format!(" and fetching failed: {e}"))
                            .unwrap_or_default()
                    ),
                    (None, Some(e)) => format!("fetching failed: {e}"),
                    (None, None) => "never fetched".into(),
                };
                // The CRL server's failure, not the message's: try again later.
                return Err(Rejection::transient(
                    Stage::Certificate,
                    CRL_UNAVAILABLE,
                    format!("no current CRL from {}: {why}", t.source),
                ));
            }
        }
        Ok(())
    }
}

/// Loads one source once, without refreshing it later: what a one-shot verifier (the
/// CLI, Python's `Verifier`) needs. A CRL URL with nothing current at `time` is an error
/// that starts with [`CRL_UNAVAILABLE`].
pub fn load_once(
    source: &Source,
    kind: Kind,
    fetch: &FetchConfig,
    time: u64,
) -> Result<(Vec<Certificate>, Vec<Crl>), ConfigError> {
    let fetcher = Fetcher::new(fetch.clone())?;
    let t = Tracked::load(source.clone(), kind, &fetcher, time)?;
    let m = Material {
        fetcher,
        sources: vec![t],
    };
    m.check_crls(time)
        .map_err(|r| ConfigError(format!("{}: {}", r.code, r.reason)))?;
    let copy = m
        .sources
        .into_iter()
        .next()
        .and_then(|t| t.copy)
        .unwrap_or_default();
    Ok((copy.certs, copy.crls))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_sources() {
        assert_eq!(
            Source::parse("http://ca.example/crl.pem").unwrap(),
            Source::Url("http://ca.example/crl.pem".into())
        );
        assert!(
            Source::parse("HTTPS://ca.example/ca.pem")
                .unwrap()
                .is_https()
        );
        assert_eq!(
            Source::parse("pki/crl.pem").unwrap(),
            Source::Path("pki/crl.pem".into())
        );
        assert!(Source::parse("ldap://ca.example/cn=crl").is_err());
        assert!(Source::parse("file:///etc/crl.pem").is_err());
        assert!(Source::parse("http://").is_err());
        let mut s = Source::parse("crl.pem").unwrap();
        s.resolve(Path::new("/etc/waxseal"));
        assert_eq!(s, Source::Path("/etc/waxseal/crl.pem".into()));
    }

    #[test]
    fn plain_http_anchors_refused() {
        let e = Material::load(
            &[Source::parse("http://127.0.0.1:9/ca.pem").unwrap()],
            &[],
            &[],
            &FetchConfig::default(),
            0,
        )
        .unwrap_err();
        assert!(e.0.contains("plain http"), "{e}");
    }
}
