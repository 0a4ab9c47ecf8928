//! The cost of a slip (issue 12, item 5), counted rather than timed: with warm caches a
//! slip of N hops costs N public-key operations (one per hop signature) and no path
//! building; a certificate that signs several hops has its path built once. Timings are
//! in `benches/slip.rs`.

use std::sync::Arc;

use waxseal_envelope::*;
use waxseal_pki::{Issued, TestPki};
use waxseal_slip::*;
use waxseal_trust::*;

struct Fx {
    pki: TestPki,
    leaves: Vec<Issued>,
}

fn fx() -> Fx {
    let pki = TestPki::new(KeyAlgorithm::P256).unwrap();
    let leaves = (0..8)
        .map(|i| {
            pki.leaf(&format!("svc{i}-node01.example.org"), KeyAlgorithm::Ed25519)
                .unwrap()
        })
        .collect();
    Fx { pki, leaves }
}

impl Fx {
    fn signer(&self, i: usize) -> Signer {
        let leaf = &self.leaves[i];
        let key = PrivateKey::from_bytes(leaf.key.to_pkcs8_pem().as_bytes()).unwrap();
        Signer::new(leaf.cert.clone(), key)
            .unwrap()
            .with_signing_time(self.pki.now)
            .with_chain(vec![self.pki.ca.cert.clone()])
    }

    /// A slip signed by `who` in turn (hop 0 first), over content `n`, through the wire.
    fn slip(&self, n: usize, who: &[usize]) -> Envelope {
        let mut env = EnvelopeBuilder::new(format!("{{\"n\": {n}}}").as_bytes())
            .add_signer(&self.signer(who[0]))
            .build()
            .unwrap();
        for &i in &who[1..] {
            append_hop(&mut env, 0, &self.signer(i), true, DEFAULT_MAX_HOPS).unwrap();
        }
        parse(&env.to_der(), DEFAULT_MAX_HOPS).unwrap()
    }

    fn verifier(&self, cache: &Arc<PathCache>) -> Verifier {
        Verifier::new(TrustAnchors::new([self.pki.root.cert.clone()]).unwrap())
            .at_time(self.pki.now)
            .with_cache(cache.clone())
    }
}

fn repeats() -> RouteExpectations {
    RouteExpectations {
        allow_repeats: true,
        ..RouteExpectations::default()
    }
}

#[test]
fn warm_slip_of_n_hops_costs_n_signature_checks_and_no_path_building() {
    let f = fx();
    let cache = Arc::new(PathCache::default());
    let v = f.verifier(&cache);
    let sv = SlipVerifier::new(&v);
    // Warm the paths of all eight signers.
    sv.verify(&f.slip(0, &[0, 1, 2, 3, 4, 5, 6, 7]), None)
        .unwrap();
    for (k, n) in [1usize, 2, 4, 8].into_iter().enumerate() {
        let who: Vec<usize> = (0..n).collect();
        let before = cache.stats();
        let meter = v.meter();
        let slip = sv
            .verify_with_meter(&f.slip(100 + k, &who), None, &meter)
            .unwrap();
        assert_eq!(slip.hops.len(), n);
        let work = meter.work();
        assert_eq!(work.signature_checks, n, "{n} hops: {work:?}");
        assert_eq!(work.build_calls, 0, "{n} hops: {work:?}");
        let after = cache.stats();
        assert_eq!(after.path_hits - before.path_hits, n as u64);
        assert_eq!(after.path_misses, before.path_misses);
    }
}

#[test]
fn a_certificate_signing_several_hops_has_its_path_built_once() {
    let f = fx();
    let cache = Arc::new(PathCache::default());
    let v = f.verifier(&cache);
    let meter = v.meter();
    let slip = SlipVerifier::new(&v)
        .with_expectations(repeats())
        .verify_with_meter(&f.slip(0, &[0, 1, 0, 1]), None, &meter)
        .unwrap();
    assert_eq!(slip.hops.len(), 4);
    let s = cache.stats();
    assert_eq!((s.path_misses, s.path_hits), (2, 2));
    // Four hop signatures, two leaf certificates, the CA certificate once.
    assert_eq!(meter.work().signature_checks, 4 + 2 + 1);
}

#[test]
fn warm_caches_never_vouch_for_a_changed_hop() {
    let f = fx();
    let cache = Arc::new(PathCache::default());
    let v = f.verifier(&cache);
    let sv = SlipVerifier::new(&v);
    let good = f.slip(0, &[0, 1, 2]);
    sv.verify(&good, None).unwrap();
    // Hop 2's signature moved onto another slip by the same signers: that hop's cached
    // outcome (good for other bytes) does not carry over.
    let other = f.slip(1, &[0, 1, 2]);
    let mut chain = hops(&other, 0, DEFAULT_MAX_HOPS).unwrap();
    chain[2].signature = hops(&good, 0, DEFAULT_MAX_HOPS).unwrap()[2]
        .signature
        .clone();
    let mut forged = other.clone();
    replace_hops(&mut forged, 0, chain).unwrap();
    let meter = v.meter();
    let e = sv.verify_with_meter(&forged, None, &meter).unwrap_err();
    assert_eq!(e.code(), "bad-signature", "{e}");
    assert_eq!(
        meter.work().signature_checks,
        3,
        "every hop checked, none from the cache"
    );
    // Twin: the slip as signed still verifies; hops 0 and 1 are the forged slip's, whose
    // outcomes are cached, so only the genuine hop 2 costs a public-key operation.
    let meter = v.meter();
    sv.verify_with_meter(&other, None, &meter).unwrap();
    assert_eq!(meter.work().signature_checks, 1);
}
