//! The replay store of one process: a [`ReplayCache`] in memory.

use std::sync::Mutex;

use super::{Admission, ReplayCache, ReplayError, ReplayStore};

/// This process's memory: what another process, or this one after a restart, admitted
/// is not known. Bounded by `capacity` live entries (then `replay-cache-full`).
#[derive(Debug)]
pub struct MemoryStore {
    cache: Mutex<ReplayCache>,
}

impl MemoryStore {
    /// An empty store of `capacity` live entries.
    pub fn new(capacity: usize) -> Self {
        Self {
            cache: Mutex::new(ReplayCache::new(capacity)),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ReplayCache> {
        // A panic while holding the lock cannot leave the map half-updated in a way that
        // matters: every operation is one insert or one flag.
        self.cache.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// How many entries it holds.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether it holds nothing.
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }
}

impl ReplayStore for MemoryStore {
    fn admit(
        &self,
        key: [u8; 32],
        expires: u64,
        now: u64,
        redelivered: bool,
    ) -> Result<Admission, ReplayError> {
        // Entries are evicted only to make room, at the verification time: this memory
        // dies with the process, so a clock step costs at most the room it frees.
        self.lock().admit(key, expires, now, redelivered)
    }

    fn settle(&self, key: [u8; 32], _now: u64) -> Result<(), ReplayError> {
        self.lock().settle(&key);
        Ok(())
    }

    fn describe(&self) -> String {
        "memory".into()
    }
}
