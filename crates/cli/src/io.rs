//! Reading inputs and writing outputs: stdin/stdout by default, size-bounded reads,
//! writes that never replace an existing file without `--force` and never replace anything
//! that is not a regular file (see `waxseal_pki::fsutil`).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use waxseal_envelope::display::escape;
use waxseal_pki::fsutil::{self, WriteError, WriteOptions};

use crate::InOut;
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
    options: WriteOptions,
}

impl Output {
    /// [`Output::prepare_with`] for the `--out`, `--force` and `--follow-symlinks` of
    /// [`InOut`].
    pub fn prepare_io(io: &InOut) -> Result<Self, CliError> {
        Self::prepare_with(io.output.as_deref(), io.force, io.follow_symlinks)
    }

    /// Checks that `path` may be written: refuses to replace an existing file unless
    /// `force`, refuses directories, and symbolic links unless `follow_symlinks`. Call
    /// before doing the work, so a refusal costs nothing; the write checks again.
    pub fn prepare_with(
        path: Option<&Path>,
        force: bool,
        follow_symlinks: bool,
    ) -> Result<Self, CliError> {
        let path = path.filter(|p| p.as_os_str() != "-").map(Path::to_path_buf);
        let options = WriteOptions {
            force,
            follow_symlinks,
            mode: fsutil::OUTPUT_MODE,
        };
        if let Some(p) = &path {
            fsutil::check(p, &options).map_err(|e| write_error(p, e))?;
        }
        Ok(Self { path, options })
    }

    /// Writes `data`: a new or replaced regular file atomically (temporary file in the same
    /// directory, synced, renamed), a device or FIFO in place; see [`fsutil::write()`].
    pub fn write(&self, data: &[u8]) -> Result<(), CliError> {
        match &self.path {
            None => {
                let mut out = std::io::stdout().lock();
                out.write_all(data)
                    .and_then(|_| out.flush())
                    .map_err(|e| CliError::io(Path::new("<stdout>"), e))
            }
            Some(p) => fsutil::write(p, data, &self.options).map_err(|e| write_error(p, e)),
        }
    }
}

/// One line for a refused or failed write (exit 2); never names a temporary file.
fn write_error(path: &Path, e: WriteError) -> CliError {
    let p = escape(&path.display().to_string()).into_owned();
    match e {
        WriteError::Exists => CliError::usage(format!("{p} exists; pass --force to overwrite it")),
        WriteError::Directory => CliError::usage(format!("{p} is a directory")),
        WriteError::Symlink => CliError::usage(format!(
            "{p} is a symbolic link; pass --follow-symlinks to write where it points"
        )),
        WriteError::Unsupported(what) => CliError::usage(format!("{p} is a {what}: not written")),
        WriteError::Io(e) => CliError::io(path, e),
    }
}
