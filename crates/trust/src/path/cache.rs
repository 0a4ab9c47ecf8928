//! The caches of a long-running verifier: validated certificate paths and signature-check
//! outcomes.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use quick_cache::sync::Cache;

use super::{TrustAnchors, ValidatedPath, ValidationOptions};
use crate::cert::Certificate;
use crate::store::CrlSet;

/// What a verifier's caches did so far: lookups answered and missed, entries held.
/// Counters only grow (until the cache is dropped); [`PathCache::invalidate`] empties
/// the paths but keeps the counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Path lookups answered from the cache (no path building, no certificate or CRL
    /// signature checked).
    pub path_hits: u64,
    /// Path lookups that found nothing usable (never seen, other anchors, CRLs, options
    /// or generation, or outside the path's validity window); the path was then built.
    pub path_misses: u64,
    /// Signature checks (of messages, certificates or CRLs) answered from the cache,
    /// successes and failures: public-key operations saved.
    pub signature_hits: u64,
    /// Signature checks the cache did not know: each cost one public-key operation.
    pub signature_misses: u64,
    /// Entries held now: paths plus signature outcomes.
    pub entries: usize,
    /// Paths held now.
    pub path_entries: usize,
    /// Signature outcomes held now (successes and failures).
    pub signature_entries: usize,
    /// The most paths the cache holds (signature outcomes: four times as many successes
    /// and as many failures).
    pub capacity: usize,
    /// The generation: how many times the cache was invalidated.
    pub generation: u64,
}

#[derive(Clone, PartialEq, Eq, Hash)]
struct Key {
    cert: [u8; 32],
    anchors: [u8; 32],
    crls: [u8; 32],
    options: u64,
    bucket: u64,
    generation: u64,
}

/// A bounded cache of items keyed by `K`, sharded so that threads looking up different
/// keys do not wait for each other. Its capacity is a multiple of its shard count, so the
/// sum of the shards' bounds never exceeds the capacity asked for.
fn bounded<K: Eq + Hash, V: Clone>(capacity: usize) -> Cache<K, V> {
    let parallelism = std::thread::available_parallelism().map_or(4, usize::from);
    let mut shards = (parallelism * 4).next_power_of_two().min(64);
    while shards > 1 && capacity / shards == 0 {
        shards /= 2;
    }
    let capacity = (capacity / shards).max(1) * shards;
    let options = quick_cache::OptionsBuilder::new()
        .shards(shards)
        .estimated_items_capacity(capacity)
        .weight_capacity(capacity as u64)
        .build()
        .expect("valid cache options");
    Cache::with_options(
        options,
        Default::default(),
        Default::default(),
        Default::default(),
    )
}

/// A bounded, thread-safe cache of validated paths and of signature-check outcomes,
/// shared by the threads (and verifiers) of a long-running process.
///
/// A bus consumer sees a stream of messages from a handful of signers; with the caches
/// warm, verifying one costs a digest and one public-key operation (the signer's signature
/// over its signed attributes, which are new in every message) instead of a path build.
///
/// # What an entry vouches for, and its key
///
/// - **A path** vouches that one exact certificate chains to one anchor set under one
///   CRL set and one set of validation options. Its key is exactly that: the
///   certificate's fingerprint (SHA-256 over its DER: the signed bytes and the issuer's
///   signature over them), the anchor set's identity (SHA-256 over the anchors'
///   fingerprints, so their public keys), the CRL set's identity, a hash of the options,
///   a time bucket and the cache's generation. A hit is used only while the verification
///   time lies inside the path's validity window (latest `notBefore` to earliest
///   `notAfter` or CRL `nextUpdate`), so an expiring certificate or CRL is never served.
///   Only successful paths are cached: a failure depends on the certificates a message
///   brought along, so caching it by the signer's certificate would let one bad message
///   deny the signer's good ones.
/// - **A signature outcome** vouches that one public key, under one algorithm, did (or
///   did not) sign one byte string with one signature value. Its key is SHA-256 over the
///   signer's `SubjectPublicKeyInfo`, the algorithm, a collision-resistant digest of the
///   signed bytes and the signature (see [`prepared_signature_id`](super::prepared_signature_id)), never the certificate
///   that carries the key: a hit can never vouch for other bytes or another key. Failures
///   are cached too, in a table of their own, so a message replayed with a bad signature
///   costs one public-key operation in all, and a flood of bad signatures cannot evict
///   the good ones.
///
/// # Invalidation
///
/// A different anchor set or CRL set is a different key, so a verifier whose anchors or
/// CRLs changed never sees the paths of the old ones, even when several verifiers share
/// one cache. [`PathCache::invalidate`] also moves the cache to a new generation and
/// drops every path at once: the bus calls it whenever a refresh changed its anchors,
/// certificates or CRLs. Signature outcomes survive it: they are facts about a key and
/// bytes that no anchor or CRL can change, and they grant no trust on their own (a
/// signer is accepted only with a path validated under the current material).
///
/// # Concurrency and bounds
///
/// The tables are `quick_cache` caches: sharded (a lookup takes a read lock on one shard
/// only, never a lock over the whole cache), bounded by item count with S3-FIFO eviction,
/// so a stream of distinct signers cannot grow them past [`PathCache::capacity`] paths
/// and four times as many outcomes of each kind. Counters are relaxed atomics.
pub struct PathCache {
    paths: Cache<Key, Arc<ValidatedPath>>,
    /// `None`: signature outcomes are not cached.
    good: Option<Cache<[u8; 32], ()>>,
    bad: Option<Cache<[u8; 32], ()>>,
    capacity: usize,
    bucket_secs: u64,
    generation: AtomicU64,
    hits: AtomicU64,
    misses: AtomicU64,
    signature_hits: AtomicU64,
    signature_misses: AtomicU64,
}

// A panic cannot leave the cache inconsistent where it matters: its tables are only
// changed inside `quick_cache` under a shard lock, by hashing and comparing keys made of
// fixed-size digests (which never panic), and the counters are atomics. So a verifier that
// holds one stays usable across `catch_unwind`, as it was with the `Mutex` before.
impl std::panic::RefUnwindSafe for PathCache {}
impl std::panic::UnwindSafe for PathCache {}

impl std::fmt::Debug for PathCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PathCache({:?})", self.stats())
    }
}

impl Default for PathCache {
    fn default() -> Self {
        Self::new(4096)
    }
}

impl PathCache {
    /// A cache holding at most `capacity` paths, with one-hour time buckets, and at most
    /// 4 × `capacity` successful and as many failed signature outcomes.
    pub fn new(capacity: usize) -> Self {
        Self::with_bucket(capacity, 3600)
    }

    /// A cache with time buckets of `bucket_secs` seconds.
    pub fn with_bucket(capacity: usize, bucket_secs: u64) -> Self {
        let capacity = capacity.max(1);
        let outcomes = capacity.saturating_mul(4);
        let paths = bounded(capacity);
        Self {
            capacity: paths.capacity() as usize,
            paths,
            good: Some(bounded(outcomes)),
            bad: Some(bounded(outcomes)),
            bucket_secs: bucket_secs.max(1),
            generation: AtomicU64::new(0),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            signature_hits: AtomicU64::new(0),
            signature_misses: AtomicU64::new(0),
        }
    }

    /// The same cache holding at most `capacity` successful and as many failed
    /// signature outcomes (default: 4 × the path capacity); 0 caches none, so that every
    /// message pays its own signature check while paths stay cached (what `waxseal speed`
    /// measures as "warm": a known signer, a new message).
    pub fn with_signature_capacity(mut self, capacity: usize) -> Self {
        self.good = (capacity > 0).then(|| bounded(capacity));
        self.bad = (capacity > 0).then(|| bounded(capacity));
        self
    }

    fn key(
        &self,
        cert: &Certificate,
        anchors: &TrustAnchors,
        crls: &CrlSet,
        options: &ValidationOptions,
    ) -> Key {
        let mut h = DefaultHasher::new();
        let mut timeless = options.clone();
        timeless.time = 0;
        timeless.hash(&mut h);
        Key {
            cert: cert.fingerprint(),
            anchors: anchors.id(),
            crls: crls.id(),
            options: h.finish(),
            bucket: options.time / self.bucket_secs,
            generation: self.generation.load(Ordering::Acquire),
        }
    }

    /// A cached path for `cert`, if one is valid at `options.time` under these anchors,
    /// CRLs and options, in the current generation.
    pub fn get(
        &self,
        cert: &Certificate,
        anchors: &TrustAnchors,
        crls: &CrlSet,
        options: &ValidationOptions,
    ) -> Option<ValidatedPath> {
        let key = self.key(cert, anchors, crls, options);
        let hit = self
            .paths
            .get(&key)
            .filter(|p| p.valid_from <= options.time && options.time <= p.valid_until)
            .map(|p| ValidatedPath::clone(&p));
        let counter = if hit.is_some() {
            &self.hits
        } else {
            &self.misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        hit
    }

    /// Remembers a validated path.
    pub fn insert(
        &self,
        cert: &Certificate,
        anchors: &TrustAnchors,
        crls: &CrlSet,
        options: &ValidationOptions,
        path: ValidatedPath,
    ) {
        let key = self.key(cert, anchors, crls, options);
        self.paths.insert(key, Arc::new(path));
    }

    /// Number of cached paths.
    pub fn len(&self) -> usize {
        self.paths.len()
    }

    /// Whether no path is cached.
    pub fn is_empty(&self) -> bool {
        self.paths.is_empty()
    }

    /// The most paths the cache holds (at most the capacity asked for, rounded down to a
    /// multiple of its shard count when that is larger than one shard's minimum).
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Forgets everything, paths and signature outcomes (the counters stay).
    pub fn clear(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.paths.clear();
        for table in [&self.good, &self.bad].into_iter().flatten() {
            table.clear();
        }
    }

    /// Starts a new generation: every cached path stops being served and is dropped.
    /// Call it when the trust material behind the verifiers sharing this cache changed
    /// (anchors, certificates, CRLs); the bus does on every refresh that changed them.
    /// Signature outcomes are kept (see [`PathCache`]).
    pub fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.paths.clear();
    }

    /// The generation: how many times the cache was invalidated or cleared.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// The cached outcome of the signature check `id`, if any.
    pub(crate) fn signature_result(&self, id: &[u8; 32]) -> Option<bool> {
        let known =
            |t: &Option<Cache<[u8; 32], ()>>| t.as_ref().is_some_and(|t| t.get(id).is_some());
        let hit = if known(&self.good) {
            Some(true)
        } else if known(&self.bad) {
            Some(false)
        } else {
            None
        };
        let counter = if hit.is_some() {
            &self.signature_hits
        } else {
            &self.signature_misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        hit
    }

    /// Remembers the outcome of the signature check `id`.
    pub(crate) fn remember_signature(&self, id: [u8; 32], ok: bool) {
        if let Some(table) = if ok { &self.good } else { &self.bad } {
            table.insert(id, ());
        }
    }

    /// Signature outcomes cached: `(successes, failures)`.
    pub fn signature_outcomes(&self) -> (usize, usize) {
        let len = |t: &Option<Cache<[u8; 32], ()>>| t.as_ref().map_or(0, Cache::len);
        (len(&self.good), len(&self.bad))
    }

    /// Signature checks answered from the cache (successes and failures).
    pub fn signature_hits(&self) -> u64 {
        self.signature_hits.load(Ordering::Relaxed)
    }

    /// Signature checks the cache did not know (each then cost a public-key operation).
    pub fn signature_misses(&self) -> u64 {
        self.signature_misses.load(Ordering::Relaxed)
    }

    /// Path lookups answered from the cache.
    pub fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }

    /// Path lookups that missed.
    pub fn misses(&self) -> u64 {
        self.misses.load(Ordering::Relaxed)
    }

    /// All counters and sizes at once.
    pub fn stats(&self) -> CacheStats {
        let path_entries = self.len();
        let (good, bad) = self.signature_outcomes();
        CacheStats {
            path_hits: self.hits(),
            path_misses: self.misses(),
            signature_hits: self.signature_hits(),
            signature_misses: self.signature_misses(),
            entries: path_entries + good + bad,
            path_entries,
            signature_entries: good + bad,
            capacity: self.capacity,
            generation: self.generation(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcome_tables_stay_within_their_bound() {
        let cache = PathCache::new(100);
        assert!(cache.capacity() <= 100 && cache.capacity() >= 64);
        for i in 0..10_000u32 {
            let mut id = [0u8; 32];
            id[..4].copy_from_slice(&i.to_be_bytes());
            cache.remember_signature(id, i % 2 == 0);
        }
        let (good, bad) = cache.signature_outcomes();
        assert!(good <= 400 && bad <= 400, "{good} {bad}");
        assert!(good > 0 && bad > 0);
    }

    #[test]
    fn a_signature_outcome_is_found_only_under_its_own_id() {
        let cache = PathCache::new(8);
        let (a, mut b) = ([1u8; 32], [1u8; 32]);
        b[31] = 2;
        cache.remember_signature(a, true);
        assert_eq!(cache.signature_result(&a), Some(true));
        assert_eq!(cache.signature_result(&b), None);
        cache.remember_signature(b, false);
        assert_eq!(cache.signature_result(&b), Some(false));
        let s = cache.stats();
        assert_eq!((s.signature_hits, s.signature_misses), (2, 1));
        assert_eq!(s.signature_entries, 2);
    }

    #[test]
    fn signature_outcomes_can_be_switched_off() {
        let cache = PathCache::new(8).with_signature_capacity(0);
        cache.remember_signature([1; 32], true);
        cache.remember_signature([2; 32], false);
        assert_eq!(cache.signature_result(&[1; 32]), None);
        assert_eq!(cache.signature_result(&[2; 32]), None);
        assert_eq!(cache.signature_outcomes(), (0, 0));
    }
}
