//! Streaming: signing and verifying content of any size in bounded memory, reading it
//! once.
//!
//! - [`StreamBuilder`] signs content read from a [`std::io::Read`]: a detached signature
//!   ([`StreamBuilder::sign_detached`]), or an attached envelope written as the content is
//!   read, in indefinite-length BER when its size is not known
//!   ([`StreamBuilder::write_attached`]) and with definite lengths when it is
//!   ([`StreamBuilder::write_attached_sized`]).
//! - [`crate::Verifier::verify_detached_reader`] verifies a detached envelope against
//!   content read from a [`std::io::Read`]; [`crate::Verifier::verify_reader`] reads a
//!   binary envelope from a [`std::io::Read`] and writes its content (attached, or the
//!   detached content) to a [`std::io::Write`] as it passes. Both return a
//!   [`StreamVerified`], which holds everything a [`crate::Verified`] does but the content.
//!
//! Data flows: [`ber`] reads the envelope's outer layers from the stream and hands the
//! content octets on; `hash` computes every needed digest in the same pass; the rest of
//! the envelope is parsed in memory by [`crate::rfc5652`] and verified by
//! [`crate::verify`], from the digests.

pub mod ber;
mod hash;
mod sign;
pub mod smime;
mod verify;

pub use sign::StreamBuilder;
pub use verify::{RETAIN_LIMIT, StreamError, StreamVerified};
