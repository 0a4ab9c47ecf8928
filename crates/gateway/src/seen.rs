//! The replay store: which signed messages were already accepted, shared by every gateway
//! process of a host, and how a broker redelivery differs from a replay.
//!
//! # Replay across processes: a shared journal
//!
//! Several gateway processes on one queue are competing consumers: two copies of one
//! message (a replay) may reach two processes. They must still meet one seen-set. The
//! choice made here is a **journal file shared by every process of the host**
//! (`--replay-cache FILE`), locked (`flock`) around each check:
//!
//! - the file is the text form of [`waxseal_message::ReplayCache`] (a header line, then
//!   `<key hex> <expiry|->` lines), written append-only: a process takes the lock, reads
//!   the lines the others appended since it last looked into its in-memory cache, checks
//!   the key, appends it if new, and releases the lock. A check costs a few system calls,
//!   not a rewrite of the cache;
//! - when the file holds more than twice `replay_cache_capacity` lines, the process
//!   holding the lock rewrites it with the live entries only (a new file renamed over
//!   the old); the others notice the new inode and read it from the start;
//! - it survives a process crash (SIGKILL: a line is in the file once `write` returned),
//!   not a host crash (no `fsync` per message).
//!
//! Not chosen: sharding by message with RabbitMQ's consistent-hash exchange. The broker
//! hashes a routing key or header the *publisher* sets; a replayer sets another one and
//! lands on another shard, so the gateway would have to recompute and check the shard key
//! (a digest over the signer and signed attributes, which publishers do not send today),
//! and each process would need a queue of its own instead of competing on one.
//!
//! **Limit: one host.** `flock` is not reliable on network file systems; processes on
//! different hosts consuming one queue do not share a journal. Run the gateways of one
//! queue on one host (one process per core), or accept that a replay split across hosts
//! is detected by neither.
//!
//! # Redeliveries are not replays
//!
//! The key is recorded when the message is admitted, before it is republished and
//! acknowledged. If the process dies in between, the broker redelivers the message
//! (flagged `redelivered`) to another process, which finds the key already recorded.
//! [`waxseal_message::Bus::admit`] then admits it as a duplicate (the arrival's
//! redelivered flag; see [`waxseal_message::admission`]): it goes to the verified exchange
//! with the same `x-waxseal-id` (the replay key), which consumers deduplicate by.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use waxseal_message::replay::HEADER;
use waxseal_message::{ReplayCache, ReplayError, ReplayStore};

/// The per-process store: a [`ReplayCache`] in memory.
pub struct Memory(Mutex<ReplayCache>);

impl Memory {
    /// An empty store of `capacity` entries.
    pub fn new(capacity: usize) -> Self {
        Self(Mutex::new(ReplayCache::new(capacity)))
    }
}

impl ReplayStore for Memory {
    fn check_and_insert(&self, key: [u8; 32], expires: u64, now: u64) -> Result<(), ReplayError> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .check_and_insert(key, expires, now)
    }
}

/// The store shared by the processes of a host: an append-only journal file (see the
/// module docs).
pub struct Journal {
    path: PathBuf,
    capacity: usize,
    state: Mutex<JournalState>,
}

struct JournalState {
    file: File,
    inode: (u64, u64),
    /// How far this process has read.
    offset: u64,
    /// Lines in the file (to decide when to compact).
    lines: usize,
    cache: ReplayCache,
}

impl Journal {
    /// Opens (creating it if absent) the journal at `path` for a cache of `capacity`.
    pub fn open(path: &Path, capacity: usize) -> std::io::Result<Self> {
        let file = open(path)?;
        let inode = inode_of(&file)?;
        let j = Self {
            path: path.to_path_buf(),
            capacity,
            state: Mutex::new(JournalState {
                file,
                inode,
                offset: 0,
                lines: 0,
                cache: ReplayCache::new(capacity),
            }),
        };
        // Read (and check) what is there now, so that a broken file fails at start-up.
        let mut s = j.state.lock().unwrap_or_else(|p| p.into_inner());
        s.file.lock()?;
        let r = j.catch_up(&mut s, waxseal_envelope::time::now());
        s.file.unlock()?;
        r?;
        drop(s);
        Ok(j)
    }

    /// Reopens the file if another process replaced it (compaction), then reads the lines
    /// appended since this process last looked. Called with the file locked.
    fn catch_up(&self, s: &mut JournalState, now: u64) -> std::io::Result<()> {
        loop {
            let on_disk = std::fs::metadata(&self.path).map(|m| (m.dev(), m.ino()))?;
            if on_disk == s.inode {
                break;
            }
            let file = open(&self.path)?;
            file.lock()?;
            s.file.unlock()?;
            s.inode = inode_of(&file)?;
            s.file = file;
            s.offset = 0;
            s.lines = 0;
            s.cache = ReplayCache::new(self.capacity);
        }
        let len = s.file.metadata()?.len();
        if len < s.offset {
            // Rewritten in place (not by a gateway): read it again.
            s.offset = 0;
            s.lines = 0;
            s.cache = ReplayCache::new(self.capacity);
        }
        if len == 0 {
            s.file.write_all(format!("{HEADER}\n").as_bytes())?;
            s.offset = HEADER.len() as u64 + 1;
            return Ok(());
        }
        if len == s.offset {
            return Ok(());
        }
        s.file.seek(SeekFrom::Start(s.offset))?;
        let mut text = String::new();
        (&s.file).take(len - s.offset).read_to_string(&mut text)?;
        // Only whole lines (a writer holds the lock, so there is no partial one, but a
        // file cut by a crash of the host may end without its newline).
        let whole = text.rfind('\n').map_or(0, |i| i + 1);
        for line in text[..whole].lines() {
            s.lines += 1;
            if s.offset == 0 && s.lines == 1 {
                if line != HEADER {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        format!("{}: not a waxseal replay cache", self.path.display()),
                    ));
                }
                continue;
            }
            if let Some((key, expires)) = parse_line(line)
                && expires > now
            {
                // A full cache here is the other process's refusal already made; a key
                // that is there already is a duplicate line (after a redelivery).
                let _ = s.cache.check_and_insert(key, expires, now);
            }
        }
        s.offset += whole as u64;
        Ok(())
    }

    /// Rewrites the journal with the live entries (called with the file locked).
    fn compact(&self, s: &mut JournalState, now: u64) -> std::io::Result<()> {
        s.cache.evict_expired(now);
        let tmp = self
            .path
            .with_extension(format!("compact-{}", std::process::id()));
        {
            let mut f = File::create(&tmp)?;
            f.write_all(s.cache.to_text().as_bytes())?;
            f.sync_all()?;
        }
        std::fs::rename(&tmp, &self.path)?;
        let file = open(&self.path)?;
        file.lock()?;
        s.file.unlock()?;
        s.inode = inode_of(&file)?;
        s.offset = file.metadata()?.len();
        s.lines = s.cache.len() + 1;
        s.file = file;
        Ok(())
    }

    fn check_locked(
        &self,
        s: &mut JournalState,
        key: [u8; 32],
        expires: u64,
        now: u64,
    ) -> std::io::Result<Result<(), ReplayError>> {
        self.catch_up(s, now)?;
        let r = s.cache.check_and_insert(key, expires, now);
        if r.is_ok() {
            let e = if expires == u64::MAX {
                "-".to_string()
            } else {
                expires.to_string()
            };
            let line = format!("{} {e}\n", hex::encode(key));
            s.file.seek(SeekFrom::End(0))?;
            s.file.write_all(line.as_bytes())?;
            s.offset += line.len() as u64;
            s.lines += 1;
            if s.lines > 2 * self.capacity.max(1024) {
                self.compact(s, now)?;
            }
        }
        Ok(r)
    }
}

impl ReplayStore for Journal {
    fn check_and_insert(&self, key: [u8; 32], expires: u64, now: u64) -> Result<(), ReplayError> {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let locked = s.file.lock();
        let r = locked.and_then(|()| self.check_locked(&mut s, key, expires, now));
        let _ = s.file.unlock();
        match r {
            Ok(r) => r,
            // Fail closed: a journal that cannot be read or written cannot vouch for a
            // message being new. It is not the message's fault either: the delivery is
            // requeued (`replay-store-unavailable`); the gateway logs the I/O error.
            Err(e) => {
                crate::log::error(
                    "replay-journal-error",
                    &[
                        ("path", &self.path.display().to_string()),
                        ("error", &e.to_string()),
                    ],
                );
                Err(ReplayError::Unavailable)
            }
        }
    }
}

fn open(path: &Path) -> std::io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
}

fn inode_of(f: &File) -> std::io::Result<(u64, u64)> {
    let m = f.metadata()?;
    Ok((m.dev(), m.ino()))
}

fn parse_line(line: &str) -> Option<([u8; 32], u64)> {
    let (k, e) = line.split_once(' ')?;
    let mut key = [0u8; 32];
    hex::decode_to_slice(k, &mut key).ok()?;
    let expires = match e {
        "-" => u64::MAX,
        e => e.parse().ok()?,
    };
    Some((key, expires))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_journals_on_one_file_refuse_the_second_copy() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("seen");
        // Later than any clock: `open` drops entries expired by the real clock.
        const FAR: u64 = u64::MAX - 1;
        let a = Journal::open(&path, 10).unwrap();
        let b = Journal::open(&path, 10).unwrap();
        assert_eq!(a.check_and_insert([1; 32], FAR, 10), Ok(()));
        assert_eq!(
            b.check_and_insert([1; 32], FAR, 10),
            Err(ReplayError::Replayed)
        );
        assert_eq!(b.check_and_insert([2; 32], u64::MAX, 10), Ok(()));
        assert_eq!(
            a.check_and_insert([2; 32], u64::MAX, 10),
            Err(ReplayError::Replayed)
        );
        // A third process starting later reads both.
        let c = Journal::open(&path, 10).unwrap();
        assert_eq!(
            c.check_and_insert([1; 32], FAR, 20),
            Err(ReplayError::Replayed)
        );
        // The file is the text form of a replay cache.
        let text = std::fs::read_to_string(&path).unwrap();
        let cache = ReplayCache::from_text(&text, 10, 20).unwrap();
        assert!(cache.contains(&[1; 32], 20) && cache.contains(&[2; 32], 20));
    }

    #[test]
    fn compaction_keeps_live_entries_and_others_follow_the_new_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("seen");
        let a = Journal::open(&path, 1).unwrap();
        let b = Journal::open(&path, 1).unwrap();
        // Capacity 1, compaction past 2048 lines: entries expire as time moves on.
        for i in 0..3000u64 {
            let mut key = [0u8; 32];
            key[..8].copy_from_slice(&i.to_be_bytes());
            let store = if i % 2 == 0 { &a } else { &b };
            assert_eq!(store.check_and_insert(key, i + 1, i), Ok(()), "entry {i}");
        }
        let mut last = [0u8; 32];
        last[..8].copy_from_slice(&2999u64.to_be_bytes());
        assert_eq!(
            a.check_and_insert(last, 3000, 2999),
            Err(ReplayError::Replayed)
        );
        let lines = std::fs::read_to_string(&path).unwrap().lines().count();
        assert!(lines < 2100, "compacted: {lines} lines");
    }

    #[test]
    fn a_file_that_is_not_a_journal_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("seen");
        std::fs::write(&path, "something else\n").unwrap();
        assert!(Journal::open(&path, 10).is_err());
    }
}
