//! Replay protection: the signatures already accepted within the freshness window.
//!
//! A [`ReplayCache`] remembers every accepted message by a key (see [`replay_key`]) until
//! the message could no longer be accepted anyway: its signing time plus `max_age_secs`
//! plus `clock_skew_secs` (see [`crate::config::FreshnessConfig`]). Without `max_age_secs`
//! an entry never expires.
//!
//! The cache is bounded. When it is full, entries that have expired are dropped; if it is
//! still full, the new message is **refused** (`replay-cache-full`) rather than a live
//! entry forgotten: forgetting one would let that message be replayed. This is fail closed
//! and therefore a denial of service once `replay_cache_capacity` distinct messages arrive
//! within one window: size the capacity for the message rate times the window, and set
//! `max_age_secs` (without it the cache only ever fills up).
//!
//! The text form ([`ReplayCache::to_text`], used by `msg validate --replay-cache FILE`):
//! a first line `waxseal-replay-cache 1`, then one line per entry: the key in lower-case
//! hex, a space, and the expiry in seconds since the epoch (`-`: never).

use std::collections::HashMap;

use sha2::Digest;
use waxseal_envelope::Certificate;
use waxseal_envelope::rfc5652::Attributes;

/// The first line of the text form.
pub const HEADER: &str = "waxseal-replay-cache 1";

/// Default capacity (entries).
pub const DEFAULT_CAPACITY: usize = 100_000;

/// Why the cache refused a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplayError {
    /// The message was already accepted and its entry is live (`replayed`).
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

/// Where accepted messages are remembered. The [`crate::Bus`] keeps a [`ReplayCache`] in
/// memory unless given another store with [`crate::Bus::with_replay_store`]: one shared
/// by several processes (a file journal, a database the operator already runs) so that a
/// copy of a message reaching another process is refused too.
///
/// An implementation must make `check_and_insert` atomic with respect to every other user
/// of the store (two copies checked at the same time: one is refused), and must refuse
/// ([`ReplayError::Full`]) rather than forget a live entry.
pub trait ReplayStore: Send + Sync + std::panic::RefUnwindSafe {
    /// Records `key` (expiring at `expires`, `u64::MAX`: never) as accepted at `now`, or
    /// says why not: already there and live, or full of live entries.
    fn check_and_insert(&self, key: [u8; 32], expires: u64, now: u64) -> Result<(), ReplayError>;
}

/// A bounded set of accepted messages, each with its expiry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayCache {
    capacity: usize,
    entries: HashMap<[u8; 32], u64>,
}

impl Default for ReplayCache {
    fn default() -> Self {
        Self::new(DEFAULT_CAPACITY)
    }
}

impl ReplayCache {
    /// An empty cache holding at most `capacity` entries (at least 1).
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            entries: HashMap::new(),
        }
    }

    /// The capacity.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// How many entries it holds (live or not yet swept).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether it holds nothing.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Records `key` (expiring at `expires`, `u64::MAX`: never) as accepted at `now`, or
    /// says why not: already there and live, or full of live entries.
    pub fn check_and_insert(
        &mut self,
        key: [u8; 32],
        expires: u64,
        now: u64,
    ) -> Result<(), ReplayError> {
        if let Some(&e) = self.entries.get(&key) {
            if e > now {
                return Err(ReplayError::Replayed);
            }
        } else if self.entries.len() >= self.capacity {
            self.evict_expired(now);
            if self.entries.len() >= self.capacity {
                return Err(ReplayError::Full);
            }
        }
        self.entries.insert(key, expires);
        Ok(())
    }

    /// Whether `key` is recorded and live at `now`.
    pub fn contains(&self, key: &[u8; 32], now: u64) -> bool {
        self.entries.get(key).is_some_and(|&e| e > now)
    }

    /// Drops the entries that have expired at `now`.
    pub fn evict_expired(&mut self, now: u64) {
        self.entries.retain(|_, e| *e > now);
    }

    /// The text form (see the module docs), entries sorted.
    pub fn to_text(&self) -> String {
        let mut lines: Vec<String> = self
            .entries
            .iter()
            .map(|(k, e)| {
                let e = if *e == u64::MAX {
                    "-".to_string()
                } else {
                    e.to_string()
                };
                format!("{} {e}\n", hex_encode(k))
            })
            .collect();
        lines.sort();
        let mut out = format!("{HEADER}\n");
        out.extend(lines);
        out
    }

    /// Reads the text form into a cache of `capacity`; an empty text is an empty cache.
    /// Entries beyond the capacity that are live make it an error (never forgotten).
    pub fn from_text(text: &str, capacity: usize, now: u64) -> Result<Self, String> {
        let mut cache = Self::new(capacity);
        let mut lines = text.lines();
        match lines.next() {
            None => return Ok(cache),
            Some(HEADER) => {}
            Some(other) => {
                return Err(format!(
                    "not a waxseal replay cache (first line {:?}, expected {HEADER:?})",
                    other.escape_debug().to_string()
                ));
            }
        }
        for (n, line) in lines.enumerate() {
            let bad = || format!("line {}: expected \"<64 hex digits> <expiry|->\"", n + 2);
            let (k, e) = line.split_once(' ').ok_or_else(bad)?;
            let key = hex_decode(k).ok_or_else(bad)?;
            let expires = match e {
                "-" => u64::MAX,
                e => e.parse::<u64>().map_err(|_| bad())?,
            };
            if expires > now {
                cache.entries.insert(key, expires);
            }
        }
        if cache.entries.len() > cache.capacity {
            return Err(format!(
                "{} live entries, more than the capacity of {}",
                cache.entries.len(),
                cache.capacity
            ));
        }
        Ok(cache)
    }
}

fn hex_encode(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn hex_decode(s: &str) -> Option<[u8; 32]> {
    if s.len() != 64
        || !s
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_accepted_once_while_live() {
        let mut c = ReplayCache::new(2);
        assert_eq!(c.check_and_insert([1; 32], 100, 10), Ok(()));
        assert_eq!(
            c.check_and_insert([1; 32], 100, 50),
            Err(ReplayError::Replayed)
        );
        // Expired: the message is too old anyway; the key may be recorded again.
        assert_eq!(c.check_and_insert([1; 32], 300, 100), Ok(()));
    }

    #[test]
    fn full_of_live_entries_refuses_rather_than_forgets() {
        let mut c = ReplayCache::new(2);
        c.check_and_insert([1; 32], 100, 0).unwrap();
        c.check_and_insert([2; 32], u64::MAX, 0).unwrap();
        assert_eq!(c.check_and_insert([3; 32], 100, 50), Err(ReplayError::Full));
        // Both live entries are still remembered.
        assert_eq!(
            c.check_and_insert([1; 32], 100, 50),
            Err(ReplayError::Replayed)
        );
        // Once one expires, it makes room.
        assert_eq!(c.check_and_insert([3; 32], 400, 150), Ok(()));
        assert!(c.contains(&[2; 32], 150) && !c.contains(&[1; 32], 150));
        assert_eq!(ReplayError::Full.code(), "replay-cache-full");
    }

    #[test]
    fn text_round_trip() {
        let mut c = ReplayCache::new(10);
        c.check_and_insert([0xab; 32], 100, 0).unwrap();
        c.check_and_insert([0x01; 32], u64::MAX, 0).unwrap();
        c.check_and_insert([0x02; 32], 5, 0).unwrap();
        let t = c.to_text();
        assert!(t.starts_with("waxseal-replay-cache 1\n"));
        let back = ReplayCache::from_text(&t, 10, 10).unwrap();
        assert!(back.contains(&[0xab; 32], 10) && back.contains(&[0x01; 32], 10));
        assert_eq!(back.len(), 2, "the expired entry is dropped on load");
        assert!(ReplayCache::from_text("", 10, 0).unwrap().is_empty());
        assert!(ReplayCache::from_text("something else\n", 10, 0).is_err());
        assert!(ReplayCache::from_text(&format!("{HEADER}\nzz 1\n"), 10, 0).is_err());
        assert!(ReplayCache::from_text(&t, 1, 10).is_err());
    }
}
