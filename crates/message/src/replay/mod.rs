//! Replay protection: the signed messages already admitted within the freshness window,
//! in a store every receiver of a queue shares.
//!
//! Every admitted message is remembered by a key ([`replay_key`]) until it could no longer
//! be admitted anyway: its signing time plus `freshness.max_age_secs` (default 10 minutes)
//! plus `clock_skew_secs` (see [`crate::config::FreshnessConfig`]). Memory is bounded by
//! that window, not by a count.
//!
//! # Admitted, then settled
//!
//! A key is recorded as **admitted** when a message passes every other check
//! ([`ReplayStore::admit`]), and marked **settled** once the receiver's acknowledgement of
//! it went out ([`ReplayStore::settle`]). The broker redelivers a message whose first
//! consumer died before acknowledging it, flagged `redelivered`:
//!
//! | the key is | a new delivery | a broker redelivery |
//! |---|---|---|
//! | unknown | admitted ([`Admission::New`]) | admitted ([`Admission::New`]) |
//! | admitted, not settled | `replayed` | a duplicate ([`Admission::Duplicate`]): passed, flagged |
//! | settled | `replayed` | `replayed` |
//!
//! The same in every store. (Anyone who can consume from the queue can cause a
//! redelivery, so the flag only ever turns an unsettled key into a flagged duplicate that
//! consumers deduplicate by its id.)
//!
//! # Stores
//!
//! One setting chooses the store everywhere (`replay_store` in the bus file, the gateway's
//! `--replay-store`, `[waxseal] replay_store` in the oslo.messaging driver, Python's `Bus`),
//! parsed by [`StoreSpec::parse`]:
//!
//! - `memory`: this process only ([`memory::MemoryStore`]); bounded by
//!   `replay_cache_capacity` live entries, then it refuses (`replay-cache-full`) rather
//!   than forgets.
//! - `file:PATH`: the processes of one host ([`journal::FileStore`]), an append-only
//!   journal locked around each check.
//! - `redis://HOST[:PORT][/DB]`, `rediss://...`: many hosts ([`redis::RedisStore`]), Redis
//!   or Valkey, one `SET key value NX PX ttl` per message.
//!
//! A store that cannot be reached answers [`ReplayError::Unavailable`]: no message is
//! admitted without it, and none is refused because of it (the receiver requeues,
//! `replay-store-unavailable` is transient).

use std::collections::HashMap;

use sha2::Digest;
use waxseal_envelope::rfc5652::Attributes;
use waxseal_trust::Certificate;

/// The first line of the text form.
pub const HEADER: &str = "waxseal-replay-cache 1";

/// Default capacity (entries).
pub const DEFAULT_CAPACITY: usize = 100_000;

pub mod journal;
pub mod memory;
pub mod redis;

/// What a store answered for an admitted key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Not seen before: recorded as admitted.
    New,
    /// A broker redelivery of a key admitted and not yet settled.
    Duplicate,
}

/// Why the cache refused a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReplayError {
    /// The message was already admitted (and settled, or this is not a redelivery) and its
    /// entry is live (`replayed`).
    Replayed,
    /// The cache is full of live entries (`replay-cache-full`).
    Full,
    /// The store could not be read or written (a journal I/O error, a database out of
    /// reach: `replay-store-unavailable`). The receiver's failure, not the message's:
    /// the message is neither accepted nor refused for good, but tried again later.
    Unavailable,
}

/// The reason code of [`ReplayError::Unavailable`].
pub const REPLAY_STORE_UNAVAILABLE: &str = "replay-store-unavailable";

impl ReplayError {
    /// The stable reason code.
    pub fn code(self) -> &'static str {
        match self {
            Self::Replayed => "replayed",
            Self::Full => "replay-cache-full",
            Self::Unavailable => REPLAY_STORE_UNAVAILABLE,
        }
    }

    /// Whether this is the store's failure rather than the message's.
    pub fn is_transient(self) -> bool {
        matches!(self, Self::Unavailable)
    }
}

/// The key of a message: SHA-256 over the signer's certificate and what its signature
/// covers (the DER of the signed attributes, which hold the content digest and signing
/// time; or the content itself when there are none). Not over the signature value: ECDSA
/// signatures are malleable (`s` and `n − s` both verify), so a key over the signature
/// would let a re-encoded signature pass as a new message; and not over the wire bytes,
/// which can be re-encoded (BER, white space) without touching the signature.
pub fn replay_key(
    certificate: &Certificate,
    signed_attributes: Option<&Attributes>,
    content: &[u8],
) -> [u8; 32] {
    let mut h = sha2::Sha256::new();
    h.update(b"waxseal replay key 1\0");
    h.update(certificate.fingerprint());
    match signed_attributes {
        Some(attrs) => {
            h.update(b"attributes\0");
            for a in attrs.iter() {
                h.update((a.oid.as_bytes().len() as u64).to_be_bytes());
                h.update(a.oid.as_bytes());
                h.update((a.values.len() as u64).to_be_bytes());
                for v in &a.values {
                    h.update((v.len() as u64).to_be_bytes());
                    h.update(v);
                }
            }
        }
        None => {
            h.update(b"content\0");
            h.update(content);
        }
    }
    h.finalize().into()
}

/// Where admitted messages are remembered (see the module docs).
///
/// An implementation must make [`ReplayStore::admit`] atomic with respect to every other
/// user of the store (two copies admitted at the same time: one is refused), must refuse
/// ([`ReplayError::Full`]) rather than forget a live entry, and must answer
/// [`ReplayError::Unavailable`] (never `Ok`, never `Replayed`) when it cannot tell.
pub trait ReplayStore: Send + Sync + std::panic::RefUnwindSafe {
    /// Records `key` as admitted at `now`, live until `expires` (`u64::MAX`: never), or
    /// says why not. `redelivered`: the broker's flag on this delivery.
    fn admit(
        &self,
        key: [u8; 32],
        expires: u64,
        now: u64,
        redelivered: bool,
    ) -> Result<Admission, ReplayError>;

    /// Admits several deliveries at `now`, each `(key, expires, redelivered)` as
    /// [`ReplayStore::admit`] would, in order; a store with round trips does them in one
    /// (pipelined). Two requests for one key in a batch are decided in order, as if one
    /// after the other.
    fn admit_all(
        &self,
        requests: &[([u8; 32], u64, bool)],
        now: u64,
    ) -> Vec<Result<Admission, ReplayError>> {
        requests
            .iter()
            .map(|&(key, expires, redelivered)| self.admit(key, expires, now, redelivered))
            .collect()
    }

    /// Marks an admitted `key` settled at `now`: its acknowledgement went out, so a later
    /// redelivery of it is a replay too. Settling a key the store does not hold (expired,
    /// or never admitted here) is not an error.
    fn settle(&self, key: [u8; 32], now: u64) -> Result<(), ReplayError>;

    /// Settles every key of `keys` (one acknowledgement covering several deliveries), as
    /// [`ReplayStore::settle`] does for each; a store with round trips does them in one.
    fn settle_all(&self, keys: &[[u8; 32]], now: u64) -> Result<(), ReplayError> {
        keys.iter().try_for_each(|k| self.settle(*k, now))
    }

    /// What the store is, in a few words for logs (`memory`, `file /var/lib/...`,
    /// `redis 127.0.0.1:6379`), without credentials.
    fn describe(&self) -> String;
}

/// A store, as configured: see the module docs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreSpec {
    /// `memory`.
    Memory,
    /// `file:PATH`.
    File(std::path::PathBuf),
    /// `redis://...` or `rediss://...` (the whole URL).
    Redis(String),
}

impl std::fmt::Display for StoreSpec {
    /// The setting as written (a Redis URL's password is not shown).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Memory => f.write_str("memory"),
            Self::File(p) => write!(f, "file:{}", p.display()),
            Self::Redis(url) => f.write_str(&redact(url)),
        }
    }
}

impl serde::Serialize for StoreSpec {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// `url` without the password of its user-info part.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

impl StoreSpec {
    /// Parses a setting: `memory`, `file:PATH`, `redis://...`, `rediss://...`.
    pub fn parse(s: &str) -> Result<Self, StoreError> {
        if s == "memory" {
            return Ok(Self::Memory);
        }
        if let Some(p) = s.strip_prefix("file:") {
            if p.is_empty() {
                return Err(StoreError::FileWithoutPath);
            }
            return Ok(Self::File(p.into()));
        }
        if s.starts_with("redis://") || s.starts_with("rediss://") {
            return Ok(Self::Redis(s.to_string()));
        }
        Err(StoreError::Unknown(s.into()))
    }

    /// Whether the store answers over the network (Redis): a receiver with an event loop
    /// should then wait for it on another thread (see [`crate::Bus::examine`]).
    pub fn is_remote(&self) -> bool {
        matches!(self, Self::Redis(_))
    }

    /// Opens the store (`capacity`: the live entries a memory store holds). A file store
    /// opens (and checks) its journal now; a Redis store connects on first use, so a
    /// server that is down at start delays messages rather than the start.
    pub fn open(&self, capacity: usize) -> Result<std::sync::Arc<dyn ReplayStore>, StoreError> {
        Ok(match self {
            Self::Memory => std::sync::Arc::new(memory::MemoryStore::new(capacity)),
            Self::File(p) => std::sync::Arc::new(journal::FileStore::open(p).map_err(|error| {
                StoreError::File {
                    path: p.clone(),
                    error,
                }
            })?),
            Self::Redis(url) => std::sync::Arc::new(redis::RedisStore::new(url)?),
        })
    }
}

/// Why a replay store setting cannot be used: a configuration error, found when the
/// setting is read ([`StoreSpec::parse`]) or the store opened ([`StoreSpec::open`],
/// [`redis::RedisStore::new`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// `file:` without a path.
    #[error("file: needs a path (file:/var/lib/waxseal/replay)")]
    FileWithoutPath,
    /// Not a setting of a store (the setting, shown escaped).
    #[error(
        "{}: a replay store is memory, file:PATH, redis://HOST[:PORT][/DB] or rediss://...",
        waxseal_trust::display::Escaped(.0)
    )]
    Unknown(String),
    /// The journal of a file store cannot be opened or read.
    #[error("file:{}: {error}", .path.display())]
    File {
        /// The journal.
        path: std::path::PathBuf,
        /// Why.
        error: std::io::Error,
    },
    /// A `redis://` or `rediss://` URL that does not parse.
    #[error("replay store: {0}")]
    Url(#[from] url::ParseError),
    /// `ca=`, `cert=` or `key=` on a `redis://` URL (they are for TLS).
    #[error("replay store: ca=, cert= and key= are for rediss:// (TLS)")]
    TlsParametersWithoutTls,
    /// A `rediss://` URL with a fragment (the redis client's `#insecure`).
    #[error(
        "replay store: rediss:// with a fragment (#insecure) would not check the server's certificate; give its CA with ?ca=PATH instead"
    )]
    Fragment,
    /// `cert=` without `key=`, or `key=` without `cert=`.
    #[error("replay store: cert= and key= go together (a client certificate and its key)")]
    CertWithoutKey,
    /// A `ca=`, `cert=` or `key=` file that cannot be read.
    #[error("replay store: {}: {error}", .path.display())]
    Read {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        error: std::io::Error,
    },
    /// `rediss://` in a build without the `https` feature.
    #[error("rediss:// needs waxseal-message's https feature (rustls)")]
    NoTls,
    /// The redis client refuses the URL or its TLS files.
    #[error("replay store: {0}")]
    Redis(#[from] ::redis::RedisError),
}

/// Why the text form of a replay cache was refused ([`ReplayCache::from_text`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CacheTextError {
    /// The first line is not the header (the line as found, shown escaped).
    #[error(
        "not a waxseal replay cache (first line {:?}, expected {HEADER:?})",
        .0.escape_debug().to_string()
    )]
    NotACache(String),
    /// A line (1-based) that is not an entry.
    #[error("line {0}: expected \"<64 hex digits> <expiry|->[ s]\"")]
    Line(usize),
    /// More live entries than the capacity.
    #[error("{live} live entries, more than the capacity of {capacity}")]
    OverCapacity {
        /// Live entries.
        live: usize,
        /// The capacity.
        capacity: usize,
    },
}

/// A bounded set of admitted messages, each with its expiry and whether it is settled:
/// the in-memory form every store keeps or mirrors.
///
/// The text form ([`ReplayCache::to_text`], a file store's journal): a first line
/// `waxseal-replay-cache 1`, then one line per entry: the key in lower-case hex, a space,
/// the expiry in seconds since the epoch (`-`: never), and ` s` when settled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayCache {
    capacity: usize,
    entries: HashMap<[u8; 32], Entry>,
}

/// One remembered key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Entry {
    expires: u64,
    settled: bool,
}

impl Default for ReplayCache {
    fn default() -> Self {
        Self::new(DEFAULT_CAPACITY)
    }
}

impl ReplayCache {
    /// An empty cache holding at most `capacity` live entries (at least 1).
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            entries: HashMap::new(),
        }
    }

    /// How many entries it holds (live or not yet evicted).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether it holds nothing.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Records `key` as admitted (see [`ReplayStore::admit`] and the module docs). Full of
    /// live entries after evicting the expired ones (as of `evict_at`, at most `now`; see
    /// [`ReplayCache::evict_expired`]), it refuses.
    pub fn admit(
        &mut self,
        key: [u8; 32],
        expires: u64,
        now: u64,
        redelivered: bool,
    ) -> Result<Admission, ReplayError> {
        self.admit_evicting_at(key, expires, now, redelivered, now)
    }

    /// [`ReplayCache::admit`], evicting only what expired by `evict_at` (a store whose
    /// clock may have stepped forward passes a bounded time: see
    /// [`EvictionClock`]).
    pub fn admit_evicting_at(
        &mut self,
        key: [u8; 32],
        expires: u64,
        now: u64,
        redelivered: bool,
        evict_at: u64,
    ) -> Result<Admission, ReplayError> {
        match self.entries.get(&key) {
            Some(e) if e.expires > now => {
                return if redelivered && !e.settled {
                    Ok(Admission::Duplicate)
                } else {
                    Err(ReplayError::Replayed)
                };
            }
            Some(_) => {}
            None if self.entries.len() >= self.capacity => {
                self.evict_expired(evict_at.min(now));
                if self.entries.len() >= self.capacity {
                    return Err(ReplayError::Full);
                }
            }
            None => {}
        }
        self.entries.insert(
            key,
            Entry {
                expires,
                settled: false,
            },
        );
        Ok(Admission::New)
    }

    /// Marks `key` settled; `false` if it is not held.
    pub fn settle(&mut self, key: &[u8; 32]) -> bool {
        match self.entries.get_mut(key) {
            Some(e) => {
                e.settled = true;
                true
            }
            None => false,
        }
    }

    /// Records an entry another process wrote (a journal line), whatever the capacity:
    /// it is that process's decision already made, and forgetting it would let its
    /// message be replayed here.
    pub fn merge(&mut self, key: [u8; 32], expires: u64, settled: bool) {
        let e = self.entries.entry(key).or_insert(Entry {
            expires,
            settled: false,
        });
        e.expires = e.expires.max(expires);
        e.settled |= settled;
    }

    /// Forgets `key` (an admission that could not be recorded where it must be).
    pub fn evict_key(&mut self, key: &[u8; 32]) {
        self.entries.remove(key);
    }

    /// The expiry of `key`, if held.
    pub fn expiry(&self, key: &[u8; 32]) -> Option<u64> {
        self.entries.get(key).map(|e| e.expires)
    }

    /// The entries live at `now`: key, expiry, settled.
    pub fn live_entries(&self, now: u64) -> impl Iterator<Item = ([u8; 32], u64, bool)> + '_ {
        self.entries
            .iter()
            .filter(move |(_, e)| e.expires > now)
            .map(|(k, e)| (*k, e.expires, e.settled))
    }

    /// Whether `key` is recorded and live at `now`.
    pub fn contains(&self, key: &[u8; 32], now: u64) -> bool {
        self.entries.get(key).is_some_and(|e| e.expires > now)
    }

    /// Whether `key` is recorded, live at `now` and settled.
    pub fn is_settled(&self, key: &[u8; 32], now: u64) -> bool {
        self.entries
            .get(key)
            .is_some_and(|e| e.expires > now && e.settled)
    }

    /// Drops the entries that have expired at `now`.
    pub fn evict_expired(&mut self, now: u64) {
        self.entries.retain(|_, e| e.expires > now);
    }

    /// The text form (see the type's docs), entries sorted.
    pub fn to_text(&self) -> String {
        let mut lines: Vec<String> = self
            .entries
            .iter()
            .map(|(k, e)| line(k, e.expires, e.settled))
            .collect();
        lines.sort();
        let mut out = format!("{HEADER}\n");
        out.extend(lines);
        out
    }

    /// Reads the text form into a cache of `capacity`, dropping what expired by `now`; an
    /// empty text is an empty cache. Entries beyond the capacity that are live make it an
    /// error (never forgotten).
    pub fn from_text(text: &str, capacity: usize, now: u64) -> Result<Self, CacheTextError> {
        let mut cache = Self::new(capacity);
        let mut lines = text.lines();
        match lines.next() {
            None => return Ok(cache),
            Some(HEADER) => {}
            Some(other) => return Err(CacheTextError::NotACache(other.into())),
        }
        for (n, l) in lines.enumerate() {
            let (key, expires, settled) = parse_line(l).ok_or(CacheTextError::Line(n + 2))?;
            if expires > now {
                cache.merge(key, expires, settled);
            }
        }
        if cache.entries.len() > cache.capacity {
            return Err(CacheTextError::OverCapacity {
                live: cache.entries.len(),
                capacity: cache.capacity,
            });
        }
        Ok(cache)
    }
}

/// One line of the text form, with its newline.
pub(crate) fn line(key: &[u8; 32], expires: u64, settled: bool) -> String {
    use std::fmt::Write;
    // Written once per admission and settle: one allocation, no per-byte formatting.
    let mut out = String::with_capacity(64 + 1 + 20 + 3);
    out.push_str(&hex::encode(key));
    out.push(' ');
    if expires == u64::MAX {
        out.push('-');
    } else {
        let _ = write!(out, "{expires}");
    }
    out.push_str(if settled { " s\n" } else { "\n" });
    out
}

/// Parses one line of the text form (without its newline): key, expiry, settled.
pub(crate) fn parse_line(line: &str) -> Option<([u8; 32], u64, bool)> {
    let mut parts = line.split(' ');
    let key = hex_decode(parts.next()?)?;
    let expires = match parts.next()? {
        "-" => u64::MAX,
        e if !e.is_empty() && e.bytes().all(|b| b.is_ascii_digit()) => e.parse().ok()?,
        _ => return None,
    };
    let settled = match parts.next() {
        None => false,
        Some("s") => true,
        Some(_) => return None,
    };
    if parts.next().is_some() {
        return None;
    }
    Some((key, expires, settled))
}

/// A wall clock for eviction that never runs ahead of the monotonic clock: a forward
/// step of the system clock (NTP, an operator) must not evict live entries, which would
/// let their messages through once the clock comes back. Admission compares expiries
/// with the verification time as it is (a message that looks expired is refused as too
/// old by the freshness check anyway); only forgetting is held back.
#[derive(Debug, Default)]
pub struct EvictionClock {
    /// The last eviction time allowed, and when (monotonic).
    last: std::sync::Mutex<Option<(u64, std::time::Instant)>>,
}

impl EvictionClock {
    /// How far the wall clock may run ahead of the monotonic one between two calls,
    /// seconds (ordinary adjustments; a larger step is held back).
    pub const TOLERANCE_SECS: u64 = 60;

    /// A clock that starts at the first time it is asked about.
    pub fn new() -> Self {
        Self::default()
    }

    /// The time up to which entries may be evicted: `now`, but no further past the last
    /// answer than the monotonic time elapsed since then (plus [`Self::TOLERANCE_SECS`])
    /// allows. A clock stepped forward is followed at the speed of real time.
    pub fn bounded(&self, now: u64) -> u64 {
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        let bounded = match *last {
            None => now,
            Some((at, when)) => now.min(
                at.saturating_add(when.elapsed().as_secs())
                    .saturating_add(Self::TOLERANCE_SECS),
            ),
        };
        *last = Some((bounded, std::time::Instant::now()));
        bounded
    }
}

/// The key of a journal line: 64 lower-case hex digits, nothing else.
fn hex_decode(s: &str) -> Option<[u8; 32]> {
    if s.bytes().any(|b| b.is_ascii_uppercase()) {
        return None;
    }
    let mut out = [0u8; 32];
    hex::decode_to_slice(s, &mut out).ok()?;
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_admitted_once_while_live_and_a_redelivery_until_settled() {
        let mut c = ReplayCache::new(2);
        assert_eq!(c.admit([1; 32], 100, 10, false), Ok(Admission::New));
        assert_eq!(c.admit([1; 32], 100, 50, false), Err(ReplayError::Replayed));
        assert_eq!(c.admit([1; 32], 100, 50, true), Ok(Admission::Duplicate));
        assert!(c.settle(&[1; 32]));
        assert_eq!(c.admit([1; 32], 100, 50, true), Err(ReplayError::Replayed));
        // Expired: the message is too old anyway; the key may be recorded again.
        assert_eq!(c.admit([1; 32], 300, 100, false), Ok(Admission::New));
        // A redelivery of an unknown key is simply new.
        assert_eq!(c.admit([9; 32], 300, 100, true), Ok(Admission::New));
    }

    #[test]
    fn full_of_live_entries_refuses_rather_than_forgets() {
        let mut c = ReplayCache::new(2);
        c.admit([1; 32], 100, 0, false).unwrap();
        c.admit([2; 32], u64::MAX, 0, false).unwrap();
        assert_eq!(c.admit([3; 32], 100, 50, false), Err(ReplayError::Full));
        assert_eq!(c.admit([1; 32], 100, 50, false), Err(ReplayError::Replayed));
        // Once one expires, it makes room.
        assert_eq!(c.admit([3; 32], 400, 150, false), Ok(Admission::New));
        assert!(c.contains(&[2; 32], 150) && !c.contains(&[1; 32], 150));
        // A bounded eviction time keeps an entry a stepped clock would drop.
        let mut c = ReplayCache::new(1);
        c.admit([1; 32], 100, 0, false).unwrap();
        assert_eq!(
            c.admit_evicting_at([2; 32], 500, 200, false, 50),
            Err(ReplayError::Full)
        );
        assert_eq!(ReplayError::Full.code(), "replay-cache-full");
    }

    #[test]
    fn text_round_trip_with_settled_entries() {
        let mut c = ReplayCache::new(10);
        c.admit([0xab; 32], 100, 0, false).unwrap();
        c.admit([0x01; 32], u64::MAX, 0, false).unwrap();
        c.admit([0x02; 32], 5, 0, false).unwrap();
        c.settle(&[0xab; 32]);
        let t = c.to_text();
        assert!(t.starts_with("waxseal-replay-cache 1\n"));
        let back = ReplayCache::from_text(&t, 10, 10).unwrap();
        assert!(back.is_settled(&[0xab; 32], 10) && back.contains(&[0x01; 32], 10));
        assert!(!back.is_settled(&[0x01; 32], 10));
        assert_eq!(back.len(), 2, "the expired entry is dropped on load");
        assert!(ReplayCache::from_text("", 10, 0).unwrap().is_empty());
        assert!(ReplayCache::from_text("something else\n", 10, 0).is_err());
        assert!(ReplayCache::from_text(&format!("{HEADER}\nzz 1\n"), 10, 0).is_err());
        assert!(ReplayCache::from_text(&t, 1, 10).is_err());
        // Lines that are not whole entries are refused, never half-read.
        for bad in [
            "",
            " 1",
            "ab 1",
            &format!("{} 1 x", "0".repeat(64)),
            &format!("{} 1x", "0".repeat(64)),
        ] {
            assert_eq!(parse_line(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn store_specs() {
        assert_eq!(StoreSpec::parse("memory").unwrap(), StoreSpec::Memory);
        assert_eq!(
            StoreSpec::parse("file:/var/lib/x").unwrap(),
            StoreSpec::File("/var/lib/x".into())
        );
        assert_eq!(
            StoreSpec::parse("redis://127.0.0.1:6379/0").unwrap(),
            StoreSpec::Redis("redis://127.0.0.1:6379/0".into())
        );
        assert!(StoreSpec::parse("rediss://h").is_ok());
        for bad in ["", "file:", "mem", "http://x", "Memory"] {
            assert!(StoreSpec::parse(bad).is_err(), "{bad}");
        }
    }
}
