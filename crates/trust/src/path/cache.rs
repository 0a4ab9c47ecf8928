//! A cache of validated certificate paths.
//!
//! A bus consumer sees a stream of messages from a handful of signers; with the cache warm,
//! verifying one costs a digest and one signature check instead of a path build. Entries
//! are keyed by the certificate's fingerprint, the anchor set, the CRL set, the validation
//! options and a time bucket, and a hit is used only while the verification time lies
//! inside the path's validity window (latest `notBefore` to earliest `notAfter` or CRL
//! `nextUpdate`), so an expiring certificate or CRL is never served from the cache.
//! Only successful paths are cached: a failure depends on the certificates a message
//! brought along, so caching it by the signer's certificate would let one bad message
//! deny the signer's good ones.
//!
//! Signature checks are cached too, failures as well as successes: their outcome depends
//! only on the key, the algorithm, the signed bytes and the signature, so the cache key is
//! exactly that (SHA-256 over the signer's `SubjectPublicKeyInfo`, the algorithm, a hash of
//! the signed bytes and the signature value), never the certificate that carries the key.
//! Two certificates of one key (a re-issued CA) share entries, and a message replayed
//! with a bad signature, or a bad certificate signature seen on every message, costs one
//! public-key operation in all. Successes and failures are kept in separate bounded
//! tables, so a flood of bad signatures cannot evict the good ones.

use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, HashSet, VecDeque};
use std::hash::{Hash, Hasher};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use super::{TrustAnchors, ValidatedPath, ValidationOptions};
use crate::cert::Certificate;
use crate::store::CrlSet;

#[derive(Clone, PartialEq, Eq, Hash)]
struct Key {
    cert: [u8; 32],
    anchors: [u8; 32],
    crls: [u8; 32],
    options: u64,
    bucket: u64,
}

#[derive(Default)]
struct Inner {
    map: HashMap<Key, ValidatedPath>,
    order: VecDeque<Key>,
}

/// A bounded table of signature outcomes, oldest evicted first.
#[derive(Default)]
struct Outcomes {
    set: HashSet<[u8; 32]>,
    order: VecDeque<[u8; 32]>,
}

impl Outcomes {
    fn insert(&mut self, id: [u8; 32], capacity: usize) {
        if self.set.insert(id) {
            self.order.push_back(id);
        }
        while self.set.len() > capacity {
            match self.order.pop_front() {
                Some(old) => {
                    self.set.remove(&old);
                }
                None => break,
            }
        }
    }
}

/// Signature outcomes: successes and failures apart.
#[derive(Default)]
struct Signatures {
    good: Outcomes,
    bad: Outcomes,
}

/// A bounded, thread-safe cache of validated paths and of signature-check outcomes.
pub struct PathCache {
    inner: Mutex<Inner>,
    signatures: Mutex<Signatures>,
    signature_hits: AtomicU64,
    capacity: usize,
    bucket_secs: u64,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl std::fmt::Debug for PathCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "PathCache(capacity {}, hits {}, misses {})",
            self.capacity,
            self.hits(),
            self.misses()
        )
    }
}

impl Default for PathCache {
    fn default() -> Self {
        Self::new(4096)
    }
}

impl PathCache {
    /// A cache holding at most `capacity` paths (oldest evicted first), with one-hour
    /// time buckets, and at most 4 × `capacity` successful and as many failed signature
    /// outcomes.
    pub fn new(capacity: usize) -> Self {
        Self::with_bucket(capacity, 3600)
    }

    /// A cache with time buckets of `bucket_secs` seconds.
    pub fn with_bucket(capacity: usize, bucket_secs: u64) -> Self {
        Self {
            inner: Mutex::new(Inner::default()),
            signatures: Mutex::new(Signatures::default()),
            signature_hits: AtomicU64::new(0),
            capacity: capacity.max(1),
            bucket_secs: bucket_secs.max(1),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
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
        }
    }

    /// A cached path for `cert`, if one is valid at `options.time`.
    pub fn get(
        &self,
        cert: &Certificate,
        anchors: &TrustAnchors,
        crls: &CrlSet,
        options: &ValidationOptions,
    ) -> Option<ValidatedPath> {
        let key = self.key(cert, anchors, crls, options);
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let hit = inner
            .map
            .get(&key)
            .filter(|p| p.valid_from <= options.time && options.time <= p.valid_until)
            .cloned();
        drop(inner);
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
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if inner.map.insert(key.clone(), path).is_none() {
            inner.order.push_back(key);
        }
        while inner.map.len() > self.capacity {
            match inner.order.pop_front() {
                Some(old) => {
                    inner.map.remove(&old);
                }
                None => break,
            }
        }
    }

    /// Number of cached paths.
    pub fn len(&self) -> usize {
        self.inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .map
            .len()
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets everything.
    pub fn clear(&self) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner.map.clear();
        inner.order.clear();
        drop(inner);
        *self.signatures.lock().unwrap_or_else(|p| p.into_inner()) = Signatures::default();
    }

    /// The cached outcome of the signature check `id`, if any.
    pub(crate) fn signature_result(&self, id: &[u8; 32]) -> Option<bool> {
        let sigs = self.signatures.lock().unwrap_or_else(|p| p.into_inner());
        let hit = if sigs.good.set.contains(id) {
            Some(true)
        } else if sigs.bad.set.contains(id) {
            Some(false)
        } else {
            None
        };
        drop(sigs);
        if hit.is_some() {
            self.signature_hits.fetch_add(1, Ordering::Relaxed);
        }
        hit
    }

    /// Remembers the outcome of the signature check `id`.
    pub(crate) fn remember_signature(&self, id: [u8; 32], ok: bool) {
        let capacity = self.capacity.saturating_mul(4);
        let mut sigs = self.signatures.lock().unwrap_or_else(|p| p.into_inner());
        if ok {
            sigs.good.insert(id, capacity);
        } else {
            sigs.bad.insert(id, capacity);
        }
    }

    /// Signature outcomes cached: `(successes, failures)`.
    pub fn signature_outcomes(&self) -> (usize, usize) {
        let sigs = self.signatures.lock().unwrap_or_else(|p| p.into_inner());
        (sigs.good.set.len(), sigs.bad.set.len())
    }

    /// Signature checks answered from the cache (successes and failures).
    pub fn signature_hits(&self) -> u64 {
        self.signature_hits.load(Ordering::Relaxed)
    }

    /// Lookups answered from the cache.
    pub fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }

    /// Lookups that missed.
    pub fn misses(&self) -> u64 {
        self.misses.load(Ordering::Relaxed)
    }
}
