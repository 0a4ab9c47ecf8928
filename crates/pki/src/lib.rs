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
//! - [`testing`]: throwaway PKIs for tests, in memory ([`TestPki`]) or in a temporary
//!   directory ([`PkiDir::init`]).
//!
//! Private keys are created with mode 0600 and never replaced: superseded files move to
//! `archive/`. Every write is atomic (temporary file, fsync, rename, directory fsync).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod dir;
pub mod doctor;
pub mod fsutil;
pub mod hostname;
pub mod inventory;
pub mod issue;
pub mod name;
pub mod seed;
pub mod testing;

pub use dir::{Lifetimes, PkiDir, PkiError, load_signer};
pub use doctor::{Finding, doctor};
pub use issue::{CertParams, IssueError, Issuer, Revocation};
pub use name::ServiceHost;
pub use seed::Seed;
pub use testing::{Issued, TestPki};
