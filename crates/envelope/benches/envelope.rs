//! Criterion benchmarks: sign and verify per algorithm on a 1 KiB payload, certificates
//! embedded and omitted. `cargo bench -p waxseal-envelope`. Verification three ways:
//!
//! - `cold`: the first message from a signer (no path or signature cache: the whole path
//!   is built and every certificate signature checked; the process-wide key caches off,
//!   so an envelope's certificates set their keys up for each message, while the
//!   verifier's store and anchors keep the keys they set up on first use, as OpenSSL's
//!   `X509` objects do);
//! - `warm-signer`: a later, new message from a known signer (paths cached, signature
//!   outcomes not, 64 distinct messages in turn): one public-key operation each, what a
//!   bus consumer pays per message;
//! - `warm-repeat`: the same message again (paths and its signature outcome cached).
//!
//! For ratios against OpenSSL measured in the same run, see `bench/compare.sh`.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use waxseal_envelope::*;
use waxseal_pki::TestPki;
use waxseal_trust::*;

fn payload() -> Vec<u8> {
    let mut p =
        br#"{"topic": "org.example.prod.bodhi.update.comment", "msg": {"comment": ""#.to_vec();
    p.resize(1021, b'x');
    p.extend_from_slice(b"\"}}");
    p
}

/// Message `n` of a stream: the payload with `n` in it.
fn payload_n(n: usize) -> Vec<u8> {
    let mut p = payload();
    let tag = format!("{n:08}");
    let end = p.len() - 3;
    p[end - tag.len()..end].copy_from_slice(tag.as_bytes());
    p
}

const MESSAGES: usize = 64;

fn bench(c: &mut Criterion) {
    let content = payload();
    for alg in [
        KeyAlgorithm::Rsa2048,
        KeyAlgorithm::P256,
        KeyAlgorithm::P384,
        KeyAlgorithm::Ed25519,
    ] {
        let pki = TestPki::new(alg).unwrap();
        let leaf = pki.leaf(&format!("bench-{alg}.example.org"), alg).unwrap();
        let cert = leaf.cert.clone();
        let signer = Signer::new(leaf.cert, leaf.key)
            .unwrap()
            .with_chain(vec![pki.ca.cert.clone()]);
        let stream = |include: bool| -> Vec<Vec<u8>> {
            (0..MESSAGES)
                .map(|n| {
                    EnvelopeBuilder::new(&payload_n(n))
                        .include_certificates(include)
                        .add_signer(&signer)
                        .build()
                        .unwrap()
                        .to_der()
                })
                .collect()
        };
        let embedded = stream(true);
        let omitted = stream(false);
        let anchors = TrustAnchors::new([pki.root.cert.clone()]).unwrap();
        let store = CertStore::from_certificates([pki.ca.cert.clone(), cert]);
        let cold = Verifier::new(anchors.clone()).with_store(store.clone());
        // Paths only: every message pays its own signature check.
        let warm_signer = Verifier::new(anchors.clone())
            .with_store(store.clone())
            .with_cache(Arc::new(PathCache::new(16).with_signature_capacity(0)));
        let warm_repeat = Verifier::new(anchors)
            .with_store(store)
            .with_cache(Arc::new(PathCache::default()));

        let mut g = c.benchmark_group(alg.name());
        g.throughput(Throughput::Elements(1));
        g.bench_function("sign", |b| {
            b.iter(|| {
                EnvelopeBuilder::new(black_box(&content))
                    .add_signer(&signer)
                    .build()
                    .unwrap()
                    .to_der()
            })
        });
        for (name, envs) in [("certs-embedded", &embedded), ("certs-omitted", &omitted)] {
            for (mode, v) in [("cold", &cold), ("warm-signer", &warm_signer)] {
                v.verify_bytes(&envs[0], None).unwrap();
                let mut next = envs.iter().cycle();
                g.bench_function(format!("verify/{name}/{mode}"), |b| {
                    b.iter(|| {
                        let env = next.next().expect("a stream");
                        // Cold: no process-wide prepared keys either.
                        if mode == "cold" {
                            key::without_key_caches(|| v.verify_bytes(black_box(env), None))
                                .unwrap()
                        } else {
                            v.verify_bytes(black_box(env), None).unwrap()
                        }
                    })
                });
            }
            g.bench_function(format!("verify/{name}/warm-repeat"), |b| {
                b.iter(|| warm_repeat.verify_bytes(black_box(&envs[0]), None).unwrap())
            });
        }
        g.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(std::time::Duration::from_secs(2));
    targets = bench
}
criterion_main!(benches);
