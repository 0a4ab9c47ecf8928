//! A bus whose CA and services sign with ML-DSA (FIPS 204, RFC 9882), end to end through
//! `waxseal_message::Bus`: fedmsg-style messages and oslo envelopes (with routing-slip
//! hops) from a PKI made by `waxseal pki`'s library, and mixed buses (an ML-DSA CA over
//! ECDSA services, an ECDSA CA over ML-DSA services). Each positive case has its forged,
//! misrouted, replayed or unauthorized twin.

use std::path::Path;

use serde_json::{Value, json};
use waxseal_envelope::Signer;
use waxseal_message::{Bus, BusConfig, Route, Stage, oslo};
use waxseal_pki::{Lifetimes, PkiDir, Seed, ServiceHost};
use waxseal_trust::mldsa::MlDsaParameterSet;
use waxseal_trust::{KeyAlgorithm, KeyFileCheck};

const COMPUTE: &str = "compute-node01.example.org";
const OTHER: &str = "compute-node02.example.org";
const CONDUCTOR: &str = "conductor-ctl01.example.org";

fn ml_dsa(set: MlDsaParameterSet) -> KeyAlgorithm {
    KeyAlgorithm::MlDsa(set)
}

/// A PKI of `ca` whose services have keys of `service`.
fn setup(ca: KeyAlgorithm, service: KeyAlgorithm) -> (tempfile::TempDir, std::path::PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("pki");
    let mut pki = PkiDir::init(&dir, Seed::default(), ca, Lifetimes::default()).unwrap();
    let names: Vec<ServiceHost> = [COMPUTE, OTHER, CONDUCTOR]
        .iter()
        .map(|n| ServiceHost::parse(n).unwrap())
        .collect();
    pki.issue_with(&names, false, false, Some(service)).unwrap();
    (tmp, dir)
}

fn signer(dir: &Path, name: &str) -> Signer {
    waxseal_pki::load_signer(dir, name, KeyFileCheck::OwnerOnly)
        .unwrap()
        .with_chain(Vec::new())
}

fn bus(dir: &Path) -> Bus {
    let cfg = json!({
        "trust": ["root-ca.crt"],
        "certs": ["signing-ca.crt"],
        "crls": ["crl.pem"],
        "routing_policy": {"scheduler": ["compute-*"], "org.example.prod.compute.*": ["compute-*"]},
        "nitpicky": true,
        "claims": [{"topic": "scheduler", "pointer": "/args/host", "field": "host"}],
    });
    Bus::new(BusConfig::from_json(&cfg.to_string(), dir).unwrap()).unwrap()
}

fn request(host: &str) -> Value {
    json!({"method": "select_destinations", "args": {"host": host}, "version": "4.3"})
}

fn fedmsg_round_trip(dir: &Path, alg: &str) {
    let bus = bus(dir);
    let msg = json!({"topic": "org.example.prod.compute.ping", "msg": {"pq": alg}});
    let signed = waxseal_message::sign(&msg, &signer(dir, COMPUTE)).unwrap();
    let v = bus
        .validate(&signed)
        .unwrap_or_else(|e| panic!("{alg}: {e:?}"));
    assert!(v.signed);
    assert_eq!(v.entity.as_ref().unwrap().id, COMPUTE);
    // The conductor may not publish on the compute topics.
    let e = bus
        .validate(&waxseal_message::sign(&msg, &signer(dir, CONDUCTOR)).unwrap())
        .unwrap_err();
    assert_eq!(e.stage, Stage::Authorization, "{alg}: {e:?}");
    // Replayed: the same message again.
    assert_eq!(bus.validate(&signed).unwrap_err().code, "replayed", "{alg}");
    // The message changed after signing.
    let mut t = waxseal_message::sign(&msg, &signer(dir, COMPUTE)).unwrap();
    t["msg"]["pq"] = json!("forged");
    assert_eq!(
        bus.validate(&t).unwrap_err().code,
        "message-digest-mismatch",
        "{alg}"
    );
    // Arrived on another topic than the one it signed.
    let fresh = waxseal_message::sign(&msg, &signer(dir, COMPUTE)).unwrap();
    assert_eq!(
        bus.validate_on_topic(&fresh, "org.example.prod.compute.pong")
            .unwrap_err()
            .code,
        "topic-mismatch",
        "{alg}"
    );
}

fn oslo_round_trip(dir: &Path, alg: &str) {
    let bus = bus(dir);
    let env = oslo::wrap(&request("node01.example.org")).unwrap();
    let origin = oslo::route_signer(signer(dir, COMPUTE), &Route::topic("scheduler")).unwrap();
    let signed = oslo::sign(&env, &origin).unwrap();
    let wire = serde_json::to_vec(&signed).unwrap();
    let v = bus
        .verify_oslo_bytes(&wire, "scheduler")
        .unwrap_or_else(|e| panic!("{alg}: {e:?}"));
    assert!(v.signed);
    assert_eq!(v.entity.as_ref().unwrap().id, COMPUTE);
    // Node 02 claiming node 01's host: authorization refuses it.
    let forged = oslo::sign(
        &env,
        &oslo::route_signer(signer(dir, OTHER), &Route::topic("scheduler")).unwrap(),
    )
    .unwrap();
    let e = bus.verify_oslo(&forged, "scheduler").unwrap_err();
    assert_eq!(
        (e.stage, e.code.as_str()),
        (Stage::Authorization, "claim-mismatch"),
        "{alg}"
    );
    // The message text changed after signing.
    let mut t = signed.clone();
    t["oslo.message"] = json!(
        signed["oslo.message"]
            .as_str()
            .unwrap()
            .replace("node01", "node02")
    );
    assert_eq!(
        bus.verify_oslo(&t, "scheduler").unwrap_err().code,
        "message-digest-mismatch",
        "{alg}"
    );
    // Delivered on another route than the one it signed.
    let again = oslo::sign(&env, &origin).unwrap();
    assert_eq!(
        bus.verify_oslo(&again, "conductor").unwrap_err().code,
        "topic-mismatch",
        "{alg}"
    );
}

#[test]
fn an_ml_dsa_bus_carries_fedmsg_and_oslo_messages() {
    for set in MlDsaParameterSet::ALL {
        let (_t, dir) = setup(ml_dsa(set), ml_dsa(set));
        fedmsg_round_trip(&dir, set.name());
        oslo_round_trip(&dir, set.name());
    }
}

#[test]
fn mixed_buses_ml_dsa_ca_over_ecdsa_services_and_the_reverse() {
    for (ca, service) in [
        (ml_dsa(MlDsaParameterSet::MlDsa65), KeyAlgorithm::P256),
        (KeyAlgorithm::P384, ml_dsa(MlDsaParameterSet::MlDsa44)),
    ] {
        let (_t, dir) = setup(ca, service);
        let name = format!("{ca} over {service}");
        fedmsg_round_trip(&dir, &name);
        oslo_round_trip(&dir, &name);
    }
}

#[test]
fn another_ml_dsa_pki_does_not_vouch_for_a_bus_message() {
    let (_t, dir) = setup(
        ml_dsa(MlDsaParameterSet::MlDsa65),
        ml_dsa(MlDsaParameterSet::MlDsa65),
    );
    let (_t2, other) = setup(
        ml_dsa(MlDsaParameterSet::MlDsa65),
        ml_dsa(MlDsaParameterSet::MlDsa65),
    );
    let msg = json!({"topic": "org.example.prod.compute.ping", "msg": {}});
    let signed = waxseal_message::sign(&msg, &signer(&other, COMPUTE)).unwrap();
    // Both PKIs have the same names (the default seed): the path reaches this bus's root,
    // whose key did not sign the other signing CA.
    assert_eq!(
        bus(&dir).validate(&signed).unwrap_err().code,
        "bad-certificate-signature"
    );
}
