//! # waxseal-pki
//!
//! The operator's side of message signing: a root CA and a signing CA, one key pair per
//! service per host (`<service>-<fqdn>`, e.g. `bodhi-app01.example.org`), revocation and
//! CRLs, and re-issuing when a host's identity changes. The `waxseal pki` commands are a
//! thin layer over [`PkiDir`] and [`doctor()`](fn@doctor).
//!
//! - [`dir`]: the on-disk layout (see its docs) and the operations on it;
//! - [`inventory`]: `inventory.json`, the human-readable record of what was issued;
//! - [`seed`]: subject fields shared by every certificate;
//! - [`name`]: `<service>-<fqdn>` names;
//! - [`issue`]: certificates and CRLs signed with any key type waxseal supports;
//! - [`doctor`](mod@doctor): diagnostics with fixes;
//! - `testing` (feature `testing`, off by default): throwaway PKIs for tests, in memory
//!   (`TestPki`); a PKI in a temporary directory is [`PkiDir::init`].
//!
//! ## The `testing` feature
//!
//! `testing::TestPki` makes a root, a signing CA, leaves, and CRLs with the clock of the
//! moment, so no test fixture ever expires. It is not part of the API: it exists only
//! with the `testing` feature, which crates turn on in their `[dev-dependencies]`
//! (`waxseal-pki = { workspace = true, features = ["testing"] }`), so the `waxseal`
//! command and every library a user builds leave it out (`cargo tree -p waxseal-cli -e
//! features -i waxseal-pki` lists no `testing`). A feature rather than a dev-only crate:
//! the helpers are built from this crate's issuing code, this crate's own unit tests use
//! them without a dependency cycle, and every test keeps its `waxseal_pki::TestPki` path.
//!
//! Private keys are created with mode 0600 and never replaced: superseded files move to
//! `archive/`. Every write is atomic (temporary file, fsync, rename, directory fsync).
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
