//! # waxseal-trust
//!
//! RFC 5280 certification path validation in pure Rust: certificates, keys, CRLs, name
//! constraints and certificate policies, under a work budget. It knows nothing of CMS
//! (`waxseal-envelope` builds that on it), so a TLS or code-signing verifier can use it
//! alone (`examples/validate_chain.rs`). It passes all 203 NIST PKITS path verdicts.
//!
//! 1. Load: [`Certificate`], [`Crl`], [`PrivateKey`] and [`PublicKey`] from PEM or DER;
//!    a [`CertStore`] pools intermediate certificates, a [`CrlSet`] holds CRLs.
//! 2. Configure: [`TrustAnchors`] are the roots; [`ValidationOptions`] the time, the
//!    [`Purpose`], the [`RevocationPolicy`], the [`AlgorithmPolicy`] and the [`Budget`].
//! 3. Validate: [`validate`] builds a path from the end entity to an anchor and checks it
//!    (RFC 5280 §6.1, CRLs per §6.3); a [`PathCache`] remembers outcomes between calls.
//! 4. Report: a [`ValidatedPath`], or one [`PathError`] with a stable reason code
//!    ([`PathError::code`]).
//!
//! Every signature check, signature and digest goes through the [`provider::Provider`]
//! the options hold (RustCrypto, or graviola where the CPU runs it), which is why private
//! keys live here beside public keys ([`key`]); [`display`] escapes attacker-controlled
//! strings wherever printed.
//!
//! ```no_run
//! use waxseal_trust::{CertStore, Certificate, CrlSet, TrustAnchors, ValidationOptions};
//! # fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let root = Certificate::load_all(&std::fs::read("root.crt")?)?.remove(0);
//! let mut chain = Certificate::load_all(&std::fs::read("chain.pem")?)?;
//! let leaf = chain.remove(0);
//! let anchors = TrustAnchors::new([root])?;
//! let pool = CertStore::from_certificates(chain);
//! let options = ValidationOptions::at(1_767_225_600); // a fixed time, seconds since 1970
//! let path = waxseal_trust::validate(&leaf, &anchors, &[&pool], &CrlSet::default(), &options)?;
//! println!("{} certificates up to {}", path.certificates.len(), path.anchor().subject_display());
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod algorithm;
pub mod asn1;
pub mod cert;
pub mod crl;
pub mod display;
pub mod fsutil;
pub mod key;
mod keycache;
mod keyerror;
pub mod mldsa;
pub mod name;
pub mod oid;
pub mod path;
pub mod provider;
pub mod store;
pub mod time;

pub use algorithm::{AlgorithmError, AlgorithmPolicy, DigestAlgorithm};
pub use cert::Certificate;
pub use crl::{Crl, LazyCrl};
pub use key::{KeyAlgorithm, KeyError, KeyFileCheck, PrivateKey, PssKeyParams, PublicKey};
pub use path::{
    Budget, CacheStats, ErrorKind, Meter, PathCache, PathError, Purpose, RevocationPolicy,
    TrustAnchors, ValidatedPath, ValidationOptions, validate,
};
pub use store::{CertStore, CrlSet};
