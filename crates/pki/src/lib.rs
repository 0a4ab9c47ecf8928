//! # waxseal-pki
//!
//! The operator's side of message signing: a root CA and a signing CA, one key pair per
//! service per host (`<service>-<fqdn>`, e.g. `bodhi-app01.example.org`), revocation and
//! CRLs, and re-issuing when a host's identity changes. The `waxseal pki` commands are a
//! thin layer over [`PkiDir`] and [`doctor()`](fn@doctor). Private keys are created with
//! mode 0600 and never replaced (superseded files move to `archive/`); every write is
//! atomic (temporary file, fsync, rename, directory fsync).
//!
//! 1. Describe: [`seed`], the subject fields shared by every certificate; [`name`], the
//!    `<service>-<fqdn>` names.
//! 2. Issue: [`dir`], the on-disk layout (see its docs) and the operations on it, with
//!    [`issue`] signing certificates and CRLs with any key type waxseal supports.
//! 3. Record: [`inventory`], `inventory.json`, the human-readable record of what was issued.
//! 4. Check: [`doctor`](mod@doctor), diagnostics with fixes.
//!
//! For tests, the `testing` feature (off by default) adds `testing::TestPki`: throwaway
//! PKIs in memory; a PKI in a temporary directory is [`PkiDir::init`].
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod dir;
pub mod doctor;
pub mod hostname;
pub mod inventory;
pub mod issue;
pub mod name;
pub mod seed;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

pub use dir::{Lifetimes, PkiDir, PkiError, load_signer};
pub use doctor::{Finding, doctor};
pub use issue::{CertParams, IssueError, Issuer, Revocation};
pub use name::ServiceHost;
pub use seed::Seed;
#[cfg(any(test, feature = "testing"))]
pub use testing::{Issued, TestPki};
/// Crash-safe, race-free file writes ([`waxseal_trust::fsutil`]), here for the PKI
/// directory and the command line's outputs.
pub use waxseal_trust::fsutil;
