//! Reading the outer layers of a SignedData from a stream: `ContentInfo`, the `SignedData`
//! header (version, digestAlgorithms), `encapContentInfo` and the content itself, as a
//! primitive OCTET STRING or a constructed (definite or indefinite) one cut into segments.
//!
//! Written by hand because no crate does it: `der` and `cms` decode from a slice holding
//! the whole structure, and the BER readers we know of (for example `bcder`) also want the
//! whole value in memory and would add a second ASN.1 stack. Here only the outer
//! headers are read from the stream, the content octets are handed on as they arrive, and
//! everything after the content (certificates, CRLs, signerInfos) is collected under
//! [`Limits::max_input_len`] and parsed in memory by [`SignedData::parse`], like any
//! envelope.
//!
//! Bounds: constructed content segments nest at most [`Limits::max_depth`] deep (as in
//! an envelope parsed in memory), the small values read whole (version, digestAlgorithms, eContentType and each field after the
//! content) count against `max_input_len` together, their nesting against
//! [`Limits::max_depth`], and lengths may have at most 8 octets. Each input byte is
//! looked at once.

use std::io::Read;

use const_oid::ObjectIdentifier as Oid;
use der::Decode;

use crate::format::Format;
use crate::oid;
use crate::rfc5652::{Limits, MAX_DEPTH_CAP, ParseError, SignedData};
use waxseal_trust::asn1::{self, BerError};

/// Size of the read buffer: large reads keep the system-call count down.
pub(crate) const CHUNK: usize = 1 << 20;

/// A failure while reading a stream: the input is not a well-formed envelope, or reading
/// or writing failed.
#[derive(Debug)]
pub(crate) enum ReadError {
    Parse(ParseError),
    Io(std::io::Error),
}

impl From<ParseError> for ReadError {
    fn from(e: ParseError) -> Self {
        Self::Parse(e)
    }
}

impl From<BerError> for ReadError {
    fn from(e: BerError) -> Self {
        Self::Parse(ParseError::Ber(e))
    }
}

type Result<T> = std::result::Result<T, ReadError>;

fn field(field: &'static str, detail: impl Into<String>) -> ReadError {
    ReadError::Parse(ParseError::Field {
        field,
        detail: detail.into(),
    })
}

fn offset(pos: u64) -> usize {
    usize::try_from(pos).unwrap_or(usize::MAX)
}

/// A TLV header read from the stream.
struct Header {
    /// The identifier octet (only low tag numbers reach the callers).
    tag: u8,
    /// `None` for indefinite length.
    len: Option<u64>,
    /// The header bytes as read.
    raw: Vec<u8>,
}

/// A buffered reader that counts its position and keeps the definite ends of the open
/// constructed values, so nothing is read past them.
pub(crate) struct Source<R> {
    inner: R,
    buf: Box<[u8]>,
    start: usize,
    end: usize,
    pos: u64,
    /// Open constructed values: their end when definite.
    open: Vec<Option<u64>>,
    /// Whether everything so far was in DER shape.
    der: bool,
}

impl<R: Read> Source<R> {
    pub(crate) fn new(inner: R) -> Self {
        Self {
            inner,
            buf: vec![0; CHUNK].into_boxed_slice(),
            start: 0,
            end: 0,
            pos: 0,
            open: Vec::new(),
            der: true,
        }
    }

    /// The innermost definite end among the open values.
    fn limit(&self) -> Option<u64> {
        self.open.iter().rev().find_map(|e| *e)
    }

    /// Makes at least `n` (at most the buffer size) bytes available; `false` at the end
    /// of the input.
    fn fill(&mut self, n: usize) -> Result<bool> {
        debug_assert!(n <= self.buf.len());
        if self.end - self.start >= n {
            return Ok(true);
        }
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        while self.end < n {
            match self.inner.read(&mut self.buf[self.end..]) {
                Ok(0) => return Ok(false),
                Ok(k) => self.end += k,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(ReadError::Io(e)),
            }
        }
        Ok(true)
    }

    fn check_limit(&self, n: u64) -> Result<()> {
        match self.limit() {
            Some(l) if self.pos + n > l => Err(BerError::Truncated(offset(l)).into()),
            _ => Ok(()),
        }
    }

    fn byte(&mut self) -> Result<u8> {
        self.check_limit(1)?;
        if !self.fill(1)? {
            return Err(BerError::Truncated(offset(self.pos)).into());
        }
        let b = self.buf[self.start];
        self.start += 1;
        self.pos += 1;
        Ok(b)
    }

    /// Reads `n` bytes into `out`.
    fn take_into(&mut self, n: u64, out: &mut Vec<u8>) -> Result<()> {
        self.stream(n, &mut |chunk| {
            out.extend_from_slice(chunk);
            Ok(())
        })
    }

    /// Hands the next `n` bytes to `sink`, chunk by chunk.
    pub(crate) fn stream(
        &mut self,
        n: u64,
        sink: &mut dyn FnMut(&[u8]) -> std::io::Result<()>,
    ) -> Result<()> {
        self.check_limit(n)?;
        let mut left = n;
        while left > 0 {
            if self.start == self.end && !self.fill(1)? {
                return Err(BerError::Truncated(offset(self.pos)).into());
            }
            let k = (self.end - self.start).min(usize::try_from(left).unwrap_or(usize::MAX));
            sink(&self.buf[self.start..self.start + k]).map_err(ReadError::Io)?;
            self.start += k;
            self.pos += k as u64;
            left -= k as u64;
        }
        Ok(())
    }

    /// Whether the input has ended (nothing follows).
    fn at_eof(&mut self) -> Result<bool> {
        Ok(!self.fill(1)?)
    }

    fn header(&mut self) -> Result<Header> {
        let at = self.pos;
        let tag = self.byte()?;
        let mut raw = vec![tag];
        if tag & 0x1f == 0x1f {
            // High tag numbers appear only inside the fields read whole.
            for i in 0.. {
                let b = self.byte()?;
                raw.push(b);
                if i >= 4 {
                    return Err(BerError::BadTag(offset(at)).into());
                }
                if b & 0x80 == 0 {
                    break;
                }
            }
        }
        let l0 = self.byte()?;
        raw.push(l0);
        let len = if l0 < 0x80 {
            Some(u64::from(l0))
        } else if l0 == 0x80 {
            if tag & 0x20 == 0 {
                return Err(BerError::BadIndefinite(offset(at)).into());
            }
            self.der = false;
            None
        } else {
            let n = usize::from(l0 & 0x7f);
            if n > 8 || l0 == 0xff {
                return Err(BerError::BadLength(offset(self.pos - 1)).into());
            }
            let mut v = 0u64;
            for _ in 0..n {
                let b = self.byte()?;
                raw.push(b);
                v = (v << 8) | u64::from(b);
            }
            if v < 0x80 || raw[raw.len() - n] == 0 {
                self.der = false;
            }
            Some(v)
        };
        if let Some(l) = len {
            self.check_limit(l)?;
        }
        Ok(Header { tag, len, raw })
    }

    /// Opens a constructed value with header `h`.
    fn open(&mut self, h: &Header) {
        self.open.push(h.len.map(|l| self.pos + l));
    }

    /// Whether the innermost open value ends here; consumes its end-of-contents octets
    /// when indefinite, and closes it.
    fn at_end(&mut self) -> Result<bool> {
        let end = *self.open.last().expect("a value is open");
        let done = match end {
            Some(e) => self.pos == e,
            None => {
                self.check_limit(2)?;
                if !self.fill(2)? {
                    return Err(BerError::Truncated(offset(self.pos)).into());
                }
                if self.buf[self.start..self.start + 2] == [0, 0] {
                    self.start += 2;
                    self.pos += 2;
                    true
                } else {
                    false
                }
            }
        };
        if done {
            self.open.pop();
        }
        Ok(done)
    }

    /// Closes the innermost open value, which must end here.
    fn close(&mut self, what: &'static str) -> Result<()> {
        if self.at_end()? {
            Ok(())
        } else {
            Err(field(what, "unexpected data after the last field"))
        }
    }

    /// Reads one whole TLV (BER, any shape) as received, counting its bytes against
    /// `budget`.
    fn tlv(&mut self, budget: &mut Budget, depth: usize, max_depth: usize) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        self.tlv_into(&mut out, budget, depth, max_depth)?;
        Ok(out)
    }

    fn tlv_into(
        &mut self,
        out: &mut Vec<u8>,
        budget: &mut Budget,
        depth: usize,
        max_depth: usize,
    ) -> Result<()> {
        if depth > max_depth {
            return Err(BerError::TooDeep(max_depth).into());
        }
        let h = self.header()?;
        budget.spend(h.raw.len() as u64)?;
        out.extend_from_slice(&h.raw);
        match h.len {
            Some(l) => {
                budget.spend(l)?;
                self.take_into(l, out)
            }
            None => {
                self.open(&h);
                while !self.at_end()? {
                    self.tlv_into(out, budget, depth + 1, max_depth)?;
                }
                budget.spend(2)?;
                out.extend_from_slice(&[0, 0]);
                Ok(())
            }
        }
    }
}

/// What the values read whole may still occupy ([`Limits::max_input_len`] in all).
#[derive(Clone, Copy)]
struct Budget {
    left: u64,
    max: usize,
}

impl Budget {
    fn spend(&mut self, n: u64) -> Result<()> {
        self.left = self
            .left
            .checked_sub(n)
            .ok_or(ReadError::Parse(ParseError::TooLarge {
                len: self.max.saturating_add(1),
                max: self.max,
            }))?;
        Ok(())
    }
}

fn expect(h: &Header, tag: u8, what: &'static str) -> Result<()> {
    if h.tag == tag {
        Ok(())
    } else {
        Err(field(
            what,
            format!("expected tag 0x{tag:02x}, found 0x{:02x}", h.tag),
        ))
    }
}

/// What precedes the content: enough to know which digests to compute and to rebuild the
/// `SignedData` once the rest has been read.
pub(crate) struct Head {
    version: Vec<u8>,
    digest_algorithms_raw: Vec<u8>,
    /// `digestAlgorithms`, decoded (undecodable entries left out: each signer's own
    /// digestAlgorithm is checked again when it is verified).
    pub(crate) digest_algorithms: Vec<spki::AlgorithmIdentifierOwned>,
    content_type_raw: Vec<u8>,
    /// Whether `eContent` is present (the reader then stands at its first octet).
    pub(crate) attached: bool,
    budget: Budget,
}

/// Reads up to the content: `ContentInfo`, `SignedData` header, `encapContentInfo` and
/// the `eContent` headers.
pub(crate) fn read_head<R: Read>(src: &mut Source<R>, limits: &Limits) -> Result<Head> {
    let max_depth = limits.max_depth.min(MAX_DEPTH_CAP);
    let mut budget = Budget {
        left: limits.max_input_len as u64,
        max: limits.max_input_len,
    };
    if src.at_eof()? {
        return Err(ParseError::Empty.into());
    }
    let ci = src.header()?;
    expect(&ci, 0x30, "ContentInfo")?;
    src.open(&ci);
    let ct = src.tlv(&mut budget, 0, max_depth)?;
    if ct.first() != Some(&0x06) {
        return Err(field(
            "ContentInfo",
            "expected SEQUENCE { contentType, [0] content }",
        ));
    }
    let ct = Oid::from_der(&ct).map_err(|e| field("ContentInfo.contentType", e.to_string()))?;
    if ct != oid::ID_SIGNED_DATA {
        return Err(ParseError::NotSignedData(ct).into());
    }
    let explicit = src.header()?;
    expect(&explicit, 0xa0, "ContentInfo")?;
    src.open(&explicit);
    let sd = src.header()?;
    expect(&sd, 0x30, "SignedData")?;
    src.open(&sd);
    let version = src.tlv(&mut budget, 0, max_depth)?;
    let digest_algorithms_raw = src.tlv(&mut budget, 0, max_depth)?;
    if digest_algorithms_raw.first() != Some(&0x31) {
        return Err(field("SignedData.digestAlgorithms", "expected a SET"));
    }
    let digest_algorithms = {
        let der = asn1::normalize(&digest_algorithms_raw, max_depth)?;
        let (_, body) = asn1::read_one(&der)?;
        asn1::split_tlvs(body)?
            .into_iter()
            .filter_map(|(_, raw, _)| spki::AlgorithmIdentifierOwned::from_der(raw).ok())
            .collect()
    };
    let eci = src.header()?;
    expect(&eci, 0x30, "SignedData.encapContentInfo")?;
    src.open(&eci);
    let content_type_raw = src.tlv(&mut budget, 0, max_depth)?;
    if content_type_raw.first() != Some(&0x06) {
        return Err(field(
            "encapContentInfo",
            "expected SEQUENCE { eContentType, [0] eContent OPTIONAL }",
        ));
    }
    let attached = if src.at_end()? {
        false
    } else {
        let explicit = src.header()?;
        expect(&explicit, 0xa0, "encapContentInfo.eContent")?;
        src.open(&explicit);
        true
    };
    Ok(Head {
        version,
        digest_algorithms_raw,
        digest_algorithms,
        content_type_raw,
        attached,
        budget,
    })
}

/// Streams the `eContent` OCTET STRING's octets to `sink` and closes `encapContentInfo`.
pub(crate) fn read_content<R: Read>(
    src: &mut Source<R>,
    limits: &Limits,
    sink: &mut dyn FnMut(&[u8]) -> std::io::Result<()>,
) -> Result<()> {
    // The content sits 5 levels down (ContentInfo, [0], SignedData, encapContentInfo,
    // [0]); its segments may use what the depth limit leaves.
    let max_depth = limits.max_depth.min(MAX_DEPTH_CAP).saturating_sub(5);
    octets(src, sink, 0, max_depth)?;
    src.close("encapContentInfo.eContent")?;
    src.close("encapContentInfo")
}

fn octets<R: Read>(
    src: &mut Source<R>,
    sink: &mut dyn FnMut(&[u8]) -> std::io::Result<()>,
    depth: usize,
    max_depth: usize,
) -> Result<()> {
    let h = src.header()?;
    match (h.tag, h.len) {
        (0x04, Some(len)) => src.stream(len, sink),
        (0x24, _) => {
            src.der = false;
            if depth >= max_depth {
                return Err(BerError::TooDeep(max_depth).into());
            }
            src.open(&h);
            while !src.at_end()? {
                octets(src, sink, depth + 1, max_depth)?;
            }
            Ok(())
        }
        _ => Err(field(
            "encapContentInfo.eContent",
            format!("expected an OCTET STRING, found tag 0x{:02x}", h.tag),
        )),
    }
}

/// Reads what follows the content (certificates, CRLs, signerInfos) and the end of the
/// input, and returns the `SignedData` (its `encapContentInfo` without content) and the
/// input's format.
pub(crate) fn read_tail<R: Read>(
    src: &mut Source<R>,
    head: Head,
    limits: &Limits,
) -> Result<(SignedData, Format)> {
    let max_depth = limits.max_depth.min(MAX_DEPTH_CAP);
    let mut budget = head.budget;
    // A SignedData with an empty encapContentInfo in place of the content, the fields
    // as received, under an indefinite length: normalized and parsed like any envelope.
    let mut sd = vec![0x30, 0x80];
    sd.extend_from_slice(&head.version);
    sd.extend_from_slice(&head.digest_algorithms_raw);
    sd.extend_from_slice(&asn1::tlv(0x30, &head.content_type_raw));
    while !src.at_end()? {
        src.tlv_into(&mut sd, &mut budget, 1, max_depth)?;
    }
    sd.extend_from_slice(&[0, 0]);
    src.close("ContentInfo")?;
    src.close("ContentInfo")?;
    if !src.at_eof()? {
        return Err(BerError::TrailingData(1).into());
    }
    let der = asn1::normalize(&sd, max_depth)?;
    let signed_data = SignedData::parse(&der, limits)?;
    let format = if src.der { Format::Der } else { Format::Ber };
    Ok((signed_data, format))
}
