//! The replay store of one host: an append-only journal file shared by every process
//! that names it (`file:PATH`), locked (`flock`) around each check.
//!
//! - The file is the text form of a [`ReplayCache`] (a header line, then one line per
//!   admitted or settled key). A process takes the lock, reads the lines the others
//!   appended since it last looked into its memory, decides, appends its own line if it
//!   admitted or settled a key, and releases the lock: a few system calls per message,
//!   not a rewrite.
//! - **Nothing another process wrote is skipped.** Lines read from the journal are merged
//!   into memory whatever its size (they are decisions already taken); memory is bounded
//!   by the freshness window, whose expired entries are evicted when the journal is
//!   compacted.
//! - **Compaction** (when the journal holds more than twice its live entries plus 1,024
//!   lines) rewrites it with the live entries into a new file renamed over the old; the
//!   others notice the new inode and read it from the start, *merging* what they read into
//!   what they remember (never replacing it).
//! - **A torn line is never merged with the next one.** A line is appended with one write
//!   after a newline is made sure of; a write that fails (a full disk) is cut back off the
//!   file, and the store answers unavailable (the receiver requeues). Lines that do not
//!   parse (a host crash mid-line) are passed over.
//! - **Truncated in place** (`logrotate`'s `copytruncate`, an operator's `: > file`): the
//!   first process to notice writes every entry it remembers back, so a truncation does
//!   not wipe the memory of every process.
//! - **Symbolic links are not followed** (`O_NOFOLLOW`), the file is created mode 0600,
//!   and anything but a regular file is refused.
//! - **A forward clock step does not evict live entries**: compaction evicts only up to an
//!   [`EvictionClock`] bounded by the monotonic clock.
//! - It survives a process crash (a line is in the file once `write` returned), not a
//!   host crash (no `fsync` per message). `flock` is not reliable on network file
//!   systems: for several hosts, use the Redis store.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use waxseal_trust::fsutil;

use super::{
    Admission, EvictionClock, HEADER, ReplayCache, ReplayError, ReplayStore, line, parse_line,
};

/// The journal store (see the module docs).
#[derive(Debug)]
pub struct FileStore {
    path: PathBuf,
    state: Mutex<State>,
    clock: EvictionClock,
}

#[derive(Debug)]
struct State {
    file: File,
    inode: (u64, u64),
    /// How far this process has read.
    offset: u64,
    /// Lines in the file (to decide when to compact).
    lines: usize,
    /// Entries written by the last compaction (the file is compacted again past twice
    /// this plus 1,024 lines).
    compacted: usize,
    /// Everything read or written, unbounded by count (see the module docs).
    cache: ReplayCache,
    /// Why the last operation failed, for [`FileStore::last_error`].
    last_error: Option<String>,
}

impl FileStore {
    /// Opens (creating it, mode 0600, if absent) the journal at `path` and reads it, so
    /// that a broken or foreign file fails at start-up.
    pub fn open(path: &Path) -> std::io::Result<Self> {
        let file = open(path)?;
        let inode = inode_of(&file)?;
        let store = Self {
            path: path.to_path_buf(),
            state: Mutex::new(State {
                file,
                inode,
                offset: 0,
                lines: 0,
                compacted: 0,
                cache: ReplayCache::new(usize::MAX),
                last_error: None,
            }),
            clock: EvictionClock::new(),
        };
        store.locked(waxseal_trust::time::now(), |_, _| Ok(()))?;
        Ok(store)
    }

    /// The last I/O error, if the last operation failed (for logs and health).
    pub fn last_error(&self) -> Option<String> {
        self.lock_state().last_error.clone()
    }

    fn lock_state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `f` with the file locked and caught up.
    fn locked<T>(
        &self,
        now: u64,
        f: impl FnOnce(&Self, &mut State) -> std::io::Result<T>,
    ) -> std::io::Result<T> {
        let mut s = self.lock_state();
        s.file.lock()?;
        let r = self.catch_up(&mut s, now).and_then(|()| f(self, &mut s));
        let _ = s.file.unlock();
        s.last_error = r.as_ref().err().map(|e| e.to_string());
        r
    }

    /// Follows a compaction (a new inode), reads what was appended since this process
    /// last looked, and rewrites a file truncated in place. Called with the file locked.
    ///
    /// A compaction made here is read back at once ([`FileStore::compact`]): another
    /// process may have appended to the new file between its rename and our lock of it.
    fn catch_up(&self, s: &mut State, now: u64) -> std::io::Result<()> {
        // Each round after the first follows a compaction; only a file truncated again and
        // again under us (not by a waxseal process) needs more than two.
        for _ in 0..4 {
            if !self.catch_up_once(s, now)? {
                return Ok(());
            }
        }
        Err(std::io::Error::other(
            "the replay journal was truncated again and again while it was read",
        ))
    }

    /// One round of [`FileStore::catch_up`]; `true` when it compacted the file (which must
    /// then be read back).
    fn catch_up_once(&self, s: &mut State, now: u64) -> std::io::Result<bool> {
        loop {
            let on_disk = match std::fs::symlink_metadata(&self.path) {
                Ok(m) => (m.dev(), m.ino()),
                // Removed: start it again (this process writes back what it remembers).
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    drop(open(&self.path)?);
                    continue;
                }
                Err(e) => return Err(e),
            };
            if on_disk == s.inode {
                break;
            }
            let file = open(&self.path)?;
            file.lock()?;
            let _ = s.file.unlock();
            s.inode = inode_of(&file)?;
            s.file = file;
            s.offset = 0;
            s.lines = 0;
        }
        let len = s.file.metadata()?.len();
        let mut rewrite = false;
        if len < s.offset {
            // Truncated in place: read what is there, then write back what we remember.
            s.offset = 0;
            s.lines = 0;
            rewrite = true;
        }
        // Read from the start (a new file, or one truncated): what this process remembers
        // and the file lacks is written back, so no process's memory is lost to it.
        let mut read = (s.offset == 0).then(std::collections::HashSet::new);
        if len > s.offset {
            s.file.seek(SeekFrom::Start(s.offset))?;
            let mut bytes = Vec::new();
            (&s.file).take(len - s.offset).read_to_end(&mut bytes)?;
            // Whole lines only: a line still being written (or torn by a crash) is read
            // once its newline is there, or passed over.
            let whole = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
            for l in bytes[..whole].split(|&b| b == b'\n') {
                if l.is_empty() {
                    continue;
                }
                let first = s.offset == 0 && s.lines == 0;
                s.lines += 1;
                let text = std::str::from_utf8(l).unwrap_or("");
                if first {
                    if text != HEADER {
                        return Err(std::io::Error::new(
                            std::io::ErrorKind::InvalidData,
                            "not a waxseal replay journal (its first line is not the header)",
                        ));
                    }
                    continue;
                }
                if let Some((key, expires, settled)) = parse_line(text) {
                    s.cache.merge(key, expires, settled);
                    if let Some(r) = read.as_mut() {
                        r.insert((key, settled));
                    }
                }
            }
            s.offset += whole as u64;
        }
        if rewrite || len == 0 {
            self.compact(s, now)?;
            return Ok(true);
        } else if let Some(read) = read {
            let missing: String = s
                .cache
                .live_entries(now)
                .filter(|(k, _, settled)| !read.contains(&(*k, *settled)))
                .map(|(k, e, settled)| line(&k, e, settled))
                .collect();
            if !missing.is_empty() {
                let count = missing.lines().count();
                self.append(s, &missing, count)?;
            }
        }
        Ok(false)
    }

    /// Appends `text` (whole lines), making sure it starts a line; a failed write is cut
    /// back off the file. Called with the file locked and caught up.
    fn append(&self, s: &mut State, text: &str, count: usize) -> std::io::Result<()> {
        let len = s.file.metadata()?.len();
        // Bytes past what was read are a torn line: end it, so ours is never merged with it.
        let mut out = if len > s.offset {
            "\n".to_string()
        } else {
            String::new()
        };
        out.push_str(text);
        s.file.seek(SeekFrom::End(0))?;
        if let Err(e) = s.file.write_all(out.as_bytes()) {
            let _ = s.file.set_len(len);
            return Err(e);
        }
        s.offset = len + out.len() as u64;
        s.lines += count;
        Ok(())
    }

    /// Rewrites the journal with the live entries into a new file renamed over the old,
    /// and takes the new file's lock. Called with the file locked; the caller then reads
    /// the new file from its start ([`FileStore::catch_up`]).
    ///
    /// The new file is unlocked from its rename until this process locks it, and another
    /// process that opens the path in that moment may lock it first and append to it (an
    /// admission, say). So what this process wrote is not all the file holds: it is read
    /// back from the start rather than skipped, or that admission would be missed and the
    /// same message admitted twice.
    fn compact(&self, s: &mut State, now: u64) -> std::io::Result<()> {
        s.cache.evict_expired(self.clock.bounded(now));
        fsutil::replace(&self.path, s.cache.to_text().as_bytes(), 0o600)?;
        #[cfg(test)]
        tests::after_rename(&self.path);
        let file = open(&self.path)?;
        file.lock()?;
        let _ = s.file.unlock();
        s.inode = inode_of(&file)?;
        s.offset = 0;
        s.lines = 0;
        s.compacted = s.cache.len();
        s.file = file;
        Ok(())
    }

    /// Compacts past twice the entries of the last compaction plus 1,024 lines, and reads
    /// the new file back. Called with the file locked.
    fn maybe_compact(&self, s: &mut State, now: u64) -> std::io::Result<()> {
        if s.lines > 2 * s.compacted + 1024 {
            self.compact(s, now)?;
            self.catch_up(s, now)?;
        }
        Ok(())
    }
}

impl ReplayStore for FileStore {
    fn admit(
        &self,
        key: [u8; 32],
        expires: u64,
        now: u64,
        redelivered: bool,
    ) -> Result<Admission, ReplayError> {
        let r = self.locked(now, |store, s| {
            let answer = s.cache.admit(key, expires, now, redelivered);
            if answer == Ok(Admission::New) {
                if let Err(e) = store.append(s, &line(&key, expires, false), 1) {
                    // Not recorded: not admitted either.
                    s.cache.evict_key(&key);
                    return Err(e);
                }
                store.maybe_compact(s, now)?;
            }
            Ok(answer)
        });
        // An I/O error fails closed, and is not the message's fault: the receiver
        // requeues. The error is kept for logs ([`FileStore::last_error`]).
        r.unwrap_or(Err(ReplayError::Unavailable))
    }

    /// One lock, one look at the file and one append for the whole batch.
    fn admit_all(
        &self,
        requests: &[([u8; 32], u64, bool)],
        now: u64,
    ) -> Vec<Result<Admission, ReplayError>> {
        let r = self.locked(now, |store, s| {
            let mut answers = Vec::with_capacity(requests.len());
            let mut text = String::new();
            let mut recorded = Vec::new();
            for &(key, expires, redelivered) in requests {
                let answer = s.cache.admit(key, expires, now, redelivered);
                if answer == Ok(Admission::New) {
                    text.push_str(&line(&key, expires, false));
                    recorded.push(key);
                }
                answers.push(answer);
            }
            if !recorded.is_empty() {
                if let Err(e) = store.append(s, &text, recorded.len()) {
                    // Not recorded: not admitted either.
                    for key in &recorded {
                        s.cache.evict_key(key);
                    }
                    return Err(e);
                }
                store.maybe_compact(s, now)?;
            }
            Ok(answers)
        });
        r.unwrap_or_else(|_| {
            requests
                .iter()
                .map(|_| Err(ReplayError::Unavailable))
                .collect()
        })
    }

    /// One lock, one look at the file and one append for every key.
    fn settle_all(&self, keys: &[[u8; 32]], now: u64) -> Result<(), ReplayError> {
        self.locked(now, |store, s| {
            let mut text = String::new();
            let mut count = 0;
            for key in keys {
                if let Some(expires) = s.cache.expiry(key)
                    && !s.cache.is_settled(key, now)
                {
                    s.cache.settle(key);
                    text.push_str(&line(key, expires, true));
                    count += 1;
                }
            }
            if count > 0 {
                store.append(s, &text, count)?;
                store.maybe_compact(s, now)?;
            }
            Ok(())
        })
        .map_err(|_| ReplayError::Unavailable)
    }

    fn settle(&self, key: [u8; 32], now: u64) -> Result<(), ReplayError> {
        self.locked(now, |store, s| {
            if let Some(expires) = s.cache.expiry(&key)
                && !s.cache.is_settled(&key, now)
            {
                s.cache.settle(&key);
                store.append(s, &line(&key, expires, true), 1)?;
                store.maybe_compact(s, now)?;
            }
            Ok(())
        })
        .map_err(|_| ReplayError::Unavailable)
    }

    fn describe(&self) -> String {
        format!("file {}", self.path.display())
    }
}

/// Opens the journal for reading and appending: created 0600 if absent, never through a
/// symbolic link, and only a regular file.
fn open(path: &Path) -> std::io::Result<File> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
        .open(path)?;
    if !file.metadata()?.is_file() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a regular file",
        ));
    }
    Ok(file)
}

fn inode_of(f: &File) -> std::io::Result<(u64, u64)> {
    let m = f.metadata()?;
    Ok((m.dev(), m.ino()))
}

#[cfg(test)]
mod tests {
    use super::*;

    // Later than any clock: no entry expires under these tests.
    const FAR: u64 = u64::MAX - 1;

    /// What "another process" does to the journal at a path.
    type Intrusion = Box<dyn FnOnce(&Path)>;

    thread_local! {
        /// What "another process" does on this thread between a compaction's rename and
        /// this process's lock of the new file.
        static AFTER_RENAME: std::cell::RefCell<Option<Intrusion>> =
            const { std::cell::RefCell::new(None) };
    }

    pub(super) fn after_rename(path: &Path) {
        if let Some(f) = AFTER_RENAME.with(|h| h.borrow_mut().take()) {
            f(path);
        }
    }

    #[test]
    fn an_admission_appended_between_a_compaction_s_rename_and_its_lock_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("seen");
        // The journal does not exist yet: opening it compacts (writes the header).
        // Another process opens the new file in that moment, locks it before us and
        // admits key 9 (its line appended after our header).
        AFTER_RENAME.with(|h| {
            *h.borrow_mut() = Some(Box::new(|path: &Path| {
                let mut f = OpenOptions::new().append(true).open(path).unwrap();
                f.write_all(line(&key(9), FAR, false).as_bytes()).unwrap();
            }));
        });
        let a = FileStore::open(&path).unwrap();
        assert_eq!(a.admit(key(9), FAR, 10, false), Err(ReplayError::Replayed));
        // The twin: a key nobody admitted is new, once.
        assert_eq!(a.admit(key(8), FAR, 10, false), Ok(Admission::New));
        assert_eq!(a.admit(key(8), FAR, 10, false), Err(ReplayError::Replayed));
        // The same in a compaction an admission makes (past 1,024 lines).
        AFTER_RENAME.with(|h| {
            *h.borrow_mut() = Some(Box::new(|path: &Path| {
                let mut f = OpenOptions::new().append(true).open(path).unwrap();
                f.write_all(line(&key(7), FAR, false).as_bytes()).unwrap();
            }));
        });
        let mut last = 100;
        while AFTER_RENAME.with(|h| h.borrow().is_some()) {
            assert!(last < 3000, "no compaction");
            assert_eq!(a.admit(key(last), FAR, 10, false), Ok(Admission::New));
            last += 1;
        }
        assert_eq!(a.admit(key(7), FAR, 10, false), Err(ReplayError::Replayed));
        // And a newcomer sees everything, once each.
        let b = FileStore::open(&path).unwrap();
        for k in [9, 8, 7, 100, last - 1] {
            assert_eq!(
                b.admit(key(k), FAR, 11, false),
                Err(ReplayError::Replayed),
                "{k}"
            );
        }
    }

    fn key(i: u64) -> [u8; 32] {
        let mut k = [0u8; 32];
        k[..8].copy_from_slice(&i.to_be_bytes());
        k
    }

    #[test]
    fn two_stores_on_one_file_admit_once_and_share_settlement() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("seen");
        let a = FileStore::open(&path).unwrap();
        let b = FileStore::open(&path).unwrap();
        assert_eq!(a.admit(key(1), FAR, 10, false), Ok(Admission::New));
        assert_eq!(b.admit(key(1), FAR, 10, false), Err(ReplayError::Replayed));
        // b is the broker's redelivery target after a died before acknowledging.
        assert_eq!(b.admit(key(1), FAR, 10, true), Ok(Admission::Duplicate));
        b.settle(key(1), 10).unwrap();
        assert_eq!(a.admit(key(1), FAR, 11, true), Err(ReplayError::Replayed));
        // A third process starting later reads both the admission and the settlement.
        let c = FileStore::open(&path).unwrap();
        assert_eq!(c.admit(key(1), FAR, 20, true), Err(ReplayError::Replayed));
        assert!(
            std::fs::metadata(&path).unwrap().mode() & 0o777 == 0o600,
            "created 0600"
        );
    }

    #[test]
    fn compaction_keeps_every_process_s_live_entries() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("seen");
        let a = FileStore::open(&path).unwrap();
        let b = FileStore::open(&path).unwrap();
        // Entries expire as time moves on; compaction runs past 1,024 extra lines.
        for i in 0..3000u64 {
            let store = if i % 2 == 0 { &a } else { &b };
            assert_eq!(
                store.admit(key(i), i + 5, i, false),
                Ok(Admission::New),
                "{i}"
            );
        }
        // The last ones, written by both, are known to both.
        for i in 2996..3000u64 {
            assert_eq!(
                a.admit(key(i), i + 5, 2999, false),
                Err(ReplayError::Replayed)
            );
            assert_eq!(
                b.admit(key(i), i + 5, 2999, false),
                Err(ReplayError::Replayed)
            );
        }
        let lines = std::fs::read_to_string(&path).unwrap().lines().count();
        assert!(lines < 2100, "compacted: {lines} lines");
    }

    #[test]
    fn a_torn_line_is_passed_over_and_never_merged_with_the_next() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("seen");
        let a = FileStore::open(&path).unwrap();
        a.admit(key(1), FAR, 1, false).unwrap();
        // A crash (or a full disk) left half a line.
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(&line(&key(2), FAR, false).as_bytes()[..30])
            .unwrap();
        drop(f);
        let b = FileStore::open(&path).unwrap();
        assert_eq!(b.admit(key(3), FAR, 2, false), Ok(Admission::New));
        // Key 3 is whole and readable by a newcomer; the torn key 2 was never admitted.
        let c = FileStore::open(&path).unwrap();
        assert_eq!(c.admit(key(3), FAR, 3, false), Err(ReplayError::Replayed));
        assert_eq!(c.admit(key(1), FAR, 3, false), Err(ReplayError::Replayed));
        assert_eq!(c.admit(key(2), FAR, 3, false), Ok(Admission::New));
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.lines()
                .all(|l| l == HEADER || l.len() == 30 || parse_line(l).is_some()),
            "{text}"
        );
    }

    #[test]
    fn truncation_in_place_does_not_wipe_the_memory_of_every_process() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("seen");
        let a = FileStore::open(&path).unwrap();
        let b = FileStore::open(&path).unwrap();
        a.admit(key(1), FAR, 1, false).unwrap();
        b.admit(key(2), FAR, 1, false).unwrap();
        // logrotate's copytruncate.
        OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(0)
            .unwrap();
        // Each still refuses what it admitted, and writes it back to the journal.
        assert_eq!(a.admit(key(1), FAR, 2, false), Err(ReplayError::Replayed));
        assert_eq!(b.admit(key(2), FAR, 2, false), Err(ReplayError::Replayed));
        // A process starting now learns both from what they wrote back.
        let c = FileStore::open(&path).unwrap();
        assert_eq!(c.admit(key(1), FAR, 3, false), Err(ReplayError::Replayed));
        assert_eq!(c.admit(key(2), FAR, 3, false), Err(ReplayError::Replayed));
    }

    #[test]
    fn symbolic_links_and_foreign_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target");
        std::fs::write(&target, "precious\n").unwrap();
        let link = dir.path().join("seen");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert!(FileStore::open(&link).is_err());
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "precious\n");
        assert!(FileStore::open(&target).is_err(), "not a journal");
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "precious\n");
        assert!(FileStore::open(dir.path()).is_err(), "a directory");
    }

    #[test]
    fn a_forward_clock_step_does_not_evict_live_entries() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("seen");
        let a = FileStore::open(&path).unwrap();
        let t = waxseal_trust::time::now();
        a.admit(key(1), t + 600, t, false).unwrap();
        // The clock jumps a day ahead while the journal compacts (many lines).
        for i in 10..1100u64 {
            a.admit(key(i), t + 86_400 + 600, t + 86_400, false)
                .unwrap();
        }
        // ... and comes back: the first message is still remembered.
        assert_eq!(
            a.admit(key(1), t + 600, t + 1, false),
            Err(ReplayError::Replayed)
        );
    }

    #[test]
    fn an_unwritable_journal_is_unavailable_not_a_refusal() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("seen");
        let a = FileStore::open(&path).unwrap();
        // Replace the journal by a directory: reopening after the inode change fails.
        std::fs::remove_file(&path).unwrap();
        std::fs::create_dir(&path).unwrap();
        assert_eq!(
            a.admit(key(1), FAR, 1, false),
            Err(ReplayError::Unavailable)
        );
        assert!(a.last_error().is_some());
        // Back to a file: the store works again.
        std::fs::remove_dir(&path).unwrap();
        assert_eq!(a.admit(key(1), FAR, 2, false), Ok(Admission::New));
    }

    #[test]
    fn a_batch_is_decided_and_recorded_as_one_by_one() {
        let dir = tempfile::tempdir().unwrap();
        // The same history through batches and one request at a time, each in its journal.
        let batched = FileStore::open(&dir.path().join("batched")).unwrap();
        let single = FileStore::open(&dir.path().join("single")).unwrap();
        for s in [&batched, &single] {
            assert_eq!(s.admit(key(1), FAR, 10, false), Ok(Admission::New));
            s.admit(key(2), FAR, 10, false).unwrap();
            s.settle(key(2), 10).unwrap();
            // Expires at 15: gone by 20.
            s.admit(key(3), 15, 10, false).unwrap();
        }
        let requests = [
            (key(4), FAR, false), // new
            (key(1), FAR, true),  // redelivered, admitted, not settled: duplicate
            (key(1), FAR, false), // a new copy of an admitted message: replayed
            (key(2), FAR, true),  // redelivered after settling: replayed
            (key(3), FAR, false), // expired: new again
            (key(5), FAR, false), // new, then the same key again in the batch
            (key(5), FAR, false),
        ];
        let together = batched.admit_all(&requests, 20);
        let one_by_one: Vec<_> = requests
            .iter()
            .map(|&(k, e, r)| single.admit(k, e, 20, r))
            .collect();
        assert_eq!(together, one_by_one);
        use Admission::*;
        use ReplayError::Replayed;
        assert_eq!(
            together,
            vec![
                Ok(New),
                Ok(Duplicate),
                Err(Replayed),
                Err(Replayed),
                Ok(New),
                Ok(New),
                Err(Replayed)
            ]
        );
        // Settled together; another process on the batched journal reads it all.
        batched.settle_all(&[key(4), key(5), key(4)], 21).unwrap();
        let other = FileStore::open(&dir.path().join("batched")).unwrap();
        for (k, answer) in [
            (key(4), Err(Replayed)),
            (key(5), Err(Replayed)),
            // Admitted again once expired, and not settled since.
            (key(3), Ok(Duplicate)),
            (key(1), Ok(Duplicate)),
        ] {
            assert_eq!(other.admit(k, FAR, 22, true), answer, "{:?}", k[7]);
        }
    }

    #[test]
    fn a_batch_the_journal_cannot_record_is_unavailable_and_admits_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("seen");
        let a = FileStore::open(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        std::fs::create_dir(&path).unwrap();
        let requests = [(key(1), FAR, false), (key(2), FAR, false)];
        assert_eq!(
            a.admit_all(&requests, 1),
            vec![Err(ReplayError::Unavailable); 2]
        );
        assert_eq!(a.settle_all(&[key(1)], 1), Err(ReplayError::Unavailable));
        std::fs::remove_dir(&path).unwrap();
        // Nothing was admitted: both are new once the journal is back.
        assert_eq!(
            a.admit_all(&requests, 2),
            vec![Ok(Admission::New), Ok(Admission::New)]
        );
    }
}
