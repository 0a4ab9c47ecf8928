//! oslo.messaging envelopes: signing over the exact message text, verification with
//! authorization and claims, and routing-slip hops added by forwarding services.

use std::path::Path;

use serde_json::{Value, json};
use waxseal_envelope::{KeyAlgorithm, KeyFileCheck, Signer};
use waxseal_message::{Bus, BusConfig, Stage, oslo};
use waxseal_pki::{Lifetimes, PkiDir, Seed, ServiceHost};

/// The signer for `name`, sending only its own certificate.
fn signer(dir: &Path, name: &str) -> Signer {
    waxseal_pki::load_signer(dir, name, KeyFileCheck::OwnerOnly)
        .unwrap()
        .with_chain(Vec::new())
}

fn setup() -> (tempfile::TempDir, std::path::PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("pki");
    let mut pki = PkiDir::init(
        &dir,
        Seed::default(),
        KeyAlgorithm::P256,
        Lifetimes::default(),
    )
    .unwrap();
    let names: Vec<ServiceHost> = [
        "compute-node01.example.org",
        "compute-node02.example.org",
        "conductor-ctl01.example.org",
    ]
    .iter()
    .map(|n| ServiceHost::parse(n).unwrap())
    .collect();
    pki.issue(&names, false, false).unwrap();
    (tmp, dir)
}

fn bus(dir: &Path, route: Value) -> Bus {
    let cfg = json!({
        "trust": ["root-ca.crt"],
        "certs": ["signing-ca.crt"],
        "crls": ["crl.pem"],
        "routing_policy": {"scheduler": ["compute-*"]},
        "nitpicky": true,
        "claims": [{"topic": "scheduler", "pointer": "/args/host", "field": "host"}],
        "unsigned_topics": ["notifications.info"],
        "route": route
    });
    Bus::new(BusConfig::from_json(&cfg.to_string(), dir).unwrap()).unwrap()
}

fn request(host: &str) -> Value {
    json!({"method": "select_destinations", "args": {"host": host, "spec": {"num_instances": 1}}, "version": "4.3"})
}

#[test]
fn round_trip_with_authorization_and_claims() {
    let (_t, dir) = setup();
    let bus = bus(&dir, json!({}));
    let env = oslo::wrap(&request("node01.example.org")).unwrap();
    let signed = oslo::sign(&env, &signer(&dir, "compute-node01.example.org")).unwrap();
    assert_eq!(signed["oslo.version"], "2.0");
    assert_eq!(
        signed["oslo.message"], env["oslo.message"],
        "the message text is untouched"
    );
    let wire = serde_json::to_vec(&signed).unwrap();
    let v = bus.verify_oslo_bytes(&wire, Some("scheduler")).unwrap();
    assert!(v.signed);
    assert_eq!(v.message["method"], "select_destinations");
    assert_eq!(v.entity.as_ref().unwrap().id, "compute-node01.example.org");
    assert_eq!(v.hops.len(), 1);

    // Node 02 claiming to be node 01.
    let forged = oslo::sign(&env, &signer(&dir, "compute-node02.example.org")).unwrap();
    let e = bus.verify_oslo(&forged, Some("scheduler")).unwrap_err();
    assert_eq!(
        (e.stage, e.code.as_str()),
        (Stage::Authorization, "claim-mismatch")
    );
    // A topic the node may not use (nitpicky policy).
    let e = bus.verify_oslo(&signed, Some("conductor")).unwrap_err();
    assert_eq!(e.code, "topic-not-in-policy");
}

#[test]
fn tampering_and_malformed_envelopes() {
    let (_t, dir) = setup();
    let bus = bus(&dir, json!({}));
    let signed = oslo::sign(
        &oslo::wrap(&request("node01.example.org")).unwrap(),
        &signer(&dir, "compute-node01.example.org"),
    )
    .unwrap();
    // The message text changed after signing (even just white space: it is signed byte for byte).
    let mut t = signed.clone();
    t["oslo.message"] = json!(
        signed["oslo.message"]
            .as_str()
            .unwrap()
            .replace("node01", "node02")
    );
    assert_eq!(
        bus.verify_oslo(&t, Some("scheduler")).unwrap_err().code,
        "message-digest-mismatch"
    );
    let mut t = signed.clone();
    t["oslo.message"] = json!(format!("{} ", signed["oslo.message"].as_str().unwrap()));
    assert_eq!(
        bus.verify_oslo(&t, Some("scheduler")).unwrap_err().code,
        "message-digest-mismatch"
    );
    // Unsigned: only on unsigned topics.
    let unsigned = oslo::wrap(&request("node01.example.org")).unwrap();
    assert_eq!(
        bus.verify_oslo(&unsigned, Some("scheduler"))
            .unwrap_err()
            .code,
        "unsigned"
    );
    assert!(
        !bus.verify_oslo(&unsigned, Some("notifications.info"))
            .unwrap()
            .signed
    );
    // Malformed envelopes, cleanly.
    for (bad, code) in [
        (
            json!({"oslo.version": "1.0", "oslo.message": "{}"}),
            "malformed",
        ),
        (
            json!({"oslo.version": "2.0", "oslo.message": {"method": "x"}}),
            "malformed",
        ),
        (
            json!({"oslo.version": "2.0", "oslo.message": "{\"a\":1,\"a\":2}"}),
            "malformed-json",
        ),
        (
            json!({"oslo.version": "2.0", "oslo.message": "{}", "oslo.signature": "***"}),
            "malformed",
        ),
        (
            json!({"oslo.version": "2.0", "oslo.message": "{}", "oslo.signature": "aGVsbG8="}),
            "malformed",
        ),
        (json!({"method": "x"}), "malformed"),
    ] {
        assert_eq!(
            bus.verify_oslo(&bad, Some("scheduler")).unwrap_err().code,
            code,
            "{bad}"
        );
    }
    let dup = br#"{"oslo.version": "2.0", "oslo.message": "{}", "oslo.message": "{\"x\": 1}"}"#;
    assert_eq!(
        bus.verify_oslo_bytes(dup, None).unwrap_err().code,
        "malformed-json"
    );
}

#[test]
fn forwarding_hops_form_a_routing_slip() {
    let (_t, dir) = setup();
    let compute = "compute-node01.example.org";
    let conductor = "conductor-ctl01.example.org";
    let route = json!({"itinerary": [compute, conductor], "max_age_secs": 300});
    let bus = bus(&dir, route);
    let signed = oslo::sign(
        &oslo::wrap(&request("node01.example.org")).unwrap(),
        &signer(&dir, compute),
    )
    .unwrap();
    // The conductor verifies, then forwards with its hop.
    let hop = waxseal_slip::hop_signer(
        signer(&dir, conductor),
        Some("conductor"),
        Some("forwarded"),
    )
    .unwrap();
    let forwarded = oslo::countersign(&signed, &hop, 8).unwrap();
    assert_eq!(forwarded["oslo.message"], signed["oslo.message"]);
    let v = bus.verify_oslo(&forwarded, Some("scheduler")).unwrap();
    let route: Vec<&str> = v.hops.iter().map(|h| h.entity.as_str()).collect();
    assert_eq!(route, [compute, conductor]);
    assert_eq!(v.hops[1].role.as_deref(), Some("conductor"));
    assert_eq!(
        v.entity.unwrap().id,
        compute,
        "authorization is for the origin"
    );
    // A skipped hop.
    let e = bus.verify_oslo(&signed, Some("scheduler")).unwrap_err();
    assert_eq!(
        (e.stage, e.code.as_str(), e.hop),
        (Stage::Route, "hop-missing", Some(1))
    );
    // An unexpected extra hop.
    let extra =
        oslo::countersign(&forwarded, &signer(&dir, "compute-node02.example.org"), 8).unwrap();
    assert_eq!(
        bus.verify_oslo(&extra, Some("scheduler")).unwrap_err().code,
        "unexpected-hop"
    );
}
