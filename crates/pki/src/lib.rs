//! # waxseal-pki
//!
//! The operator's side of message signing: CAs, one key pair per service-host,
//! revocation and CRLs.
//!
//! - [`issue`]: certificates and CRLs signed with any key type waxseal supports.
//! - [`testing`]: throwaway PKIs (root, signing CA, leaves, CRLs) for tests.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod issue;
pub mod testing;

pub use issue::{CertParams, IssueError, Issuer, Revocation};
pub use testing::{Issued, TestPki};
