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
//! ## Layout
//!
//! [`asn1`] (BER normalization), [`rfc5652`] (the SignedData types), [`format`](mod@format) (PEM,
//! base64, S/MIME), [`key`], [`algorithm`], [`cert`], [`crl`], [`name`], [`store`],
//! [`trust`] (RFC 5280 path validation, see its docs for why it is not `certval`),
//! [`sign`], [`envelope`] (the parsed envelope and [`EnvelopeBuilder`]), [`verify`],
//! [`stream`] (content of any size, read once: signing from a `Read`, verifying as the
//! content passes), [`inspect`].
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod algorithm;
pub mod asn1;
pub mod cert;
pub mod crl;
pub mod display;
pub mod envelope;
pub mod format;
pub mod inspect;
pub mod key;
pub mod name;
pub mod oid;
pub mod rfc5652;
pub mod sign;
pub mod store;
pub mod stream;
pub mod time;
pub mod trust;
pub mod verify;

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
    Budget, Meter, PathCache, PathError, RevocationPolicy, TrustAnchors, ValidatedPath,
    ValidationOptions,
};
pub use verify::{SignerError, SignerRequirement, Verified, VerifiedSigner, Verifier, VerifyError};
