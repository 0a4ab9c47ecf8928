//! A routing slip of N hops against N single verifications (issue 12, item 5: at most
//! 1.1 × N). P-256 signers, a distinct one per hop, their paths cached (warm: the
//! service has seen them before) but no signature outcome cached, and a stream of
//! distinct messages, so every hop costs its own signature check as in real traffic.
//! Both sides start from the received bytes (parse included). `cargo bench -p
//! waxseal-slip`; the ratio is `slip/N-hops` over N × `single`.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use waxseal_envelope::*;
use waxseal_pki::TestPki;
use waxseal_slip::*;
use waxseal_trust::*;

const MESSAGES: usize = 16;

fn bench(c: &mut Criterion) {
    let pki = TestPki::new(KeyAlgorithm::P256).unwrap();
    let signers: Vec<Signer> = (0..8)
        .map(|i| {
            let leaf = pki
                .leaf(&format!("svc{i:02}-node.example.org"), KeyAlgorithm::P256)
                .unwrap();
            Signer::new(leaf.cert, leaf.key)
                .unwrap()
                .with_chain(vec![pki.ca.cert.clone()])
        })
        .collect();
    let content = |n: usize| {
        format!(r#"{{"method": "select_destinations", "args": {{"host": "compute-node01.example.org", "n": {n}}}}}"#)
            .into_bytes()
    };
    let verifier = Verifier::new(TrustAnchors::new([pki.root.cert.clone()]).unwrap())
        .with_cache(Arc::new(PathCache::new(64).with_signature_capacity(0)));
    let slip = |hops: usize, n: usize| {
        let mut env = EnvelopeBuilder::new(&content(n))
            .add_signer(&signers[0])
            .build()
            .unwrap();
        for s in &signers[1..hops] {
            append_hop(&mut env, 0, s, true, DEFAULT_MAX_HOPS).unwrap();
        }
        env.to_der()
    };
    let sv = SlipVerifier::new(&verifier);
    // Warm every signer's path.
    sv.verify(&parse(&slip(8, 0), DEFAULT_MAX_HOPS).unwrap(), None)
        .unwrap();

    let mut g = c.benchmark_group("slip-verify-p256-warm");
    let singles: Vec<Vec<u8>> = (0..MESSAGES).map(|n| slip(1, n)).collect();
    let mut next = singles.iter().cycle();
    g.bench_function("single", |b| {
        b.iter(|| {
            let der = next.next().expect("a stream");
            verifier.verify_bytes(black_box(der), None).unwrap()
        })
    });
    for hops in [1usize, 2, 4, 8] {
        let stream: Vec<Vec<u8>> = (0..MESSAGES).map(|n| slip(hops, n)).collect();
        assert_eq!(
            sv.verify(&parse(&stream[0], DEFAULT_MAX_HOPS).unwrap(), None)
                .unwrap()
                .hops
                .len(),
            hops
        );
        let mut next = stream.iter().cycle();
        g.bench_function(format!("{hops}-hops"), |b| {
            b.iter(|| {
                let der = next.next().expect("a stream");
                let env = parse(black_box(der), DEFAULT_MAX_HOPS).unwrap();
                sv.verify(&env, None).unwrap()
            })
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(std::time::Duration::from_secs(2));
    targets = bench
}
criterion_main!(benches);
