//! A cache of validated certificate paths.
//!
//! A bus consumer sees a stream of messages from a handful of signers; with the cache warm,
//! verifying one costs a digest and one signature check instead of a path build. Entries
//! are keyed by the certificate's fingerprint, the anchor set, the CRL set, the validation
//! options and a time bucket, and a hit is used only while the verification time lies
//! inside the path's validity window (latest `notBefore` to earliest `notAfter` or CRL
//! `nextUpdate`), so an expiring certificate or CRL is never served from the cache.
//! Only successes are cached.

use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, VecDeque};
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

/// A bounded, thread-safe cache of validated paths.
pub struct PathCache {
    inner: Mutex<Inner>,
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
    /// time buckets.
    pub fn new(capacity: usize) -> Self {
        Self::with_bucket(capacity, 3600)
    }

    /// A cache with time buckets of `bucket_secs` seconds.
    pub fn with_bucket(capacity: usize, bucket_secs: u64) -> Self {
        Self {
            inner: Mutex::new(Inner::default()),
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
