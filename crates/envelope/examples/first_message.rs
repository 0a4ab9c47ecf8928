//! Where the time of a first message from a signer goes: RSA-2048 (or `p256`),
//! certificates omitted (the signer and its CA in the verifier's store), no path cache.
//!
//! ```text
//! cargo run --release -p waxseal-envelope --example first_message [-- ITERATIONS [rsa2048|p256 [cold]]]
//! ```
//!
//! Prints, each timed alone with `Instant` over the same number of iterations:
//!
//! - the first message from a signer as `waxseal speed` and `bench/compare.sh` measure it:
//!   the path built and every signature on it checked, the verifier's own certificates
//!   (store, anchors) holding their keys set up once, as OpenSSL's `X509` objects do;
//! - the first message in a new process: the verifier's certificates parsed from DER and
//!   every key set up for that message;
//! - the limit: the bare signature check (graviola's own RSA, key made once) times the
//!   signatures on the path (the message's, the signer certificate's, the CA
//!   certificate's; the anchor's self-signature is not checked);
//! - the pieces: setting a key up, parsing the envelope, parsing a certificate.
//!
//! With `cold` as the third argument it runs only the first figure, for `perf record`.

use std::hint::black_box;
use std::time::Instant;
use waxseal_trust::provider::Provider;

use waxseal_envelope::*;
use waxseal_pki::TestPki;
use waxseal_trust::algorithm::SignatureScheme;
use waxseal_trust::key::without_key_caches;
use waxseal_trust::provider::RawRsa;
use waxseal_trust::*;

fn per_second(n: usize, mut f: impl FnMut()) -> f64 {
    f();
    let t = Instant::now();
    for _ in 0..n {
        f();
    }
    n as f64 / t.elapsed().as_secs_f64()
}

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(2000);
    let alg = match args.next().as_deref() {
        Some("p256") => KeyAlgorithm::P256,
        _ => KeyAlgorithm::Rsa2048,
    };
    let only_cold = args.next().as_deref() == Some("cold");
    let pki = TestPki::new(alg).unwrap();
    let leaf = pki.leaf("first-message.example.org", alg).unwrap();
    let signer = Signer::new(leaf.cert.clone(), leaf.key.clone()).unwrap();
    let envs: Vec<Vec<u8>> = (0..64)
        .map(|i| {
            EnvelopeBuilder::new(format!("{{\"n\": {i:08}}}").as_bytes())
                .include_certificates(false)
                .add_signer(&signer)
                .build()
                .unwrap()
                .to_der()
        })
        .collect();
    let (root_der, ca_der, leaf_der) = (
        pki.root.cert.der().to_vec(),
        pki.ca.cert.der().to_vec(),
        leaf.cert.der().to_vec(),
    );
    let verifier = |root: &[u8], ca: &[u8], leaf: &[u8]| {
        let cert = |der: &[u8]| Certificate::from_der(der).unwrap();
        Verifier::new(TrustAnchors::new([cert(root)]).unwrap())
            .with_store(CertStore::from_certificates([cert(ca), cert(leaf)]))
    };
    let cold = verifier(&root_der, &ca_der, &leaf_der);
    let mut next = envs.iter().cycle();
    let cold_rate = per_second(n, || {
        let env = next.next().unwrap();
        without_key_caches(|| cold.verify_bytes(black_box(env), None).unwrap());
    });
    if only_cold {
        println!("{alg} first message, certificates omitted: {cold_rate:.0}/s");
        return;
    }
    let new_process = per_second(n, || {
        let env = next.next().unwrap();
        without_key_caches(|| {
            let v = verifier(&root_der, &ca_der, &leaf_der);
            v.verify_bytes(black_box(env), None).unwrap()
        });
    });

    // The bare check: the CA's signature on the leaf certificate.
    let scheme =
        SignatureScheme::from_algorithm_identifier(leaf.cert.signature_algorithm()).unwrap();
    let digest = scheme.named_digest().unwrap();
    let (tbs, sig) = (leaf.cert.tbs_der().to_vec(), leaf.cert.signature().to_vec());
    let (raw, raw_what) = match RawRsa::new(&pki.ca.key) {
        Some(g) => (
            per_second(n, || assert!(g.verify(black_box(&tbs), &sig))),
            "graviola's bare RSA verify",
        ),
        None => {
            let key = pki.ca.cert.public_key_bounded(None, 16384).unwrap();
            let provider = Provider::default();
            (
                per_second(n, || {
                    provider
                        .verify_prepared(&key, &scheme, digest, black_box(&tbs), &sig)
                        .unwrap();
                }),
                "Provider::verify_prepared, key set up",
            )
        }
    };
    let spki = pki.ca.cert.public_key_info().clone();
    let set_up_and_check = per_second(n, || {
        without_key_caches(|| {
            let k = PublicKey::from_spki(&spki).unwrap();
            Provider::default()
                .verify(&k, &scheme, digest, black_box(&tbs), &sig)
                .unwrap();
        })
    });
    let mut e = envs.iter().cycle();
    let parse_env = per_second(n, || {
        black_box(Envelope::parse(e.next().unwrap()).unwrap());
    });
    let parse_cert = per_second(n, || {
        black_box(Certificate::from_der(black_box(&leaf_der)).unwrap());
    });
    println!("{alg}, certificates omitted, {n} iterations each, operations per second:");
    let row = |what: &str, rate: f64| println!("  {what:<62} {rate:>9.0}");
    row(
        "first message from a signer (verifier's keys set up once)",
        cold_rate,
    );
    row(
        "first message in a new process (everything parsed and set up)",
        new_process,
    );
    row(&format!("bare signature check ({raw_what})"), raw);
    row("limit: bare check / 3 signatures on the path", raw / 3.0);
    row("key set up (no cache) and one check", set_up_and_check);
    row("envelope parse", parse_env);
    row("certificate parse", parse_cert);
    println!(
        "  first message / limit: {:.2}; time beyond the path's signature checks: {:.1} µs",
        cold_rate / (raw / 3.0),
        1e6 / cold_rate - 3e6 / raw
    );
}
