//! A bounded, process-wide cache of prepared keys, keyed by the exact bytes of a key's
//! encoding (a `SubjectPublicKeyInfo`, a PKCS #1 `RSAPublicKey`, an EC point...).
//!
//! The same cache keeps parsed certificates, keyed by their DER
//! ([`crate::cert::Certificate::from_der`]).
//!
//! Setting a key up costs more than one might think: an RSA public key computes its
//! Montgomery parameters, graviola converts it again into its own form, an elliptic
//! curve point is checked to lie on its curve. A verifier sees the same few signers over
//! and over, so the prepared forms are kept here and reused across messages.
//!
//! Safety of the reuse: the key of an entry is the whole encoding the value was made
//! from, compared byte for byte on a hit (a hash map's equality, not only its hash), so
//! a prepared key never stands for different bytes: two keys that differ anywhere (the
//! exponent, the algorithm identifier, a parameter) are two entries. Only values made
//! successfully are kept; a refused key is refused again, and costs the same, next time.
//!
//! Bounded: an entry weighs the length of its key bytes plus an estimate of the memory its
//! prepared value takes (given to [`KeyCache::new`]), and the total never exceeds the
//! capacity given there (`quick_cache` evicts the least useful entries), so a flood of
//! distinct keys evicts old entries rather than growing memory.

use quick_cache::sync::Cache;

/// What a cached value takes beyond the fixed estimate its cache was given: an ML-DSA
/// public key keeps its expanded matrix (16 to 56 KiB), far more than its encoding.
pub(crate) trait Weigh {
    /// Bytes beyond the cache's fixed estimate.
    fn extra_bytes(&self) -> u64 {
        0
    }
}

/// Weighs an entry by the length of its key bytes plus a fixed estimate of its value's
/// size (at least 64 bytes, the map's own bookkeeping) plus what the value says it takes
/// beyond that ([`Weigh`]), so that the bound is in bytes and a flood of tiny keys is
/// bounded in number too.
#[derive(Debug, Clone, Copy)]
struct ByLength {
    value_bytes: u64,
}

impl<V: Weigh> quick_cache::Weighter<Vec<u8>, V> for ByLength {
    fn weight(&self, key: &Vec<u8>, value: &V) -> u64 {
        key.len() as u64 + self.value_bytes + value.extra_bytes()
    }
}

/// A bounded cache of prepared keys of type `V`, keyed by the bytes they were made from.
pub(crate) struct KeyCache<V> {
    cache: Cache<Vec<u8>, V, ByLength>,
}

impl<V: Clone + Weigh> KeyCache<V> {
    /// A cache of at most `capacity` bytes: key encodings plus `value_bytes` an entry
    /// (an estimate of the memory a prepared value takes; 64 at least).
    pub(crate) fn new(capacity: u64, value_bytes: u64) -> Self {
        // Few shards: each must hold the largest entry (an RSA key of 16384 bits encodes
        // in about 2 KiB), and the sum of the shards' bounds is the capacity.
        let shards = 4;
        let options = quick_cache::OptionsBuilder::new()
            .shards(shards)
            .estimated_items_capacity((capacity / 512).max(1) as usize)
            .weight_capacity(capacity / shards as u64 * shards as u64)
            .build()
            .expect("valid cache options");
        Self {
            cache: Cache::with_options(
                options,
                ByLength {
                    value_bytes: value_bytes.max(64),
                },
                Default::default(),
                Default::default(),
            ),
        }
    }

    /// The value for `key`, made by `build` and kept when it is not there yet. An error
    /// from `build` is returned and nothing is kept.
    pub(crate) fn get_or_try_insert<E>(
        &self,
        key: &[u8],
        build: impl FnOnce() -> Result<V, E>,
    ) -> Result<V, E> {
        let counted = || {
            #[cfg(test)]
            BUILDS.with(|b| b.set(b.get() + 1));
            build()
        };
        if BYPASS.with(std::cell::Cell::get) {
            return counted();
        }
        self.cache.get_or_insert_with(key, counted)
    }

    /// The number of entries.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.cache.len()
    }

    /// The total weight of the entries (key bytes plus overhead).
    #[cfg(test)]
    pub(crate) fn weight(&self) -> u64 {
        self.cache.weight()
    }
}

thread_local! {
    /// Set inside [`without_key_caches`]: every cache is neither read nor filled.
    static BYPASS: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f` with the process-wide caches switched off on this thread: the prepared-key
/// caches and the cache of parsed certificates (4 MiB, `CERTIFICATE_CACHE_BYTES`).
/// A key or certificate is parsed and set up again wherever it is not already held, and
/// nothing is kept process-wide. A certificate still keeps the key it set up
/// ([`Certificate::public_key_bounded`]), as OpenSSL's `X509` keeps its `EVP_PKEY`: the
/// certificates a verifier holds (its store, its anchors) set theirs up on first use,
/// those an envelope brings set theirs up for that envelope. That is the first message
/// from a signer to a running verifier, what benchmarks of "cold" verification measure
/// (`waxseal speed`, `cargo bench`); verdicts are the same either way.
///
/// [`Certificate::public_key_bounded`]: crate::cert::Certificate::public_key_bounded
pub fn without_key_caches<R>(f: impl FnOnce() -> R) -> R {
    /// Restores the previous setting, also when `f` panics.
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            BYPASS.with(|b| b.set(self.0));
        }
    }
    let _restore = Restore(BYPASS.with(|b| b.replace(true)));
    f()
}

#[cfg(test)]
thread_local! {
    /// How many values every [`KeyCache`] built on this thread: tests count work with it
    /// (per thread, so that tests running in parallel do not disturb each other).
    static BUILDS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// How many prepared keys the caches built on this thread so far.
#[cfg(test)]
pub(crate) fn builds_on_this_thread() -> u64 {
    BUILDS.with(std::cell::Cell::get)
}

#[cfg(test)]
mod tests {
    use super::*;

    impl Weigh for u32 {}

    /// A value that holds far more than its encoding, as an ML-DSA key's matrix.
    #[derive(Clone)]
    struct Heavy;
    impl Weigh for Heavy {
        fn extra_bytes(&self) -> u64 {
            56 * 1024
        }
    }

    #[test]
    fn what_a_value_holds_beyond_its_encoding_counts_against_the_bound() {
        let cache: KeyCache<Heavy> = KeyCache::new(1024 * 1024, 1024);
        for i in 0..200u32 {
            cache
                .get_or_try_insert(&i.to_be_bytes(), || Ok::<_, ()>(Heavy))
                .unwrap();
            assert!(cache.weight() <= 1024 * 1024, "weight {}", cache.weight());
        }
        // 1 MiB holds at most 18 entries of 57 KiB, not the 200 a length-only weight
        // would have kept.
        assert!(cache.len() <= 18, "{} entries", cache.len());
        assert!(cache.len() >= 8, "{} entries", cache.len());
    }

    #[test]
    fn reuses_by_exact_bytes_and_stays_bounded() {
        let cache: KeyCache<u32> = KeyCache::new(16 * 1024, 64);
        let before = builds_on_this_thread();
        let ok = |v| move || Ok::<u32, ()>(v);
        assert_eq!(cache.get_or_try_insert(b"key one", ok(1)), Ok(1));
        assert_eq!(cache.get_or_try_insert(b"key one", ok(99)), Ok(1));
        assert_eq!(builds_on_this_thread() - before, 1);
        // A key that differs in one byte, or is a prefix, is another entry.
        assert_eq!(cache.get_or_try_insert(b"key onf", ok(2)), Ok(2));
        assert_eq!(cache.get_or_try_insert(b"key on", ok(3)), Ok(3));
        assert_eq!(builds_on_this_thread() - before, 3);
        // A failed build keeps nothing.
        assert_eq!(
            cache.get_or_try_insert(b"refused", || Err::<u32, _>(())),
            Err(())
        );
        assert_eq!(cache.get_or_try_insert(b"refused", ok(4)), Ok(4));
        assert_eq!(cache.len(), 4);

        // A flood of distinct 300-byte keys (an RSA-2048 SPKI's size) stays within the bound.
        for i in 0..10_000u32 {
            let mut key = vec![0u8; 300];
            key[..4].copy_from_slice(&i.to_be_bytes());
            cache.get_or_try_insert(&key, ok(i)).unwrap();
            assert!(cache.weight() <= 16 * 1024, "weight {}", cache.weight());
        }
        // Every entry weighs at least 64: the number of entries is bounded too.
        assert!(cache.len() as u64 <= 16 * 1024 / 64);
        assert!(cache.len() as u64 <= 4 + 16 * 1024 / (300 + 64));
        assert!(cache.len() > 0);
    }

    #[test]
    fn without_key_caches_builds_every_time_keeps_nothing_and_restores() {
        let cache: KeyCache<u32> = KeyCache::new(16 * 1024, 64);
        let ok = |v| move || Ok::<u32, ()>(v);
        cache.get_or_try_insert(b"cached", ok(1)).unwrap();
        let before = builds_on_this_thread();
        let inside = without_key_caches(|| {
            (
                // Not read: built again, with the new value.
                cache.get_or_try_insert(b"cached", ok(2)),
                // Not filled.
                cache.get_or_try_insert(b"new", ok(3)),
                cache.get_or_try_insert(b"new", ok(4)),
            )
        });
        assert_eq!(inside, (Ok(2), Ok(3), Ok(4)));
        assert_eq!(builds_on_this_thread() - before, 3);
        // Afterwards the cache serves again, and was not changed inside.
        assert_eq!(cache.get_or_try_insert(b"cached", ok(5)), Ok(1));
        assert_eq!(cache.get_or_try_insert(b"new", ok(6)), Ok(6));
        assert_eq!(builds_on_this_thread() - before, 4);
        // Restored after a panic too.
        let caught = std::panic::catch_unwind(|| without_key_caches(|| panic!("inside")));
        assert!(caught.is_err());
        assert_eq!(cache.get_or_try_insert(b"cached", ok(7)), Ok(1));
    }
}
