//! Replays the fuzz corpora (`fuzz/corpus/*`) and the sample envelopes (`testdata/`)
//! through the same harnesses the libFuzzer targets run, so CI exercises every input the
//! fuzzers found interesting without needing libFuzzer. Any panic fails the test.

#[path = "../../../fuzz/harness.rs"]
mod harness;

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    out.sort();
    out
}

fn replay(dir: &Path, harness: fn(&[u8])) -> usize {
    let inputs = files(dir);
    for p in &inputs {
        let data = std::fs::read(p).unwrap();
        let r = std::panic::catch_unwind(|| harness(&data));
        assert!(r.is_ok(), "harness panicked on {}", p.display());
    }
    inputs.len()
}

#[test]
fn fuzz_corpora_replay_without_panics() {
    let corpus = root().join("fuzz/corpus");
    let envelopes = replay(&corpus.join("envelope_verify"), harness::envelope);
    let smime = replay(&corpus.join("smime_parse"), harness::smime);
    let x509 = replay(&corpus.join("x509_parse"), harness::x509);
    println!("replayed {envelopes} envelope, {smime} armour and {x509} X.509 corpus inputs");
    assert!(
        envelopes > 100 && smime > 10 && x509 > 10,
        "fuzz corpora missing or empty"
    );
}

/// The parser targets added with their seed corpora: (corpus directory, harness, minimum
/// number of inputs).
type Target = (&'static str, fn(&[u8]), usize);

const PARSERS: &[Target] = &[
    ("key_parse", harness::key, 10),
    ("pem_bundle", harness::pem_bundle, 10),
    ("store_load", harness::store, 5),
    ("time_parse", harness::time, 10),
    ("dn_parse", harness::dn, 10),
    ("timestamp_token", harness::timestamp, 5),
];

#[test]
fn parser_corpora_replay_without_panics() {
    let corpus = root().join("fuzz/corpus");
    for (dir, harness, min) in PARSERS {
        let n = replay(&corpus.join(dir), *harness);
        assert!(
            n >= *min,
            "{dir}: {n} corpus inputs, expected at least {min}"
        );
    }
}

#[test]
fn the_time_parser_survives_what_panicked_it() {
    // `waxseal verify --at 'Æ00000'` split the string inside a character.
    for t in ["Æ00000", "2026-11-22T10:00:00+0Æ:00", "Æ", "ÆÆÆÆÆÆÆ"] {
        harness::time(t.as_bytes());
        assert!(waxseal_trust::time::parse_rfc3339(t).is_err(), "{t}");
    }
    // The positive twin.
    harness::time(b"2026-11-22T10:00:00+01:00");
    assert!(waxseal_trust::time::parse_rfc3339("2026-11-22T10:00:00+01:00").is_ok());
}

#[test]
fn testdata_replays_without_panics() {
    let t = root().join("testdata");
    let mut n = replay(&t.join("envelopes"), harness::envelope)
        + replay(&t.join("envelopes"), harness::smime)
        + replay(&t.join("x509"), harness::x509)
        + replay(&t.join("x509"), harness::pem_bundle);
    for alg in ["p256", "p384", "ed25519", "rsa2048"] {
        n += replay(&t.join("pki").join(alg), harness::pem_bundle)
            + replay(&t.join("pki").join(alg), harness::key);
    }
    // ML-DSA (RFC 9881 keys and certificates, RFC 9882 envelopes).
    n += replay(&t.join("mldsa"), harness::key)
        + replay(&t.join("mldsa"), harness::pem_bundle)
        + replay(&t.join("mldsa"), harness::envelope);
    assert!(n >= 120, "testdata missing: {n} files");
}

#[test]
fn testdata_is_valid_at_the_harnesses_fixed_time() {
    // The harnesses verify at FIXED_TIME, never the real clock: there the samples verify
    // with revocation checked (so fuzzing reaches every stage), whatever today's date.
    use waxseal_envelope::*;
    use waxseal_trust::*;
    let pki = root().join("testdata/pki");
    for alg in ["p256", "p384", "ed25519", "rsa2048"] {
        let d = pki.join(alg);
        let load = |f: &str| Certificate::load_all(&std::fs::read(d.join(f)).unwrap()).unwrap();
        let crls = Crl::load_all(&std::fs::read(d.join("crl.pem")).unwrap()).unwrap();
        let verifier = Verifier::new(TrustAnchors::new(load("root.pem")).unwrap())
            .with_store(CertStore::from_certificates(load("ca.pem")))
            .with_crls(CrlSet::from_crls(crls))
            .with_revocation(RevocationPolicy::RequireEndEntity)
            .at_time(harness::FIXED_TIME);
        let env =
            std::fs::read(root().join(format!("testdata/envelopes/{alg}-attached.der"))).unwrap();
        // RequireEndEntity: the signer's CRL must be there and current.
        verifier
            .verify_bytes(&env, None)
            .unwrap_or_else(|e| panic!("{alg} at the fixed time: {e}"));
        // The negative twin: a week later the CRLs are stale and the sample is refused.
        let late = verifier.at_time(harness::FIXED_TIME + 7 * 86_400);
        let e = late.verify_bytes(&env, None).unwrap_err();
        assert_eq!(e.code(), "crl-expired", "{alg}: {e}");
    }
}

#[test]
fn sample_envelopes_parse() {
    // Every sample is a well-formed envelope (the harness alone would not notice a
    // regression that makes them unparsable).
    for p in files(&root().join("testdata/envelopes")) {
        let data = std::fs::read(&p).unwrap();
        waxseal_envelope::Envelope::parse(&data).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    }
}

#[test]
fn ten_thousand_levels_of_nesting_are_an_error_not_a_crash() {
    // Indefinite-length nesting.
    let mut deep = Vec::new();
    for _ in 0..10_000 {
        deep.extend_from_slice(&[0x30, 0x80]);
    }
    deep.extend(std::iter::repeat_n(0u8, 20_000));
    let err = waxseal_envelope::Envelope::parse(&deep).unwrap_err();
    assert!(err.to_string().contains("nesting"), "{err}");
    // Definite-length nesting, built inside out.
    let mut v: Vec<u8> = vec![0x05, 0x00];
    for _ in 0..10_000 {
        v = waxseal_trust::asn1::tlv(0x30, &v);
    }
    let err = waxseal_envelope::Envelope::parse(&v).unwrap_err();
    assert!(err.to_string().contains("nesting"), "{err}");
    harness::envelope(&deep);
    harness::envelope(&v);
}
