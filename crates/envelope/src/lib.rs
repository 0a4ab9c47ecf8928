//! # waxseal-envelope
//!
//! Build and verify CMS SignedData envelopes (RFC 5652), attached or detached, with
//! RFC 5280 path validation and CRL checking, in pure Rust (no OpenSSL, ring or aws-lc).
//!
//! ```no_run
//! use waxseal_envelope::*;
//! # fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let cert = Certificate::load_all(&std::fs::read("signer.crt")?)?.remove(0);
//! let key = PrivateKey::load("signer.key".as_ref(), KeyFileCheck::OwnerOnly)?;
//! let signer = Signer::new(cert, key)?;
//! let envelope = EnvelopeBuilder::new(b"{\"topic\": \"x\"}").add_signer(&signer).build()?;
//!
//! let root = Certificate::load_all(&std::fs::read("root.crt")?)?.remove(0);
//! let verifier = Verifier::new(TrustAnchors::new([root])?);
//! let verified = verifier.verify_bytes(&envelope.to_der(), None)?;
//! assert_eq!(verified.content(), b"{\"topic\": \"x\"}");
//! # Ok(()) }
//! ```
//!
//! ## Secure by default
//!
//! - A [`Verifier`] needs [`TrustAnchors`]; checking signatures without a trust anchor is
//!   [`Verifier::signature_only_unauthenticated`], asked for by name.
//! - SHA-1 and MD5 are refused unless [`AlgorithmPolicy`] allows them by name; the digest
//!   must agree with the signature algorithm and the signature algorithm with the key.
//! - A signer's certificate must be allowed to sign: keyUsage digitalSignature or
//!   nonRepudiation, and an extendedKeyUsage listing an accepted purpose
//!   ([`Verifier::with_accepted_purposes`]; default emailProtection, anyExtendedKeyUsage
//!   and [`oid::WAXSEAL_KP_BUS_SIGNING`]).
//! - RSASSA-PSS keys (id-RSASSA-PSS) sign and are verified only within their parameters.
//! - An S/MIME `multipart/signed` verifies its first part with a detached signature, and
//!   nothing else.
//! - An [`Envelope`] does not expose its content: only a [`Verified`] does.
//! - Parsing is bounded ([`rfc5652::Limits`]) and linear in the input, verification is
//!   budgeted per envelope ([`Budget`]: signer candidates, signature checks, path
//!   building, CRLs, key sizes) and no input makes the library panic.
//!
//! ## Layout, in the order data flows through it
//!
//! 1. Parse: [`format`](mod@format) reads PEM, base64 and S/MIME; [`rfc5652`] the
//!    SignedData types (BER normalised first by [`asn1`]).
//! 2. Sign: [`envelope`]'s [`EnvelopeBuilder`] makes an [`Envelope`] from content and the
//!    [`Signer`]s of [`sign`].
//! 3. Verify: [`verify`] checks each signer's signature and validates its certificate with
//!    [`trust`] (RFC 5280 path validation, CRLs, the certificate [`store`]).
//! 4. Report: a [`Verified`] (the content, the signers and their paths) or a
//!    [`VerifyError`] with a stable reason code; [`inspect`] describes an envelope without
//!    verifying it.
//!
//! [`stream`] does the same for content of any size, read once: signing from a `Read`,
//! verifying as the content passes.
//!
//! Certificates, keys, algorithms, CRLs and path validation come from `waxseal-trust`,
//! which knows nothing of CMS; its modules are re-exported here ([`cert`], [`key`],
//! [`algorithm`], [`crl`], [`name`], [`oid`], [`store`], [`time`], [`display`],
//! [`trust`]), and so does [`provider`], the cryptography seam (RustCrypto or
//! graviola) that every signature check, signature and digest goes through.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod envelope;
pub mod format;
pub mod inspect;
pub mod rfc3161;
pub mod rfc5652;
pub mod sign;
pub mod stream;
pub mod verify;

// Certificates, keys, CRLs and path validation live in `waxseal-trust`, which knows
// nothing of CMS; they are re-exported here so that a user of envelopes alone names them
// through this crate (`waxseal_envelope::cert::Certificate`, `waxseal_envelope::trust::validate`).
pub use waxseal_trust::path as trust;
pub use waxseal_trust::{
    algorithm, asn1, cert, crl, display, key, mldsa, name, oid, provider, store, time,
};

pub use algorithm::{AlgorithmError, AlgorithmPolicy, DigestAlgorithm};
pub use cert::Certificate;
pub use crl::{Crl, LazyCrl};
pub use envelope::{Envelope, EnvelopeBuilder};
pub use format::Format;
pub use key::{KeyAlgorithm, KeyError, KeyFileCheck, PrivateKey, PssKeyParams, PublicKey};
pub use rfc5652::{Limits, ParseError};
pub use sign::{SignError, Signer, SignerIdKind};
pub use store::{CertStore, CrlSet};
pub use stream::{StreamBuilder, StreamError, StreamVerified};
pub use trust::{
    Budget, CacheStats, ErrorKind, Meter, PathCache, PathError, RevocationPolicy, TrustAnchors,
    ValidatedPath, ValidationOptions,
};
pub use verify::{SignerError, SignerRequirement, Verified, VerifiedSigner, Verifier, VerifyError};
