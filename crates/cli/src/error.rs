//! The CLI's error: one line, and an exit status (1 rejected/invalid, 2 usage or I/O).

use std::path::Path;

/// What went wrong, and therefore the exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The input was rejected (bad signature, untrusted, revoked...): exit 1.
    Rejected,
    /// Bad arguments or unusable files: exit 2.
    Usage,
}

/// A CLI failure.
#[derive(Debug)]
pub struct CliError {
    /// The kind.
    pub kind: Kind,
    /// A stable reason code (for `--json`).
    pub code: String,
    /// One line for a person.
    pub message: String,
    /// The routing-slip hop concerned, if any.
    pub hop: Option<usize>,
    /// Whether the command already printed its `--json` report.
    pub reported: bool,
}

impl CliError {
    /// A usage error.
    pub fn usage(message: impl Into<String>) -> Self {
        Self {
            kind: Kind::Usage,
            code: "usage".into(),
            message: message.into(),
            hop: None,
            reported: false,
        }
    }

    /// An I/O error on `path`.
    pub fn io(path: &Path, e: std::io::Error) -> Self {
        Self {
            kind: Kind::Usage,
            code: "io".into(),
            message: format!("{}: {e}", path.display()),
            hop: None,
            reported: false,
        }
    }

    /// A rejection with reason `code`.
    pub fn rejected(code: &str, message: impl Into<String>) -> Self {
        Self {
            kind: Kind::Rejected,
            code: code.into(),
            message: message.into(),
            hop: None,
            reported: false,
        }
    }

    /// The process exit status.
    pub fn exit_code(&self) -> i32 {
        match self.kind {
            Kind::Rejected => 1,
            Kind::Usage => 2,
        }
    }
}

impl std::fmt::Display for CliError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}
