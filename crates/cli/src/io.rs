//! Reading inputs and writing outputs: stdin/stdout by default, size-bounded reads,
//! writes that never replace an existing file without `--force` and never replace anything
//! that is not a regular file (see `waxseal_pki::fsutil`).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use waxseal_pki::fsutil::{self, WriteError, WriteOptions};
use waxseal_trust::display::escape;

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

/// An input opened for streaming: standard input or a file, and the file's size when it
/// is a regular file (known in advance).
pub struct Input {
    /// The reader (buffered).
    pub reader: std::io::BufReader<Box<dyn Read>>,
    /// The open regular file, for readers that need to seek (signing with definite
    /// lengths reads it twice).
    pub file: Option<std::fs::File>,
    /// The name for messages.
    pub name: PathBuf,
}

/// Opens `path`, or standard input for `None` or `-`, for streaming (no size limit).
pub fn open_input(path: Option<&Path>) -> Result<Input, CliError> {
    match path.filter(|p| p.as_os_str() != "-") {
        Some(p) => {
            let f = std::fs::File::open(p).map_err(|e| CliError::io(p, e))?;
            let meta = f.metadata().map_err(|e| CliError::io(p, e))?;
            if meta.is_dir() {
                return Err(CliError::usage(format!(
                    "{} is a directory",
                    escape(&p.display().to_string())
                )));
            }
            let file = if meta.is_file() {
                Some(f.try_clone().map_err(|e| CliError::io(p, e))?)
            } else {
                None
            };
            Ok(Input {
                reader: std::io::BufReader::with_capacity(1 << 20, Box::new(f)),
                file,
                name: p.to_path_buf(),
            })
        }
        None => Ok(Input {
            reader: std::io::BufReader::with_capacity(1 << 20, Box::new(std::io::stdin())),
            file: None,
            name: PathBuf::from("<stdin>"),
        }),
    }
}

impl Input {
    /// The start of the input (what one read gave, up to 1 MiB), without consuming it.
    pub fn peek(&mut self) -> Result<&[u8], CliError> {
        use std::io::BufRead;
        self.reader
            .fill_buf()
            .map_err(|e| CliError::io(&self.name, e))
    }

    /// The rest of the input in memory, under [`MAX_INPUT`] (for what is not streamed).
    pub fn read_all(self) -> Result<Vec<u8>, CliError> {
        let mut buf = Vec::new();
        self.reader
            .take(MAX_INPUT + 1)
            .read_to_end(&mut buf)
            .map_err(|e| CliError::io(&self.name, e))?;
        if buf.len() as u64 > MAX_INPUT {
            return Err(CliError::usage(format!(
                "input {} is larger than {MAX_INPUT} bytes",
                escape(&self.name.display().to_string())
            )));
        }
        Ok(buf)
    }
}

/// `--out` and its options for the commands that write verified content (`verify`,
/// `slip verify`): nothing is written unless verification succeeds.
#[derive(clap::Args)]
pub struct VerifiedOut {
    /// Write the verified content here (only when verification succeeds).
    #[arg(long = "out", value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Overwrite --out if it exists (a regular file only).
    #[arg(long)]
    pub force: bool,
    /// Write where a symbolic --out points (refused without this).
    #[arg(long)]
    pub follow_symlinks: bool,
}

impl VerifiedOut {
    /// The output these options name, checked before any input is read.
    pub fn prepare(&self) -> Result<Output, CliError> {
        Output::prepare_with(self.output.as_deref(), self.force, self.follow_symlinks)
    }
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
            in_place: true,
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

impl Output {
    /// Writes what `fill` produces, as it produces it, without holding it in memory. A
    /// file gets it through a temporary file beside it, renamed into place only if `fill`
    /// succeeds (removed otherwise); a device or FIFO, and standard output when `spool`,
    /// only after `fill` succeeded (collected in an anonymous temporary file first).
    /// `fill`'s own failure is returned as it is.
    pub fn write_with<E>(
        &self,
        spool: bool,
        mut fill: impl FnMut(&mut dyn Write) -> Result<(), E>,
    ) -> Result<Result<(), E>, CliError> {
        let mut failed = None;
        let mut run = |w: &mut dyn Write| {
            let mut w = Recording {
                inner: w,
                error: None,
            };
            match fill(&mut w) {
                Ok(()) => Ok(()),
                // A failed write is the output's failure, reported with its name.
                Err(_) if w.error.is_some() => Err(w.error.take().expect("checked")),
                Err(e) => {
                    failed = Some(e);
                    Err(std::io::Error::other("the content was not written"))
                }
            }
        };
        let written = match &self.path {
            None if spool => {
                let mut out = std::io::stdout().lock();
                spooled(&mut run, &mut out).map_err(|e| CliError::io(Path::new("<stdout>"), e))
            }
            None => {
                let mut out = std::io::BufWriter::with_capacity(1 << 20, std::io::stdout().lock());
                run(&mut out)
                    .and_then(|_| out.flush())
                    .map_err(|e| CliError::io(Path::new("<stdout>"), e))
            }
            Some(p) => {
                fsutil::write_with(p, &mut run, &self.options).map_err(|e| write_error(p, e))
            }
        };
        match (written, failed) {
            (_, Some(e)) => Ok(Err(e)),
            (Err(e), None) => Err(e),
            (Ok(()), None) => Ok(Ok(())),
        }
    }
}

/// A writer that keeps (a copy of) the first error of the writer it wraps.
struct Recording<'a> {
    inner: &'a mut dyn Write,
    error: Option<std::io::Error>,
}

impl Recording<'_> {
    fn record<T>(&mut self, r: std::io::Result<T>) -> std::io::Result<T> {
        if let Err(e) = &r
            && self.error.is_none()
        {
            self.error = Some(std::io::Error::new(e.kind(), e.to_string()));
        }
        r
    }
}

impl Write for Recording<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let r = self.inner.write(buf);
        self.record(r)
    }
    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        let r = self.inner.write_all(buf);
        self.record(r)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        let r = self.inner.flush();
        self.record(r)
    }
}

/// Runs `fill` into an anonymous temporary file and, if it succeeds, copies that to `out`.
fn spooled(
    fill: &mut dyn FnMut(&mut dyn Write) -> std::io::Result<()>,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    use std::io::{Seek, SeekFrom};
    let mut tmp = std::io::BufWriter::new(tempfile::tempfile()?);
    fill(&mut tmp)?;
    let mut tmp = tmp.into_inner().map_err(|e| e.into_error())?;
    tmp.seek(SeekFrom::Start(0))?;
    std::io::copy(&mut tmp, out)?;
    out.flush()
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
        e => CliError::usage(format!("{p}: {e}")),
    }
}
