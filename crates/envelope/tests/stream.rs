//! Streaming: content larger than the old 64 MiB limit signed and verified in one pass,
//! attached (definite and indefinite lengths) and detached, with the negative twins
//! (tampered content at the end, truncated envelopes, wrong detached content), and interop
//! with `openssl cms` both ways (`-stream` envelopes in, waxseal's streamed envelopes out).

use std::io::{Read, Write};
use std::process::Command;

use sha2::Digest;
use waxseal_envelope::*;
use waxseal_pki::TestPki;
use waxseal_trust::*;

/// Larger than the in-memory limit of 64 MiB.
const LARGE: u64 = 70 << 20;
const BLOCK: usize = 1 << 20;

/// Deterministic content of `len` bytes, generated as it is read (never held).
struct Gen {
    len: u64,
    pos: u64,
    block: Vec<u8>,
    /// Flip the byte at this offset (tampering).
    flip: Option<u64>,
}

impl Gen {
    fn new(len: u64) -> Self {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let block = (0..BLOCK)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        Self {
            len,
            pos: 0,
            block,
            flip: None,
        }
    }

    fn flipped(mut self, at: u64) -> Self {
        self.flip = Some(at);
        self
    }
}

impl Read for Gen {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let left = self.len - self.pos;
        let off = (self.pos % BLOCK as u64) as usize;
        let n = buf.len().min(BLOCK - off).min(left as usize);
        buf[..n].copy_from_slice(&self.block[off..off + n]);
        // Each block differs from the last: its first bytes carry the block number.
        let blockno = (self.pos / BLOCK as u64).to_be_bytes();
        for (i, b) in buf[..n].iter_mut().enumerate() {
            let at = off + i;
            if at < 8 {
                *b ^= blockno[at];
            }
            if self.flip == Some(self.pos + i as u64) {
                *b ^= 1;
            }
        }
        self.pos += n as u64;
        Ok(n)
    }
}

/// SHA-256 of everything written, and its length.
#[derive(Default)]
struct HashSink(sha2::Sha256, u64);

impl Write for HashSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        self.1 += buf.len() as u64;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn sha256_of(mut r: impl Read) -> Vec<u8> {
    let mut h = HashSink::default();
    std::io::copy(&mut r, &mut h).unwrap();
    h.0.finalize().to_vec()
}

struct Fx {
    pki: TestPki,
    signer: Signer,
    dir: tempfile::TempDir,
}

impl Fx {
    fn new(alg: KeyAlgorithm) -> Self {
        let pki = TestPki::new(KeyAlgorithm::P256).unwrap();
        let leaf = pki.leaf("stream.example.org", alg).unwrap();
        let signer = Signer::new(leaf.cert.clone(), leaf.key)
            .unwrap()
            .with_chain(vec![pki.ca.cert.clone()]);
        Self {
            pki,
            signer,
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn verifier(&self) -> Verifier {
        Verifier::new(TrustAnchors::new([self.pki.root.cert.clone()]).unwrap())
    }

    fn path(&self, name: &str) -> std::path::PathBuf {
        self.dir.path().join(name)
    }
}

fn code(r: Result<StreamVerified, StreamError>) -> &'static str {
    r.map(|_| ()).unwrap_err().code()
}

#[test]
fn detached_large_content_round_trips_in_one_pass() {
    let fx = Fx::new(KeyAlgorithm::P256);
    let env = StreamBuilder::new()
        .add_signer(&fx.signer)
        .sign_detached(Gen::new(LARGE))
        .unwrap();
    assert!(env.is_detached());
    let v = fx
        .verifier()
        .verify_detached_reader(&env, Gen::new(LARGE))
        .unwrap();
    assert_eq!(v.content_len(), LARGE);
    assert_eq!(v.signers()[0].certificate, *fx.signer.certificate());
    // The same envelope through the reader that writes the content on.
    let mut sink = HashSink::default();
    let mut content = Gen::new(LARGE);
    let v = fx
        .verifier()
        .verify_reader(&env.to_der()[..], Some(&mut content), &mut sink)
        .unwrap();
    assert_eq!((v.content_len(), sink.1), (LARGE, LARGE));
    assert_eq!(sink.0.finalize().to_vec(), sha256_of(Gen::new(LARGE)));

    // Negative twins: the last byte changed, one byte missing, one byte more.
    let v = fx.verifier();
    let tampered = Gen::new(LARGE).flipped(LARGE - 1);
    assert_eq!(
        code(v.verify_detached_reader(&env, tampered)),
        "message-digest-mismatch"
    );
    assert_eq!(
        code(v.verify_detached_reader(&env, Gen::new(LARGE - 1))),
        "message-digest-mismatch"
    );
    assert_eq!(
        code(v.verify_detached_reader(&env, Gen::new(LARGE + 1))),
        "message-digest-mismatch"
    );
    // No content, or content for an attached envelope.
    assert_eq!(
        code(v.verify_reader(&env.to_der()[..], None, &mut std::io::sink())),
        "missing-content"
    );
}

#[test]
fn attached_indefinite_large_content_round_trips() {
    let fx = Fx::new(KeyAlgorithm::Rsa2048);
    let file = fx.path("large.p7m");
    StreamBuilder::new()
        .add_signer(&fx.signer)
        .write_attached(
            Gen::new(LARGE),
            std::io::BufWriter::new(std::fs::File::create(&file).unwrap()),
        )
        .unwrap();
    let mut sink = HashSink::default();
    let v = fx
        .verifier()
        .verify_reader(std::fs::File::open(&file).unwrap(), None, &mut sink)
        .unwrap();
    assert_eq!(v.format(), Format::Ber);
    assert_eq!((v.content_len(), sink.1), (LARGE, LARGE));
    assert_eq!(sink.0.finalize().to_vec(), sha256_of(Gen::new(LARGE)));
    // Content for an attached envelope is a conflict.
    let mut extra = Gen::new(1);
    assert_eq!(
        code(fx.verifier().verify_reader(
            std::fs::File::open(&file).unwrap(),
            Some(&mut extra),
            &mut std::io::sink()
        )),
        "content-conflict"
    );

    // Tampered: one content byte near the end (in the last segment) flipped in place.
    let mut bytes = std::fs::read(&file).unwrap();
    let sig_len = {
        // The content ends before the trailing fields; flip a byte 2 KiB before the
        // certificates and signer infos start (they are under 4 KiB here).
        8 << 10
    };
    let at = bytes.len() - sig_len;
    bytes[at] ^= 1;
    let r = fx
        .verifier()
        .verify_reader(&bytes[..], None, &mut std::io::sink());
    assert_eq!(code(r), "message-digest-mismatch");
    bytes[at] ^= 1;

    // Truncated anywhere: in the content, in the signer infos, in the last end-of-contents.
    for cut in [bytes.len() / 2, bytes.len() - 100, bytes.len() - 1] {
        let r = fx
            .verifier()
            .verify_reader(&bytes[..cut], None, &mut std::io::sink());
        assert_eq!(code(r), "malformed", "cut at {cut}");
    }
    // Trailing bytes after the envelope.
    bytes.push(0);
    let r = fx
        .verifier()
        .verify_reader(&bytes[..], None, &mut std::io::sink());
    assert_eq!(code(r), "malformed");
}

#[test]
fn attached_definite_large_content_round_trips() {
    let fx = Fx::new(KeyAlgorithm::P256);
    let content = fx.path("large.bin");
    std::io::copy(
        &mut Gen::new(LARGE),
        &mut std::fs::File::create(&content).unwrap(),
    )
    .unwrap();
    let file = fx.path("large.p7m");
    StreamBuilder::new()
        .add_signer(&fx.signer)
        .write_attached_sized(
            std::fs::File::open(&content).unwrap(),
            std::io::BufWriter::new(std::fs::File::create(&file).unwrap()),
        )
        .unwrap();
    std::fs::remove_file(&content).unwrap();
    let mut sink = HashSink::default();
    let v = fx
        .verifier()
        .verify_reader(std::fs::File::open(&file).unwrap(), None, &mut sink)
        .unwrap();
    assert_eq!(v.format(), Format::Der);
    assert_eq!(sink.0.finalize().to_vec(), sha256_of(Gen::new(LARGE)));
    // Truncated: the definite lengths promise more than there is.
    let len = std::fs::metadata(&file).unwrap().len();
    let r = fx.verifier().verify_reader(
        std::fs::File::open(&file).unwrap().take(len - 1),
        None,
        &mut std::io::sink(),
    );
    assert_eq!(code(r), "malformed");
}

#[test]
fn streamed_envelopes_equal_the_in_memory_ones() {
    // Ed25519 signs deterministically (RFC 8032) with every provider (graviola's ECDSA
    // does not: its nonces are hedged with randomness): with a fixed signing time the
    // streamed definite-length envelope is byte for byte the one EnvelopeBuilder makes.
    let fx = Fx::new(KeyAlgorithm::Ed25519);
    let signer = fx.signer.clone().with_signing_time(1_700_000_000);
    let content: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let built = EnvelopeBuilder::new(&content)
        .add_signer(&signer)
        .build()
        .unwrap()
        .to_der();
    let mut streamed = Vec::new();
    StreamBuilder::new()
        .add_signer(&signer)
        .write_attached_sized(std::io::Cursor::new(&content), &mut streamed)
        .unwrap();
    assert!(
        streamed == built,
        "streamed definite envelope differs from the built one"
    );
    let detached = StreamBuilder::new()
        .add_signer(&signer)
        .sign_detached(&content[..])
        .unwrap()
        .to_der();
    let built_detached = EnvelopeBuilder::new(&content)
        .detached(true)
        .add_signer(&signer)
        .build()
        .unwrap()
        .to_der();
    assert!(
        detached == built_detached,
        "streamed detached envelope differs"
    );

    // The indefinite-length form verifies in memory too (BER normalization), to the
    // same content; and a streamed verification of a non-streamed envelope agrees.
    let mut indefinite = Vec::new();
    StreamBuilder::new()
        .add_signer(&signer)
        .write_attached(&content[..], &mut indefinite)
        .unwrap();
    let v = fx.verifier().verify_bytes(&indefinite, None).unwrap();
    assert_eq!(v.content(), &content[..]);
    assert_eq!(v.format(), Format::Ber);
    let mut out = Vec::new();
    fx.verifier()
        .verify_reader(&built[..], None, &mut out)
        .unwrap();
    assert_eq!(out, content);

    // Signers without signed attributes sign the content itself: not from a stream.
    let noattr = signer.clone().without_signed_attributes();
    assert!(matches!(
        StreamBuilder::new()
            .add_signer(&noattr)
            .sign_detached(&content[..]),
        Err(SignError::StreamingWithoutAttributes)
    ));
}

#[test]
fn streamed_verification_refuses_what_in_memory_verification_refuses() {
    let fx = Fx::new(KeyAlgorithm::P256);
    let other = TestPki::new(KeyAlgorithm::P256).unwrap();
    let mut env = Vec::new();
    StreamBuilder::new()
        .add_signer(&fx.signer)
        .write_attached(&b"hello"[..], &mut env)
        .unwrap();
    // Another anchor: untrusted, with the in-memory code.
    let foreign = Verifier::new(TrustAnchors::new([other.root.cert.clone()]).unwrap());
    let in_memory = foreign.verify_bytes(&env, None).unwrap_err().code();
    let streamed = code(foreign.verify_reader(&env[..], None, &mut std::io::sink()));
    assert_eq!(streamed, in_memory);
    assert_ne!(streamed, "malformed");
    // Not SignedData, empty, garbage.
    for bad in [&b""[..], b"\x30\x03\x02\x01\x01", b"\x04\x80\x00\x00"] {
        assert_eq!(
            code(fx.verifier().verify_reader(bad, None, &mut std::io::sink())),
            "malformed"
        );
    }
    // Constructed content nested deeper than the bound.
    let mut deep = vec![0x30, 0x80, 0x06, 0x09];
    deep.extend([0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02]);
    deep.extend([
        0xa0, 0x80, 0x30, 0x80, 0x02, 0x01, 0x01, 0x31, 0x00, 0x30, 0x80,
    ]);
    deep.extend([
        0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01,
    ]);
    deep.extend([0xa0, 0x80]);
    for _ in 0..300 {
        deep.extend([0x24, 0x80]);
    }
    deep.extend([0x04, 0x01, b'x']);
    for _ in 0..300 {
        deep.extend([0, 0]);
    }
    let r = fx
        .verifier()
        .verify_reader(&deep[..], None, &mut std::io::sink());
    assert_eq!(code(r), "malformed");
}

fn openssl(args: &[&str]) -> std::process::Output {
    let out = Command::new("openssl")
        .args(args)
        .output()
        .expect("the openssl command is required for interop tests");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// 3 MiB: several 1 MiB segments on both sides.
const INTEROP: u64 = 3 << 20;

#[test]
fn openssl_verifies_streamed_envelopes() {
    let fx = Fx::new(KeyAlgorithm::Rsa2048);
    let root = fx.path("root.pem");
    std::fs::write(&root, fx.pki.root.cert.to_pem()).unwrap();
    let content = fx.path("content.bin");
    std::io::copy(
        &mut Gen::new(INTEROP),
        &mut std::fs::File::create(&content).unwrap(),
    )
    .unwrap();
    let (ind, def, det, out) = (
        fx.path("ind.p7m"),
        fx.path("def.p7m"),
        fx.path("det.p7s"),
        fx.path("out.bin"),
    );
    let b = || StreamBuilder::new().add_signer(&fx.signer);
    b().write_attached(
        std::fs::File::open(&content).unwrap(),
        std::fs::File::create(&ind).unwrap(),
    )
    .unwrap();
    b().write_attached_sized(
        std::fs::File::open(&content).unwrap(),
        std::fs::File::create(&def).unwrap(),
    )
    .unwrap();
    let env = b()
        .sign_detached(std::fs::File::open(&content).unwrap())
        .unwrap();
    std::fs::write(&det, env.to_der()).unwrap();
    let s = |p: &std::path::Path| p.display().to_string();
    for f in [&ind, &def] {
        let _ = std::fs::remove_file(&out);
        openssl(&[
            "cms",
            "-verify",
            "-binary",
            "-inform",
            "DER",
            "-in",
            &s(f),
            "-CAfile",
            &s(&root),
            "-out",
            &s(&out),
        ]);
        assert_eq!(
            sha256_of(std::fs::File::open(&out).unwrap()),
            sha256_of(Gen::new(INTEROP)),
            "{}",
            f.display()
        );
    }
    openssl(&[
        "cms",
        "-verify",
        "-binary",
        "-inform",
        "DER",
        "-in",
        &s(&det),
        "-content",
        &s(&content),
        "-CAfile",
        &s(&root),
        "-out",
        "/dev/null",
    ]);
}

#[test]
fn waxseal_verifies_openssl_stream_envelopes() {
    let fx = Fx::new(KeyAlgorithm::P256);
    let (root, cert, key) = (
        fx.path("root.pem"),
        fx.path("leaf.pem"),
        fx.path("leaf.key"),
    );
    std::fs::write(&root, fx.pki.root.cert.to_pem()).unwrap();
    std::fs::write(&cert, fx.signer.certificate().to_pem()).unwrap();
    let ca = fx.path("ca.pem");
    std::fs::write(&ca, fx.pki.ca.cert.to_pem()).unwrap();
    let leaf = fx
        .pki
        .leaf("openssl.example.org", KeyAlgorithm::P256)
        .unwrap();
    std::fs::write(&cert, leaf.cert.to_pem()).unwrap();
    std::fs::write(&key, leaf.key.to_pkcs8_pem().as_bytes()).unwrap();
    let content = fx.path("content.bin");
    std::io::copy(
        &mut Gen::new(INTEROP),
        &mut std::fs::File::create(&content).unwrap(),
    )
    .unwrap();
    let s = |p: &std::path::Path| p.display().to_string();
    let (streamed, detached) = (fx.path("ossl.p7m"), fx.path("ossl.p7s"));
    let (content, cert, key, ca) = (s(&content), s(&cert), s(&key), s(&ca));
    let sign = |extra: &[&str], out: &std::path::Path| {
        let common = [
            "cms",
            "-sign",
            "-binary",
            "-outform",
            "DER",
            "-in",
            &content,
            "-signer",
            &cert,
            "-inkey",
            &key,
            "-certfile",
            &ca,
            "-out",
        ];
        let out = s(out);
        openssl(&[&common[..], &[out.as_str()], extra].concat());
    };
    // -stream: indefinite lengths, the content in constructed OCTET STRING segments.
    sign(&["-stream", "-nodetach"], &streamed);
    sign(&[], &detached);
    let raw = std::fs::read(&streamed).unwrap();
    assert_eq!(
        &raw[..2],
        &[0x30, 0x80],
        "openssl -stream writes indefinite lengths"
    );
    let mut sink = HashSink::default();
    let v = fx
        .verifier()
        .verify_reader(&raw[..], None, &mut sink)
        .unwrap();
    assert_eq!(v.format(), Format::Ber);
    assert_eq!(v.signers()[0].certificate, leaf.cert);
    assert_eq!(sink.0.finalize().to_vec(), sha256_of(Gen::new(INTEROP)));
    let env = Envelope::parse(&std::fs::read(&detached).unwrap()).unwrap();
    let v = fx
        .verifier()
        .verify_detached_reader(&env, std::fs::File::open(&content).unwrap())
        .unwrap();
    assert_eq!(v.content_len(), INTEROP);
    // Negative twins: wrong content for the detached one; a content byte flipped in the
    // streamed one.
    assert_eq!(
        code(
            fx.verifier()
                .verify_detached_reader(&env, Gen::new(INTEROP).flipped(INTEROP - 1))
        ),
        "message-digest-mismatch"
    );
    let mut bad = raw.clone();
    let mid = bad.len() / 2;
    bad[mid] ^= 1;
    assert_eq!(
        code(
            fx.verifier()
                .verify_reader(&bad[..], None, &mut std::io::sink())
        ),
        "message-digest-mismatch"
    );
}

#[test]
fn smime_multipart_streams_its_first_part_canonicalized_as_in_memory() {
    let fx = Fx::new(KeyAlgorithm::P256);
    // A body part with bare LF line ends, larger than a read chunk, signed in canonical
    // (CRLF) form as S/MIME text mode does.
    let mut part = b"Content-Type: text/plain\n\n".to_vec();
    while part.len() < (3 << 20) {
        part.extend_from_slice(b"line of text, then a bare LF\n");
    }
    let canonical = format::canonical_crlf(&part);
    let env = EnvelopeBuilder::new(&canonical)
        .detached(true)
        .add_signer(&fx.signer)
        .build()
        .unwrap();
    let mime = format::to_smime_detached(&env.to_der(), &part, &["sha-256"]);
    let in_memory = fx.verifier().verify_bytes(&mime, None).unwrap();
    let mut out = Vec::new();
    let v = fx
        .verifier()
        .verify_multipart_reader(&mime[..], &mut out)
        .unwrap();
    assert!(out == part, "the part is handed on as received");
    assert_eq!(v.content_len(), part.len() as u64);
    assert_eq!(v.format(), Format::SmimeDetached);
    // What verified is the canonical form, which the in-memory verification hands out.
    assert!(v.is_canonical());
    assert!(in_memory.content() == &canonical[..]);
    // Binary (as sent) signatures verify too.
    let env = EnvelopeBuilder::new(&part)
        .detached(true)
        .add_signer(&fx.signer)
        .build()
        .unwrap();
    let binary = format::to_smime_detached(&env.to_der(), &part, &["sha-256"]);
    let v = fx
        .verifier()
        .verify_multipart_reader(&binary[..], &mut std::io::sink())
        .unwrap();
    assert!(!v.is_canonical());

    // Negative twins: a byte of the part changed at its end; the signature part cut;
    // not multipart/signed at all.
    let mut bad = mime.clone();
    // The part ends before the second boundary line (the first follows the preamble).
    let first = find(&bad, b"\r\n------waxseal-").unwrap() + 2;
    let end = first + 2 + find(&bad[first + 2..], b"\r\n------waxseal-").unwrap();
    bad[end - 2] ^= 1;
    assert_eq!(
        code(
            fx.verifier()
                .verify_multipart_reader(&bad[..], &mut std::io::sink())
        ),
        "message-digest-mismatch"
    );
    assert_eq!(
        fx.verifier().verify_bytes(&bad, None).unwrap_err().code(),
        "message-digest-mismatch"
    );
    let cut = &mime[..mime.len() - 200];
    assert_eq!(
        code(
            fx.verifier()
                .verify_multipart_reader(cut, &mut std::io::sink())
        ),
        "malformed"
    );
    let opaque = format::to_smime_opaque(&env.to_der());
    assert_eq!(
        code(
            fx.verifier()
                .verify_multipart_reader(&opaque[..], &mut std::io::sink())
        ),
        "malformed"
    );
}

#[test]
fn openssl_smime_multipart_verifies_streamed() {
    let fx = Fx::new(KeyAlgorithm::Rsa2048);
    let (cert, key, ca) = (fx.path("leaf.pem"), fx.path("leaf.key"), fx.path("ca.pem"));
    let leaf = fx
        .pki
        .leaf("smime.example.org", KeyAlgorithm::Rsa2048)
        .unwrap();
    std::fs::write(&cert, leaf.cert.to_pem()).unwrap();
    std::fs::write(&key, leaf.key.to_pkcs8_pem().as_bytes()).unwrap();
    std::fs::write(&ca, fx.pki.ca.cert.to_pem()).unwrap();
    let content = fx.path("c.txt");
    let text: Vec<u8> = (0..200_000)
        .flat_map(|i| format!("line {i}\n").into_bytes())
        .collect();
    std::fs::write(&content, &text).unwrap();
    let s = |p: &std::path::Path| p.display().to_string();
    let out = fx.path("m.eml");
    // Text mode: openssl canonicalizes (CRLF) and writes multipart/signed.
    openssl(&[
        "cms",
        "-sign",
        "-in",
        &s(&content),
        "-signer",
        &s(&cert),
        "-inkey",
        &s(&key),
        "-certfile",
        &s(&ca),
        "-out",
        &s(&out),
    ]);
    let mime = std::fs::read(&out).unwrap();
    let mut got = Vec::new();
    let v = fx
        .verifier()
        .verify_multipart_reader(&mime[..], &mut got)
        .unwrap();
    assert_eq!(v.signers()[0].certificate, leaf.cert);
    let in_memory = fx.verifier().verify_bytes(&mime, None).unwrap();
    assert!(
        got == in_memory.content(),
        "streamed and in-memory parts differ"
    );
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}
