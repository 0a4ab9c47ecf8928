//! Crash-safe file writes: a temporary file in the target directory, written, synced,
//! then renamed into place (and the directory synced), so a crash never leaves half a key
//! or a broken CRL. Private keys are created with mode 0600, never chmod-ed afterwards.

use std::io::Write;
use std::path::Path;

/// Mode of private key files.
pub const KEY_MODE: u32 = 0o600;
/// Mode of certificates, CRLs and the inventory.
pub const PUBLIC_MODE: u32 = 0o644;

fn temp_in(dir: &Path, mode: u32) -> std::io::Result<tempfile::NamedTempFile> {
    let mut b = tempfile::Builder::new();
    b.prefix(".waxseal-tmp-");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        b.permissions(std::fs::Permissions::from_mode(mode));
    }
    #[cfg(not(unix))]
    let _ = mode;
    b.tempfile_in(dir)
}

fn parent(path: &Path) -> &Path {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// Syncs a directory so a rename in it survives a crash.
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    std::fs::File::open(dir)?.sync_all()?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

fn write_temp(path: &Path, data: &[u8], mode: u32) -> std::io::Result<tempfile::NamedTempFile> {
    let mut tmp = temp_in(parent(path), mode)?;
    tmp.write_all(data)?;
    tmp.as_file().sync_all()?;
    Ok(tmp)
}

/// Atomically replaces (or creates) `path`.
pub fn replace(path: &Path, data: &[u8], mode: u32) -> std::io::Result<()> {
    write_temp(path, data, mode)?
        .persist(path)
        .map_err(|e| e.error)?;
    sync_dir(parent(path))
}

/// Atomically creates `path`; fails with `AlreadyExists` if it exists.
pub fn create_new(path: &Path, data: &[u8], mode: u32) -> std::io::Result<()> {
    write_temp(path, data, mode)?
        .persist_noclobber(path)
        .map_err(|e| e.error)?;
    sync_dir(parent(path))
}

/// Moves `from` to `to` (same file system), creating `to`'s directory.
pub fn move_file(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(parent(to))?;
    std::fs::rename(from, to)?;
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
