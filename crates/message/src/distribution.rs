//! CA bundles and CRLs from files or http(s) URLs: fetched with a timeout beside
//! validation, checked, cached on disk, refreshed, and failing closed.
//!
//! Wherever trust material is configured (the bus configuration's `trust`, `certs` and
//! `crls`, the CLI's `--trust`, `--certs` and `--crl`, Python's `Verifier` and `Bus`), a
//! [`Source`] is either a file (or directory) path or an `http://` / `https://` URL.
//! [`Material`] holds the last good copy of each source and refreshes it:
//!
//! - a file when it changes (its size, modification time or inode, or a directory's list of
//!   files): re-read by [`Material::refresh`] on the calling thread (a local stat and read);
//! - a URL when its cache expires (`crl_cache_expiry_secs`, `ca_cache_expiry_secs` of
//!   [`FetchConfig`]), and a CRL URL also once the verification time reaches the CRL's
//!   `nextUpdate`: fetched by a background thread that [`Material::refresh`] starts and
//!   does not wait for.
//!
//! # Refreshing beside validation
//!
//! No validation waits for the network. The copies sit behind a mutex that is held only to
//! read or replace them (and to stat the files), never during a fetch. A due URL is fetched
//! by a background thread; only one runs at a time (a flag stops a second from starting,
//! and a refresh mutex serialises it with [`Refresher::run`]), so a dead server costs one
//! thread waiting out `timeout_ms`, not every validating thread (under eventlet, the whole
//! process). The held copies serve meanwhile; a copy taken bumps a generation, and the bus
//! rebuilds its verifier at its next validation ([`Material::take_changed`]). With nothing
//! current held, validation is refused with [`CRL_UNAVAILABLE`] (transient) rather than
//! waiting. [`Refresher::run`] (`Bus::refresh_trust`) fetches every URL now and waits, for
//! tests and one-shot tools.
//!
//! # CRLs never go backwards
//!
//! A fetched CRL copy (and one read back from the cache) replaces the held one only if
//! every CRL in it
//!
//! - verifies against a certificate of its issuer among the configured anchors and
//!   intermediates (same subject name, keyUsage allowing cRLSign if present; an
//!   intermediate must itself have a path to an anchor, since intermediates may be fetched
//!   over plain http): the CRL issuer the path validation will look for. SHA-1 is let
//!   through here; path validation applies the bus's algorithm policy when it uses the CRL;
//! - is current at the verification time (the bus's clock or fixed time):
//!   `thisUpdate <= time < nextUpdate` (a CRL read back from the cache may be past its
//!   `nextUpdate`: it is then held, as the floor a fetched copy must reach, but not served);
//!
//! and every CRL of the held copy (by issuer, issuing distribution point, complete or
//! delta) has a counterpart in the new copy that is not older: a higher `cRLNumber`, or the
//! same and a `thisUpdate` no earlier (`Crl::cmp_recency`). Otherwise the held copy stays,
//! and the refusal is counted by reason ([`DistributionStats`]). [`load_once`] of a lone
//! CRL URL has no issuers: path validation checks the signature there.
//!
//! # The disk cache
//!
//! A fetched copy is written to the cache directory (`cache_dir`, one file per URL) and
//! read back from there when a process starts, so that a restart does not need the server.
//! The directory is created 0700 if missing and must be owned by the process's user and not
//! writable by its group or others (a configuration error otherwise). Files are written
//! 0600 as a new file renamed into place (never through a symlink), with a header line
//! naming the kind, the scheme fetched over and the provenance (URL, kind and the https
//! roots); read back without following symlinks, as regular files of the same user not
//! writable by others, with the same header, and checked again (CRLs as above). A cached
//! trust anchor is used only if it was fetched over https by the same configuration.
//!
//! On a failed fetch or an unreadable file the last good copy is kept; for a CRL only while
//! it is still current (before its `nextUpdate`). Once a CRL URL has nothing current,
//! [`Material::check_crls`] refuses: validation fails closed with [`CRL_UNAVAILABLE`].
//!
//! CA bundles: trust anchors (`trust`) are only accepted from files and `https://` URLs,
//! never plain `http://`, where anyone on the path could replace them (intermediates in
//! `certs` and CRLs are signed, so plain HTTP is fine for them, and is what CRL distribution
//! points use). A CA URL that cannot be fetched at start-up and has no cached copy is a
//! configuration error; later failures keep the last good copy (certificates carry their
//! own validity period). Redirects are followed only to the same scheme, host and port.
//!
//! https uses rustls with graviola, a pure-Rust crypto provider (no ring, no aws-lc), and
//! Mozilla's root certificates (webpki-roots); it is the `https` feature (on by default;
//! graviola supports x86_64 and aarch64). Without it, https URLs are a configuration error.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;
use serde::{Deserialize, Serialize};
use sha2::Digest;

use waxseal_trust::path::crl_signature_verifies;
use waxseal_trust::path::{Purpose, validate};
use waxseal_trust::store::{LoadError, files_in, load_certificates, load_crls};
use waxseal_trust::{
    AlgorithmPolicy, CertStore, Certificate, Crl, CrlSet, TrustAnchors, ValidationOptions,
};

use waxseal_trust::fsutil;
use waxseal_trust::provider::Provider;

pub use crate::error::FetchError;
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
    /// The certificates of `https_roots` (empty: webpki-roots), part of a cached copy's
    /// provenance.
    roots: Vec<Certificate>,
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
            // Redirects are followed by `get`, which checks each one.
            .max_redirects(0)
            // A connection per request, none kept for the next. An HTTP/1.0 server (many
            // TSAs and CRL servers, Python's http.server) closes the connection after its
            // reply without saying `Connection: close`, and the HTTP client would put it
            // back in its pool: the next request then went out on a closed socket and
            // failed (`tsa-unavailable`, a CRL "unavailable") although the server was up.
            // Fetches are few (CRLs, CAs) or each waits on a TSA's signature anyway.
            .max_idle_connections(0)
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
                .root_certs(match &roots {
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
        let agent = builder.build().new_agent();
        Ok(Self {
            config,
            agent,
            roots: roots.unwrap_or_default(),
        })
    }

    /// The settings.
    pub fn config(&self) -> &FetchConfig {
        &self.config
    }

    /// Whether https URLs can be fetched (the `https` feature).
    pub const HTTPS: bool = cfg!(feature = "https");

    /// The most redirects followed in one fetch.
    pub const MAX_REDIRECTS: usize = 5;

    /// GETs `url`; a status other than 2xx, a timeout or a body larger than `max_bytes` is
    /// an error. Redirects are followed (at most [`Fetcher::MAX_REDIRECTS`]) only to the
    /// same scheme, host and port: a redirect elsewhere (plain http from https, another
    /// host) is an error, so that what a source is configured to trust is what it gets.
    pub fn get(&self, url: &str) -> Result<Vec<u8>, FetchError> {
        if url.to_ascii_lowercase().starts_with("https://") && !Self::HTTPS {
            return Err(FetchError::NoHttps(url.into()));
        }
        let failed = |e: ureq::Error| FetchError::Http {
            url: url.into(),
            detail: e.to_string(),
        };
        let mut current = url.to_string();
        for _ in 0..=Self::MAX_REDIRECTS {
            let mut response = self.agent.get(&current).call().map_err(failed)?;
            let status = response.status();
            if status.is_redirection() {
                let location = response
                    .headers()
                    .get("location")
                    .and_then(|v| v.to_str().ok())
                    .ok_or_else(|| FetchError::RedirectWithoutLocation {
                        url: url.into(),
                        status,
                    })?;
                current = same_origin_redirect(&current, location).ok_or_else(|| {
                    FetchError::CrossOriginRedirect {
                        url: url.into(),
                        status,
                        location: location.into(),
                    }
                })?;
                continue;
            }
            return response
                .body_mut()
                .with_config()
                .limit(self.config.max_bytes as u64)
                .read_to_vec()
                .map_err(failed);
        }
        Err(FetchError::TooManyRedirects {
            url: url.into(),
            max: Self::MAX_REDIRECTS,
        })
    }
}

impl Fetcher {
    /// POSTs `body` as `content_type` to `url` (a time-stamp request, RFC 3161 §3.4) and
    /// returns the response body; a redirect, a status other than 2xx, a timeout or a body
    /// larger than `max_bytes` is an error (a POST is not repeated elsewhere).
    pub fn post(&self, url: &str, content_type: &str, body: &[u8]) -> Result<Vec<u8>, FetchError> {
        if url.to_ascii_lowercase().starts_with("https://") && !Self::HTTPS {
            return Err(FetchError::NoHttps(url.into()));
        }
        let failed = |e: ureq::Error| FetchError::Http {
            url: url.into(),
            detail: e.to_string(),
        };
        let mut response = self
            .agent
            .post(url)
            .header("content-type", content_type)
            .send(body)
            .map_err(failed)?;
        if !response.status().is_success() {
            return Err(FetchError::Status {
                url: url.into(),
                status: response.status(),
            });
        }
        response
            .body_mut()
            .with_config()
            .limit(self.config.max_bytes as u64)
            .read_to_vec()
            .map_err(failed)
    }
}

/// The target of a redirect from `from` to `location` when it has the same scheme, host
/// and port (an absolute URL, or a reference relative to `from`); `None` otherwise.
fn same_origin_redirect(from: &str, location: &str) -> Option<String> {
    use ureq::http::Uri;
    let base: Uri = from.parse().ok()?;
    let scheme = base.scheme_str()?.to_ascii_lowercase();
    let authority = base.authority()?.as_str().to_ascii_lowercase();
    if location
        .chars()
        .any(|c| c.is_whitespace() || c.is_control())
    {
        return None;
    }
    let target = if location.starts_with("//") {
        format!("{scheme}:{location}")
    } else if location.starts_with('/') {
        format!("{scheme}://{authority}{location}")
    } else if location.contains("://") {
        location.to_string()
    } else {
        // Relative to the directory of the current path.
        let path = base.path();
        let dir = &path[..path.rfind('/').map_or(0, |i| i + 1)];
        format!("{scheme}://{authority}{dir}{location}")
    };
    let uri: Uri = target.parse().ok()?;
    let same = uri.scheme_str().map(str::to_ascii_lowercase).as_deref() == Some(&scheme)
        && uri
            .authority()
            .map(|a| a.as_str().to_ascii_lowercase())
            .as_deref()
            == Some(authority.as_str());
    same.then_some(target)
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

/// What became of the fetched (or cached) copies so far: how many were taken, and how
/// many were refused and why ([`Material::stats`], `Bus::distribution_stats`). The
/// message crate has no logger: services report these (the gateway's metrics, Python's
/// `Bus.distribution_stats()`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DistributionStats {
    /// Fetched copies taken (replacing the held one, or confirming it).
    pub accepted: u64,
    /// Fetches that failed (connection, timeout, HTTP status, size, refused redirect).
    pub fetch_failed: u64,
    /// Copies that did not parse (no certificate, no CRL, bad encoding).
    pub refused_malformed: u64,
    /// CRLs whose signature no certificate of their issuer among the configured anchors
    /// and intermediates verifies (forged, tampered, or from another CA).
    pub refused_signature: u64,
    /// CRLs not current at the verification time (expired, or not yet valid).
    pub refused_not_current: u64,
    /// CRLs older than the held copy (a lower `cRLNumber`, or the same and an earlier
    /// `thisUpdate`), or a copy missing a CRL the held one has: a stale mirror or a
    /// replay.
    pub refused_older: u64,
    /// Cached copies refused when read back (not a regular file, a symlink, foreign
    /// owner or writable by others, no or another provenance, an anchor not fetched over
    /// https by this configuration), besides those refused by the checks above.
    pub refused_cache: u64,
    /// Refreshes run beside validation (in a background thread).
    pub background_refreshes: u64,
    /// The last refusal or failure, for a log line (names the source; attacker-influenced
    /// text from the server is not included, only our own description).
    pub last_problem: Option<String>,
}

/// Why a copy was not taken.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Refusal {
    Malformed(String),
    Signature(String),
    NotCurrent(String),
    Older(String),
    Cache(String),
}

impl Refusal {
    fn text(&self) -> &str {
        match self {
            Self::Malformed(s)
            | Self::Signature(s)
            | Self::NotCurrent(s)
            | Self::Older(s)
            | Self::Cache(s) => s,
        }
    }

    fn count(&self, stats: &mut DistributionStats) {
        match self {
            Self::Malformed(_) => stats.refused_malformed += 1,
            Self::Signature(_) => stats.refused_signature += 1,
            Self::NotCurrent(_) => stats.refused_not_current += 1,
            Self::Older(_) => stats.refused_older += 1,
            Self::Cache(_) => stats.refused_cache += 1,
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
    fn parse(kind: Kind, bytes: &[u8]) -> Result<Self, Unparsed> {
        Ok(match kind {
            Kind::Crls => Self {
                crls: Crl::load_all(bytes)?,
                certs: Vec::new(),
            },
            _ => Self {
                certs: Certificate::load_all(bytes)?,
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

/// Why a fetched or cached copy does not parse.
#[derive(Debug, thiserror::Error)]
enum Unparsed {
    #[error(transparent)]
    Crl(#[from] waxseal_trust::crl::CrlError),
    #[error(transparent)]
    Certificate(#[from] waxseal_trust::cert::CertError),
}

/// What a fetched or cached CRL copy is checked against.
struct Gate<'a> {
    /// The configured anchors and intermediates (`None`: a lone CRL source loaded once,
    /// [`load_once`], which has no issuers; path validation checks its signature).
    issuers: Option<(&'a [Certificate], &'a [Certificate])>,
    time: u64,
    /// What checks the CRLs' signatures: the process default (the gate only decides
    /// whether a copy may replace the held one; the verifier's own provider checks the
    /// CRLs again when it uses them).
    provider: Provider,
}

/// The scope of a CRL within a copy: a newer copy must have each of the held one's.
fn scope(c: &Crl) -> (&waxseal_trust::name::NameKey, Option<&[u8]>, bool) {
    (
        c.issuer_key(),
        c.issuing_distribution_point_der(),
        c.is_delta(),
    )
}

impl Gate<'_> {
    /// Checks a CRL copy before it replaces `held`: each CRL signed by a certificate of
    /// its issuer among the anchors and intermediates (the certificate itself an anchor
    /// or with a path to one), current (`thisUpdate <= time < nextUpdate`; `allow_expired`:
    /// a copy read back from the cache may be past its `nextUpdate`, it is then held but
    /// never served), and no CRL of `held` newer than its counterpart in `new` or missing.
    fn check_copy(
        &self,
        new: &Copy,
        held: Option<&Copy>,
        allow_expired: bool,
    ) -> Result<(), Refusal> {
        for c in &new.crls {
            let who = c.issuer_display();
            if c.this_update() > self.time {
                return Err(Refusal::NotCurrent(format!(
                    "the CRL of {who} is not valid before {}",
                    waxseal_trust::time::format(c.this_update())
                )));
            }
            if !allow_expired
                && let Some(n) = c.next_update()
                && self.time >= n
            {
                return Err(Refusal::NotCurrent(format!(
                    "the CRL of {who} expired at {}",
                    waxseal_trust::time::format(n)
                )));
            }
            if let Some((anchors, certs)) = self.issuers
                && !self.signed_by_configured_issuer(c, anchors, certs)
            {
                return Err(Refusal::Signature(format!(
                    "the CRL of {who} is not signed by a certificate of its issuer among the \
                     configured anchors and intermediates"
                )));
            }
        }
        for old in held.iter().flat_map(|h| h.crls.iter()) {
            let Some(new_one) = new
                .crls
                .iter()
                .filter(|c| scope(c) == scope(old))
                .max_by(|a, b| a.cmp_recency(b))
            else {
                return Err(Refusal::Older(format!(
                    "the copy lacks the CRL of {} that the held copy has",
                    old.issuer_display()
                )));
            };
            if new_one.cmp_recency(old) == std::cmp::Ordering::Less {
                return Err(Refusal::Older(format!(
                    "the CRL of {} (cRLNumber {}, thisUpdate {}) is older than the held one \
                     (cRLNumber {}, thisUpdate {})",
                    old.issuer_display(),
                    number_text(new_one),
                    waxseal_trust::time::format(new_one.this_update()),
                    number_text(old),
                    waxseal_trust::time::format(old.this_update()),
                )));
            }
        }
        Ok(())
    }

    fn signed_by_configured_issuer(
        &self,
        crl: &Crl,
        anchors: &[Certificate],
        certs: &[Certificate],
    ) -> bool {
        // Only a gate: path validation decides with the bus's own algorithm policy; SHA-1
        // is let through here so that a deployment that allows it is not left without CRLs.
        let algorithms = AlgorithmPolicy::LEGACY_SHA1;
        if anchors
            .iter()
            .any(|a| crl_signature_verifies(crl, a, &algorithms, &self.provider))
        {
            return true;
        }
        let signers: Vec<&Certificate> = certs
            .iter()
            .filter(|c| crl_signature_verifies(crl, c, &algorithms, &self.provider))
            .collect();
        if signers.is_empty() {
            return false;
        }
        // An intermediate fetched over plain http is not itself trusted: the one that
        // signed the CRL must have a path to an anchor.
        let Ok(anchors) = TrustAnchors::new(anchors.iter().cloned()) else {
            return false;
        };
        let pool = CertStore::from_certificates(certs.iter().cloned());
        let mut options = ValidationOptions::at(self.time).with_provider(self.provider);
        options.purpose = Purpose::CrlSigning;
        options.algorithms = algorithms;
        signers
            .into_iter()
            .any(|s| validate(s, &anchors, &[&pool], &CrlSet::new(), &options).is_ok())
    }
}

fn number_text(c: &Crl) -> String {
    c.crl_number()
        .map(|n| n.iter().map(|b| format!("{b:02x}")).collect())
        .unwrap_or_else(|| "none".into())
}

/// What a file source looked like: each file's path, size, modification time and inode.
type Stamp = Vec<(PathBuf, u64, Option<SystemTime>, u64)>;

/// The file's inode: a file replaced by renaming another into place (how CRLs are
/// published) is noticed even when its size and modification time (a clock tick of a few
/// milliseconds) are the same as the old one's.
#[cfg(unix)]
fn inode(m: &std::fs::Metadata) -> u64 {
    std::os::unix::fs::MetadataExt::ino(m)
}

#[cfg(not(unix))]
fn inode(_: &std::fs::Metadata) -> u64 {
    0
}

fn stamp(path: &Path) -> Option<Stamp> {
    let of = |f: PathBuf, m: Option<&std::fs::Metadata>| {
        let len = m.map_or(0, |m| m.len());
        let mtime = m.and_then(|m| m.modified().ok());
        let ino = m.map_or(0, inode);
        (f, len, mtime, ino)
    };
    // A file (the usual source): one stat, taken before every validation.
    let meta = std::fs::metadata(path).ok()?;
    if !meta.is_dir() {
        return Some(vec![of(path.to_path_buf(), Some(&meta))]);
    }
    let files = files_in(path).ok()?;
    Some(
        files
            .into_iter()
            .map(|f| {
                let m = std::fs::metadata(&f).ok();
                of(f, m.as_ref())
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

/// The disk cache: one file per URL, in a directory only this process's user may write.
mod cache {
    use super::*;

    /// The first line of a cache file: magic, format, kind, the scheme it was fetched
    /// over and the provenance (see [`provenance`]); the fetched bytes follow.
    const MAGIC: &str = "waxseal-cache 1";

    /// Identifies what fetched a copy: the kind, the URL and the roots that authenticated
    /// the https server. An anchor is taken from the cache only when this matches: another
    /// configuration sharing the directory (other https roots) cannot plant one.
    pub(super) fn provenance(
        fetch: &FetchConfig,
        roots: &[Certificate],
        kind: Kind,
        url: &str,
    ) -> String {
        let mut h = sha2::Sha256::new();
        h.update(b"waxseal-cache-provenance\0");
        h.update(kind.name().as_bytes());
        h.update(b"\0");
        h.update(url.as_bytes());
        h.update(b"\0");
        match &fetch.https_roots {
            None => h.update(b"webpki-roots"),
            Some(_) => {
                for c in roots {
                    h.update(c.fingerprint());
                }
            }
        }
        h.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }

    pub(super) fn file(dir: &Path, kind: Kind, url: &str) -> PathBuf {
        let digest = sha2::Sha256::digest(url.as_bytes());
        let hex: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
        dir.join(format!("{}-{hex}.cache", kind.name()))
    }

    /// Creates the directory (mode 0700) if missing, and refuses one that this process's
    /// user does not own or that its group or others may write: whoever can write there
    /// could replace a cached copy between two reads.
    pub(super) fn prepare_dir(dir: &Path) -> Result<(), ConfigError> {
        let name = || dir.display().to_string();
        #[cfg(unix)]
        {
            use std::os::unix::fs::{DirBuilderExt, MetadataExt};
            if !dir.exists() {
                std::fs::DirBuilder::new()
                    .recursive(true)
                    .mode(0o700)
                    .create(dir)
                    .map_err(|e| ConfigError(format!("fetch.cache_dir: {}: {e}", name())))?;
            }
            let meta = std::fs::metadata(dir)
                .map_err(|e| ConfigError(format!("fetch.cache_dir: {}: {e}", name())))?;
            if !meta.is_dir() {
                return Err(ConfigError(format!(
                    "fetch.cache_dir: {}: not a directory",
                    name()
                )));
            }
            let me = rustix::process::geteuid().as_raw();
            if meta.uid() != me {
                return Err(ConfigError(format!(
                    "fetch.cache_dir: {}: owned by uid {}, not by this process (uid {me})",
                    name(),
                    meta.uid()
                )));
            }
            if meta.mode() & 0o022 != 0 {
                return Err(ConfigError(format!(
                    "fetch.cache_dir: {}: writable by its group or others (mode {:o}): \
                     make it 0700",
                    name(),
                    meta.mode() & 0o7777
                )));
            }
        }
        #[cfg(not(unix))]
        std::fs::create_dir_all(dir)
            .map_err(|e| ConfigError(format!("fetch.cache_dir: {}: {e}", name())))?;
        Ok(())
    }

    /// Writes `bytes` with its header to `path`, a regular file (mode 0600) created or
    /// replaced atomically ([`fsutil::replace`]), never into anything but a regular file.
    /// A symlink there is removed first (unlinking a link never touches what it names), so
    /// the cache heals rather than staying unwritable.
    pub(super) fn write(
        path: &Path,
        kind: Kind,
        https: bool,
        provenance: &str,
        bytes: &[u8],
    ) -> std::io::Result<()> {
        let mut file = format!(
            "{MAGIC} {} {} {provenance}\n",
            kind.name(),
            if https { "https" } else { "http" }
        )
        .into_bytes();
        file.extend_from_slice(bytes);
        if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
            std::fs::remove_file(path)?;
        }
        fsutil::replace(path, &file, 0o600)
    }

    /// A cached copy as it was written: the file is opened without following a symlink
    /// and must be a regular file of this process's user that its group and others cannot
    /// write; its header must name `kind` and `provenance` (and https, for anchors).
    /// Returns the fetched bytes and when they were written. `Ok(None)`: no file.
    pub(super) fn read(
        path: &Path,
        kind: Kind,
        provenance: &str,
        max_bytes: usize,
    ) -> Result<Option<(Vec<u8>, SystemTime)>, Refusal> {
        use std::io::Read;
        let refuse = |why: String| Refusal::Cache(format!("{}: {why}", path.display()));
        #[cfg(unix)]
        let file = {
            use rustix::fs::{Mode, OFlags};
            use std::os::unix::fs::MetadataExt;
            let fd = match rustix::fs::open(
                path,
                OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NONBLOCK,
                Mode::empty(),
            ) {
                Ok(fd) => fd,
                Err(rustix::io::Errno::NOENT) => return Ok(None),
                Err(rustix::io::Errno::LOOP) => {
                    return Err(refuse("a symlink, not followed".into()));
                }
                Err(e) => return Err(refuse(e.to_string())),
            };
            let file = std::fs::File::from(fd);
            let meta = file.metadata().map_err(|e| refuse(e.to_string()))?;
            if !meta.is_file() {
                return Err(refuse("not a regular file".into()));
            }
            if meta.uid() != rustix::process::geteuid().as_raw() {
                return Err(refuse(format!(
                    "owned by uid {}, not by this process",
                    meta.uid()
                )));
            }
            if meta.mode() & 0o022 != 0 {
                return Err(refuse("writable by its group or others".into()));
            }
            file
        };
        #[cfg(not(unix))]
        let file = match std::fs::File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(refuse(e.to_string())),
        };
        let written = file
            .metadata()
            .and_then(|m| m.modified())
            .unwrap_or(SystemTime::UNIX_EPOCH);
        let mut bytes = Vec::new();
        file.take(max_bytes as u64 + 4096)
            .read_to_end(&mut bytes)
            .map_err(|e| refuse(e.to_string()))?;
        let Some(nl) = bytes.iter().position(|b| *b == b'\n') else {
            return Err(refuse("no header".into()));
        };
        let header = String::from_utf8_lossy(&bytes[..nl]).into_owned();
        let fields: Vec<&str> = header.split(' ').collect();
        let ok = match fields.as_slice() {
            [m1, m2, k, via, p] => {
                format!("{m1} {m2}") == MAGIC
                    && *k == kind.name()
                    && *p == provenance
                    && (kind != Kind::Anchors || *via == "https")
            }
            _ => false,
        };
        if !ok {
            return Err(refuse(if kind == Kind::Anchors {
                "not an anchor fetched over https by this configuration".into()
            } else {
                "written by another configuration, or not a cache file".into()
            }));
        }
        bytes.drain(..=nl);
        Ok(Some((bytes, written)))
    }
}

/// The configured anchors and intermediates among `sources` (their held copies).
fn issuers(sources: &[Tracked]) -> (Vec<Certificate>, Vec<Certificate>) {
    let of = |kind: Kind| -> Vec<Certificate> {
        sources
            .iter()
            .filter(|t| t.kind == kind)
            .filter_map(|t| t.copy.as_ref())
            .flat_map(|c| c.certs.iter().cloned())
            .collect()
    };
    (of(Kind::Anchors), of(Kind::Certificates))
}

/// What a load or refresh needs besides the sources.
struct Env<'a> {
    fetcher: &'a Fetcher,
    /// Whether CRLs must verify against the configured issuers.
    verify_issuers: bool,
    stats: &'a Mutex<DistributionStats>,
}

impl Env<'_> {
    fn note(&self, source: &Source, refusal: &Refusal) {
        let mut s = lock(self.stats);
        refusal.count(&mut s);
        s.last_problem = Some(format!("{source}: {}", refusal.text()));
    }

    fn provenance(&self, kind: Kind, url: &str) -> String {
        cache::provenance(self.fetcher.config(), &self.fetcher.roots, kind, url)
    }
}

impl Tracked {
    fn expiry(&self, fetch: &FetchConfig) -> Duration {
        Duration::from_secs(match self.kind {
            Kind::Crls => fetch.crl_cache_expiry_secs,
            _ => fetch.ca_cache_expiry_secs,
        })
    }

    /// The first load: a file must be readable; a URL is read from the disk cache when
    /// that is fresh, fetched otherwise, and falls back to the disk cache. `loaded`: the
    /// sources loaded before (anchors, then intermediates), the issuers of its CRLs.
    fn load(
        source: Source,
        kind: Kind,
        env: &Env<'_>,
        loaded: &[Tracked],
        time: u64,
    ) -> Result<Self, ConfigError> {
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
        let fetcher = env.fetcher;
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
                    let file = cache::file(dir, kind, url);
                    let provenance = env.provenance(kind, url);
                    let (anchors, certs) = issuers(loaded);
                    let gate = Gate {
                        issuers: env.verify_issuers.then_some((&anchors[..], &certs[..])),
                        time,
                        provider: Provider::default(),
                    };
                    let read = cache::read(&file, kind, &provenance, fetcher.config().max_bytes)
                        .and_then(|got| match got {
                            None => Ok(None),
                            Some((bytes, written)) => {
                                let copy = Copy::parse(kind, &bytes).map_err(|e| {
                                    Refusal::Cache(format!("{}: {e}", file.display()))
                                })?;
                                gate.check_copy(&copy, None, true)?;
                                Ok(Some((copy, written)))
                            }
                        });
                    match read {
                        Ok(Some((copy, written))) => {
                            t.expires = written + expiry;
                            t.copy = Some(copy);
                        }
                        Ok(None) => {}
                        Err(r) => {
                            // Whatever was refused, it came from the cache.
                            let r = Refusal::Cache(r.text().to_string());
                            env.note(&t.source, &r);
                            t.error = Some(r.text().to_string());
                        }
                    }
                }
                let fresh = t.copy.as_ref().is_some_and(|c| c.current(time))
                    && SystemTime::now() < t.expires;
                if !fresh {
                    let got = fetcher.get(url);
                    let (anchors, certs) = issuers(loaded);
                    t.apply(got, env, (&anchors, &certs), time);
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

    /// Whether the URL is due for a fetch (its cache expired, or a CRL is not current at
    /// `time`), and a failure is not too recent.
    fn url_due(&self, fetch: &FetchConfig, time: u64) -> bool {
        if !self.source.is_url() {
            return false;
        }
        let now = SystemTime::now();
        let expiry = self.expiry(fetch);
        // After a failure (or a fetch that brought nothing current), try again at most
        // every 30 s (or the expiry, if shorter), so that a dead server is not asked on
        // every validation.
        let retry = self
            .failed
            .is_none_or(|a| now >= a + expiry.min(Duration::from_secs(30)));
        let stale = self.copy.as_ref().is_none_or(|c| !c.current(time));
        (now >= self.expires || stale) && retry
    }

    /// Takes the result of a fetch: parsed, checked (CRLs: see [`Gate::check`]), cached
    /// and held; or refused, keeping the held copy. Returns whether the copy changed.
    fn apply(
        &mut self,
        got: Result<Vec<u8>, FetchError>,
        env: &Env<'_>,
        (anchors, certs): (&[Certificate], &[Certificate]),
        time: u64,
    ) -> bool {
        let Source::Url(url) = &self.source else {
            return false;
        };
        let now = SystemTime::now();
        self.failed = Some(now);
        let bytes = match got {
            Ok(b) => b,
            Err(e) => {
                let mut s = lock(env.stats);
                s.fetch_failed += 1;
                s.last_problem = Some(format!("{}: {e}", self.source));
                drop(s);
                self.error = Some(e.to_string());
                return false;
            }
        };
        let gate = Gate {
            issuers: env.verify_issuers.then_some((anchors, certs)),
            time,
            provider: Provider::default(),
        };
        let checked = Copy::parse(self.kind, &bytes)
            .map_err(|e| Refusal::Malformed(e.to_string()))
            .and_then(|copy| {
                if self.kind == Kind::Crls {
                    gate.check_copy(&copy, self.copy.as_ref(), false)?;
                }
                Ok(copy)
            });
        let copy = match checked {
            Ok(c) => c,
            Err(r) => {
                env.note(&self.source, &r);
                self.error = Some(format!("the fetched copy was refused: {}", r.text()));
                return false;
            }
        };
        lock(env.stats).accepted += 1;
        self.error = None;
        if let Some(dir) = &env.fetcher.config().cache_dir {
            let file = cache::file(dir, self.kind, url);
            let provenance = env.provenance(self.kind, url);
            if let Err(e) = cache::write(
                &file,
                self.kind,
                self.source.is_https(),
                &provenance,
                &bytes,
            ) {
                self.error = Some(format!("{}: {e}", file.display()));
            }
        }
        self.expires = now + self.expiry(env.fetcher.config());
        if copy.current(time) {
            self.failed = None;
        }
        let changed = self.copy.as_ref().is_none_or(|old| !same(old, &copy));
        self.copy = Some(copy);
        changed
    }

    /// Re-reads a file source when it changed. Returns whether the copy changed.
    fn refresh_file(&mut self) -> bool {
        let Source::Path(p) = &self.source else {
            return false;
        };
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
                self.error = Some(e.to_string());
                false
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

fn read_path(p: &Path, kind: Kind) -> Result<Copy, LoadError> {
    Ok(match kind {
        Kind::Crls => Copy {
            crls: load_crls(p)?,
            certs: Vec::new(),
        },
        _ => Copy {
            certs: load_certificates(p)?,
            crls: Vec::new(),
        },
    })
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// What a [`Material`] shares with its background refresh.
struct Shared {
    fetcher: Fetcher,
    verify_issuers: bool,
    /// The sources and their held copies. Held only to read or replace copies and to
    /// check the files, never during a fetch.
    sources: Mutex<Vec<Tracked>>,
    /// Held by the one refresh of URLs that runs (background or [`Refresher::run`]): two
    /// never run at once.
    refreshing: Mutex<()>,
    /// A background refresh was started and has not finished: no other is started.
    pending: AtomicBool,
    /// Bumped whenever a copy changes (shared with every [`ChangeWatch`]).
    generation: Arc<AtomicU64>,
    stats: Mutex<DistributionStats>,
    /// Whether any source is a URL (then only the locked refresh knows what is due).
    any_url: bool,
    /// Each file source's path and what its files looked like when last read (as in
    /// `sources`), readable without a lock: [`FileWatch::unchanged`] compares with it.
    files: Arc<ArcSwap<FileStamps>>,
}

impl Shared {
    fn env(&self) -> Env<'_> {
        Env {
            fetcher: &self.fetcher,
            verify_issuers: self.verify_issuers,
            stats: &self.stats,
        }
    }

    fn any_url_due(&self, time: u64) -> bool {
        lock(&self.sources)
            .iter()
            .any(|t| t.url_due(self.fetcher.config(), time))
    }

    fn refresh_files(&self) {
        let mut changed = false;
        let mut sources = lock(&self.sources);
        for t in sources.iter_mut() {
            changed |= t.refresh_file();
        }
        self.files.store(Arc::new(file_stamps(&sources)));
        if changed {
            self.generation.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// Fetches the URLs that are due (`force`: all of them), one at a time, holding no
    /// lock that validation takes while a fetch runs; each result is checked and applied
    /// under a short hold of the sources.
    fn refresh_urls(&self, time: u64, force: bool) {
        let _one = lock(&self.refreshing);
        let due: Vec<(usize, String)> = lock(&self.sources)
            .iter()
            .enumerate()
            .filter(|(_, t)| force || t.url_due(self.fetcher.config(), time))
            .filter_map(|(i, t)| match &t.source {
                Source::Url(u) => Some((i, u.clone())),
                Source::Path(_) => None,
            })
            .collect();
        let env = self.env();
        for (i, url) in due {
            let got = self.fetcher.get(&url);
            let mut sources = lock(&self.sources);
            let (anchors, certs) = issuers(&sources);
            if sources[i].apply(got, &env, (&anchors, &certs), time) {
                self.generation.fetch_add(1, Ordering::SeqCst);
            }
        }
    }
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Material")
            .field("fetcher", &self.fetcher)
            .field("sources", &*lock(&self.sources))
            .finish()
    }
}

/// Trust anchors, intermediates and CRLs from their [`Source`]s, with their last good
/// copies (see the [module documentation](self)).
#[derive(Debug)]
pub struct Material {
    shared: Arc<Shared>,
    /// The generation last reported by [`Material::refresh`].
    seen: u64,
}

/// A handle that runs a refresh of a [`Material`] to completion on the calling thread
/// ([`Material::refresher`]), e.g. without holding the lock a verifier is served under.
#[derive(Debug, Clone)]
pub struct Refresher(Arc<Shared>);

/// Each file source's path and its stamp when last read.
type FileStamps = Vec<(PathBuf, Option<Stamp>)>;

/// The file sources of `sources` with their stamps, for [`Shared::files`].
fn file_stamps(sources: &[Tracked]) -> FileStamps {
    sources
        .iter()
        .filter_map(|t| match &t.source {
            Source::Path(p) => Some((p.clone(), t.stamp.clone())),
            Source::Url(_) => None,
        })
        .collect()
}

/// Whether `path` still looks as `seen` says: for a file, one `stat` (its size,
/// modification time and inode, as [`stamp`] records them); for a directory, its stamp
/// made again.
fn looks_the_same(path: &Path, seen: &Stamp) -> bool {
    #[cfg(target_os = "linux")]
    if let Some(same) = file_looks_the_same(path, seen) {
        return same;
    }
    match std::fs::metadata(path) {
        Ok(m) if !m.is_dir() => matches!(
            seen.as_slice(),
            [(p, len, mtime, ino)]
                if p == path && *len == m.len() && *mtime == m.modified().ok() && *ino == inode(&m)
        ),
        Ok(_) => stamp(path).as_ref() == Some(seen),
        Err(_) => false,
    }
}

/// [`looks_the_same`] for a file, with a `statx` asking for its type, size, modification
/// time and inode only (cheaper than `std::fs::metadata`'s, which asks for everything): `None` for a directory, or when the system does not answer that way
/// (then `std::fs::metadata` decides).
#[cfg(target_os = "linux")]
fn file_looks_the_same(path: &Path, seen: &Stamp) -> Option<bool> {
    use rustix::fs::{AtFlags, CWD, FileType, StatxFlags, statx};
    let want = StatxFlags::TYPE | StatxFlags::SIZE | StatxFlags::MTIME | StatxFlags::INO;
    let st = statx(CWD, path, AtFlags::empty(), want).ok()?;
    if !StatxFlags::from_bits_retain(st.stx_mask).contains(want)
        || FileType::from_raw_mode(st.stx_mode.into()) == FileType::Directory
    {
        return None;
    }
    // As std makes a SystemTime of a timestamp: seconds (maybe negative) plus nanoseconds.
    let (secs, nanos) = (st.stx_mtime.tv_sec, st.stx_mtime.tv_nsec);
    let mtime = if secs >= 0 {
        SystemTime::UNIX_EPOCH.checked_add(Duration::new(secs.unsigned_abs(), nanos))
    } else {
        SystemTime::UNIX_EPOCH
            .checked_sub(Duration::from_secs(secs.unsigned_abs()))
            .and_then(|t| t.checked_add(Duration::from_nanos(nanos.into())))
    }?;
    Some(matches!(
        seen.as_slice(),
        [(p, len, m, ino)]
            if p == path && *len == st.stx_size && *m == Some(mtime) && *ino == st.stx_ino
    ))
}

/// Tells, without a lock, whether the files of a [`Material`] whose sources are all files
/// still look as they did when last read ([`Material::file_watch`]): what a bus that
/// checks its files before every message does per message, taking the material's lock
/// only when one changed.
#[derive(Clone)]
pub struct FileWatch(Arc<ArcSwap<FileStamps>>);

impl FileWatch {
    /// Whether every configured file has the size, modification time and inode it had
    /// when last read (and every configured directory the same files): one `stat` a file, no lock,
    /// nothing read. `false` when one differs or cannot be looked at: a
    /// [`Material::refresh`] then decides (and reads it again).
    pub fn unchanged(&self) -> bool {
        self.0
            .load()
            .iter()
            .all(|(path, seen)| seen.as_ref().is_some_and(|s| looks_the_same(path, s)))
    }
}

impl std::fmt::Debug for FileWatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("FileWatch")
            .field(&self.0.load().len())
            .finish()
    }
}

/// Tells whether a [`Material`]'s copies changed (a background refresh took a new one)
/// since it last reported, reading one atomic counter: the per-message check of a bus.
#[derive(Clone)]
pub struct ChangeWatch(Arc<AtomicU64>);

impl ChangeWatch {
    /// The generation of the copies: it moves whenever one changes.
    pub fn generation(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

impl std::fmt::Debug for ChangeWatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("ChangeWatch")
            .field(&self.generation())
            .finish()
    }
}

impl Refresher {
    /// Re-reads changed files and fetches every URL now (due or not), waiting for a
    /// refresh already running to finish first (two never run at once). `time`: the
    /// verification time, for deciding whether CRLs are current.
    pub fn run(&self, time: u64) {
        self.0.refresh_files();
        self.0.refresh_urls(time, true);
    }
}

/// The configured sources with their kinds.
fn kinds<'a>(
    trust: &'a [Source],
    certs: &'a [Source],
    crls: &'a [Source],
) -> [(&'a [Source], Kind); 3] {
    [
        (trust, Kind::Anchors),
        (certs, Kind::Certificates),
        (crls, Kind::Crls),
    ]
}

impl Material {
    /// Loads every source. `time` is the verification time (seconds since the epoch), for
    /// deciding whether a CRL is current. Files that cannot be read, CA URLs with nothing
    /// fetched or cached, and a cache directory that is not safe (see the module
    /// documentation) are configuration errors; a CRL URL with nothing current is not
    /// (validation then fails with [`CRL_UNAVAILABLE`] until it can be had).
    pub fn load(
        trust: &[Source],
        certs: &[Source],
        crls: &[Source],
        fetch: &FetchConfig,
        time: u64,
    ) -> Result<Self, ConfigError> {
        Self::load_kinds(&kinds(trust, certs, crls), fetch, time, true)
    }

    /// [`Material::load`] for one verification (the CLI's `verify`, `cert verify`): the
    /// intermediates that issued a CRL may come in the envelope rather than the
    /// configuration, so a fetched CRL is not checked against configured issuers here.
    /// Nothing is held across verifications, so nothing can go backwards, and path
    /// validation checks each CRL's signature against the issuer it finds before using it.
    pub fn load_for_one_verification(
        trust: &[Source],
        certs: &[Source],
        crls: &[Source],
        fetch: &FetchConfig,
        time: u64,
    ) -> Result<Self, ConfigError> {
        Self::load_kinds(&kinds(trust, certs, crls), fetch, time, false)
    }

    fn load_kinds(
        lists: &[(&[Source], Kind)],
        fetch: &FetchConfig,
        time: u64,
        verify_issuers: bool,
    ) -> Result<Self, ConfigError> {
        let fetcher = Fetcher::new(fetch.clone())?;
        let any_url = lists.iter().any(|(l, _)| l.iter().any(Source::is_url));
        if any_url && let Some(dir) = &fetch.cache_dir {
            cache::prepare_dir(dir)?;
        }
        let stats = Mutex::new(DistributionStats::default());
        let mut sources = Vec::new();
        {
            let env = Env {
                fetcher: &fetcher,
                verify_issuers,
                stats: &stats,
            };
            for (list, kind) in lists {
                for s in *list {
                    let t = Tracked::load(s.clone(), *kind, &env, &sources, time)?;
                    sources.push(t);
                }
            }
        }
        let files = Arc::new(ArcSwap::from_pointee(file_stamps(&sources)));
        Ok(Self {
            shared: Arc::new(Shared {
                fetcher,
                verify_issuers,
                sources: Mutex::new(sources),
                refreshing: Mutex::new(()),
                pending: AtomicBool::new(false),
                generation: Arc::new(AtomicU64::new(0)),
                stats,
                any_url,
                files,
            }),
            seen: 0,
        })
    }

    /// A handle that tells without a lock whether the files changed since they were last
    /// read ([`FileWatch::unchanged`]); `None` when a source is a URL (whether one is due
    /// is decided under the lock, by [`Material::refresh`]).
    pub fn file_watch(&self) -> Option<FileWatch> {
        (!self.shared.any_url).then(|| FileWatch(self.shared.files.clone()))
    }

    /// Refreshes what is due without waiting for the network: changed files are re-read
    /// now (a local stat and read); URLs that are due (expired caches, CRLs not current
    /// at `time`) are fetched by a background thread, unless one is already running, while
    /// the held copies keep serving. Returns whether anything changed since the last call
    /// (files now, or a background refresh that finished meanwhile): the verifier must
    /// then be rebuilt.
    pub fn refresh(&mut self, time: u64) -> bool {
        self.shared.refresh_files();
        if self.shared.any_url_due(time) && !self.shared.pending.swap(true, Ordering::SeqCst) {
            let shared = self.shared.clone();
            let started = std::thread::Builder::new()
                .name("waxseal-refresh".into())
                .spawn(move || {
                    /// Clears `pending` even if the refresh panics.
                    struct Done<'a>(&'a AtomicBool);
                    impl Drop for Done<'_> {
                        fn drop(&mut self) {
                            self.0.store(false, Ordering::SeqCst);
                        }
                    }
                    let _done = Done(&shared.pending);
                    lock(&shared.stats).background_refreshes += 1;
                    shared.refresh_urls(time, false);
                });
            if let Err(e) = started {
                self.shared.pending.store(false, Ordering::SeqCst);
                lock(&self.shared.stats).last_problem =
                    Some(format!("cannot start the refresh thread: {e}"));
            }
        }
        self.take_changed()
    }

    /// A handle that tells, without any lock, whether a copy changed since
    /// [`Material::take_changed`] last looked ([`ChangeWatch::generation`]).
    pub fn watch(&self) -> ChangeWatch {
        ChangeWatch(self.shared.generation.clone())
    }

    /// Until which verification time (exclusive) every CRL URL holds a current copy:
    /// [`Material::check_crls`] passes for every time before it. `0` when a CRL URL has
    /// none; `u64::MAX` without CRL URLs or `nextUpdate`s.
    pub fn crls_current_until(&self) -> u64 {
        let sources = lock(&self.shared.sources);
        sources
            .iter()
            .filter(|t| t.kind == Kind::Crls && t.source.is_url())
            .map(|t| match &t.copy {
                Some(c) => c.next_update().unwrap_or(u64::MAX),
                None => 0,
            })
            .min()
            .unwrap_or(u64::MAX)
    }

    /// Whether a copy changed since the last call (or [`Material::refresh`]), without
    /// refreshing anything.
    pub fn take_changed(&mut self) -> bool {
        let g = self.shared.generation.load(Ordering::SeqCst);
        let changed = g != self.seen;
        self.seen = g;
        changed
    }

    /// Re-reads changed files and fetches every URL now, on this thread, waiting for the
    /// fetches (and for a background refresh already running). Returns whether anything
    /// changed since the last call. For one-shot tools, tests and an operator's "refresh
    /// now"; a service calls [`Material::refresh`].
    pub fn refresh_now(&mut self, time: u64) -> bool {
        self.refresher().run(time);
        self.take_changed()
    }

    /// A handle that runs a refresh to completion ([`Refresher::run`]) without borrowing
    /// this material.
    pub fn refresher(&self) -> Refresher {
        Refresher(self.shared.clone())
    }

    /// What became of fetched and cached copies so far.
    pub fn stats(&self) -> DistributionStats {
        lock(&self.shared.stats).clone()
    }

    fn certs_of(&self, kind: Kind) -> Vec<Certificate> {
        lock(&self.shared.sources)
            .iter()
            .filter(|t| t.kind == kind)
            .filter_map(|t| t.copy.as_ref())
            .flat_map(|c| c.certs.iter().cloned())
            .collect()
    }

    /// The trust anchors.
    pub fn anchors(&self) -> Vec<Certificate> {
        self.certs_of(Kind::Anchors)
    }

    /// The intermediates.
    pub fn certificates(&self) -> Vec<Certificate> {
        self.certs_of(Kind::Certificates)
    }

    /// Whether any CRL source is configured.
    pub fn has_crls(&self) -> bool {
        lock(&self.shared.sources)
            .iter()
            .any(|t| t.kind == Kind::Crls)
    }

    /// The CRLs (the last good copy of each source).
    pub fn crls(&self) -> CrlSet {
        let mut set = CrlSet::new();
        for t in lock(&self.shared.sources)
            .iter()
            .filter(|t| t.kind == Kind::Crls)
        {
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
        let sources = lock(&self.shared.sources);
        for t in sources
            .iter()
            .filter(|t| t.kind == Kind::Crls && t.source.is_url())
        {
            let ok = t.copy.as_ref().is_some_and(|c| c.current(time));
            if !ok {
                let why = match (&t.copy, &t.error) {
                    (Some(c), e) => format!(
                        "the last copy expired at {}{}",
                        c.next_update()
                            .map(waxseal_trust::time::format)
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
/// that starts with [`CRL_UNAVAILABLE`]. A CRL loaded alone has no issuers to be checked
/// against here: path validation checks its signature when it uses it.
pub fn load_once(
    source: &Source,
    kind: Kind,
    fetch: &FetchConfig,
    time: u64,
) -> Result<(Vec<Certificate>, Vec<Crl>), ConfigError> {
    let m = Material::load_kinds(&[(std::slice::from_ref(source), kind)], fetch, time, false)?;
    m.check_crls(time)
        .map_err(|r| ConfigError(format!("{}: {}", r.code, r.reason)))?;
    let copy = lock(&m.shared.sources)
        .first()
        .and_then(|t| t.copy.clone())
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
    fn the_file_watch_sees_every_change_the_refresh_would_and_nothing_else() {
        use std::fs::{File, FileTimes};
        use waxseal_trust::KeyAlgorithm;
        let pki = waxseal_pki::TestPki::new(KeyAlgorithm::P256).unwrap();
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("root.pem");
        let certs = tmp.path().join("certs");
        std::fs::create_dir(&certs).unwrap();
        let crl = tmp.path().join("crl.pem");
        std::fs::write(&root, pki.root.cert.to_pem()).unwrap();
        std::fs::write(certs.join("ca.pem"), pki.ca.cert.to_pem()).unwrap();
        let revoked_none = pki.crl(&[]).unwrap().to_pem();
        std::fs::write(&crl, &revoked_none).unwrap();
        let path = |p: &Path| Source::Path(p.to_path_buf());
        let mut m = Material::load(
            &[path(&root)],
            &[path(&certs)],
            &[path(&crl)],
            &FetchConfig::default(),
            pki.now,
        )
        .unwrap();
        let watch = m.file_watch().expect("files only");
        assert!(watch.unchanged());
        #[cfg(target_os = "linux")]
        {
            // The short statx agrees with the stamp std's metadata made.
            assert_eq!(file_looks_the_same(&crl, &stamp(&crl).unwrap()), Some(true));
            assert_eq!(
                file_looks_the_same(&crl, &stamp(&root).unwrap()),
                Some(false)
            );
            assert_eq!(file_looks_the_same(&certs, &stamp(&certs).unwrap()), None);
        }
        assert!(!m.refresh(pki.now), "nothing changed");
        assert!(watch.unchanged());

        // A rewritten CRL (a revocation): seen, and again after a refresh reads it.
        let leaf = pki
            .leaf("bodhi-app01.example.org", KeyAlgorithm::P256)
            .unwrap();
        std::fs::write(&crl, pki.crl(&[&leaf.cert]).unwrap().to_pem()).unwrap();
        assert!(!watch.unchanged());
        assert!(m.refresh(pki.now));
        assert!(watch.unchanged());

        // Same size, another modification time: seen too (as the refresh's stamp).
        let len = std::fs::metadata(&crl).unwrap().len();
        let later = std::fs::metadata(&crl).unwrap().modified().unwrap() + Duration::from_secs(5);
        File::options()
            .write(true)
            .open(&crl)
            .unwrap()
            .set_times(FileTimes::new().set_modified(later))
            .unwrap();
        assert_eq!(std::fs::metadata(&crl).unwrap().len(), len);
        assert!(!watch.unchanged());
        m.refresh(pki.now);
        assert!(watch.unchanged());

        // A file added to a configured directory, and a file that went away.
        std::fs::write(certs.join("other.pem"), pki.root.cert.to_pem()).unwrap();
        assert!(!watch.unchanged());
        m.refresh(pki.now);
        assert!(watch.unchanged());
        std::fs::remove_file(&root).unwrap();
        assert!(!watch.unchanged());
        // The refresh keeps the last good copy of a file it cannot read; the watch goes
        // on saying so (every message asks the refresh again, as before).
        assert!(!m.refresh(pki.now));
        assert!(!watch.unchanged());
        std::fs::write(&root, pki.root.cert.to_pem()).unwrap();
        m.refresh(pki.now);
        assert!(watch.unchanged());

        // A URL source: no watch (what is due is decided under the lock).
        let with_url = Material::load(
            &[path(&root)],
            &[],
            &[Source::parse("http://127.0.0.1:9/crl.pem").unwrap()],
            &FetchConfig {
                timeout_ms: 100,
                ..FetchConfig::default()
            },
            pki.now,
        )
        .unwrap();
        assert!(with_url.file_watch().is_none());
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
