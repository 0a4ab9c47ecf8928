//! The caches of a long-running verifier (issue 12, item 4): a later message from a known
//! signer costs one public-key operation, counted by the envelope's [`Meter`] (never
//! timed); and the negative twins: a CRL change, an anchor change or tampered bytes are
//! never answered from the cache, and the cache stays within its bound.

use std::sync::Arc;

use waxseal_envelope::*;
use waxseal_pki::{Issued, TestPki};
use waxseal_trust::path::Work;
use waxseal_trust::*;

struct Fx {
    pki: TestPki,
    leaf: Issued,
}

fn fx(alg: KeyAlgorithm) -> Fx {
    let pki = TestPki::new(KeyAlgorithm::P256).unwrap();
    let leaf = pki.leaf("conductor01.example.org", alg).unwrap();
    Fx { pki, leaf }
}

fn signer_for(pki: &TestPki, issued: &Issued) -> Signer {
    pki.signer(issued).unwrap()
}

impl Fx {
    fn anchors(&self) -> TrustAnchors {
        TrustAnchors::new([self.pki.root.cert.clone()]).unwrap()
    }

    /// A verifier checking every certificate of the path against a CRL.
    fn verifier(&self, cache: &Arc<PathCache>) -> Verifier {
        Verifier::new(self.anchors())
            .at_time(self.pki.now)
            .with_crls(self.crls(&[]))
            .with_cache(cache.clone())
    }

    fn crls(&self, revoked: &[&Certificate]) -> CrlSet {
        CrlSet::from_crls([self.pki.crl(revoked).unwrap(), self.pki.root_crl().unwrap()])
    }

    /// Message `n`: new content, so new signed attributes and a new signature.
    fn message(&self, n: usize) -> Vec<u8> {
        EnvelopeBuilder::new(format!("{{\"n\": {n}}}").as_bytes())
            .add_signer(&signer_for(&self.pki, &self.leaf))
            .build()
            .unwrap()
            .to_der()
    }
}

fn verify_metered(v: &Verifier, der: &[u8]) -> (Result<Verified, VerifyError>, Work) {
    let meter = v.meter();
    let r = Envelope::parse(der)
        .map_err(VerifyError::from)
        .and_then(|e| v.verify_with_meter(&e, None, &meter));
    (r, meter.work())
}

fn code(r: &Result<Verified, VerifyError>) -> &'static str {
    r.as_ref().err().map_or("ok", VerifyError::code)
}

#[test]
fn a_later_message_from_a_known_signer_costs_one_public_key_operation() {
    for alg in [KeyAlgorithm::P256, KeyAlgorithm::Ed25519] {
        let f = fx(alg);
        let cache = Arc::new(PathCache::default());
        let v = f.verifier(&cache);
        // Cold: the message's signature, the leaf's and the CA's certificate signatures,
        // and the two CRLs' signatures.
        let (r, cold) = verify_metered(&v, &f.message(0));
        r.unwrap();
        assert_eq!(cold.signature_checks, 5, "{alg}: {cold:?}");
        assert!(cold.build_calls > 0);
        let before = v.cache_stats();
        assert_eq!((before.path_hits, before.path_misses), (0, 1));
        for n in 1..6 {
            let (r, warm) = verify_metered(&v, &f.message(n));
            r.unwrap();
            assert_eq!(warm.signature_checks, 1, "{alg}: {warm:?}");
            assert_eq!(warm.build_calls, 0, "{alg}: no path building when warm");
        }
        let after = v.cache_stats();
        assert_eq!((after.path_hits, after.path_misses), (5, 1));
        assert_eq!(after.path_entries, 1);
        // Twin: without a cache every message pays the whole path again.
        let uncached = Verifier::new(f.anchors())
            .at_time(f.pki.now)
            .with_crls(f.crls(&[]));
        let (r, again) = verify_metered(&uncached, &f.message(7));
        r.unwrap();
        assert_eq!(again.signature_checks, 5);
        assert_eq!(uncached.cache_stats(), CacheStats::default());
    }
}

#[test]
fn a_revoked_certificate_is_refused_after_a_crl_change_though_its_path_was_cached() {
    let f = fx(KeyAlgorithm::P256);
    let cache = Arc::new(PathCache::default());
    let v = f.verifier(&cache);
    v.verify_bytes(&f.message(0), None).unwrap();
    v.verify_bytes(&f.message(1), None).unwrap();
    assert_eq!(cache.stats().path_hits, 1);
    // The new CRLs revoke the signer: a verifier built on them shares the cache, but the
    // CRL set is part of the key.
    let revoked = Verifier::new(f.anchors())
        .at_time(f.pki.now)
        .with_crls(f.crls(&[&f.leaf.cert]))
        .with_cache(cache.clone());
    let (r, work) = verify_metered(&revoked, &f.message(2));
    assert_eq!(code(&r), "revoked");
    assert!(work.build_calls > 0, "the path was built again");
    assert_eq!(cache.stats().path_hits, 1, "no hit for the new CRL set");
    // And once invalidated (what the bus does on a refresh), the old verifier's cached
    // path is gone too: it is validated again.
    let generation = cache.generation();
    cache.invalidate();
    assert_eq!(cache.generation(), generation + 1);
    assert_eq!(cache.stats().path_entries, 0);
    let (r, work) = verify_metered(&v, &f.message(3));
    r.unwrap();
    assert!(work.build_calls > 0);
}

#[test]
fn removing_an_anchor_invalidates_its_paths() {
    let f = fx(KeyAlgorithm::P256);
    let other = TestPki::named(KeyAlgorithm::P256, "other").unwrap();
    let cache = Arc::new(PathCache::default());
    let both = Verifier::new(
        TrustAnchors::new([f.pki.root.cert.clone(), other.root.cert.clone()]).unwrap(),
    )
    .at_time(f.pki.now)
    .with_cache(cache.clone());
    both.verify_bytes(&f.message(0), None).unwrap();
    both.verify_bytes(&f.message(1), None).unwrap();
    assert_eq!(cache.stats().path_hits, 1);
    // The signer's root removed: refused, although a path through it is cached.
    let without = Verifier::new(TrustAnchors::new([other.root.cert.clone()]).unwrap())
        .at_time(f.pki.now)
        .with_cache(cache.clone());
    let r = without.verify_bytes(&f.message(2), None);
    assert!(r.is_err(), "removed anchor still trusted");
    assert_eq!(cache.stats().path_hits, 1);
    // Twin: the signer's root alone (another anchor set) validates, after a miss.
    let root_only = Verifier::new(f.anchors())
        .at_time(f.pki.now)
        .with_cache(cache.clone());
    let misses = cache.stats().path_misses;
    root_only.verify_bytes(&f.message(3), None).unwrap();
    assert_eq!(cache.stats().path_misses, misses + 1);
}

#[test]
fn an_outcome_cached_for_bytes_a_never_vouches_for_bytes_b() {
    let f = fx(KeyAlgorithm::P256);
    let cache = Arc::new(PathCache::default());
    let v = f.verifier(&cache);
    let a = Envelope::parse(&f.message(0)).unwrap();
    v.verify(&a, None).unwrap();
    v.verify(&a, None).unwrap();
    assert!(cache.stats().signature_hits >= 1, "A's outcome is cached");
    // B: other signed attributes (another message's) under A's signature value.
    let mut b = Envelope::parse(&f.message(1)).unwrap();
    b.signed_data_mut().signer_infos[0].signature =
        a.signed_data().signer_infos[0].signature.clone();
    let meter = v.meter();
    let r = v.verify_with_meter(&b, None, &meter);
    assert_eq!(code(&r), "bad-signature");
    assert_eq!(
        meter.work().signature_checks,
        1,
        "checked, not answered from A's entry"
    );
    // B': A's content changed under A's signed attributes.
    let mut tampered = a.clone();
    let der = tampered.to_der();
    let pos = der
        .windows(4)
        .position(|w| w == b"\"n\":")
        .expect("content in the envelope");
    let mut der = der;
    der[pos + 5] = b'9';
    tampered = Envelope::parse(&der).unwrap();
    assert_eq!(code(&v.verify(&tampered, None)), "message-digest-mismatch");
    // Twin: A itself still verifies from the cache, without a public-key operation.
    let meter = v.meter();
    v.verify_with_meter(&a, None, &meter).unwrap();
    assert_eq!(meter.work().signature_checks, 0);
}

#[test]
fn the_cache_stays_within_its_bound_under_many_distinct_signers() {
    let pki = TestPki::new(KeyAlgorithm::P256).unwrap();
    let cache = Arc::new(PathCache::new(8));
    let bound = cache.capacity();
    assert!((1..=8).contains(&bound));
    let v = Verifier::new(TrustAnchors::new([pki.root.cert.clone()]).unwrap())
        .at_time(pki.now)
        .with_cache(cache.clone());
    for i in 0..40 {
        let leaf = pki
            .leaf(&format!("svc{i:02}.example.org"), KeyAlgorithm::Ed25519)
            .unwrap();
        let der = EnvelopeBuilder::new(b"{}")
            .add_signer(&signer_for(&pki, &leaf))
            .build()
            .unwrap()
            .to_der();
        v.verify_bytes(&der, None).unwrap();
        let s = cache.stats();
        assert!(s.path_entries <= bound, "{s:?}");
        assert!(s.signature_entries <= 2 * 4 * bound, "{s:?}");
    }
    let s = cache.stats();
    assert_eq!(s.path_misses, 40);
    assert!(s.path_entries > 0);
}

#[test]
fn threads_share_one_cache_and_every_lookup_is_counted() {
    let f = fx(KeyAlgorithm::Ed25519);
    let cache = Arc::new(PathCache::default());
    let v = Arc::new(f.verifier(&cache));
    v.verify_bytes(&f.message(0), None).unwrap();
    let messages: Vec<Vec<u8>> = (1..=32).map(|n| f.message(n)).collect();
    std::thread::scope(|s| {
        for chunk in messages.chunks(8) {
            let v = v.clone();
            s.spawn(move || {
                for m in chunk {
                    let meter = v.meter();
                    v.verify_with_meter(&Envelope::parse(m).unwrap(), None, &meter)
                        .unwrap();
                    assert_eq!(meter.work().signature_checks, 1);
                }
            });
        }
    });
    let s = v.cache_stats();
    assert_eq!((s.path_hits, s.path_misses), (32, 1));
}
