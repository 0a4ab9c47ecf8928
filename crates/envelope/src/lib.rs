//! # waxseal-envelope
//!
//! Build and verify CMS SignedData envelopes (RFC 5652), attached or detached, in pure
//! Rust. Certificates, keys, algorithms, CRLs and RFC 5280 path validation are
//! [`waxseal_trust`]'s, which knows nothing of CMS: name that crate directly.
//!
//! 1. Parse: [`Envelope::parse`] reads DER, BER, PEM, base64 or S/MIME
//!    ([`format`](mod@format)) within [`Limits`]; [`rfc5652`] has the SignedData types.
//! 2. Sign: an [`EnvelopeBuilder`] makes an [`Envelope`] from content and [`Signer`]s.
//! 3. Verify: a [`Verifier`] checks each signer's signature and certificate path up to
//!    its [`TrustAnchors`](waxseal_trust::TrustAnchors), under a
//!    [`Budget`](waxseal_trust::Budget).
//! 4. Report: a [`Verified`] (content, signers, paths) or a [`VerifyError`] with a stable
//!    reason code; [`inspect`] describes an envelope without verifying it.
//! 5. Stream: [`stream`] does the same for content of any size, read once.
//!
//! Secure by default: no trust anchor, no [`Verifier`] (unless
//! [`Verifier::signature_only_unauthenticated`], by name); SHA-1 and MD5 only where an
//! [`AlgorithmPolicy`](waxseal_trust::AlgorithmPolicy) allows them; a signer's certificate
//! must allow signing ([`Verifier::with_accepted_purposes`]); only a [`Verified`] exposes
//! content; parsing is bounded and no input panics.
//!
//! ```no_run
//! use waxseal_envelope::{EnvelopeBuilder, Signer, Verifier};
//! use waxseal_trust::{Certificate, KeyFileCheck, PrivateKey, TrustAnchors};
//! # fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let cert = Certificate::load_all(&std::fs::read("signer.crt")?)?.remove(0);
//! let key = PrivateKey::load("signer.key".as_ref(), KeyFileCheck::OwnerOnly)?;
//! let envelope = EnvelopeBuilder::new(b"{}").add_signer(&Signer::new(cert, key)?).build()?;
//!
//! let root = Certificate::load_all(&std::fs::read("root.crt")?)?.remove(0);
//! let verifier = Verifier::new(TrustAnchors::new([root])?);
//! assert_eq!(verifier.verify_bytes(&envelope.to_der(), None)?.content(), b"{}");
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod envelope;
pub mod format;
pub mod inspect;
pub mod oid;
pub mod rfc3161;
pub mod rfc5652;
pub mod sign;
pub mod stream;
pub mod verify;

pub use envelope::{Envelope, EnvelopeBuilder};
pub use format::Format;
pub use rfc5652::{Limits, ParseError};
pub use sign::{SignError, Signer, SignerIdKind};
pub use stream::{StreamBuilder, StreamError, StreamVerified};
pub use verify::{
    SignerError, SignerRequirement, VerificationSession, Verified, VerifiedSigner, Verifier,
    VerifyError,
};
