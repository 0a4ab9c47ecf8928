//! RFC 4134 "Examples of S/MIME Messages": every SignedData example, made by other
//! implementations, verifies with SHA-1 explicitly allowed and CarlRSASelf + CarlDSSSelf
//! as trust anchors, and is rejected without the opt-in.

mod common;

use waxseal_envelope::*;
use waxseal_trust::*;

fn read(name: &str) -> Vec<u8> {
    let path = common::vectors().join("rfc4134").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn anchors() -> TrustAnchors {
    let mut certs = Certificate::load_all(&read("CarlRSASelf.cer")).unwrap();
    certs.extend(Certificate::load_all(&read("CarlDSSSelf.cer")).unwrap());
    TrustAnchors::new(certs).unwrap()
}

/// The verification time: 2010-06-01, inside the examples' validity (1999 to the end of
/// 2039), fixed so the test never depends on the real clock.
const AT: u64 = 1_275_350_400;

fn verifier(legacy: bool) -> Verifier {
    let v = Verifier::new(anchors()).at_time(AT);
    if legacy {
        v.with_algorithms(AlgorithmPolicy::LEGACY_SHA1)
    } else {
        v
    }
}

/// (example, detached content?, expected signers, expected signer CNs)
const EXAMPLES: &[(&str, bool, usize, &[&str])] = &[
    ("4.1.bin", false, 1, &["AliceDSS"]),
    ("4.2.bin", false, 1, &["AliceRSA"]),
    ("4.3.bin", true, 1, &["AliceDSS"]),
    ("4.4.bin", false, 1, &["AliceDSS"]),
    ("4.5.bin", false, 1, &["AliceRSA"]),
    ("4.6.bin", false, 2, &["AliceDSS", "DianeDSS"]),
    ("4.7.bin", false, 1, &["AliceDSS"]),
    ("4.8.eml", false, 1, &["AliceDSS"]),
    ("4.9.eml", false, 1, &["AliceDSS"]),
];

#[test]
fn every_signed_data_example_verifies_with_sha1_allowed() {
    let content = read("ExContent.bin");
    let mut report = Vec::new();
    for (name, detached, signers, cns) in EXAMPLES {
        let input = read(name);
        let verified = verifier(true)
            .verify_bytes(&input, detached.then_some(&content[..]))
            .unwrap_or_else(|e| panic!("RFC 4134 {name}: {e}"));
        assert_eq!(verified.signers().len(), *signers, "{name}");
        for (s, cn) in verified.signers().iter().zip(cns.iter()) {
            assert_eq!(s.certificate.common_name().as_deref(), Some(*cn), "{name}");
            assert_eq!(s.digest, DigestAlgorithm::Sha1, "{name}");
        }
        if !name.ends_with(".eml") {
            assert_eq!(verified.content(), &content[..], "{name}: content");
        }
        report.push(format!(
            "{name} ({}, {})",
            verified.format().name(),
            verified.signers()[0].signature_algorithm
        ));
    }
    println!("RFC 4134 verified: {}", report.join("; "));
}

#[test]
fn every_signed_data_example_is_refused_without_the_opt_in() {
    let content = read("ExContent.bin");
    for (name, detached, _, _) in EXAMPLES {
        let err = verifier(false)
            .verify_bytes(&read(name), detached.then_some(&content[..]))
            .expect_err(name);
        assert_eq!(err.code(), "legacy-algorithm", "{name}: {err}");
    }
}

#[test]
fn the_examples_are_checked_at_a_fixed_time() {
    // At AT they verify (above); after the certificates' end (2039) they are refused, so
    // the verdicts above come from the fixed time, not from today's date.
    let content = read("ExContent.bin");
    let (name, detached, _, _) = EXAMPLES[1];
    let err = verifier(true)
        .at_time(2_272_000_000)
        .verify_bytes(&read(name), detached.then_some(&content[..]))
        .unwrap_err();
    assert_eq!(err.code(), "certificate-expired", "{err}");
}

#[test]
fn example_4_5_is_ber_with_indefinite_lengths() {
    let env = Envelope::parse(&read("4.5.bin")).unwrap();
    assert_eq!(env.format(), Format::Ber);
}

#[test]
fn tampered_examples_are_rejected() {
    // Flip one content byte of 4.2 (attached, RSA, no signed attributes: the signature is
    // over the content itself).
    let mut input = read("4.2.bin");
    let content = read("ExContent.bin");
    let pos = input
        .windows(content.len())
        .position(|w| w == &content[..])
        .unwrap();
    input[pos + 3] ^= 0x20;
    assert_eq!(
        verifier(true)
            .verify_bytes(&input, None)
            .unwrap_err()
            .code(),
        "bad-signature"
    );
    // 4.3 (detached, no signed attributes) with the wrong content.
    let err = verifier(true)
        .verify_bytes(&read("4.3.bin"), Some(b"not the content"))
        .unwrap_err();
    assert_eq!(err.code(), "bad-signature");
    // 4.4 has signed attributes: altering the content breaks the message digest.
    let mut input = read("4.4.bin");
    let pos = input
        .windows(content.len())
        .position(|w| w == &content[..])
        .unwrap();
    input[pos] ^= 0x20;
    assert_eq!(
        verifier(true)
            .verify_bytes(&input, None)
            .unwrap_err()
            .code(),
        "message-digest-mismatch"
    );
    // Only Carl's RSA root: the DSA examples are untrusted.
    let rsa_only = Verifier::new(
        TrustAnchors::new(Certificate::load_all(&read("CarlRSASelf.cer")).unwrap()).unwrap(),
    )
    .with_algorithms(AlgorithmPolicy::LEGACY_SHA1)
    .at_time(AT);
    assert_eq!(
        rsa_only
            .verify_bytes(&read("4.1.bin"), None)
            .unwrap_err()
            .code(),
        "untrusted"
    );
}
