//! Verifying envelopes whose content streams past: detached signatures of content read
//! from a [`Read`], and attached envelopes read from a [`Read`] with the content written
//! to a [`Write`] as it passes.

use std::collections::HashMap;
use std::io::{Read, Write};

use const_oid::ObjectIdentifier as Oid;

use super::ber::{self, CHUNK, ReadError, Source};
use super::hash::{Digests, MultiHasher};
use crate::envelope::Envelope;
use crate::format::Format;
use crate::rfc5652::SignedData;
use crate::verify::{Content, RejectedSigner, Verified, VerifiedSigner, Verifier, VerifyError};
use waxseal_trust::algorithm::DigestAlgorithm;

/// Content up to this many bytes is kept in memory while it streams, for the one kind of
/// signature that covers the content itself rather than its digest (Ed25519 without signed
/// attributes); beyond it such a signer is refused (`content-too-large`).
pub const RETAIN_LIMIT: usize = 4 << 20;

/// Why a streamed verification failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StreamError {
    /// The envelope was rejected (malformed, or a signer did not verify).
    #[error(transparent)]
    Verify(#[from] VerifyError),
    /// Reading the input or content, or writing to the sink, failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

impl StreamError {
    /// The reason code of a rejection ([`VerifyError::code`]); `io` for an I/O failure.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Verify(e) => e.code(),
            Self::Io(_) => "io",
        }
    }
}

impl From<ReadError> for StreamError {
    fn from(e: ReadError) -> Self {
        match e {
            ReadError::Parse(p) => Self::Verify(VerifyError::Parse(p)),
            ReadError::Io(e) => Self::Io(e),
        }
    }
}

/// The result of a successful streamed verification. Unlike [`Verified`] it does not
/// hold the content: that went to the sink (or was only hashed).
#[derive(Debug, Clone)]
pub struct StreamVerified {
    verified: Verified,
    content_len: u64,
    canonical: bool,
}

impl StreamVerified {
    /// The length of the verified content, in bytes.
    pub fn content_len(&self) -> u64 {
        self.content_len
    }

    /// Whether what verified is the canonical (CRLF) form of an S/MIME body part that
    /// was received with bare LF line ends: the signed content is then that form, not
    /// the bytes the sink received ([`crate::format::canonical_crlf`] of them, which is
    /// what [`Verifier::verify`] hands out).
    pub fn is_canonical(&self) -> bool {
        self.canonical
    }

    /// `eContentType`.
    pub fn content_type(&self) -> Oid {
        self.verified.content_type()
    }

    /// The signers that verified, in envelope order.
    pub fn signers(&self) -> &[VerifiedSigner] {
        self.verified.signers()
    }

    /// Signers that failed (only with [`crate::SignerRequirement::Any`]).
    pub fn rejected(&self) -> &[RejectedSigner] {
        self.verified.rejected()
    }

    /// The input encoding.
    pub fn format(&self) -> Format {
        self.verified.format()
    }

    /// `false` when verified in signature-only mode.
    pub fn is_authenticated(&self) -> bool {
        self.verified.is_authenticated()
    }
}

/// The digests worth computing for `algs`: supported and allowed by the verifier's policy
/// (a signer using another is refused before its digest is looked at).
pub(crate) fn wanted(
    verifier: &Verifier,
    algs: impl IntoIterator<Item = DigestAlgorithm>,
) -> Vec<DigestAlgorithm> {
    let mut out: Vec<DigestAlgorithm> = Vec::new();
    for a in algs {
        if verifier.algorithms().check_digest(a).is_ok() && !out.contains(&a) {
            out.push(a);
        }
    }
    out
}

fn signer_digests(sd: &SignedData) -> impl Iterator<Item = DigestAlgorithm> + '_ {
    sd.signer_infos
        .iter()
        .filter_map(|si| DigestAlgorithm::from_algorithm_identifier(&si.digest_algorithm).ok())
}

/// Appends the rest of `input` to `buf`, refusing more than `max` bytes in all.
pub(crate) fn pump_limited(
    input: &mut impl Read,
    buf: &mut Vec<u8>,
    max: usize,
) -> Result<(), StreamError> {
    let room = (max as u64 + 1).saturating_sub(buf.len() as u64);
    input.take(room).read_to_end(buf)?;
    if buf.len() > max {
        return Err(VerifyError::Parse(crate::rfc5652::ParseError::TooLarge {
            len: buf.len(),
            max,
        })
        .into());
    }
    Ok(())
}

/// Reads `content` to its end into `hasher` and `sink`.
fn pump(
    mut content: impl Read,
    hasher: &mut MultiHasher,
    sink: &mut dyn Write,
) -> std::io::Result<()> {
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = match content.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&buf[..n]);
        sink.write_all(&buf[..n])?;
    }
}

impl Verifier {
    /// Verifies a detached `envelope` against `content`, read once and hashed as it is
    /// read, in bounded memory. An envelope that brings its content (attached, or an
    /// S/MIME `multipart/signed`) is refused (`content-conflict`).
    ///
    /// ```no_run
    /// # use waxseal_envelope::*;
    /// # use waxseal_trust::*;
    /// # fn demo(verifier: &Verifier) -> Result<(), Box<dyn std::error::Error>> {
    /// let envelope = Envelope::parse(&std::fs::read("backup.tar.p7s")?)?;
    /// let verified = verifier.verify_detached_reader(&envelope, std::fs::File::open("backup.tar")?)?;
    /// println!("{} bytes verified", verified.content_len());
    /// # Ok(()) }
    /// ```
    pub fn verify_detached_reader(
        &self,
        envelope: &Envelope,
        content: impl Read,
    ) -> Result<StreamVerified, StreamError> {
        self.verify_detached_reader_to(envelope, content, &mut std::io::sink())
    }

    /// [`Verifier::verify_detached_reader`], writing the content to `sink` as it is read.
    /// **The sink receives the content before it is verified**: keep what it wrote only
    /// when this returns `Ok` (see [`Verifier::verify_reader`]).
    pub fn verify_detached_reader_to(
        &self,
        envelope: &Envelope,
        content: impl Read,
        sink: &mut dyn Write,
    ) -> Result<StreamVerified, StreamError> {
        if envelope.has_content() {
            return Err(VerifyError::ContentConflict.into());
        }
        let sd = envelope.signed_data();
        if sd.signer_infos.is_empty() {
            return Err(VerifyError::NoSigners.into());
        }
        let mut hasher = MultiHasher::new(self.provider(), wanted(self, signer_digests(sd)))
            .retaining(RETAIN_LIMIT);
        pump(content, &mut hasher, sink)?;
        self.finish(sd, envelope.format(), hasher.finish())
    }

    /// Verifies a binary (DER or BER) envelope read from `input`, writing the content to
    /// `sink` as it passes: attached content as it is read from the envelope, or, for a
    /// detached envelope, `detached` as it is read. Either is read once, in bounded
    /// memory (the envelope's certificates, CRLs and signer infos sit in memory, under
    /// [`Verifier::limits`]).
    ///
    /// **The sink receives the content before it is verified.** Keep what it wrote only
    /// when this returns `Ok`: write to a temporary file and rename it on success, and
    /// delete it on error (`waxseal verify --out` does so).
    ///
    /// Content supplied for an attached envelope is refused (`content-conflict`), a
    /// detached envelope without content too (`missing-content`). Streamed content is
    /// hashed with the algorithms the envelope's `digestAlgorithms` lists (RFC 5652 §5.1
    /// puts them there for one-pass processing); a signer using another is refused
    /// (`digest-not-announced`).
    pub fn verify_reader(
        &self,
        input: impl Read,
        detached: Option<&mut dyn Read>,
        sink: &mut dyn Write,
    ) -> Result<StreamVerified, StreamError> {
        let mut src = Source::new(input);
        let head = ber::read_head(&mut src, self.limits())?;
        if head.attached {
            if detached.is_some() {
                return Err(VerifyError::ContentConflict.into());
            }
            let algs = head
                .digest_algorithms
                .iter()
                .filter_map(|a| DigestAlgorithm::from_algorithm_identifier(a).ok());
            let mut hasher =
                MultiHasher::new(self.provider(), wanted(self, algs)).retaining(RETAIN_LIMIT);
            ber::read_content(&mut src, self.limits(), &mut |chunk| {
                hasher.update(chunk);
                sink.write_all(chunk)
            })?;
            let (sd, format) = ber::read_tail(&mut src, head, self.limits())?;
            self.finish(&sd, format, hasher.finish())
        } else {
            let (sd, format) = ber::read_tail(&mut src, head, self.limits())?;
            let content = detached.ok_or(VerifyError::MissingContent)?;
            if sd.signer_infos.is_empty() {
                return Err(VerifyError::NoSigners.into());
            }
            let mut hasher = MultiHasher::new(self.provider(), wanted(self, signer_digests(&sd)))
                .retaining(RETAIN_LIMIT);
            pump(content, &mut hasher, sink)?;
            self.finish(&sd, format, hasher.finish())
        }
    }

    /// Verifies the signers of `sd` over streamed content with `digests`.
    pub(crate) fn finish(
        &self,
        sd: &SignedData,
        format: Format,
        digests: Digests,
    ) -> Result<StreamVerified, StreamError> {
        let meter = self.meter();
        let verify = |d: &HashMap<DigestAlgorithm, Vec<u8>>| {
            self.verify_signed_data(
                sd,
                format,
                Content::Digested {
                    digests: d,
                    retained: digests.retained.as_deref(),
                },
                None,
                &meter,
            )
        };
        let result = verify(&digests.raw);
        // An S/MIME body may have been signed in canonical (CRLF) form.
        let (result, canonical) = match (&result, &digests.canonical) {
            (Err(e), Some(canonical)) if e.is_content_mismatch() => match verify(canonical) {
                Ok(v) => (Ok(v), true),
                Err(_) => (result, false),
            },
            _ => (result, false),
        };
        Ok(StreamVerified {
            verified: result?,
            content_len: digests.len,
            canonical,
        })
    }
}
