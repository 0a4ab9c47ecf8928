//! Hashing content as it passes: every digest a verification or a signature needs, in one
//! read of the content.

use std::collections::HashMap;

use waxseal_trust::algorithm::DigestAlgorithm;
use waxseal_trust::provider::{DigestContext, Provider};

/// One hasher per algorithm.
type Hashers = Vec<(DigestAlgorithm, Box<dyn DigestContext>)>;

/// Content digests computed in one pass, for a set of algorithms; optionally also over
/// the S/MIME canonical form of the content (bare LF as CRLF, RFC 8551 §3.1.1), and
/// optionally keeping the first bytes of the content (for the rare signature that covers
/// the content itself rather than a digest: Ed25519 without signed attributes).
pub(crate) struct MultiHasher {
    raw: Vec<(DigestAlgorithm, Box<dyn DigestContext>)>,
    /// `Some` when the canonical form is wanted; its hashers exist only once the content
    /// differs from its canonical form (until then the raw hashers stand for both).
    canonical: Option<Option<Hashers>>,
    /// Whether the last byte seen was CR (for the canonical form).
    prev_cr: bool,
    retained: Vec<u8>,
    retain_limit: usize,
    overflowed: bool,
    len: u64,
}

/// The result of a [`MultiHasher`].
#[derive(Debug, Clone, Default)]
pub(crate) struct Digests {
    /// Digests of the content as read.
    pub raw: HashMap<DigestAlgorithm, Vec<u8>>,
    /// Digests of the canonical form, when asked for and different from the content.
    pub canonical: Option<HashMap<DigestAlgorithm, Vec<u8>>>,
    /// The content, when it was no longer than the retain limit.
    pub retained: Option<Vec<u8>>,
    /// Content length in bytes.
    pub len: u64,
}

impl MultiHasher {
    /// Hashers for each algorithm of `algs` (duplicates ignored), from `provider`.
    pub(crate) fn new(
        provider: &Provider,
        algs: impl IntoIterator<Item = DigestAlgorithm>,
    ) -> Self {
        let mut raw: Vec<(DigestAlgorithm, Box<dyn DigestContext>)> = Vec::new();
        for a in algs {
            if !raw.iter().any(|(b, _)| *b == a) {
                raw.push((a, provider.digest_context(a)));
            }
        }
        Self {
            raw,
            canonical: None,
            prev_cr: false,
            retained: Vec::new(),
            retain_limit: 0,
            overflowed: false,
            len: 0,
        }
    }

    /// Also hash the canonical (CRLF) form.
    pub(crate) fn with_canonical(mut self) -> Self {
        self.canonical = Some(None);
        self
    }

    /// Keep the content in memory while it is at most `limit` bytes.
    pub(crate) fn retaining(mut self, limit: usize) -> Self {
        self.retain_limit = limit;
        self
    }

    /// Feeds `data`.
    pub(crate) fn update(&mut self, data: &[u8]) {
        self.len += data.len() as u64;
        if !self.overflowed {
            if self.retained.len() + data.len() <= self.retain_limit {
                self.retained.extend_from_slice(data);
            } else {
                self.overflowed = true;
                self.retained = Vec::new();
            }
        }
        match &mut self.canonical {
            None => {
                for (_, h) in &mut self.raw {
                    h.update(data);
                }
            }
            Some(canonical) => {
                Self::update_canonical(&mut self.raw, canonical, &mut self.prev_cr, data)
            }
        }
    }

    fn update_canonical(
        raw: &mut [(DigestAlgorithm, Box<dyn DigestContext>)],
        canonical: &mut Option<Hashers>,
        prev_cr: &mut bool,
        data: &[u8],
    ) {
        let mut data = data;
        if canonical.is_none() {
            // Until the first bare LF, the content is its own canonical form: the raw
            // hashers stand for both, and are copied at that point.
            let Some(i) = first_bare_lf(data, *prev_cr) else {
                for (_, h) in raw.iter_mut() {
                    h.update(data);
                }
                *prev_cr = data.last().map_or(*prev_cr, |&b| b == b'\r');
                return;
            };
            for (_, h) in raw.iter_mut() {
                h.update(&data[..i]);
            }
            *canonical = Some(raw.iter().map(|(a, h)| (*a, h.box_clone())).collect());
            for (_, h) in raw.iter_mut() {
                h.update(&data[i..]);
            }
            if i > 0 {
                *prev_cr = data[i - 1] == b'\r';
            }
            data = &data[i..];
        } else {
            for (_, h) in raw.iter_mut() {
                h.update(data);
            }
        }
        let hs = canonical.as_mut().expect("set above");
        let mut prev = *prev_cr;
        let mut start = 0;
        while let Some(i) = first_bare_lf(&data[start..], prev) {
            let at = start + i;
            for (_, h) in hs.iter_mut() {
                h.update(&data[start..at]);
                h.update(b"\r\n");
            }
            start = at + 1;
            // The byte before the rest is this LF, not a CR.
            prev = false;
        }
        for (_, h) in hs.iter_mut() {
            h.update(&data[start..]);
        }
        *prev_cr = data.last().map_or(*prev_cr, |&b| b == b'\r');
    }

    /// The digests.
    pub(crate) fn finish(self) -> Digests {
        let finish = |hs: Vec<(DigestAlgorithm, Box<dyn DigestContext>)>| {
            hs.into_iter().map(|(a, h)| (a, h.finish())).collect()
        };
        Digests {
            raw: finish(self.raw),
            canonical: self.canonical.flatten().map(finish),
            retained: (!self.overflowed).then_some(self.retained),
            len: self.len,
        }
    }
}

/// The offset of the first LF in `data` not preceded by CR (`prev_cr`: whether the byte
/// before `data` was CR).
fn first_bare_lf(data: &[u8], prev_cr: bool) -> Option<usize> {
    let mut from = 0;
    loop {
        let i = from + data[from..].iter().position(|&b| b == b'\n')?;
        let before = if i == 0 {
            prev_cr
        } else {
            data[i - 1] == b'\r'
        };
        if !before {
            return Some(i);
        }
        from = i + 1;
    }
}
