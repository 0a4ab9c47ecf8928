//! Routing slips: a three-hop slip with mixed algorithms verifies, and each way of
//! breaking a route is rejected with its own reason.

use std::sync::Arc;

use der::Encode;
use waxseal_envelope::rfc5652::{Attribute, Attributes, SignerIdentifier, SignerInfo};
use waxseal_envelope::*;
use waxseal_pki::{Issued, TestPki};
use waxseal_slip::*;
use waxseal_trust::*;

const CONTENT: &[u8] =
    br#"{"method": "select_destinations", "args": {"host": "compute-node01.example.org"}}"#;
const COMPUTE: &str = "compute-node01.example.org";
const CONDUCTOR: &str = "conductor01.example.org";
const SCHEDULER: &str = "scheduler01.example.org";

struct Fx {
    pki: TestPki,
    compute: Issued,
    conductor: Issued,
    scheduler: Issued,
}

fn fx() -> Fx {
    let pki = TestPki::new(KeyAlgorithm::P256).unwrap();
    Fx {
        compute: pki.leaf(COMPUTE, KeyAlgorithm::Rsa2048).unwrap(),
        conductor: pki.leaf(CONDUCTOR, KeyAlgorithm::P256).unwrap(),
        scheduler: pki.leaf(SCHEDULER, KeyAlgorithm::Ed25519).unwrap(),
        pki,
    }
}

fn signer(i: &Issued, ca: &Certificate) -> Signer {
    let key = PrivateKey::from_bytes(i.key.to_pkcs8_pem().as_bytes()).unwrap();
    Signer::new(i.cert.clone(), key)
        .unwrap()
        .with_chain(vec![ca.clone()])
}

impl Fx {
    fn origin(&self) -> Envelope {
        let s = hop_signer(
            signer(&self.compute, &self.pki.ca.cert),
            Some("compute"),
            Some("requested"),
        )
        .unwrap();
        EnvelopeBuilder::new(CONTENT)
            .add_signer(&s)
            .build()
            .unwrap()
    }

    fn hop(&self, env: &mut Envelope, who: &Issued, role: &str) {
        let s = hop_signer(
            signer(who, &self.pki.ca.cert),
            Some(role),
            Some("forwarded"),
        )
        .unwrap();
        append_hop(env, 0, &s, true, DEFAULT_MAX_HOPS).unwrap();
    }

    fn three_hops(&self) -> Envelope {
        let mut env = self.origin();
        self.hop(&mut env, &self.conductor, "conductor");
        self.hop(&mut env, &self.scheduler, "scheduler");
        env
    }

    fn verifier(&self) -> Verifier {
        Verifier::new(TrustAnchors::new([self.pki.root.cert.clone()]).unwrap())
    }
}

fn itinerary(names: &[&str]) -> RouteExpectations {
    RouteExpectations {
        itinerary: Some(names.iter().map(|s| s.to_string()).collect()),
        ..RouteExpectations::default()
    }
}

fn check(
    env: &Envelope,
    v: &Verifier,
    expect: RouteExpectations,
) -> Result<VerifiedSlip, SlipError> {
    // Always through the wire format: what a consumer receives.
    let parsed = parse(&env.to_der(), expect.max_hops).unwrap();
    SlipVerifier::new(v)
        .with_expectations(expect)
        .verify(&parsed, None)
}

fn code(r: Result<VerifiedSlip, SlipError>) -> (&'static str, Option<usize>) {
    let e = r.map(|_| ()).expect_err("expected a rejection");
    (e.code(), e.hop())
}

#[test]
fn three_hop_slip_with_mixed_algorithms_verifies() {
    let f = fx();
    let env = f.three_hops();
    let slip = check(
        &env,
        &f.verifier(),
        itinerary(&[COMPUTE, CONDUCTOR, SCHEDULER]),
    )
    .unwrap();
    assert_eq!(slip.content(), CONTENT);
    let names: Vec<&str> = slip.hops.iter().map(|h| h.name.as_str()).collect();
    assert_eq!(names, [COMPUTE, CONDUCTOR, SCHEDULER]);
    let roles: Vec<Option<&str>> = slip.hops.iter().map(|h| h.role.as_deref()).collect();
    assert_eq!(
        roles,
        [Some("compute"), Some("conductor"), Some("scheduler")]
    );
    let algs: Vec<&str> = slip
        .hops
        .iter()
        .map(|h| h.signature_algorithm.as_str())
        .collect();
    assert_eq!(algs, ["rsa-pkcs1-sha256", "ecdsa-sha256", "ed25519"]);
    assert!(
        slip.hops
            .iter()
            .all(|h| h.signing_time.is_some() && h.path.is_some())
    );
    // Countersignatures carry no content-type (RFC 5652 §11.4).
    let chain = hops(&env, 0, DEFAULT_MAX_HOPS).unwrap();
    for si in &chain[1..] {
        assert!(
            si.signed_attrs
                .as_ref()
                .unwrap()
                .get(waxseal_envelope::oid::ID_CONTENT_TYPE)
                .next()
                .is_none()
        );
    }
    // A required subsequence, and the default (no itinerary).
    let required = RouteExpectations {
        required: vec![COMPUTE.into(), SCHEDULER.into()],
        ..RouteExpectations::default()
    };
    check(&env, &f.verifier(), required).unwrap();
    check(&env, &f.verifier(), RouteExpectations::default()).unwrap();
    // inspect shows the slip as a tree.
    let report = inspect::report(&env).to_string();
    assert!(
        report.contains("countersignature") && report.contains("hop-role: scheduler"),
        "{report}"
    );
}

#[test]
fn adding_hops_keeps_earlier_signatures_byte_for_byte() {
    let f = fx();
    let origin = f.origin();
    let before = origin.signed_data().signer_infos[0].clone();
    let mut env = origin.clone();
    f.hop(&mut env, &f.conductor, "conductor");
    let after = &env.signed_data().signer_infos[0];
    assert_eq!(after.signed_attrs, before.signed_attrs);
    assert_eq!(after.signature, before.signature);
    assert_eq!(after.sid, before.sid);
    // And the plain envelope verifier still accepts it.
    f.verifier().verify_bytes(&env.to_der(), None).unwrap();
}

#[test]
fn the_origin_still_verifies_with_openssl_after_hops() {
    let f = fx();
    let env = f.three_hops();
    let dir = tempfile::tempdir().unwrap();
    let (file, root, out) = (
        dir.path().join("slip.der"),
        dir.path().join("root.pem"),
        dir.path().join("out"),
    );
    std::fs::write(&file, env.to_der()).unwrap();
    std::fs::write(&root, f.pki.root.cert.to_pem()).unwrap();
    let o = std::process::Command::new("openssl")
        .args([
            "cms", "-verify", "-binary", "-purpose", "any", "-inform", "DER",
        ])
        .arg("-in")
        .arg(&file)
        .arg("-CAfile")
        .arg(&root)
        .arg("-out")
        .arg(&out)
        .output()
        .expect("the openssl command is required");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(std::fs::read(out).unwrap(), CONTENT);
}

#[test]
fn a_hop_removed_from_the_end() {
    let f = fx();
    let env = f.three_hops();
    let mut chain = hops(&env, 0, DEFAULT_MAX_HOPS).unwrap();
    chain.pop();
    let mut cut = env.clone();
    replace_hops(&mut cut, 0, chain).unwrap();
    assert_eq!(
        code(check(
            &cut,
            &f.verifier(),
            itinerary(&[COMPUTE, CONDUCTOR, SCHEDULER])
        )),
        ("hop-missing", Some(2))
    );
    // Without an itinerary the shorter slip is a valid slip of its own.
    check(&cut, &f.verifier(), RouteExpectations::default()).unwrap();
}

#[test]
fn a_hop_signature_altered() {
    let f = fx();
    let env = f.three_hops();
    let mut chain = hops(&env, 0, DEFAULT_MAX_HOPS).unwrap();
    chain[1].signature[5] ^= 0x40;
    let mut bad = env.clone();
    replace_hops(&mut bad, 0, chain).unwrap();
    assert_eq!(
        code(check(&bad, &f.verifier(), RouteExpectations::default())),
        ("bad-signature", Some(1))
    );
}

#[test]
fn a_hop_moved_to_another_position() {
    let f = fx();
    let env = f.three_hops();
    let mut chain = hops(&env, 0, DEFAULT_MAX_HOPS).unwrap();
    chain.swap(1, 2);
    let mut moved = env.clone();
    replace_hops(&mut moved, 0, chain).unwrap();
    assert_eq!(
        code(check(&moved, &f.verifier(), RouteExpectations::default())),
        ("hop-chain-broken", Some(1))
    );
    // A correctly signed route that is not the expected order.
    let mut other = f.origin();
    f.hop(&mut other, &f.scheduler, "scheduler");
    f.hop(&mut other, &f.conductor, "conductor");
    assert_eq!(
        code(check(
            &other,
            &f.verifier(),
            itinerary(&[COMPUTE, CONDUCTOR, SCHEDULER])
        )),
        ("wrong-hop", Some(1))
    );
    assert_eq!(
        code(check(
            &f.three_hops(),
            &f.verifier(),
            itinerary(&[COMPUTE, CONDUCTOR])
        )),
        ("unexpected-hop", Some(2))
    );
    let required = RouteExpectations {
        required: vec![SCHEDULER.into(), CONDUCTOR.into()],
        ..RouteExpectations::default()
    };
    assert_eq!(
        code(check(&f.three_hops(), &f.verifier(), required)).0,
        "required-hop-missing"
    );
}

#[test]
fn a_hop_by_an_untrusted_or_revoked_certificate() {
    let f = fx();
    let stranger_pki = TestPki::named(KeyAlgorithm::P256, "stranger").unwrap();
    let stranger = stranger_pki.leaf(CONDUCTOR, KeyAlgorithm::P256).unwrap();
    let mut env = f.origin();
    let s = hop_signer(
        signer(&stranger, &stranger_pki.ca.cert),
        Some("conductor"),
        None,
    )
    .unwrap();
    append_hop(&mut env, 0, &s, true, DEFAULT_MAX_HOPS).unwrap();
    assert_eq!(
        code(check(&env, &f.verifier(), RouteExpectations::default())),
        ("untrusted", Some(1))
    );

    let env = f.three_hops();
    let crls = CrlSet::from_crls([
        f.pki.crl(&[&f.conductor.cert]).unwrap(),
        f.pki.root_crl().unwrap(),
    ]);
    let v = f.verifier().with_crls(crls);
    assert_eq!(
        code(check(&env, &v, RouteExpectations::default())),
        ("revoked", Some(1))
    );
    let crls = CrlSet::from_crls([f.pki.crl(&[]).unwrap(), f.pki.root_crl().unwrap()]);
    let slip = check(
        &env,
        &f.verifier().with_crls(crls),
        RouteExpectations::default(),
    )
    .unwrap();
    assert!(
        slip.hops
            .iter()
            .all(|h| h.path.as_ref().unwrap().revocation_checked)
    );
}

#[test]
fn a_repeated_hop_is_a_loop() {
    let f = fx();
    let mut env = f.origin();
    f.hop(&mut env, &f.conductor, "conductor");
    f.hop(&mut env, &f.compute, "compute");
    assert_eq!(
        code(check(&env, &f.verifier(), RouteExpectations::default())),
        ("repeated-hop", Some(2))
    );
    let allow = RouteExpectations {
        allow_repeats: true,
        ..RouteExpectations::default()
    };
    check(&env, &f.verifier(), allow).unwrap();
}

#[test]
fn time_going_backwards() {
    let f = fx();
    let mut env = f.origin();
    let early = time::now() - 3600;
    let s = hop_signer(
        signer(&f.conductor, &f.pki.ca.cert),
        Some("conductor"),
        None,
    )
    .unwrap()
    .with_signing_time(early);
    append_hop(&mut env, 0, &s, true, DEFAULT_MAX_HOPS).unwrap();
    assert_eq!(
        code(check(&env, &f.verifier(), RouteExpectations::default())),
        ("time-went-backwards", Some(1))
    );
    // Within the allowed clock skew it passes.
    let skew = RouteExpectations {
        clock_skew: 7200,
        ..RouteExpectations::default()
    };
    check(&env, &f.verifier(), skew).unwrap();
}

#[test]
fn a_slip_older_than_allowed() {
    let f = fx();
    let env = f.three_hops();
    let expect = RouteExpectations {
        max_age: Some(600),
        ..RouteExpectations::default()
    };
    check(&env, &f.verifier(), expect.clone()).unwrap();
    let later = f.verifier().at_time(time::now() + 3600);
    assert_eq!(code(check(&env, &later, expect)).0, "slip-too-old");
}

// Issue 10, item 3: a signing time in the future cannot stretch the maximum age.
#[test]
fn a_hop_signed_in_the_future() {
    let f = fx();
    // A fixed verification time: when the PKI was made (its certificates are valid then).
    let at = f.pki.now;
    let v = f.verifier().at_time(at);
    let signed = |who: &Issued, role: &str, time: u64| {
        hop_signer(signer(who, &f.pki.ca.cert), Some(role), None)
            .unwrap()
            .with_signing_time(time)
    };
    // A slip signed at these times (origin, conductor, scheduler).
    let slip = |times: [u64; 3]| {
        let mut env = EnvelopeBuilder::new(CONTENT)
            .add_signer(&signed(&f.compute, "compute", times[0]))
            .build()
            .unwrap();
        for (who, role, t) in [
            (&f.conductor, "conductor", times[1]),
            (&f.scheduler, "scheduler", times[2]),
        ] {
            append_hop(&mut env, 0, &signed(who, role, t), true, DEFAULT_MAX_HOPS).unwrap();
        }
        env
    };
    // Every other expectation is met: the age limit would pass a future origin.
    let expect = RouteExpectations {
        max_age: Some(600),
        ..itinerary(&[COMPUTE, CONDUCTOR, SCHEDULER])
    };
    // The origin signed an hour after the verification time.
    let future_origin = slip([at + 3600; 3]);
    assert_eq!(
        code(check(&future_origin, &v, expect.clone())),
        ("signing-time-in-future", Some(0))
    );
    // The last hop signed one second beyond the default clock skew (300 s).
    let future_last = slip([at, at, at + 301]);
    let e = check(&future_last, &v, expect.clone()).unwrap_err();
    assert_eq!((e.code(), e.hop()), ("signing-time-in-future", Some(2)));
    assert!(e.to_string().starts_with("hop 2 signed at"), "{e}");
    // Positive twins: exactly at the skew, a later hop and the origin pass...
    let at_skew = check(&slip([at, at, at + 300]), &v, expect.clone()).unwrap();
    assert_eq!(at_skew.hops[2].signing_time, Some(at + 300));
    check(&slip([at + 300; 3]), &v, expect.clone()).unwrap();
    // ...and a larger clock skew accepts the future origin.
    let lenient = RouteExpectations {
        clock_skew: 3600,
        ..expect.clone()
    };
    check(&future_origin, &v, lenient).unwrap();
    // `future_skew` overrides `clock_skew` for this check only, both ways.
    let strict = RouteExpectations {
        future_skew: Some(0),
        ..expect.clone()
    };
    assert_eq!(
        code(check(&slip([at, at, at + 1]), &v, strict.clone())),
        ("signing-time-in-future", Some(2))
    );
    check(&slip([at, at, at]), &v, strict).unwrap();
    let wide = RouteExpectations {
        future_skew: Some(3600),
        ..expect
    };
    check(&future_origin, &v, wide).unwrap();
}

#[test]
fn content_changed_after_hops_were_added() {
    let f = fx();
    let mut der = f.three_hops().to_der();
    let pos = der.windows(9).position(|w| w == b"compute-n").unwrap();
    der[pos] = b'C';
    let env = parse(&der, DEFAULT_MAX_HOPS).unwrap();
    let e = SlipVerifier::new(&f.verifier())
        .verify(&env, None)
        .unwrap_err();
    assert_eq!((e.code(), e.hop()), ("message-digest-mismatch", Some(0)));
}

#[test]
fn a_hop_with_a_content_type_attribute() {
    let f = fx();
    let env = f.origin();
    // A countersignature built by hand with a content-type attribute, correctly signed.
    let prev = &env.signed_data().signer_infos[0];
    let key = &f.conductor.key;
    let attrs = Attributes::from_items(vec![
        Attribute::new(
            waxseal_envelope::oid::ID_CONTENT_TYPE,
            waxseal_envelope::oid::ID_DATA.to_der().unwrap(),
        ),
        Attribute::new(
            waxseal_envelope::oid::ID_SIGNING_TIME,
            der::asn1::UtcTime::from_unix_duration(std::time::Duration::from_secs(time::now()))
                .unwrap()
                .to_der()
                .unwrap(),
        ),
        Attribute::new(
            waxseal_envelope::oid::ID_MESSAGE_DIGEST,
            waxseal_trust::asn1::tlv(
                0x04,
                &waxseal_trust::provider::Provider::default()
                    .digest(DigestAlgorithm::Sha256, &prev.signature),
            ),
        ),
    ]);
    let (alg, sig) = key
        .sign(
            &waxseal_trust::provider::Provider::default(),
            &attrs.signed_bytes(),
            DigestAlgorithm::Sha256,
            false,
        )
        .unwrap();
    let si = SignerInfo {
        version: 1,
        sid: SignerIdentifier::IssuerAndSerialNumber(cms::cert::IssuerAndSerialNumber {
            issuer: f.conductor.cert.issuer().clone(),
            serial_number: f
                .conductor
                .cert
                .x509()
                .tbs_certificate()
                .serial_number()
                .clone(),
        }),
        digest_algorithm: DigestAlgorithm::Sha256.algorithm_identifier(),
        signed_attrs: Some(attrs),
        signature_algorithm: alg,
        signature: sig,
        unsigned_attrs: None,
    };
    let mut env = env;
    attach_countersignature(&mut env, 0, si, DEFAULT_MAX_HOPS).unwrap();
    let store = CertStore::from_certificates([f.conductor.cert.clone()]);
    let v = f.verifier().with_store(store);
    assert_eq!(
        code(check(&env, &v, RouteExpectations::default())),
        ("countersignature-content-type", Some(1))
    );
}

#[test]
fn branches_and_length_limits() {
    let f = fx();
    // Two countersignatures on the origin: not a route.
    let mut env = f.origin();
    let c1 = signer(&f.conductor, &f.pki.ca.cert)
        .countersign(&env.signed_data().signer_infos[0])
        .unwrap();
    let c2 = signer(&f.scheduler, &f.pki.ca.cert)
        .countersign(&env.signed_data().signer_infos[0])
        .unwrap();
    let si = &mut env.signed_data_mut().signer_infos[0];
    si.unsigned_attrs = Some(Attributes::from_items_in_order(vec![
        Attribute::new(waxseal_envelope::oid::ID_COUNTERSIGNATURE, c1.to_der()),
        Attribute::new(waxseal_envelope::oid::ID_COUNTERSIGNATURE, c2.to_der()),
    ]));
    assert_eq!(
        code(check(&env, &f.verifier(), RouteExpectations::default())).0,
        "branching-slip"
    );
    // More hops than allowed.
    let short = RouteExpectations {
        max_hops: 2,
        ..RouteExpectations::default()
    };
    assert_eq!(
        code(check(&f.three_hops(), &f.verifier(), short)).0,
        "too-many-hops"
    );
    let mut env = f.three_hops();
    let s = signer(&f.conductor, &f.pki.ca.cert);
    assert!(matches!(
        append_hop(&mut env, 0, &s, true, 3),
        Err(SlipError::TooManyHops { max: 3 })
    ));
}

/// A hostile slip: `levels` nested SignerInfos (dummy signatures), built in O(n) by
/// computing each level's length from the inside out, then writing the prefixes.
fn nested_slip(levels: usize) -> Vec<u8> {
    use waxseal_trust::asn1::push_len;
    fn header(tag: u8, len: usize) -> Vec<u8> {
        let mut h = vec![tag];
        push_len(&mut h, len);
        h
    }
    // SignerInfo ::= SEQ { version, sid, digestAlg, sigAlg, signature, [1] { Attribute } }
    let fixed: Vec<u8> = [
        vec![0x02, 0x01, 0x03], // version 3
        vec![0x80, 0x01, 0x01], // sid [0] SKI
        DigestAlgorithm::Sha256
            .algorithm_identifier()
            .to_der()
            .unwrap(),
        spki::AlgorithmIdentifierOwned {
            oid: const_oid::db::rfc8410::ID_ED_25519,
            parameters: None,
        }
        .to_der()
        .unwrap(),
        vec![0x04, 0x01, 0x00], // signature
    ]
    .concat();
    let cs_oid = waxseal_envelope::oid::ID_COUNTERSIGNATURE.to_der().unwrap();
    // Sizes from the innermost SignerInfo outwards.
    let mut prefixes: Vec<Vec<u8>> = Vec::with_capacity(levels);
    let innermost = [header(0x30, fixed.len()), fixed.clone()].concat();
    let mut size = innermost.len();
    for _ in 1..levels {
        let set = header(0x31, size);
        let attr_body = cs_oid.len() + set.len() + size;
        let attr = header(0x30, attr_body);
        let unsigned_body = attr.len() + attr_body;
        let unsigned = header(0xa1, unsigned_body);
        let body = fixed.len() + unsigned.len() + unsigned_body;
        let si = header(0x30, body);
        prefixes.push(
            [
                si.clone(),
                fixed.clone(),
                unsigned,
                attr,
                cs_oid.clone(),
                set,
            ]
            .concat(),
        );
        size = si.len() + body;
    }
    let mut signer_infos = Vec::with_capacity(size + 64);
    for p in prefixes.iter().rev() {
        signer_infos.extend_from_slice(p);
    }
    signer_infos.extend_from_slice(&innermost);
    // SignedData with no certificates around it.
    let sd_body: Vec<u8> = [
        vec![0x02, 0x01, 0x03],
        [vec![0x31], {
            let mut l = Vec::new();
            push_len(&mut l, 0);
            l
        }]
        .concat(),
        waxseal_trust::asn1::tlv(0x30, &waxseal_envelope::oid::ID_DATA.to_der().unwrap()),
        header(0x31, signer_infos.len()),
    ]
    .concat();
    let sd_len = sd_body.len() + signer_infos.len();
    let mut ci_body = waxseal_envelope::oid::ID_SIGNED_DATA.to_der().unwrap();
    let sd_header = header(0x30, sd_len);
    ci_body.extend(header(0xa0, sd_header.len() + sd_len));
    ci_body.extend(sd_header);
    ci_body.extend(sd_body);
    let total = ci_body.len() + signer_infos.len();
    let mut out = header(0x30, total);
    out.extend(ci_body);
    out.extend(signer_infos);
    out
}

#[test]
fn ten_thousand_levels_of_nesting_are_refused_not_a_crash() {
    let f = fx();
    // Sanity: a small hostile slip parses and walks until the signatures fail.
    let small = nested_slip(3);
    let env = parse(&small, DEFAULT_MAX_HOPS).unwrap();
    assert_eq!(hops(&env, 0, DEFAULT_MAX_HOPS).unwrap().len(), 3);
    // 40 levels: parses within the default limit, but is longer than max_hops.
    let env = parse(&nested_slip(40), 64).unwrap();
    assert!(matches!(
        hops(&env, 0, DEFAULT_MAX_HOPS),
        Err(SlipError::TooManyHops { .. })
    ));
    let e = SlipVerifier::new(&f.verifier())
        .verify(&env, None)
        .unwrap_err();
    assert_eq!(e.code(), "too-many-hops");
    // 10,000 levels: refused while parsing, whatever the configured hop limit.
    let deep = nested_slip(10_000);
    for max_hops in [DEFAULT_MAX_HOPS, 1_000, 100_000] {
        let e = parse(&deep, max_hops).unwrap_err();
        assert_eq!(e.code(), "malformed");
        assert!(e.to_string().contains("nesting"), "{e}");
    }
    assert!(Envelope::parse(&deep).is_err());
    assert!(
        inspect::report(&parse(&nested_slip(200), 300).unwrap())
            .to_string()
            .contains("not shown")
    );
}

#[test]
fn warm_path_cache_serves_every_hop() {
    let f = fx();
    let env = parse(&f.three_hops().to_der(), DEFAULT_MAX_HOPS).unwrap();
    let cache = Arc::new(PathCache::default());
    let v = f.verifier().with_cache(cache.clone());
    let sv = SlipVerifier::new(&v);
    sv.verify(&env, None).unwrap();
    assert_eq!((cache.misses(), cache.hits()), (3, 0));
    for _ in 0..4 {
        sv.verify(&env, None).unwrap();
    }
    assert_eq!((cache.misses(), cache.hits()), (3, 12));
}

#[test]
fn rfc4134_example_4_4_is_a_two_hop_slip() {
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/vectors/rfc4134");
    assert!(
        dir.is_dir(),
        "shared test vectors missing at {}",
        dir.display()
    );
    let read = |n: &str| std::fs::read(dir.join(n)).unwrap();
    let mut anchors = Certificate::load_all(&read("CarlRSASelf.cer")).unwrap();
    anchors.extend(Certificate::load_all(&read("CarlDSSSelf.cer")).unwrap());
    let env = parse(&read("4.4.bin"), DEFAULT_MAX_HOPS).unwrap();
    let expect = itinerary(&["AliceDSS", "AliceRSA"]);
    // A fixed time inside the examples' validity (1999 to 2039), not the real clock.
    let at = 1_275_350_400;
    let legacy = Verifier::new(TrustAnchors::new(anchors.clone()).unwrap())
        .with_algorithms(AlgorithmPolicy::LEGACY_SHA1)
        .at_time(at);
    let slip = SlipVerifier::new(&legacy)
        .with_expectations(expect.clone())
        .verify(&env, None)
        .unwrap();
    assert_eq!(slip.hops.len(), 2);
    assert_eq!(slip.hops[1].signature_algorithm, "rsa-pkcs1-sha1");
    let strict = Verifier::new(TrustAnchors::new(anchors).unwrap()).at_time(at);
    let e = SlipVerifier::new(&strict)
        .with_expectations(expect)
        .verify(&env, None)
        .unwrap_err();
    assert_eq!(e.code(), "legacy-algorithm");
}
