//! oslo.messaging envelopes: signing over the exact message text, verification with
//! authorization and claims, and routing-slip hops added by forwarding services.

use std::path::Path;

use serde_json::{Value, json};
use waxseal_envelope::Signer;
use waxseal_message::{Bus, BusConfig, Route, Stage, oslo};
use waxseal_pki::{Lifetimes, PkiDir, Seed, ServiceHost};
use waxseal_trust::{KeyAlgorithm, KeyFileCheck};

/// The signer for `name`, sending only its own certificate.
fn signer(dir: &Path, name: &str) -> Signer {
    waxseal_pki::load_signer(dir, name, KeyFileCheck::OwnerOnly)
        .unwrap()
        .with_chain(Vec::new())
}

/// The origin signer for `name`, binding its messages to `topic`.
fn origin(dir: &Path, name: &str, topic: &str) -> Signer {
    oslo::route_signer(signer(dir, name), &Route::topic(topic)).unwrap()
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
    let signed = oslo::sign(
        &env,
        &origin(&dir, "compute-node01.example.org", "scheduler"),
    )
    .unwrap();
    assert_eq!(signed["oslo.version"], "2.0");
    assert_eq!(
        signed["oslo.message"], env["oslo.message"],
        "the message text is untouched"
    );
    let wire = serde_json::to_vec(&signed).unwrap();
    let (v, text) = bus
        .verify_oslo_route_bytes(&wire, &Route::topic("scheduler"))
        .unwrap();
    assert_eq!(text, signed["oslo.message"].as_str().unwrap());
    assert!(v.signed);
    assert_eq!(v.message["method"], "select_destinations");
    assert_eq!(v.entity.as_ref().unwrap().id, "compute-node01.example.org");
    assert_eq!(v.hops.len(), 1);

    // Node 02 claiming to be node 01.
    let forged = oslo::sign(
        &env,
        &origin(&dir, "compute-node02.example.org", "scheduler"),
    )
    .unwrap();
    let e = bus.verify_oslo(&forged, "scheduler").unwrap_err();
    assert_eq!(
        (e.stage, e.code.as_str()),
        (Stage::Authorization, "claim-mismatch")
    );
    // A topic the node may not use (nitpicky policy).
    let elsewhere = oslo::sign(
        &env,
        &origin(&dir, "compute-node01.example.org", "conductor"),
    )
    .unwrap();
    let e = bus.verify_oslo(&elsewhere, "conductor").unwrap_err();
    assert_eq!(e.code, "topic-not-in-policy");
}

#[test]
fn tampering_and_malformed_envelopes() {
    let (_t, dir) = setup();
    let bus = bus(&dir, json!({}));
    let signed = oslo::sign(
        &oslo::wrap(&request("node01.example.org")).unwrap(),
        &origin(&dir, "compute-node01.example.org", "scheduler"),
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
        bus.verify_oslo(&t, "scheduler").unwrap_err().code,
        "message-digest-mismatch"
    );
    let mut t = signed.clone();
    t["oslo.message"] = json!(format!("{} ", signed["oslo.message"].as_str().unwrap()));
    assert_eq!(
        bus.verify_oslo(&t, "scheduler").unwrap_err().code,
        "message-digest-mismatch"
    );
    // Unsigned: only on unsigned topics.
    let unsigned = oslo::wrap(&request("node01.example.org")).unwrap();
    assert_eq!(
        bus.verify_oslo(&unsigned, "scheduler").unwrap_err().code,
        "unsigned"
    );
    assert!(
        !bus.verify_oslo(&unsigned, "notifications.info")
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
        let e = bus.verify_oslo(&bad, "scheduler").unwrap_err();
        assert_eq!(e.code, code, "{bad}");
        // The same refusal, word for word, from the wire (read with its signature and
        // text held apart).
        let wire = serde_json::to_vec(&bad).unwrap();
        let w = bus.verify_oslo_bytes(&wire, "scheduler").unwrap_err();
        assert_eq!((w.code, w.reason, w.stage), (e.code, e.reason, e.stage));
    }
    let dup = br#"{"oslo.version": "2.0", "oslo.message": "{}", "oslo.message": "{\"x\": 1}"}"#;
    assert_eq!(
        bus.verify_oslo_bytes(dup, "scheduler").unwrap_err().code,
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
        &origin(&dir, compute, "scheduler"),
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
    let v = bus.verify_oslo(&forwarded, "scheduler").unwrap();
    let route: Vec<&str> = v.hops.iter().map(|h| h.entity.as_str()).collect();
    assert_eq!(route, [compute, conductor]);
    assert_eq!(v.hops[1].role.as_deref(), Some("conductor"));
    assert_eq!(
        v.entity.unwrap().id,
        compute,
        "authorization is for the origin"
    );
    // A skipped hop.
    let e = bus.verify_oslo(&signed, "scheduler").unwrap_err();
    assert_eq!(
        (e.stage, e.code.as_str(), e.hop),
        (Stage::Route, "hop-missing", Some(1))
    );
    // An unexpected extra hop.
    let extra =
        oslo::countersign(&forwarded, &signer(&dir, "compute-node02.example.org"), 8).unwrap();
    assert_eq!(
        bus.verify_oslo(&extra, "scheduler").unwrap_err().code,
        "unexpected-hop"
    );
}

// Item 2: the route is part of what is signed.
#[test]
fn the_signed_route_must_match_the_arrival_topic() {
    let (_t, dir) = setup();
    let env = oslo::wrap(&request("node01.example.org")).unwrap();
    let signed = oslo::sign(
        &env,
        &origin(&dir, "compute-node01.example.org", "scheduler"),
    )
    .unwrap();
    // Arrived on another queue (another node's, another service's): refused.
    for elsewhere in ["compute.node02", "conductor", "scheduler.x"] {
        let e = bus(&dir, json!({}))
            .verify_oslo(&signed, elsewhere)
            .unwrap_err();
        assert_eq!(
            (e.stage, e.code.as_str()),
            (Stage::Route, "topic-mismatch"),
            "{elsewhere}"
        );
    }
    // A malformed arrival topic.
    assert_eq!(
        bus(&dir, json!({}))
            .verify_oslo(&signed, "scheduler\n")
            .unwrap_err()
            .code,
        "malformed-topic"
    );
    // An envelope whose signature binds no route (made without route_signer) is refused...
    let plain = signer(&dir, "compute-node01.example.org");
    let cms =
        waxseal_envelope::EnvelopeBuilder::new(env["oslo.message"].as_str().unwrap().as_bytes())
            .detached(true)
            .add_signer(&plain)
            .build()
            .unwrap();
    let mut unbound = env.clone();
    use base64::Engine;
    unbound["oslo.signature"] =
        json!(base64::engine::general_purpose::STANDARD.encode(cms.to_der()));
    let e = bus(&dir, json!({}))
        .verify_oslo(&unbound, "scheduler")
        .unwrap_err();
    assert_eq!((e.stage, e.code.as_str()), (Stage::Route, "topic-required"));
    // ...and oslo::sign will not make one.
    assert!(
        oslo::sign(&env, &plain)
            .unwrap_err()
            .to_string()
            .contains("topic-required")
    );
    // Positive twin.
    let v = bus(&dir, json!({}))
        .verify_oslo(&signed, "scheduler")
        .unwrap();
    assert_eq!(v.route, Some(Route::topic("scheduler")));
    // The exchange, when signed, must match too.
    let on_nova = oslo::route_signer(
        signer(&dir, "compute-node01.example.org"),
        &Route::topic("scheduler").on_exchange("nova"),
    )
    .unwrap();
    let nova = oslo::sign(&env, &on_nova).unwrap();
    for arrived in [
        Route::topic("scheduler"),
        Route::topic("scheduler").on_exchange("cinder"),
    ] {
        assert_eq!(
            bus(&dir, json!({}))
                .verify_oslo_route(&nova, &arrived)
                .unwrap_err()
                .code,
            "topic-mismatch"
        );
    }
    bus(&dir, json!({}))
        .verify_oslo_route(&nova, &Route::topic("scheduler").on_exchange("nova"))
        .unwrap();
    // A signer cannot be given a malformed route.
    assert!(
        oslo::route_signer(
            signer(&dir, "compute-node01.example.org"),
            &Route::topic("a b")
        )
        .is_err()
    );
}

// Item 3: replay and future signing times, for oslo envelopes too.
#[test]
fn oslo_replay_and_future_signing_time() {
    let (_t, dir) = setup();
    let env = oslo::wrap(&request("node01.example.org")).unwrap();
    let b = bus(&dir, json!({}));
    let signed = oslo::sign(
        &env,
        &origin(&dir, "compute-node01.example.org", "scheduler"),
    )
    .unwrap();
    b.verify_oslo(&signed, "scheduler").unwrap();
    let e = b.verify_oslo(&signed, "scheduler").unwrap_err();
    assert_eq!((e.stage, e.code.as_str()), (Stage::Freshness, "replayed"));
    let future = oslo::sign(
        &env,
        &oslo::route_signer(
            signer(&dir, "compute-node01.example.org")
                .with_signing_time(waxseal_trust::time::now() + 3600),
            &Route::topic("scheduler"),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(
        bus(&dir, json!({}))
            .verify_oslo(&future, "scheduler")
            .unwrap_err()
            .code,
        "signing-time-in-future"
    );
}

// Item 3: for oslo envelopes the routing slip refuses every hop signed in the future, by
// `freshness.clock_skew_secs` (not `route.clock_skew_secs`, the skew between hops).
#[test]
fn oslo_hops_signed_in_the_future_are_refused_by_the_freshness_skew() {
    let (_t, dir) = setup();
    // A fixed verification time, after the PKI and its CRL were made.
    let at = waxseal_trust::time::now();
    let cfg = json!({
        "trust": ["root-ca.crt"],
        "certs": ["signing-ca.crt"],
        "crls": ["crl.pem"],
        "route": {"clock_skew_secs": 3600},
        "freshness": {"clock_skew_secs": 10}
    });
    let bus = || {
        Bus::new(BusConfig::from_json(&cfg.to_string(), &dir).unwrap())
            .unwrap()
            .at_time(at)
    };
    let env = oslo::wrap(&request("node01.example.org")).unwrap();
    // Origin signed at `origin_time`, countersigned by the conductor at `hop_time`.
    let slip = |origin_time: u64, hop_time: u64| {
        let o = oslo::route_signer(
            signer(&dir, "compute-node01.example.org").with_signing_time(origin_time),
            &Route::topic("scheduler"),
        )
        .unwrap();
        let signed = oslo::sign(&env, &o).unwrap();
        let h = waxseal_slip::hop_signer(
            signer(&dir, "conductor-ctl01.example.org").with_signing_time(hop_time),
            Some("conductor"),
            None,
        )
        .unwrap();
        oslo::countersign(&signed, &h, 8).unwrap()
    };
    let refused = |v: &Value| {
        let e = bus().verify_oslo(v, "scheduler").unwrap_err();
        (e.stage, e.code, e.hop)
    };
    let future = (Stage::Freshness, "signing-time-in-future".to_string());
    assert_eq!(
        refused(&slip(at, at + 60)),
        (future.0, future.1.clone(), Some(1))
    );
    assert_eq!(
        refused(&slip(at + 60, at + 60)),
        (future.0, future.1, Some(0))
    );
    // Positive twin: within the freshness skew.
    let v = bus()
        .verify_oslo(&slip(at + 10, at + 10), "scheduler")
        .unwrap();
    assert_eq!(v.hops.len(), 2);
}

// Item 4: exact numbers inside oslo.message.
#[test]
fn oslo_messages_with_inexact_numbers_are_refused() {
    let (_t, dir) = setup();
    let text =
        r#"{"method": "select_destinations", "args": {"host": "node01.example.org", "n": 1.50}}"#;
    let env = oslo::wrap_text(text).unwrap();
    assert_eq!(env["oslo.message"], text, "the text is kept as written");
    let o = origin(&dir, "compute-node01.example.org", "scheduler");
    bus(&dir, json!({}))
        .verify_oslo(&oslo::sign(&env, &o).unwrap(), "scheduler")
        .unwrap();
    let bad = text.replace("1.50", "18446744073709551617");
    assert_eq!(
        oslo::wrap_text(&bad).unwrap_err().input_code(),
        Some("inexact-number")
    );
    let bad_env = json!({"oslo.version": "2.0", "oslo.message": bad});
    assert_eq!(
        oslo::sign(&bad_env, &o).unwrap_err().input_code(),
        Some("inexact-number")
    );
    let e = bus(&dir, json!({}))
        .verify_oslo(&bad_env, "scheduler")
        .unwrap_err();
    assert_eq!(
        (e.stage, e.code.as_str()),
        (Stage::Format, "inexact-number")
    );
}

#[test]
fn a_forwarding_hop_re_binds_the_route() {
    let (_t, dir) = setup();
    let compute = "compute-node01.example.org";
    let conductor = "conductor-ctl01.example.org";
    let env = oslo::wrap(&request("node01.example.org")).unwrap();
    // The node sends to the conductor; the conductor forwards to the scheduler.
    let signed = oslo::sign(&env, &origin(&dir, compute, "conductor")).unwrap();
    let hop = |route: Option<&str>| {
        let h = waxseal_slip::hop_signer(signer(&dir, conductor), Some("conductor"), None).unwrap();
        let h = match route {
            Some(r) => oslo::route_signer(h, &Route::topic(r)).unwrap(),
            None => h,
        };
        oslo::countersign(&signed, &h, 8).unwrap()
    };
    let rebound = hop(Some("scheduler"));
    let v = bus(&dir, json!({}))
        .verify_oslo(&rebound, "scheduler")
        .unwrap();
    assert_eq!(v.route, Some(Route::topic("scheduler")));
    // Replayed into the conductor's queue again: the last signed route is the scheduler's.
    assert_eq!(
        bus(&dir, json!({}))
            .verify_oslo(&rebound, "conductor")
            .unwrap_err()
            .code,
        "topic-mismatch"
    );
    // A hop that signs no route forwards on the route it received.
    let kept = hop(None);
    assert_eq!(
        bus(&dir, json!({}))
            .verify_oslo(&kept, "scheduler")
            .unwrap_err()
            .code,
        "topic-mismatch"
    );
}
