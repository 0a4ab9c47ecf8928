//! ASN.1 plumbing below the RFC 5652 types: BER to DER normalization and DER writing.
//!
//! CMS is defined in BER. Senders that stream (`openssl cms -sign -stream`, Bouncy Castle's
//! `CMSSignedDataStreamGenerator`) write indefinite lengths and cut the content into a
//! constructed OCTET STRING of chunks. The `der` crate reads DER plus a narrow BER subset, and
//! its `Any` loses the constructed flag, so chunked content would be digested with its chunk
//! headers. Rather than teach every type about BER, waxseal rewrites the whole input once into
//! DER *shape* (definite minimal lengths, constructed strings joined into primitive ones) and
//! parses only DER afterwards. No crate offers this rewrite with raw byte spans preserved, so
//! it is written here; it never re-sorts anything, so byte spans that were DER on the wire
//! (signed attributes, certificates) stay byte-identical.

use std::borrow::Cow;

/// Why a BER/DER byte string could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BerError {
    /// The input ended inside a tag, a length or a value.
    #[error("truncated ASN.1 input at offset {0}")]
    Truncated(usize),
    /// A length octet sequence that BER does not allow (or longer than 4 bytes).
    #[error("invalid ASN.1 length at offset {0}")]
    BadLength(usize),
    /// An indefinite length on a primitive encoding, or a stray end-of-contents marker.
    #[error("invalid indefinite-length encoding at offset {0}")]
    BadIndefinite(usize),
    /// A constructed string whose segments are not of the same string type.
    #[error("invalid constructed string segment at offset {0}")]
    BadSegment(usize),
    /// Nesting deeper than the configured limit.
    #[error("ASN.1 nesting deeper than {0} levels")]
    TooDeep(usize),
    /// Bytes left after the outermost value.
    #[error("{0} trailing bytes after the ASN.1 value")]
    TrailingData(usize),
    /// A tag number that does not fit the supported range.
    #[error("unsupported ASN.1 tag at offset {0}")]
    BadTag(usize),
}

/// Header of one TLV.
struct Header {
    /// Identifier octets (one or more).
    tag: std::ops::Range<usize>,
    constructed: bool,
    /// Universal class tag number, when the tag is universal and low-numbered.
    universal: Option<u8>,
    /// `None` for indefinite length.
    len: Option<usize>,
    /// Offset of the first content octet.
    body: usize,
    /// Whether the length octets were the minimal definite form.
    minimal_len: bool,
}

fn read_header(input: &[u8], pos: usize) -> Result<Header, BerError> {
    let first = *input.get(pos).ok_or(BerError::Truncated(pos))?;
    let constructed = first & 0x20 != 0;
    let mut p = pos + 1;
    let mut universal = None;
    if first & 0x1f == 0x1f {
        // High tag number form: base-128 digits, at most 4 of them.
        let mut n = 0;
        loop {
            let b = *input.get(p).ok_or(BerError::Truncated(p))?;
            p += 1;
            n += 1;
            if n > 4 {
                return Err(BerError::BadTag(pos));
            }
            if b & 0x80 == 0 {
                break;
            }
        }
    } else if first & 0xc0 == 0 {
        universal = Some(first & 0x1f);
    }
    let tag = pos..p;
    let l0 = *input.get(p).ok_or(BerError::Truncated(p))?;
    p += 1;
    let (len, minimal_len) = if l0 < 0x80 {
        (Some(l0 as usize), true)
    } else if l0 == 0x80 {
        if !constructed {
            return Err(BerError::BadIndefinite(pos));
        }
        (None, false)
    } else {
        let n = (l0 & 0x7f) as usize;
        if n > 4 || l0 == 0xff {
            return Err(BerError::BadLength(p - 1));
        }
        let bytes = input.get(p..p + n).ok_or(BerError::Truncated(p))?;
        p += n;
        let v = bytes.iter().fold(0usize, |acc, b| (acc << 8) | *b as usize);
        let minimal = v >= 0x80 && bytes[0] != 0;
        (Some(v), minimal)
    };
    if let Some(l) = len
        && (input.len() < p || input.len() - p < l)
    {
        return Err(BerError::Truncated(p));
    }
    Ok(Header {
        tag,
        constructed,
        universal,
        len,
        body: p,
        minimal_len,
    })
}

/// Universal tags whose BER encoding may be cut into constructed segments.
fn is_string_type(universal: Option<u8>) -> bool {
    matches!(
        universal,
        Some(3 | 4 | 12 | 18 | 19 | 20 | 21 | 22 | 25 | 26 | 27 | 28 | 30)
    )
}

fn is_eoc(input: &[u8], pos: usize) -> bool {
    input.get(pos..pos + 2) == Some(&[0, 0])
}

/// Returns `true` when the TLV at `pos` (and everything inside it) already has DER shape.
/// Returns the end offset through `end`.
fn scan_der_shape(
    input: &[u8],
    pos: usize,
    depth: usize,
    max_depth: usize,
) -> Result<(bool, usize), BerError> {
    if depth > max_depth {
        return Err(BerError::TooDeep(max_depth));
    }
    let h = read_header(input, pos)?;
    let Some(len) = h.len else {
        // Indefinite: not DER; its end is after its end-of-contents marker.
        let end = walk_children(input, &h, &mut |input, p| {
            Ok(scan_der_shape(input, p, depth + 1, max_depth)?.1)
        })?;
        return Ok((false, end));
    };
    let end = h.body + len;
    if !h.minimal_len {
        return Ok((false, end));
    }
    if h.constructed {
        if is_string_type(h.universal) {
            return Ok((false, end));
        }
        let mut p = h.body;
        while p < end {
            let (ok, next) = scan_der_shape(&input[..end], p, depth + 1, max_depth)?;
            if !ok {
                return Ok((false, end));
            }
            p = next;
        }
    }
    Ok((true, end))
}

/// Rewrites `input` (one BER value, nothing after it) into DER shape: definite minimal
/// lengths and constructed strings joined. Borrowed when the input already has that shape.
///
/// Linear in the input size whatever the nesting: a first pass measures the DER length of
/// every constructed value (in pre-order), a second writes each byte of the output once,
/// headers first, straight into the result. (Rewriting children into a buffer of their own
/// and copying it into the parent's, as this once did, costs depth × size.)
pub fn normalize(input: &[u8], max_depth: usize) -> Result<Cow<'_, [u8]>, BerError> {
    let (ok, end) = scan_der_shape(input, 0, 0, max_depth)?;
    if end != input.len() {
        return Err(BerError::TrailingData(input.len() - end));
    }
    if ok {
        return Ok(Cow::Borrowed(input));
    }
    let mut lens = Vec::new();
    let (end, total) = measure(input, 0, 0, max_depth, &mut lens)?;
    debug_assert_eq!(end, input.len());
    let mut out = Vec::with_capacity(total);
    let mut cursor = 0;
    let end = emit(input, 0, &lens, &mut cursor, &mut out)?;
    debug_assert_eq!((end, out.len()), (input.len(), total));
    Ok(Cow::Owned(out))
}

/// Length of a DER length field for `len`.
fn len_len(len: usize) -> usize {
    if len < 0x80 {
        1
    } else {
        1 + (usize::BITS as usize / 8 - len.leading_zeros() as usize / 8)
    }
}

/// First pass: validates the TLV at `pos` and records, in pre-order, the DER contents
/// length of each constructed value in `lens`. Returns the offset after the TLV and the
/// length of its DER form.
fn measure(
    input: &[u8],
    pos: usize,
    depth: usize,
    max_depth: usize,
    lens: &mut Vec<usize>,
) -> Result<(usize, usize), BerError> {
    if depth > max_depth {
        return Err(BerError::TooDeep(max_depth));
    }
    let h = read_header(input, pos)?;
    if !h.constructed {
        let len = h.len.ok_or(BerError::BadIndefinite(pos))?;
        return Ok((h.body + len, h.tag.len() + len_len(len) + len));
    }
    if is_string_type(h.universal) {
        let mut joined = Joined::default();
        let end = measure_segments(input, &h, depth, max_depth, &mut joined)?;
        lens.push(joined.len);
        // The joined string is written with a one-octet (primitive) tag.
        return Ok((end, 1 + len_len(joined.len) + joined.len));
    }
    let slot = lens.len();
    lens.push(0);
    let mut sum = 0usize;
    let end = walk_children(input, &h, &mut |input, p| {
        let (next, n) = measure(input, p, depth + 1, max_depth, lens)?;
        sum += n;
        Ok(next)
    })?;
    lens[slot] = sum;
    Ok((end, h.tag.len() + len_len(sum) + sum))
}

/// The length of a constructed string once joined, while measuring it.
#[derive(Default)]
struct Joined {
    len: usize,
    /// Whether a (BIT STRING) segment has been seen: later ones drop their unused-bits octet.
    started: bool,
}

/// Measures (and validates) the segments of a constructed string.
fn measure_segments(
    input: &[u8],
    h: &Header,
    depth: usize,
    max_depth: usize,
    joined: &mut Joined,
) -> Result<usize, BerError> {
    let is_bit_string = h.universal == Some(3);
    walk_segments(input, h, depth, max_depth, &mut |p, bytes| {
        let len = bytes.len();
        if is_bit_string {
            if len == 0 {
                return Err(BerError::BadSegment(p));
            }
            joined.len += if joined.started { len - 1 } else { len };
            joined.started = true;
        } else {
            joined.len += len;
        }
        Ok(())
    })
}

/// Walks the segments of the constructed string `h`, through nested constructed segments
/// (each of the outer string type, at most `max_depth` levels down), and hands each
/// primitive segment's offset and contents to `segment`; returns the offset after the
/// string.
fn walk_segments(
    input: &[u8],
    h: &Header,
    depth: usize,
    max_depth: usize,
    segment: &mut impl FnMut(usize, &[u8]) -> Result<(), BerError>,
) -> Result<usize, BerError> {
    if depth > max_depth {
        return Err(BerError::TooDeep(max_depth));
    }
    walk_children(input, h, &mut |input, p| {
        let seg = read_header(input, p)?;
        if seg.universal != h.universal {
            return Err(BerError::BadSegment(p));
        }
        if seg.constructed {
            return walk_segments(input, &seg, depth + 1, max_depth, segment);
        }
        let len = seg.len.ok_or(BerError::BadIndefinite(p))?;
        segment(p, &input[seg.body..seg.body + len])?;
        Ok(seg.body + len)
    })
}

/// Walks the values inside the constructed value `h`, definite or indefinite length:
/// `child` gets the input its value must lie in and the value's offset, and returns the
/// offset after it. Returns the offset after `h` (its end-of-contents marker included).
fn walk_children(
    input: &[u8],
    h: &Header,
    child: &mut impl FnMut(&[u8], usize) -> Result<usize, BerError>,
) -> Result<usize, BerError> {
    let mut p = h.body;
    match h.len {
        Some(len) => {
            let end = h.body + len;
            while p < end {
                p = child(&input[..end], p)?;
            }
            Ok(end)
        }
        None => loop {
            if p >= input.len() {
                return Err(BerError::Truncated(p));
            }
            if is_eoc(input, p) {
                return Ok(p + 2);
            }
            p = child(input, p)?;
        },
    }
}

/// Second pass: writes the DER shape of the TLV at `pos` to `out`, taking constructed
/// lengths from `lens` at `cursor`; returns the offset after the TLV.
fn emit(
    input: &[u8],
    pos: usize,
    lens: &[usize],
    cursor: &mut usize,
    out: &mut Vec<u8>,
) -> Result<usize, BerError> {
    let h = read_header(input, pos)?;
    if !h.constructed {
        let len = h.len.ok_or(BerError::BadIndefinite(pos))?;
        out.extend_from_slice(&input[h.tag.clone()]);
        push_len(out, len);
        out.extend_from_slice(&input[h.body..h.body + len]);
        return Ok(h.body + len);
    }
    let len = *lens.get(*cursor).ok_or(BerError::BadSegment(pos))?;
    *cursor += 1;
    if is_string_type(h.universal) {
        out.push(input[h.tag.start] & !0x20);
        push_len(out, len);
        let start = out.len();
        let end = join_segments(input, &h, out, start)?;
        if out.len() - start != len {
            return Err(BerError::BadSegment(pos));
        }
        return Ok(end);
    }
    out.extend_from_slice(&input[h.tag.clone()]);
    push_len(out, len);
    walk_children(input, &h, &mut |input, p| emit(input, p, lens, cursor, out))
}

/// Appends the segments of a constructed string (already measured, so depth-checked) to
/// `out`, whose joined value starts at `start`.
fn join_segments(
    input: &[u8],
    h: &Header,
    out: &mut Vec<u8>,
    start: usize,
) -> Result<usize, BerError> {
    let is_bit_string = h.universal == Some(3);
    walk_segments(input, h, 0, usize::MAX, &mut |p, bytes| {
        if is_bit_string {
            // Each segment starts with its own unused-bits octet; keep one leading octet.
            // Every segment but the last must have 0 unused bits.
            let (&unused, rest) = bytes.split_first().ok_or(BerError::BadSegment(p))?;
            if out.len() == start {
                out.push(unused);
            } else {
                if out[start] != 0 {
                    return Err(BerError::BadSegment(p));
                }
                out[start] = unused;
            }
            out.extend_from_slice(rest);
        } else {
            out.extend_from_slice(bytes);
        }
        Ok(())
    })
}

/// Appends a DER length.
pub fn push_len(out: &mut Vec<u8>, len: usize) {
    push_len_u64(out, len as u64);
}

/// Appends a DER length of up to 8 octets, whatever the target's `usize` (streamed
/// content may exceed 4 GiB on a 32-bit target).
pub fn push_len_u64(out: &mut Vec<u8>, len: u64) {
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
}

/// Appends a DER TLV with a one-octet tag.
pub fn push_tlv(out: &mut Vec<u8>, tag: u8, value: &[u8]) {
    out.push(tag);
    push_len(out, value.len());
    out.extend_from_slice(value);
}

/// Returns a DER TLV with a one-octet tag.
pub fn tlv(tag: u8, value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len() + 6);
    push_tlv(&mut out, tag, value);
    out
}

/// One TLV: its (one-octet) tag, the whole encoding, and the contents octets.
pub(crate) type Tlv<'a> = (u8, &'a [u8], &'a [u8]);

/// Splits a DER byte string into its TLVs (one level, no recursion): returns
/// `(tag octet, full TLV, contents)` for each. Used to walk SET OF values in wire order,
/// which the `der` crate's `SetOf` types would re-sort.
pub fn split_tlvs(mut input: &[u8]) -> Result<Vec<Tlv<'_>>, BerError> {
    let mut items = Vec::new();
    let mut offset = 0;
    while !input.is_empty() {
        let h = read_header(input, 0)?;
        let len = h.len.ok_or(BerError::BadIndefinite(offset))?;
        if h.tag.len() != 1 {
            return Err(BerError::BadTag(offset));
        }
        let end = h.body + len;
        items.push((input[0], &input[..end], &input[h.body..end]));
        input = &input[end..];
        offset += end;
    }
    Ok(items)
}

/// Reads exactly one DER TLV spanning all of `input`: returns `(tag octet, contents)`.
pub fn read_one(input: &[u8]) -> Result<(u8, &[u8]), BerError> {
    let items = split_tlvs(input)?;
    match items.as_slice() {
        [(tag, _, value)] => Ok((*tag, *value)),
        [] => Err(BerError::Truncated(0)),
        [(_, first, _), ..] => Err(BerError::TrailingData(input.len() - first.len())),
    }
}

/// Returns a copy of `der` in which every UTCTime or GeneralizedTime before 1970 is
/// replaced by 1970-01-01T00:00:00Z (same length), or `None` when there is none.
///
/// The `der` crate cannot represent times before the Unix epoch, yet real certificates
/// carry them (NIST PKITS 4.2.3 has a 1950 `notBefore`). Clamping to the epoch preserves
/// every comparison with a verification time, which is always later. Only the parsed copy
/// is patched; signatures are still checked over the received bytes.
pub(crate) fn clamp_pre_epoch_times(der: &[u8]) -> Option<Vec<u8>> {
    let mut out = der.to_vec();
    let mut changed = false;
    clamp_walk(der, 0, der.len(), 0, &mut out, &mut changed);
    changed.then_some(out)
}

fn clamp_walk(
    input: &[u8],
    mut pos: usize,
    end: usize,
    depth: usize,
    out: &mut [u8],
    changed: &mut bool,
) {
    if depth > 32 {
        return;
    }
    while pos < end {
        let Ok(h) = read_header(&input[..end], pos) else {
            return;
        };
        let Some(len) = h.len else {
            return;
        };
        let body = h.body..h.body + len;
        match (h.universal, h.constructed) {
            // UTCTime YYMMDDHHMMSSZ: YY 50..=69 is 1950..=1969 (RFC 5280 §4.1.2.5.1).
            (Some(23), false) if len == 13 && matches!(input[h.body], b'5' | b'6') => {
                out[body].copy_from_slice(b"700101000000Z");
                *changed = true;
            }
            (Some(24), false) if len == 15 && input[h.body..h.body + 4] < b"1970"[..] => {
                out[body].copy_from_slice(b"19700101000000Z");
                *changed = true;
            }
            (_, true) => clamp_walk(input, h.body, h.body + len, depth + 1, out, changed),
            _ => {}
        }
        pos = h.body + len;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn der_input_is_borrowed_unchanged() {
        let der = [0x30, 0x06, 0x02, 0x01, 0x05, 0x04, 0x01, 0xaa];
        assert!(matches!(normalize(&der, 16).unwrap(), Cow::Borrowed(_)));
    }

    #[test]
    fn indefinite_lengths_and_chunks_become_der() {
        // SEQUENCE (indef) { [0] (indef) { OCTET STRING (constructed, indef) { "ab", "c" } } }
        let ber = [
            0x30, 0x80, 0xa0, 0x80, 0x24, 0x80, 0x04, 0x02, b'a', b'b', 0x04, 0x01, b'c', 0x00,
            0x00, 0x00, 0x00, 0x00, 0x00,
        ];
        let der = normalize(&ber, 16).unwrap();
        assert_eq!(
            der.as_ref(),
            &[0x30, 0x07, 0xa0, 0x05, 0x04, 0x03, b'a', b'b', b'c']
        );
    }

    #[test]
    fn non_minimal_length_is_rewritten() {
        let ber = [0x04, 0x81, 0x01, 0x41];
        assert_eq!(normalize(&ber, 4).unwrap().as_ref(), &[0x04, 0x01, 0x41]);
    }

    #[test]
    fn bit_string_segments_keep_one_unused_bits_octet() {
        let ber = [
            0x23, 0x80, 0x03, 0x02, 0x00, 0xaa, 0x03, 0x02, 0x04, 0xb0, 0x00, 0x00,
        ];
        assert_eq!(
            normalize(&ber, 4).unwrap().as_ref(),
            &[0x03, 0x03, 0x04, 0xaa, 0xb0]
        );
    }

    #[test]
    fn truncated_and_trailing_inputs_are_errors() {
        assert!(matches!(
            normalize(&[0x30, 0x05, 0x02], 4),
            Err(BerError::Truncated(_))
        ));
        assert!(matches!(
            normalize(&[0x30, 0x80, 0x02, 0x01, 0x00], 4),
            Err(BerError::Truncated(_))
        ));
        assert!(matches!(
            normalize(&[0x05, 0x00, 0x00], 4),
            Err(BerError::TrailingData(1))
        ));
        assert!(matches!(
            normalize(&[0x04, 0x80, 0x00, 0x00], 4),
            Err(BerError::BadIndefinite(0))
        ));
    }

    #[test]
    fn nesting_is_bounded() {
        let mut deep = Vec::new();
        for _ in 0..100 {
            deep.extend_from_slice(&[0x30, 0x80]);
        }
        for _ in 0..100 {
            deep.extend_from_slice(&[0x00, 0x00]);
        }
        assert_eq!(normalize(&deep, 50), Err(BerError::TooDeep(50)));
        assert!(normalize(&deep, 200).is_ok());
    }

    /// `depth` indefinite SEQUENCEs around a constructed OCTET STRING of `chunks` chunks of
    /// `chunk` bytes each: the shape that made the old rewrite cost depth × size.
    fn nested_ber(depth: usize, chunks: usize, chunk: usize) -> Vec<u8> {
        let mut ber = Vec::new();
        for _ in 0..depth {
            ber.extend_from_slice(&[0x30, 0x80]);
        }
        ber.extend_from_slice(&[0x24, 0x80]);
        for i in 0..chunks {
            ber.extend(tlv(0x04, &vec![i as u8; chunk]));
        }
        ber.extend_from_slice(&[0, 0]);
        for _ in 0..depth {
            ber.extend_from_slice(&[0, 0]);
        }
        ber
    }

    #[test]
    fn deep_nesting_is_rewritten_exactly_in_one_linear_pass() {
        let (depth, chunks, chunk) = (200, 64, 1000);
        let ber = nested_ber(depth, chunks, chunk);
        let mut lens = Vec::new();
        let (end, total) = measure(&ber, 0, 0, 256, &mut lens).unwrap();
        assert_eq!(end, ber.len());
        // One measured length per constructed value: 200 SEQUENCEs and one string.
        assert_eq!(lens.len(), depth + 1);
        let der = normalize(&ber, 256).unwrap();
        // The output is written once: its length is what the first pass measured, and
        // the buffer never had to grow (no intermediate copies).
        assert_eq!(der.len(), total);
        // The expected encoding, built from the inside out.
        let content: Vec<u8> = (0..chunks).flat_map(|i| vec![i as u8; chunk]).collect();
        let mut expected = tlv(0x04, &content);
        for _ in 0..depth {
            expected = tlv(0x30, &expected);
        }
        assert_eq!(der.as_ref(), expected.as_slice());
        // Its negative twin: one level more than allowed is refused before any output.
        assert_eq!(
            normalize(&nested_ber(257, 1, 1), 256),
            Err(BerError::TooDeep(256))
        );
    }

    #[test]
    fn lengths_of_every_size_class_are_measured_right() {
        for n in [0usize, 1, 0x7f, 0x80, 0xff, 0x100, 0xffff, 0x10000] {
            let mut v = Vec::new();
            push_len(&mut v, n);
            assert_eq!(v.len(), len_len(n), "{n}");
            // A non-minimal BER length around a value of that size becomes DER.
            let mut ber = vec![0x30, 0x80];
            ber.extend(tlv(0x04, &vec![7; n]));
            ber.extend_from_slice(&[0, 0]);
            assert_eq!(
                normalize(&ber, 4).unwrap().as_ref(),
                tlv(0x30, &tlv(0x04, &vec![7; n]))
            );
        }
    }

    #[test]
    fn a_later_bit_string_segment_after_unused_bits_is_rejected() {
        let ber = [
            0x23, 0x80, 0x03, 0x02, 0x04, 0xa0, 0x03, 0x02, 0x00, 0xb0, 0x00, 0x00,
        ];
        assert!(matches!(normalize(&ber, 4), Err(BerError::BadSegment(_))));
    }

    #[test]
    fn mixed_segment_types_are_rejected() {
        let ber = [0x24, 0x80, 0x0c, 0x01, b'a', 0x00, 0x00];
        assert!(matches!(normalize(&ber, 4), Err(BerError::BadSegment(_))));
    }
}
