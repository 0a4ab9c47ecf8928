//! Crash-safe, race-free file writes: the one implementation behind the PKI directory,
//! every `--out` of the command line, the replay journal's compaction and the cache of
//! fetched trust material. It sits here, below every crate that writes files, beside the
//! reading of key files ([`crate::key::PrivateKey::load`]).
//!
//! [`write()`] looks at what is at the target *without following a symbolic link* (through
//! a descriptor of the directory, so the check and the replace name the same thing) and:
//!
//! - nothing there: writes a temporary file in the same directory, syncs it, and renames it
//!   into place with `RENAME_NOREPLACE` (or `link`, which never replaces either), so a file
//!   created meanwhile by someone else is never replaced;
//! - a regular file: refuses ([`WriteError::Exists`]) unless [`WriteOptions::force`]; with
//!   it, replaces it atomically: the new file is *exchanged* with the old one
//!   (`RENAME_EXCHANGE`), and if what came out is not a regular file (the name was swapped
//!   in between) it is exchanged back and the write refused;
//! - a character device or a FIFO (`/dev/null`, `/dev/stdout`'s terminal, a named pipe):
//!   with [`WriteOptions::in_place`] (the command line's `--out`), writes into it in place
//!   (opened without `O_CREAT`/`O_TRUNC`, with `O_NOFOLLOW`), so it stays what it is; a
//!   block device the same way, but only with `force`; without it, refused (a data file
//!   is only ever a regular file);
//! - a directory: refused ([`WriteError::Directory`]);
//! - a symbolic link: refused ([`WriteError::Symlink`]) unless
//!   [`WriteOptions::follow_symlinks`], which writes to what the link points to under the
//!   same rules;
//! - anything else (a socket): refused.
//!
//! Errors never name the temporary file. Private keys are created with mode 0600, never
//! chmod-ed afterwards.

use std::io::Write;
use std::path::{Path, PathBuf};

/// Mode of private key files.
pub const KEY_MODE: u32 = 0o600;
/// Mode of certificates, CRLs and the inventory.
pub const PUBLIC_MODE: u32 = 0o644;
/// Mode of command-line outputs (before the umask, as for `>` in a shell).
pub const OUTPUT_MODE: u32 = 0o666;

/// How [`write()`] treats what is already at the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteOptions {
    /// Replace an existing regular file (and write into a block device).
    pub force: bool,
    /// Write to what a symbolic link points to instead of refusing it.
    pub follow_symlinks: bool,
    /// Permission bits of a newly created file (subject to the umask).
    pub mode: u32,
    /// Write into a character device or FIFO (with `force`, a block device) in place, as
    /// a shell's `>` does (the command line's `--out`). Without it only a regular file is
    /// written: created, or with `force` replaced; anything else at the name is refused.
    pub in_place: bool,
}

impl WriteOptions {
    /// Creates a regular file only: never replaces anything, never follows a link.
    pub const fn create_new(mode: u32) -> Self {
        Self {
            force: false,
            follow_symlinks: false,
            mode,
            in_place: false,
        }
    }

    /// Creates or replaces a regular file; never follows a link, never writes into
    /// anything else.
    pub const fn replace(mode: u32) -> Self {
        Self {
            force: true,
            follow_symlinks: false,
            mode,
            in_place: false,
        }
    }

    /// The same options for what a followed link names: links are not followed again.
    const fn at_link_target(&self) -> Self {
        Self {
            follow_symlinks: false,
            ..*self
        }
    }
}

/// Why [`write()`] did not write.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WriteError {
    /// A file is there and `force` was not given.
    #[error("exists")]
    Exists,
    /// The target is a directory.
    #[error("is a directory")]
    Directory,
    /// The target is a symbolic link and `follow_symlinks` was not given.
    #[error("is a symbolic link")]
    Symlink,
    /// The target is something waxseal does not write to (a socket, a block device
    /// without `force`).
    #[error("is a {0}")]
    Unsupported(&'static str),
    /// The write itself failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

impl From<WriteError> for std::io::Error {
    fn from(e: WriteError) -> Self {
        use std::io::ErrorKind;
        match e {
            WriteError::Io(e) => e,
            WriteError::Exists => Self::new(ErrorKind::AlreadyExists, "exists"),
            WriteError::Directory => Self::new(ErrorKind::IsADirectory, "is a directory"),
            other => Self::other(other.to_string()),
        }
    }
}

/// What [`check`] found at a target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// Nothing: a new file will be created.
    New,
    /// A regular file (only with `force`): it will be replaced atomically.
    Replace,
    /// A device or FIFO: it will be written in place.
    InPlace,
}

fn parent(path: &Path) -> &Path {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// The directory and the last component of `path`; a path that names a directory by its
/// form (`x/`, `..`, `/`) is [`WriteError::Directory`].
fn split(path: &Path) -> Result<(&Path, &std::ffi::OsStr), WriteError> {
    let text = path.as_os_str().to_string_lossy();
    let sep = |c: char| std::path::is_separator(c);
    if text.ends_with(sep)
        || text == "."
        || (text.ends_with('.') && text[..text.len() - 1].ends_with(sep))
    {
        return Err(WriteError::Directory);
    }
    match path.file_name() {
        Some(name) => Ok((parent(path), name)),
        None => Err(WriteError::Directory),
    }
}

/// Syncs a directory so a rename in it survives a crash (a no-op where directories
/// cannot be opened).
pub(crate) fn sync_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    std::fs::File::open(dir)?.sync_all()?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// The kinds of things a name can be, as [`write()`] cares about them.
#[cfg(unix)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Regular,
    Directory,
    Symlink,
    Stream,
    Block,
    Other,
}

#[cfg(unix)]
fn kind(mode: rustix::fs::RawMode) -> Kind {
    use rustix::fs::FileType;
    match FileType::from_raw_mode(mode) {
        FileType::RegularFile => Kind::Regular,
        FileType::Directory => Kind::Directory,
        FileType::Symlink => Kind::Symlink,
        FileType::CharacterDevice | FileType::Fifo => Kind::Stream,
        FileType::BlockDevice => Kind::Block,
        _ => Kind::Other,
    }
}

/// The refusal (or plan) for a thing of kind `k` under `opts`.
#[cfg(unix)]
fn plan(k: Kind, opts: &WriteOptions) -> Result<Target, WriteError> {
    match k {
        Kind::Regular if opts.force => Ok(Target::Replace),
        Kind::Regular => Err(WriteError::Exists),
        Kind::Directory => Err(WriteError::Directory),
        Kind::Symlink => Err(WriteError::Symlink),
        Kind::Stream if opts.in_place => Ok(Target::InPlace),
        Kind::Stream => Err(WriteError::Unsupported("device or FIFO")),
        Kind::Block if opts.force && opts.in_place => Ok(Target::InPlace),
        Kind::Block => Err(WriteError::Unsupported("block device")),
        Kind::Other => Err(WriteError::Unsupported("socket or special file")),
    }
}

/// Where a symbolic link leads, for [`WriteOptions::follow_symlinks`]: the canonical path
/// of its target, or (for a dangling link) the path it names, resolved once.
fn resolve(path: &Path) -> Result<PathBuf, WriteError> {
    match std::fs::canonicalize(path) {
        Ok(p) => Ok(p),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let target = std::fs::read_link(path)?;
            let joined = parent(path).join(target);
            let dir = std::fs::canonicalize(parent(&joined))?;
            Ok(dir.join(split(&joined)?.1))
        }
        Err(e) => Err(e.into()),
    }
}

/// Checks, without writing, whether [`write()`] would write `path` under `opts`: call it
/// before the work so a refusal costs nothing. [`write()`] checks again, race-free.
#[cfg(unix)]
pub fn check(path: &Path, opts: &WriteOptions) -> Result<Target, WriteError> {
    split(path)?;
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Target::New),
        Err(e) => Err(e.into()),
        Ok(m) => {
            use std::os::unix::fs::MetadataExt;
            match kind(m.mode() as rustix::fs::RawMode) {
                Kind::Symlink if opts.follow_symlinks => {
                    // A link to a device or FIFO (`/dev/stdout`, `/proc/self/fd/N`).
                    if let Ok(m) = std::fs::metadata(path) {
                        let k = kind(m.mode() as rustix::fs::RawMode);
                        if matches!(k, Kind::Stream | Kind::Block) {
                            return plan(k, opts);
                        }
                    }
                    let real = resolve(path)?;
                    check(&real, &opts.at_link_target())
                }
                k => plan(k, opts),
            }
        }
    }
}

/// What writes the data into a file (it may fail, and then nothing is left behind).
pub(crate) type Fill<'a> = &'a mut dyn FnMut(&mut dyn Write) -> std::io::Result<()>;

/// Writes `data` to `path` under `opts` (see the module documentation).
pub fn write(path: &Path, data: &[u8], opts: &WriteOptions) -> Result<(), WriteError> {
    write_impl(path, &mut |w| w.write_all(data), opts, false)
}

/// Writes what `fill` produces to `path` under `opts`, as [`write()`] does, without
/// holding it in memory: into a temporary file beside the target, renamed into place only
/// once `fill` has succeeded (and removed if it fails), so a failed `fill` (content that
/// did not verify) leaves nothing at `path`. A device or FIFO, which cannot be renamed
/// over, gets the data only after `fill` succeeded: it is first collected in an anonymous
/// temporary file (in the system's temporary directory).
pub fn write_with(path: &Path, fill: Fill<'_>, opts: &WriteOptions) -> Result<(), WriteError> {
    write_impl(path, fill, opts, true)
}

#[cfg(unix)]
fn write_impl(
    path: &Path,
    data: Fill<'_>,
    opts: &WriteOptions,
    spool: bool,
) -> Result<(), WriteError> {
    use rustix::fs::{AtFlags, CWD, Mode, OFlags};
    let (dir, name) = split(path)?;
    let dirfd = rustix::fs::openat(
        CWD,
        dir,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(std::io::Error::from)?;
    match rustix::fs::statat(&dirfd, name, AtFlags::SYMLINK_NOFOLLOW) {
        Err(rustix::io::Errno::NOENT) => create(&dirfd, name, data, opts.mode),
        Err(e) => Err(std::io::Error::from(e).into()),
        Ok(st) => match kind(st.st_mode) {
            Kind::Symlink if opts.follow_symlinks => {
                // A link to a device or FIFO (`/dev/stdout`, `/proc/self/fd/N`, whose
                // target may be a pipe with no path): write into what it opens.
                if let Ok(fd) = rustix::fs::open(
                    path,
                    OFlags::WRONLY | OFlags::NOCTTY | OFlags::CLOEXEC,
                    Mode::empty(),
                ) {
                    let st = rustix::fs::fstat(&fd).map_err(std::io::Error::from)?;
                    if matches!(kind(st.st_mode), Kind::Stream | Kind::Block) {
                        return write_fd(fd, data, opts, spool);
                    }
                }
                // Anything else: the same rules at the end of the link.
                let real = resolve(path)?;
                write_impl(&real, data, &opts.at_link_target(), spool)
            }
            k => match plan(k, opts)? {
                Target::Replace => replace_regular(&dirfd, name, data, opts),
                Target::InPlace => in_place(&dirfd, name, data, opts, spool),
                Target::New => unreachable!("plan never returns New"),
            },
        },
    }
}

/// Writes into an existing device or FIFO without replacing it.
#[cfg(unix)]
fn in_place(
    dirfd: &rustix::fd::OwnedFd,
    name: &std::ffi::OsStr,
    data: Fill<'_>,
    opts: &WriteOptions,
    spool: bool,
) -> Result<(), WriteError> {
    use rustix::fs::{Mode, OFlags};
    let fd = rustix::fs::openat(
        dirfd,
        name,
        OFlags::WRONLY | OFlags::NOFOLLOW | OFlags::NOCTTY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| match e {
        rustix::io::Errno::LOOP => WriteError::Symlink,
        e => WriteError::Io(e.into()),
    })?;
    write_fd(fd, data, opts, spool)
}

/// Writes into an open device or FIFO; refuses anything else.
#[cfg(unix)]
fn write_fd(
    fd: rustix::fd::OwnedFd,
    data: Fill<'_>,
    opts: &WriteOptions,
    spool: bool,
) -> Result<(), WriteError> {
    // What was opened is what is written: if the name was swapped for a regular file
    // since the check, this refuses rather than writing into it.
    let st = rustix::fs::fstat(&fd).map_err(std::io::Error::from)?;
    match plan(kind(st.st_mode), opts)? {
        Target::InPlace => {}
        _ => return Err(WriteError::Exists),
    }
    let mut f = std::fs::File::from(fd);
    if spool {
        spooled(data, &mut f)?;
    } else {
        data(&mut f)?;
    }
    f.flush()?;
    Ok(())
}

/// Runs `data` into an anonymous temporary file and, once it succeeded, copies that into
/// `out`.
fn spooled(data: Fill<'_>, out: &mut dyn Write) -> std::io::Result<()> {
    use std::io::{Seek, SeekFrom};
    let mut tmp = std::io::BufWriter::new(tempfile::tempfile()?);
    data(&mut tmp)?;
    let mut tmp = tmp.into_inner().map_err(|e| e.into_error())?;
    tmp.seek(SeekFrom::Start(0))?;
    std::io::copy(&mut tmp, out)?;
    Ok(())
}

/// A new temporary file in the directory: its name (never shown) and the open file.
#[cfg(unix)]
fn temp(
    dirfd: &rustix::fd::OwnedFd,
    mode: u32,
) -> Result<(std::ffi::OsString, std::fs::File), WriteError> {
    use rustix::fs::{Mode, OFlags};
    use std::hash::{BuildHasher, Hasher};
    for _ in 0..64 {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u32(std::process::id());
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0),
        );
        let name = std::ffi::OsString::from(format!(".waxseal-tmp-{:016x}", h.finish()));
        match rustix::fs::openat(
            dirfd,
            name.as_os_str(),
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::from_raw_mode(mode as _),
        ) {
            Ok(fd) => return Ok((name, std::fs::File::from(fd))),
            Err(rustix::io::Errno::EXIST) => continue,
            Err(e) => return Err(std::io::Error::from(e).into()),
        }
    }
    Err(std::io::Error::other("cannot create a temporary file").into())
}

/// A synced temporary file holding `data`; removed again if anything fails.
#[cfg(unix)]
fn staged(
    dirfd: &rustix::fd::OwnedFd,
    data: Fill<'_>,
    mode: u32,
) -> Result<std::ffi::OsString, WriteError> {
    let (name, f) = temp(dirfd, mode)?;
    let mut w = std::io::BufWriter::with_capacity(1 << 20, f);
    let r = data(&mut w)
        .and_then(|_| w.into_inner().map_err(|e| e.into_error()))
        .and_then(|f| f.sync_all());
    if let Err(e) = r {
        discard(dirfd, &name);
        return Err(e.into());
    }
    Ok(name)
}

#[cfg(unix)]
fn discard(dirfd: &rustix::fd::OwnedFd, name: &std::ffi::OsStr) {
    let _ = rustix::fs::unlinkat(dirfd, name, rustix::fs::AtFlags::empty());
}

#[cfg(unix)]
fn sync(dirfd: &rustix::fd::OwnedFd) -> Result<(), WriteError> {
    rustix::fs::fsync(dirfd).map_err(|e| WriteError::Io(e.into()))
}

/// Creates `name`, never replacing anything that appeared there meanwhile.
#[cfg(unix)]
fn create(
    dirfd: &rustix::fd::OwnedFd,
    name: &std::ffi::OsStr,
    data: Fill<'_>,
    mode: u32,
) -> Result<(), WriteError> {
    put_staged(dirfd, data, mode, |tmp| rename_noreplace(dirfd, tmp, name))
}

/// Stages `data` in a synced temporary file and moves it into place with `put`; then syncs
/// the directory, or, if `put` fails, removes the temporary file again.
#[cfg(unix)]
fn put_staged(
    dirfd: &rustix::fd::OwnedFd,
    data: Fill<'_>,
    mode: u32,
    put: impl FnOnce(&std::ffi::OsStr) -> Result<(), WriteError>,
) -> Result<(), WriteError> {
    let tmp = staged(dirfd, data, mode)?;
    match put(&tmp) {
        Ok(()) => sync(dirfd),
        Err(e) => {
            discard(dirfd, &tmp);
            Err(e)
        }
    }
}

#[cfg(unix)]
fn rename_noreplace(
    dirfd: &rustix::fd::OwnedFd,
    from: &std::ffi::OsStr,
    to: &std::ffi::OsStr,
) -> Result<(), WriteError> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    match rustix::fs::renameat_with(dirfd, from, dirfd, to, rustix::fs::RenameFlags::NOREPLACE) {
        Ok(()) => return Ok(()),
        Err(rustix::io::Errno::EXIST) => return Err(WriteError::Exists),
        // File systems without renameat2 flags: fall back to link, which never replaces.
        Err(rustix::io::Errno::INVAL | rustix::io::Errno::NOSYS) => {}
        Err(e) => return Err(std::io::Error::from(e).into()),
    }
    match rustix::fs::linkat(dirfd, from, dirfd, to, rustix::fs::AtFlags::empty()) {
        Ok(()) => {
            discard(dirfd, from);
            Ok(())
        }
        Err(rustix::io::Errno::EXIST) => Err(WriteError::Exists),
        Err(e) => Err(std::io::Error::from(e).into()),
    }
}

/// Replaces the regular file `name` atomically, and only a regular file.
#[cfg(unix)]
fn replace_regular(
    dirfd: &rustix::fd::OwnedFd,
    name: &std::ffi::OsStr,
    data: Fill<'_>,
    opts: &WriteOptions,
) -> Result<(), WriteError> {
    put_staged(dirfd, data, opts.mode, |tmp| {
        exchange_regular(dirfd, tmp, name, opts)
    })
}

#[cfg(unix)]
fn exchange_regular(
    dirfd: &rustix::fd::OwnedFd,
    tmp: &std::ffi::OsStr,
    name: &std::ffi::OsStr,
    opts: &WriteOptions,
) -> Result<(), WriteError> {
    use rustix::fs::AtFlags;
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        use rustix::fs::RenameFlags;
        match rustix::fs::renameat_with(dirfd, tmp, dirfd, name, RenameFlags::EXCHANGE) {
            Ok(()) => {
                // `tmp` now names what was at the target: only a regular file may go.
                let old = rustix::fs::statat(dirfd, tmp, AtFlags::SYMLINK_NOFOLLOW)
                    .map_err(std::io::Error::from)?;
                let k = kind(old.st_mode);
                if k == Kind::Regular {
                    discard(dirfd, tmp);
                    return Ok(());
                }
                // Swapped in between: put it back and refuse.
                rustix::fs::renameat_with(dirfd, tmp, dirfd, name, RenameFlags::EXCHANGE)
                    .map_err(std::io::Error::from)?;
                return Err(match plan(k, opts) {
                    Err(e) => e,
                    Ok(_) => WriteError::Exists,
                });
            }
            // The target disappeared meanwhile: create it, never replacing.
            Err(rustix::io::Errno::NOENT) => return rename_noreplace(dirfd, tmp, name),
            Err(rustix::io::Errno::INVAL | rustix::io::Errno::NOSYS) => {}
            Err(e) => return Err(std::io::Error::from(e).into()),
        }
    }
    // No RENAME_EXCHANGE on this file system: check again right before the rename.
    let st =
        rustix::fs::statat(dirfd, name, AtFlags::SYMLINK_NOFOLLOW).map_err(std::io::Error::from)?;
    if plan(kind(st.st_mode), opts)? != Target::Replace {
        return Err(WriteError::Exists);
    }
    rustix::fs::renameat(dirfd, tmp, dirfd, name).map_err(std::io::Error::from)?;
    Ok(())
}

/// [`check`] without the Unix file types: nothing, a regular file (with `force`), a
/// directory, a link; anything else is refused.
#[cfg(not(unix))]
pub fn check(path: &Path, opts: &WriteOptions) -> Result<Target, WriteError> {
    split(path)?;
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Target::New),
        Err(e) => Err(e.into()),
        Ok(m) if m.file_type().is_symlink() => {
            if !opts.follow_symlinks {
                return Err(WriteError::Symlink);
            }
            let real = resolve(path)?;
            check(&real, &opts.at_link_target())
        }
        Ok(m) if m.is_dir() => Err(WriteError::Directory),
        Ok(m) if m.is_file() && opts.force => Ok(Target::Replace),
        Ok(m) if m.is_file() => Err(WriteError::Exists),
        Ok(_) => Err(WriteError::Unsupported("special file")),
    }
}

/// [`write()`] without the Unix file types: a temporary file in the same directory,
/// synced, then persisted without replacing (new) or over the regular file (`force`).
#[cfg(not(unix))]
fn write_impl(
    path: &Path,
    data: Fill<'_>,
    opts: &WriteOptions,
    _spool: bool,
) -> Result<(), WriteError> {
    let target = match check(path, opts)? {
        Target::Replace
            if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) =>
        {
            resolve(path)?
        }
        _ => path.to_path_buf(),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".waxseal-tmp-")
        .tempfile_in(parent(&target))?;
    data(&mut std::io::BufWriter::new(tmp.as_file_mut()))?;
    tmp.as_file().sync_all()?;
    let persisted = if opts.force {
        tmp.persist(&target).map(|_| ())
    } else {
        tmp.persist_noclobber(&target).map(|_| ())
    };
    persisted.map_err(|e| match e.error.kind() {
        std::io::ErrorKind::AlreadyExists => WriteError::Exists,
        _ => WriteError::Io(e.error),
    })
}

/// Atomically creates or replaces the regular file `path` (never a link, a device or a
/// directory).
pub fn replace(path: &Path, data: &[u8], mode: u32) -> std::io::Result<()> {
    Ok(write(path, data, &WriteOptions::replace(mode))?)
}

/// Atomically creates `path`; fails with `AlreadyExists` if anything is there.
pub fn create_new(path: &Path, data: &[u8], mode: u32) -> std::io::Result<()> {
    write(path, data, &WriteOptions::create_new(mode)).map_err(|e| match e {
        // A link, a directory or a device is in the way: as "exists" to the caller.
        WriteError::Symlink | WriteError::Directory | WriteError::Unsupported(_) => {
            std::io::Error::new(std::io::ErrorKind::AlreadyExists, e.to_string())
        }
        e => e.into(),
    })
}

/// Moves `from` to `to` (same file system), creating `to`'s directory; never replaces
/// anything at `to`.
pub fn move_file(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(parent(to))?;
    let exists = || {
        std::io::Error::new(
            std::io::ErrorKind::AlreadyExists,
            format!("{} exists", to.display()),
        )
    };
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        use rustix::fs::{CWD, RenameFlags};
        match rustix::fs::renameat_with(CWD, from, CWD, to, RenameFlags::NOREPLACE) {
            Ok(()) => {}
            Err(rustix::io::Errno::EXIST) => return Err(exists()),
            Err(rustix::io::Errno::INVAL | rustix::io::Errno::NOSYS) => {
                if std::fs::symlink_metadata(to).is_ok() {
                    return Err(exists());
                }
                std::fs::rename(from, to)?;
            }
            Err(e) => return Err(e.into()),
        }
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        if std::fs::symlink_metadata(to).is_ok() {
            return Err(exists());
        }
        std::fs::rename(from, to)?;
    }
    sync_dir(parent(to))?;
    sync_dir(parent(from))
}

/// The permission bits of `path` (Unix), or `None`.
pub fn mode(path: &Path) -> Option<u32> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path)
            .ok()
            .map(|m| m.permissions().mode() & 0o7777)
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    fn opts(force: bool, follow: bool) -> WriteOptions {
        WriteOptions {
            force,
            follow_symlinks: follow,
            mode: 0o644,
            in_place: true,
        }
    }

    #[test]
    fn new_files_are_created_and_existing_ones_need_force() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("out");
        write(&p, b"one", &opts(false, false)).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"one");
        assert!(matches!(
            write(&p, b"two", &opts(false, false)),
            Err(WriteError::Exists)
        ));
        assert_eq!(std::fs::read(&p).unwrap(), b"one");
        write(&p, b"two", &opts(true, false)).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        // No temporary file is left behind.
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 1);
    }

    #[test]
    fn directories_and_links_are_refused_devices_written_in_place() {
        let d = tempfile::tempdir().unwrap();
        let sub = d.path().join("sub");
        std::fs::create_dir(&sub).unwrap();
        assert!(matches!(
            write(&sub, b"x", &opts(true, true)),
            Err(WriteError::Directory)
        ));
        assert!(matches!(
            check(&sub, &opts(true, true)),
            Err(WriteError::Directory)
        ));
        let target = d.path().join("target");
        std::fs::write(&target, b"old").unwrap();
        let link = d.path().join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert!(matches!(
            write(&link, b"new", &opts(true, false)),
            Err(WriteError::Symlink)
        ));
        assert_eq!(std::fs::read(&target).unwrap(), b"old");
        // Asked for: the link stays a link, its target is replaced.
        write(&link, b"new", &opts(true, true)).unwrap();
        assert!(
            std::fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(std::fs::read(&target).unwrap(), b"new");
        // /dev/null stays a character device.
        write(Path::new("/dev/null"), b"x", &opts(true, false)).unwrap();
        write(Path::new("/dev/null"), b"x", &opts(false, false)).unwrap();
        use std::os::unix::fs::FileTypeExt;
        assert!(
            std::fs::metadata("/dev/null")
                .unwrap()
                .file_type()
                .is_char_device()
        );
    }

    #[test]
    fn move_file_never_replaces() {
        let d = tempfile::tempdir().unwrap();
        let (a, b) = (d.path().join("a"), d.path().join("sub/b"));
        std::fs::write(&a, b"a").unwrap();
        move_file(&a, &b).unwrap();
        assert_eq!(std::fs::read(&b).unwrap(), b"a");
        std::fs::write(&a, b"a2").unwrap();
        let e = move_file(&a, &b).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read(&b).unwrap(), b"a");
        assert!(a.exists());
    }

    #[test]
    fn create_new_never_replaces() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("key");
        create_new(&p, b"k1", KEY_MODE).unwrap();
        assert_eq!(mode(&p), Some(0o600));
        let e = create_new(&p, b"k2", KEY_MODE).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read(&p).unwrap(), b"k1");
    }
}
