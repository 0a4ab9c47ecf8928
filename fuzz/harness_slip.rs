// The routing-slip fuzz harness, shared by the `slip_verify` libFuzzer target and the
// corpus replay test of the slip crate (`crates/slip/tests/fuzz_corpus.rs`).

/// The verification time (2026-11-25T00:00:00Z): inside testdata/'s validity, and fixed
/// so nothing expires under the harness (as `FIXED_TIME` in harness.rs).
pub const FIXED_TIME: u64 = 1_795_564_800;

/// Parse a slip, walk its hops, inspect it, and verify it (signature-only, and against
/// the certificates it carries as trust anchors, with route expectations).
pub fn slip(data: &[u8]) {
    use waxseal_envelope::*;
    use waxseal_slip::*;
    use waxseal_trust::*;
    let Ok(env) = parse(data, DEFAULT_MAX_HOPS) else {
        return;
    };
    let _ = hops(&env, 0, DEFAULT_MAX_HOPS).map(|h| h.len());
    let _ = inspect::report(&env).to_string();
    let legacy = AlgorithmPolicy {
        allow_sha1: true,
        allow_md5: true,
    };
    let detached: Option<&[u8]> = if env.has_content() {
        None
    } else {
        Some(b"detached content")
    };
    let loose = Verifier::signature_only_unauthenticated().with_algorithms(legacy);
    let _ = SlipVerifier::new(&loose).verify(&env, detached);
    let certs: Vec<Certificate> = env.signed_data().x509_certificates().cloned().collect();
    if let Ok(anchors) = TrustAnchors::new(certs.iter().take(2).cloned()) {
        let strict = Verifier::new(anchors)
            .with_algorithms(legacy)
            .at_time(FIXED_TIME);
        let expect = RouteExpectations {
            itinerary: Some(vec!["a".into(), "b".into()]),
            max_age: Some(60),
            ..RouteExpectations::default()
        };
        let _ = SlipVerifier::new(&strict)
            .with_expectations(expect)
            .verify(&env, detached);
    }
    let mut copy = env.clone();
    if let Ok(chain) = hops(&env, 0, DEFAULT_MAX_HOPS) {
        let _ = replace_hops(&mut copy, 0, chain);
        let _ = parse(&copy.to_der(), DEFAULT_MAX_HOPS);
    }
}
