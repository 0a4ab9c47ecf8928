//! Verifying routing slips of 1, 4 and 16 hops with a warm path cache: the cost should
//! grow linearly, about one signature verification per hop. `cargo bench -p waxseal-slip`.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use waxseal_envelope::*;
use waxseal_pki::TestPki;
use waxseal_slip::*;

fn bench(c: &mut Criterion) {
    let pki = TestPki::new(KeyAlgorithm::P256).unwrap();
    let signers: Vec<Signer> = (0..16)
        .map(|i| {
            let leaf = pki
                .leaf(&format!("svc{i:02}-node.example.org"), KeyAlgorithm::P256)
                .unwrap();
            Signer::new(leaf.cert, leaf.key)
                .unwrap()
                .with_chain(vec![pki.ca.cert.clone()])
        })
        .collect();
    let content =
        br#"{"method": "select_destinations", "args": {"host": "compute-node01.example.org"}}"#;
    let verifier = Verifier::new(TrustAnchors::new([pki.root.cert.clone()]).unwrap())
        .with_cache(Arc::new(PathCache::default()));
    let mut g = c.benchmark_group("slip-verify-p256-warm");
    for hops in [1usize, 4, 16] {
        let mut env = EnvelopeBuilder::new(content)
            .add_signer(&signers[0])
            .build()
            .unwrap();
        for s in &signers[1..hops] {
            append_hop(&mut env, 0, s, true, DEFAULT_MAX_HOPS).unwrap();
        }
        let der = env.to_der();
        let sv = SlipVerifier::new(&verifier);
        let parsed = parse(&der, DEFAULT_MAX_HOPS).unwrap();
        assert_eq!(sv.verify(&parsed, None).unwrap().hops.len(), hops);
        g.bench_function(format!("{hops}-hops"), |b| {
            b.iter(|| {
                let env = parse(black_box(&der), DEFAULT_MAX_HOPS).unwrap();
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
