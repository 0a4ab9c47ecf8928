//! Criterion benchmarks: sign and verify per algorithm on a 1 KiB payload, certificates
//! embedded and omitted, path cache cold and warm. `cargo bench -p waxseal-envelope`.
//! For ratios against OpenSSL measured in the same run, see `bench/compare.sh`.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use waxseal_envelope::*;
use waxseal_pki::TestPki;

fn payload() -> Vec<u8> {
    let mut p =
        br#"{"topic": "org.example.prod.bodhi.update.comment", "msg": {"comment": ""#.to_vec();
    p.resize(1021, b'x');
    p.extend_from_slice(b"\"}}");
    p
}

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
        let embedded = EnvelopeBuilder::new(&content)
            .add_signer(&signer)
            .build()
            .unwrap()
            .to_der();
        let omitted = EnvelopeBuilder::new(&content)
            .include_certificates(false)
            .add_signer(&signer)
            .build()
            .unwrap()
            .to_der();
        let anchors = TrustAnchors::new([pki.root.cert.clone()]).unwrap();
        let store = CertStore::from_certificates([pki.ca.cert.clone(), cert]);
        let cold = Verifier::new(anchors.clone()).with_store(store.clone());
        let warm = Verifier::new(anchors)
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
        for (name, env) in [("certs-embedded", &embedded), ("certs-omitted", &omitted)] {
            g.bench_function(format!("verify/{name}/cold-path"), |b| {
                b.iter(|| cold.verify_bytes(black_box(env), None).unwrap())
            });
            g.bench_function(format!("verify/{name}/warm-path"), |b| {
                b.iter(|| warm.verify_bytes(black_box(env), None).unwrap())
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
