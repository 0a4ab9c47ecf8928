//! Routing slips signed with ML-DSA (RFC 9882 countersignatures): every hop ML-DSA, and a
//! route mixing ML-DSA hops with ECDSA and Ed25519 under an ML-DSA CA; the negative twins
//! (a hop's signature forged, a hop moved, a hop from another PKI) keep their codes.

use waxseal_envelope::*;
use waxseal_pki::{Issued, TestPki};
use waxseal_slip::*;
use waxseal_trust::mldsa::MlDsaParameterSet;
use waxseal_trust::*;

const CONTENT: &[u8] = br#"{"method": "build_and_run_instance", "args": {"pq": true}}"#;
const COMPUTE: &str = "compute-node01.example.org";
const CONDUCTOR: &str = "conductor01.example.org";
const SCHEDULER: &str = "scheduler01.example.org";

const ML_DSA_44: KeyAlgorithm = KeyAlgorithm::MlDsa(MlDsaParameterSet::MlDsa44);
const ML_DSA_65: KeyAlgorithm = KeyAlgorithm::MlDsa(MlDsaParameterSet::MlDsa65);
const ML_DSA_87: KeyAlgorithm = KeyAlgorithm::MlDsa(MlDsaParameterSet::MlDsa87);

fn signer(i: &Issued, ca: &Certificate) -> Signer {
    Signer::new(i.cert.clone(), i.key.clone())
        .unwrap()
        .with_chain(vec![ca.clone()])
}

fn slip(pki: &TestPki, hops: &[(&Issued, &str)]) -> Envelope {
    let (first, role) = hops[0];
    let s = hop_signer(signer(first, &pki.ca.cert), Some(role), Some("requested")).unwrap();
    let mut env = EnvelopeBuilder::new(CONTENT)
        .add_signer(&s)
        .build()
        .unwrap();
    for (who, role) in &hops[1..] {
        let s = hop_signer(signer(who, &pki.ca.cert), Some(role), Some("forwarded")).unwrap();
        append_hop(&mut env, 0, &s, true, DEFAULT_MAX_HOPS).unwrap();
    }
    env
}

fn check(env: &[u8], pki: &TestPki, itinerary: &[&str]) -> Result<VerifiedSlip, SlipError> {
    let v = Verifier::new(TrustAnchors::new([pki.root.cert.clone()]).unwrap());
    let expect = RouteExpectations {
        itinerary: Some(itinerary.iter().map(|s| s.to_string()).collect()),
        ..RouteExpectations::default()
    };
    let parsed = parse(env, expect.max_hops).unwrap();
    SlipVerifier::new(&v)
        .with_expectations(expect)
        .verify(&parsed, None)
}

#[test]
fn ml_dsa_slips_verify_hop_by_hop() {
    // Every hop ML-DSA, one parameter set each, under an ML-DSA-87 CA.
    let pki = TestPki::new(ML_DSA_87).unwrap();
    let compute = pki.leaf(COMPUTE, ML_DSA_44).unwrap();
    let conductor = pki.leaf(CONDUCTOR, ML_DSA_65).unwrap();
    let scheduler = pki.leaf(SCHEDULER, ML_DSA_87).unwrap();
    let env = slip(
        &pki,
        &[
            (&compute, "compute"),
            (&conductor, "conductor"),
            (&scheduler, "scheduler"),
        ],
    )
    .to_der();
    let s = check(&env, &pki, &[COMPUTE, CONDUCTOR, SCHEDULER]).unwrap();
    assert_eq!(s.content(), CONTENT);
    let algs: Vec<&str> = s
        .hops
        .iter()
        .map(|h| h.signature_algorithm.as_str())
        .collect();
    assert_eq!(algs, ["ml-dsa-44", "ml-dsa-65", "ml-dsa-87"]);

    // The wrong itinerary, and a forged last hop.
    let e = check(&env, &pki, &[COMPUTE, SCHEDULER, CONDUCTOR]).unwrap_err();
    assert_eq!(e.code(), "wrong-hop");
    let mut forged = env.clone();
    let at = forged.len() - 20;
    forged[at] ^= 1;
    let e = check(&forged, &pki, &[COMPUTE, CONDUCTOR, SCHEDULER]).unwrap_err();
    assert_eq!((e.code(), e.hop()), ("bad-signature", Some(2)));
}

#[test]
fn mixed_slips_ml_dsa_with_ecdsa_and_ed25519() {
    let pki = TestPki::new(ML_DSA_65).unwrap();
    let compute = pki.leaf(COMPUTE, KeyAlgorithm::P256).unwrap();
    let conductor = pki.leaf(CONDUCTOR, ML_DSA_44).unwrap();
    let scheduler = pki.leaf(SCHEDULER, KeyAlgorithm::Ed25519).unwrap();
    let env = slip(
        &pki,
        &[
            (&compute, "compute"),
            (&conductor, "conductor"),
            (&scheduler, "scheduler"),
        ],
    )
    .to_der();
    let s = check(&env, &pki, &[COMPUTE, CONDUCTOR, SCHEDULER]).unwrap();
    let algs: Vec<&str> = s
        .hops
        .iter()
        .map(|h| h.signature_algorithm.as_str())
        .collect();
    assert_eq!(algs, ["ecdsa-sha256", "ml-dsa-44", "ed25519"]);

    // A hop signed under another ML-DSA PKI: its path does not reach this root.
    let other = TestPki::named(ML_DSA_65, "other").unwrap();
    let intruder = other.leaf(SCHEDULER, ML_DSA_65).unwrap();
    let mut env2 = slip(&pki, &[(&compute, "compute"), (&conductor, "conductor")]);
    let s = hop_signer(signer(&intruder, &other.ca.cert), Some("scheduler"), None).unwrap();
    append_hop(&mut env2, 0, &s, true, DEFAULT_MAX_HOPS).unwrap();
    let e = check(&env2.to_der(), &pki, &[COMPUTE, CONDUCTOR, SCHEDULER]).unwrap_err();
    assert_eq!((e.code(), e.hop()), ("untrusted", Some(2)));
}
