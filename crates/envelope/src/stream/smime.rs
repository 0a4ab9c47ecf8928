//! Verifying an S/MIME `multipart/signed` message as it is read: its first body part (the
//! signed content) is hashed as it streams past, as received and in canonical (CRLF)
//! form, and written on; the signature part after it is read into memory and parsed like
//! any envelope.
//!
//! The body part is delimited exactly as `mailparse` (which parses S/MIME in memory, see
//! [`crate::format`]) does it: the first line starting with `--BOUNDARY` opens it, the
//! part begins after that line, and ends before the line break preceding the next line
//! that starts with `--BOUNDARY`. The headers, the preamble and the boundary line are
//! bounded ([`MAX_HEADER`]); the signature part and what follows it count against
//! [`Limits::max_input_len`](crate::Limits::max_input_len).

use std::io::{Read, Write};

use super::ber::CHUNK;
use super::hash::MultiHasher;
use super::verify::{RETAIN_LIMIT, StreamError, StreamVerified, pump_limited, wanted};
use crate::envelope::Envelope;
use crate::format::Format;
use crate::rfc5652::ParseError;
use crate::verify::{Verifier, VerifyError};
use waxseal_trust::algorithm::DigestAlgorithm;

/// Most bytes of headers, preamble and boundary line read before the signed part.
pub const MAX_HEADER: usize = 64 << 10;

fn format_err(msg: impl Into<String>) -> StreamError {
    StreamError::Verify(VerifyError::Parse(ParseError::Format(msg.into())))
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Reads more of `input` onto `buf`; `false` at the end.
fn more(input: &mut impl Read, buf: &mut Vec<u8>, chunk: &mut [u8]) -> std::io::Result<bool> {
    loop {
        match input.read(chunk) {
            Ok(0) => return Ok(false),
            Ok(n) => {
                buf.extend_from_slice(&chunk[..n]);
                return Ok(true);
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// Whether `head` (the start of an input) is the header of a `multipart/signed` message.
pub fn is_multipart_signed(head: &[u8]) -> bool {
    let end = find(head, b"\n\n")
        .or_else(|| find(head, b"\r\n\r\n"))
        .unwrap_or(head.len());
    let Ok((headers, _)) = mailparse::parse_headers(&head[..end]) else {
        return false;
    };
    use mailparse::MailHeaderMap;
    headers
        .get_first_value("Content-Type")
        .map(|v| {
            mailparse::parse_content_type(&v)
                .mimetype
                .to_ascii_lowercase()
        })
        .is_some_and(|m| m == "multipart/signed")
}

impl Verifier {
    /// Verifies an S/MIME `multipart/signed` message read from `input`, writing its first
    /// body part (the signed content, as received) to `sink` as it passes; the part is
    /// read once, in bounded memory, and verified as sent or in canonical CRLF form
    /// (RFC 8551 §3.1.1), as [`Verifier::verify`] does.
    ///
    /// **The sink receives the content before it is verified**: keep what it wrote only
    /// when this returns `Ok` (see [`Verifier::verify_reader`]).
    pub fn verify_multipart_reader(
        &self,
        mut input: impl Read,
        sink: &mut dyn Write,
    ) -> Result<StreamVerified, StreamError> {
        let mut chunk = vec![0u8; CHUNK];
        let mut buf = Vec::new();
        // The headers.
        let body = loop {
            if let Some(i) = find(&buf, b"\r\n\r\n") {
                break i + 4;
            }
            if let Some(i) = find(&buf, b"\n\n") {
                break i + 2;
            }
            if buf.len() > MAX_HEADER || !more(&mut input, &mut buf, &mut chunk[..8192])? {
                return Err(format_err("multipart/signed: no end of the headers"));
            }
        };
        let header_bytes = buf[..body].to_vec();
        let mut micalg = Vec::new();
        let boundary = {
            use mailparse::MailHeaderMap;
            let (headers, _) = mailparse::parse_headers(&header_bytes)
                .map_err(|e| format_err(format!("bad MIME: {e}")))?;
            let ctype = headers
                .get_first_value("Content-Type")
                .map(|v| mailparse::parse_content_type(&v))
                .ok_or_else(|| format_err("not a multipart/signed message"))?;
            if !ctype.mimetype.eq_ignore_ascii_case("multipart/signed") {
                return Err(format_err("not a multipart/signed message"));
            }
            if let Some(m) = ctype.params.get("micalg") {
                micalg = m
                    .split(',')
                    .filter_map(|n| DigestAlgorithm::from_name(n.trim()))
                    .collect();
            }
            let b = ctype
                .params
                .get("boundary")
                .ok_or_else(|| format_err("multipart/signed without a boundary"))?;
            format!("--{b}").into_bytes()
        };
        // The first boundary line (at the start of the body or of a line).
        let pos = body;
        let part = loop {
            let at = if buf[pos..].starts_with(&boundary) {
                Some(pos)
            } else {
                let mut nl = boundary.clone();
                nl.insert(0, b'\n');
                find(&buf[pos..], &nl).map(|i| pos + i + 1)
            };
            if let Some(at) = at
                && let Some(eol) = buf[at..].iter().position(|&b| b == b'\n')
            {
                break at + eol + 1;
            }
            if buf.len() > body + MAX_HEADER || !more(&mut input, &mut buf, &mut chunk[..8192])? {
                return Err(format_err("multipart/signed: no body part"));
            }
        };
        // The signed part, streamed up to the next boundary line.
        // The digests `micalg` announces (RFC 8551 §3.5.3.2), else every allowed one.
        let algs = if micalg.is_empty() {
            wanted(self, DigestAlgorithm::ALL)
        } else {
            wanted(self, micalg)
        };
        let mut hasher = MultiHasher::new(self.provider(), algs)
            .with_canonical()
            .retaining(RETAIN_LIMIT);
        let mut emit = |data: &[u8]| -> std::io::Result<()> {
            hasher.update(data);
            sink.write_all(data)
        };
        let mut delim = boundary.clone();
        delim.insert(0, b'\n');
        let mut pending: Vec<u8> = buf.split_off(part);
        let rest_start;
        if pending.starts_with(&boundary) {
            // An empty part.
            rest_start = 0;
        } else {
            loop {
                if let Some(i) = find(&pending, &delim) {
                    // The part ends before the line break (LF or CRLF) preceding it.
                    let end = if i > 0 && pending[i - 1] == b'\r' {
                        i - 1
                    } else {
                        i
                    };
                    emit(&pending[..end])?;
                    rest_start = i + 1;
                    break;
                }
                // Keep what could be the start of the delimiter (and a CR before it).
                let keep = (delim.len() + 1).min(pending.len());
                let cut = pending.len() - keep;
                emit(&pending[..cut])?;
                pending.drain(..cut);
                if !more(&mut input, &mut pending, &mut chunk)? {
                    return Err(format_err("multipart/signed: the signed part does not end"));
                }
            }
        }
        // The rest (signature part) in memory, with an empty first part in front: parsed
        // and checked (two parts, protocol, signature type) as any multipart/signed.
        let max = self.limits().max_input_len;
        let mut message = header_bytes;
        message.extend_from_slice(&boundary);
        message.extend_from_slice(b"\r\n");
        message.extend_from_slice(&pending[rest_start..]);
        drop(pending);
        pump_limited(&mut input, &mut message, max)?;
        let envelope =
            Envelope::parse_with_limits(&message, self.limits()).map_err(VerifyError::Parse)?;
        if envelope.format() != Format::SmimeDetached {
            return Err(format_err("not a multipart/signed message"));
        }
        self.finish(
            envelope.signed_data(),
            Format::SmimeDetached,
            hasher.finish(),
        )
    }
}
