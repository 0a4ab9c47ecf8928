//! # waxseal-trust
//!
//! RFC 5280 certification path validation, in pure Rust: certificates, CRLs and
//! revocation, name constraints, certificate policies, the certificate store and the
//! caches of long-running verifiers, under a work budget. It knows nothing of CMS: a TLS
//! or code-signing verifier can use it alone (see `examples/validate_chain.rs`), and
//! `waxseal-envelope` builds CMS SignedData verification on it. It passes all 203 NIST
//! PKITS path verdicts (`tests/pkits.rs`).
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
//!
//! ## Layout, in the order data flows through it
//!
//! 1. Parse: [`asn1`] (DER/BER helpers), [`oid`], [`name`] (distinguished names),
//!    [`time`], [`algorithm`] (signature and digest algorithms and the policy that allows
//!    them), [`key`] (public and private keys and their signatures; [`mldsa`] for
//!    ML-DSA's), [`cert`], [`crl`];
//!    [`store`] keeps a pool of certificates and a set of CRLs.
//! 2. Build a path: [`path::build`], from the end entity towards a [`TrustAnchors`] entry,
//!    under a [`Budget`] ([`path::budget`]).
//! 3. Check it: [`path::process`] (RFC 5280 §6.1), with [`path::policy`],
//!    [`path::name_constraints`] and [`path::revocation`] (§6.3).
//! 4. Report: a [`ValidatedPath`] or one [`PathError`] with a stable reason code
//!    ([`PathError::code`]); [`path::cache`] remembers outcomes for the next message.
//!
//! Every signature check, signature and SHA-2 digest goes through [`provider`], the
//! cryptography seam: RustCrypto, or graviola where the CPU runs it. [`display`] escapes
//! attacker-controlled strings wherever they are printed.
//!
//! Private keys ([`PrivateKey`], with their PKCS #8, PKCS #1 and SEC 1 files) live in
//! [`key`] beside the public keys rather than in `waxseal-envelope`: the [`provider`] seam
//! signs as well as verifies and must sit below every crate that does either, and keeping
//! both halves of a key type in one module keeps the seam in one place.
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
    Budget, ErrorKind, Meter, PathCache, PathError, Purpose, RevocationPolicy, TrustAnchors,
    ValidatedPath, ValidationOptions, validate,
};
pub use store::{CertStore, CrlSet};
