//! Reading inputs and writing outputs: stdin/stdout by default, size-bounded reads,
//! atomic writes that never replace an existing file without `--force`.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use crate::error::CliError;

/// Largest input accepted, in bytes (envelopes, content, certificates).
pub const MAX_INPUT: u64 = 64 << 20;

/// Reads `path`, or standard input for `None` or `-`.
pub fn read_input(path: Option<&Path>) -> Result<Vec<u8>, CliError> {
    let mut buf = Vec::new();
    match path.filter(|p| p.as_os_str() != "-") {
        Some(p) => {
            let f = std::fs::File::open(p).map_err(|e| CliError::io(p, e))?;
            f.take(MAX_INPUT + 1)
                .read_to_end(&mut buf)
                .map_err(|e| CliError::io(p, e))?;
        }
        None => {
            std::io::stdin()
                .take(MAX_INPUT + 1)
                .read_to_end(&mut buf)
                .map_err(|e| CliError::io(Path::new("<stdin>"), e))?;
        }
    }
    if buf.len() as u64 > MAX_INPUT {
        return Err(CliError::usage(format!(
            "input {} is larger than {MAX_INPUT} bytes",
            path.map(|p| p.display().to_string())
                .unwrap_or_else(|| "<stdin>".into())
        )));
    }
    Ok(buf)
}

/// Where output goes: a file (checked up front so nothing is lost) or standard output.
pub struct Output {
    path: Option<PathBuf>,
}

impl Output {
    /// Checks that `path` may be written: refuses to replace an existing file unless
    /// `force`. Call before doing the work, so a refusal costs nothing.
    pub fn prepare(path: Option<&Path>, force: bool) -> Result<Self, CliError> {
        let path = path.filter(|p| p.as_os_str() != "-").map(Path::to_path_buf);
        if let Some(p) = &path
            && p.exists()
            && !force
        {
            return Err(CliError::usage(format!(
                "{} exists; pass --force to overwrite it",
                p.display()
            )));
        }
        Ok(Self { path })
    }

    /// Writes `data`: to a temporary file in the same directory, synced, then renamed
    /// over the target, so a crash never leaves half a file.
    pub fn write(&self, data: &[u8]) -> Result<(), CliError> {
        match &self.path {
            None => {
                let mut out = std::io::stdout().lock();
                out.write_all(data)
                    .and_then(|_| out.flush())
                    .map_err(|e| CliError::io(Path::new("<stdout>"), e))
            }
            Some(p) => write_atomic(p, data),
        }
    }
}

/// Atomic replace of `path` with `data`.
pub fn write_atomic(path: &Path, data: &[u8]) -> Result<(), CliError> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| CliError::io(path, e))?;
    tmp.write_all(data).map_err(|e| CliError::io(path, e))?;
    tmp.as_file()
        .sync_all()
        .map_err(|e| CliError::io(path, e))?;
    tmp.persist(path).map_err(|e| CliError::io(path, e.error))?;
    Ok(())
}
