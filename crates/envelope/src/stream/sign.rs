//! Signing content read from a [`Read`]: detached, or attached and written as it passes.

use std::io::{Read, Seek, SeekFrom, Write};
use waxseal_trust::provider::Provider;

use const_oid::ObjectIdentifier as Oid;
use der::Encode;

use super::ber::CHUNK;
use super::hash::MultiHasher;
use crate::envelope::Envelope;
use crate::oid;
use crate::rfc5652::{EncapsulatedContentInfo, SignedData};
use crate::sign::{SignError, Signer, add_signer_with_digest, signed_data_version};

/// Signs content of any size read from a [`Read`], in bounded memory: the content is
/// hashed as it is read, never held.
///
/// Signers must use signed attributes (the default): one without them signs the content
/// itself ([`SignError::StreamingWithoutAttributes`]).
///
/// ```no_run
/// # use waxseal_envelope::{Signer, stream::StreamBuilder};
/// # fn demo(signer: &Signer) -> Result<(), waxseal_envelope::SignError> {
/// // A detached signature of a large file, reading it once.
/// let file = std::fs::File::open("backup.tar")?;
/// let envelope = StreamBuilder::new().add_signer(signer).sign_detached(file)?;
/// std::fs::write("backup.tar.p7s", envelope.to_der())?;
///
/// // An attached envelope of standard input, written as it is read (indefinite lengths).
/// let out = std::fs::File::create("stdin.p7m")?;
/// StreamBuilder::new()
///     .add_signer(signer)
///     .write_attached(std::io::stdin().lock(), std::io::BufWriter::new(out))?;
/// # Ok(()) }
/// ```
pub struct StreamBuilder<'a> {
    content_type: Oid,
    include_certificates: bool,
    signers: Vec<&'a Signer>,
}

impl Default for StreamBuilder<'_> {
    fn default() -> Self {
        Self::new()
    }
}

impl<'a> StreamBuilder<'a> {
    /// A builder for id-data content, certificates embedded.
    pub fn new() -> Self {
        Self {
            content_type: oid::ID_DATA,
            include_certificates: true,
            signers: Vec::new(),
        }
    }

    crate::sign::signing_setters!('a);

    /// Whether the signers can sign a stream: at least one, each with signed attributes.
    fn check_signers_stream(&self) -> Result<(), SignError> {
        if self.signers.is_empty() {
            return Err(SignError::NoSigners);
        }
        if self.signers.iter().any(|s| !s.has_signed_attributes()) {
            return Err(SignError::StreamingWithoutAttributes);
        }
        Ok(())
    }

    /// The cryptography that hashes the content: the first signer's (a digest is the
    /// same whichever backend computes it, so one pass serves every signer).
    fn provider(&self) -> Provider {
        self.signers
            .first()
            .map_or_else(Provider::default, |s| *s.provider())
    }

    /// Reads `content` to its end, hashing it with every signer's digest at once.
    fn hash(&self, mut content: impl Read) -> Result<(MultiHasher, u64), SignError> {
        let mut hasher =
            MultiHasher::new(&self.provider(), self.signers.iter().map(|s| s.digest()));
        let mut buf = vec![0u8; CHUNK];
        let mut len = 0u64;
        loop {
            let n = match content.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e.into()),
            };
            hasher.update(&buf[..n]);
            len += n as u64;
        }
        Ok((hasher, len))
    }

    /// The signed `SignedData` without content, for content with `digests`.
    fn signed(&self, hasher: MultiHasher) -> Result<SignedData, SignError> {
        let digests = hasher.finish();
        let mut sd = self.template();
        for signer in &self.signers {
            let digest = &digests.raw[&signer.digest()];
            add_signer_with_digest(&mut sd, signer, digest, None, self.include_certificates)?;
        }
        Ok(sd)
    }

    /// A `SignedData` with no signer yet, but the version and digest algorithms it will
    /// have (they precede the content when it streams).
    fn template(&self) -> SignedData {
        let mut sd = SignedData {
            version: 1,
            digest_algorithms: Vec::new(),
            encap_content_info: EncapsulatedContentInfo::new(self.content_type, None),
            certificates: Vec::new(),
            crls: Vec::new(),
            signer_infos: Vec::new(),
        };
        for signer in &self.signers {
            let alg = signer.digest().algorithm_identifier();
            if !sd.digest_algorithms.iter().any(|a| a.oid == alg.oid) {
                sd.digest_algorithms.push(alg);
            }
        }
        let v3 = self.signers.iter().any(|s| s.signer_info_version() == 3);
        sd.version = if v3 || self.content_type != oid::ID_DATA {
            3
        } else {
            signed_data_version(&sd)
        };
        sd
    }

    /// A detached signature of `content`, read once.
    pub fn sign_detached(self, content: impl Read) -> Result<Envelope, SignError> {
        self.check_signers_stream()?;
        let (hasher, _) = self.hash(content)?;
        Ok(Envelope::from_signed_data(self.signed(hasher)?))
    }

    /// Writes an attached envelope of `content` to `out` as `content` is read, in
    /// indefinite-length BER (as `openssl cms -sign -stream`): for content whose size is
    /// not known in advance (standard input, a pipe). The content is cut into OCTET STRING
    /// segments of at most 1 MiB. `out` is flushed at the end.
    pub fn write_attached(
        self,
        mut content: impl Read,
        mut out: impl Write,
    ) -> Result<(), SignError> {
        self.check_signers_stream()?;
        let template = self.template();
        let mut hasher =
            MultiHasher::new(&self.provider(), self.signers.iter().map(|s| s.digest()));
        // ContentInfo, [0], SignedData, leading fields, encapContentInfo, [0], OCTET STRING.
        let mut head = vec![0x30, 0x80];
        head.extend(oid::ID_SIGNED_DATA.to_der().expect("OIDs encode"));
        head.extend([0xa0, 0x80, 0x30, 0x80]);
        head.extend(template.leading_fields_der());
        head.extend([0x30, 0x80]);
        head.extend(self.content_type.to_der().expect("OIDs encode"));
        head.extend([0xa0, 0x80, 0x24, 0x80]);
        out.write_all(&head)?;
        let mut buf = vec![0u8; CHUNK];
        loop {
            let n = match content.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e.into()),
            };
            hasher.update(&buf[..n]);
            let mut h = Vec::with_capacity(8);
            header(&mut h, 0x04, n as u64);
            out.write_all(&h)?;
            out.write_all(&buf[..n])?;
        }
        let sd = self.signed(hasher)?;
        debug_assert_eq!(sd.leading_fields_der(), template.leading_fields_der());
        // End of the OCTET STRING, [0] and encapContentInfo; the rest; then the ends of
        // SignedData, [0] and ContentInfo.
        let mut tail = vec![0; 6];
        tail.extend(sd.trailing_fields_der());
        tail.extend([0; 6]);
        out.write_all(&tail)?;
        out.flush()?;
        Ok(())
    }

    /// Writes an attached envelope of `content` to `out` with definite lengths (DER).
    /// The signatures must be known before the content is written, so `content` is read
    /// twice: once to hash it, then again from its start to copy it; it must not change
    /// in between ([`SignError::ContentChanged`] if its length does). `out` is flushed at
    /// the end.
    pub fn write_attached_sized<C: Read + Seek>(
        self,
        mut content: C,
        mut out: impl Write,
    ) -> Result<(), SignError> {
        self.check_signers_stream()?;
        let start = content.stream_position()?;
        let (hasher, len) = self.hash(&mut content)?;
        let sd = self.signed(hasher)?;
        let leading = sd.leading_fields_der();
        let trailing = sd.trailing_fields_der();
        let ct = self.content_type.to_der().expect("OIDs encode");
        // Content lengths, innermost first: each value's is its children's TLV sizes.
        let tlv_len = |content_len: u64| header_len(content_len) + content_len;
        let explicit_len = tlv_len(len);
        let eci_len = ct.len() as u64 + tlv_len(explicit_len);
        let sd_len = leading.len() as u64 + tlv_len(eci_len) + trailing.len() as u64;
        let oid = oid::ID_SIGNED_DATA.to_der().expect("OIDs encode");
        let ci_explicit_len = tlv_len(sd_len);
        let ci_len = oid.len() as u64 + tlv_len(ci_explicit_len);

        let mut head = Vec::new();
        header(&mut head, 0x30, ci_len);
        head.extend(oid);
        header(&mut head, 0xa0, ci_explicit_len);
        header(&mut head, 0x30, sd_len);
        head.extend(leading);
        header(&mut head, 0x30, eci_len);
        head.extend(ct);
        header(&mut head, 0xa0, explicit_len);
        header(&mut head, 0x04, len);
        out.write_all(&head)?;
        content.seek(SeekFrom::Start(start))?;
        let mut buf = vec![0u8; CHUNK];
        let mut copied = 0u64;
        while copied < len {
            let want = usize::try_from(len - copied).unwrap_or(CHUNK).min(CHUNK);
            let n = match content.read(&mut buf[..want]) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e.into()),
            };
            out.write_all(&buf[..n])?;
            copied += n as u64;
        }
        if copied != len || content.read(&mut buf[..1])? != 0 {
            return Err(SignError::ContentChanged);
        }
        out.write_all(&trailing)?;
        out.flush()?;
        Ok(())
    }
}

/// Length of a tag-and-length header (one-octet tag) for `len` content octets.
fn header_len(len: u64) -> u64 {
    let mut v = Vec::new();
    header(&mut v, 0, len);
    v.len() as u64
}

/// A one-octet tag and a DER length of up to 8 octets (content may exceed 4 GiB).
fn header(out: &mut Vec<u8>, tag: u8, len: u64) {
    out.push(tag);
    waxseal_trust::asn1::push_len_u64(out, len);
}
