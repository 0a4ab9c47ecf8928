//! The replay stores' own cost per message: `admit` then `settle` of new keys, as the
//! gateway does for each verified message, timed in a loop (used by `bench/replay.sh`).
//!
//! ```text
//! cargo run --release -p waxseal-message --example replay_cost -- COUNT [REDIS_URL]
//! ```
//!
//! Prints one JSON object: `file_us` (a `FileStore` journal in a temporary directory) and,
//! with a Redis URL, `redis_us` (µs per admit + settle, one thread, loopback).

use std::time::Instant;

use waxseal_message::ReplayStore;
use waxseal_message::replay::journal::FileStore;
use waxseal_message::replay::redis::RedisStore;

/// µs per admit + settle of `count` new keys (distinct per `salt`).
fn cost(store: &dyn ReplayStore, count: u32, salt: u8) -> f64 {
    let now = waxseal_trust::time::now();
    let key = |n: u32| {
        let mut k = [salt; 32];
        k[..4].copy_from_slice(&n.to_be_bytes());
        k[4..12].copy_from_slice(&now.to_be_bytes());
        k
    };
    let start = Instant::now();
    for n in 0..count {
        store
            .admit(key(n), now + 600, now, false)
            .expect("a new key is admitted");
        store.settle(key(n), now).expect("settled");
    }
    start.elapsed().as_secs_f64() * 1e6 / f64::from(count)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let count: u32 = args
        .next()
        .and_then(|c| c.parse().ok())
        .expect("usage: replay_cost COUNT [REDIS_URL]");
    let dir = tempfile::tempdir().expect("a temporary directory");
    let file = FileStore::open(&dir.path().join("replay.journal")).expect("the journal");
    let mut out = serde_json::json!({"count": count, "file_us": cost(&file, count, 1)});
    if let Some(url) = args.next() {
        let redis = RedisStore::new(&url).expect("a Redis URL");
        out["redis_us"] = cost(&redis, count, 2).into();
    }
    println!("{out}");
}
