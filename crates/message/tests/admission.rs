//! The one admission path, `Bus::admit(body, &Arrival)`: what the broker hands a consumer
//! (exchange, routing key, CC/BCC headers, the redelivered flag) counts only as compared
//! with the signed route and the consumer's own subscription; RPC replies are bound to
//! their call; a failure of the receiver's own is transient, never a verdict. Each
//! refusal beside its accepted twin.

use std::path::Path;
use std::sync::Arc;

use serde_json::{Value, json};
use waxseal_envelope::Signer;
use waxseal_message::admission::{
    REPLY_NOT_FROM_CALLEE, REPLY_UNBOUND, ROUTE_NOT_SUBSCRIBED, SENDER_ROUTED,
};
use waxseal_message::{
    Admission, AdmittedMessage, Arrival, Bus, BusConfig, Call, Class, ReplayError, ReplayStore,
    Route, Subscription, oslo,
};
use waxseal_pki::{Lifetimes, PkiDir, Seed, ServiceHost};
use waxseal_trust::{KeyAlgorithm, KeyFileCheck};

const COMPUTE1: &str = "compute-node01.example.org";
const COMPUTE2: &str = "compute-node02.example.org";
const SCHEDULER1: &str = "scheduler-sch01.example.org";
const SCHEDULER2: &str = "scheduler-sch02.example.org";

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
    let names: Vec<ServiceHost> = [COMPUTE1, COMPUTE2, SCHEDULER1, SCHEDULER2]
        .iter()
        .map(|n| ServiceHost::parse(n).unwrap())
        .collect();
    pki.issue(&names, false, false).unwrap();
    (tmp, dir)
}

fn bus(dir: &Path) -> Bus {
    let cfg = json!({
        "trust": ["root-ca.crt"],
        "certs": ["signing-ca.crt"],
        "crls": ["crl.pem"],
        "routing_policy": {
            "compute.*": ["compute-*"],
            "scheduler": ["scheduler-*"],
            "scheduler.*": ["scheduler-*"],
            "org.example.prod.compute.#": ["compute-*"]
        },
        "nitpicky": true
    });
    Bus::new(BusConfig::from_json(&cfg.to_string(), dir).unwrap()).unwrap()
}

fn signer(dir: &Path, name: &str) -> Signer {
    waxseal_pki::load_signer(dir, name, KeyFileCheck::OwnerOnly)
        .unwrap()
        .with_chain(Vec::new())
}

/// `message` from `name`, signed for `route`, as wire bytes.
fn oslo_wire(dir: &Path, name: &str, route: &Route, message: &Value) -> Vec<u8> {
    let signer = oslo::route_signer(signer(dir, name), route).unwrap();
    let env = oslo::wrap(message).unwrap();
    serde_json::to_vec(&oslo::sign(&env, &signer).unwrap()).unwrap()
}

fn cast(dir: &Path, name: &str, routing_key: &str) -> Vec<u8> {
    let route = Route::topic(routing_key).on_exchange("nova");
    oslo_wire(dir, name, &route, &json!({"method": "ping", "args": {}}))
}

/// A compute node's consumer of its own server queue on the `nova` exchange.
fn compute_consumer(host: &str) -> Subscription {
    let key = format!("compute.{host}");
    Subscription::new("nova", &key, &[key.as_str()])
}

fn on_nova(routing_key: &str) -> Arrival {
    Arrival::delivery_on_signed_exchange("nova", routing_key)
}

#[test]
fn cc_and_bcc_headers_are_refused_before_anything_else() {
    let (_t, dir) = setup();
    let bus = bus(&dir);
    let body = cast(&dir, COMPUTE1, "compute.node01");
    let sub = compute_consumer("node01");
    // Twin: the same delivery without sender-selected routing is admitted.
    let ok = bus
        .admit(&body, &on_nova("compute.node01").subscribed(sub.clone()))
        .unwrap();
    assert!(ok.signed());
    // Published with CC: [compute.node02] (the broker delivers it there too, with the
    // routing key compute.node01): refused wherever it lands.
    let cc = on_nova("compute.node01")
        .subscribed(compute_consumer("node02"))
        .sender_routed(true);
    let r = bus.admit(&body, &cc).unwrap_err();
    assert_eq!(
        (r.code.as_str(), r.class),
        (SENDER_ROUTED, Class::Permanent)
    );
    // Even where the routing key is its own, a CC'd copy is refused (not replayed).
    let r = bus
        .admit(
            &body,
            &on_nova("compute.node01")
                .subscribed(sub)
                .sender_routed(true),
        )
        .unwrap_err();
    assert_eq!(r.code, SENDER_ROUTED);
}

#[test]
fn a_delivery_must_match_what_this_consumer_subscribed_to() {
    let (_t, dir) = setup();
    let bus = bus(&dir);
    let node02 = compute_consumer("node02");
    // Signed for node02 and delivered on its binding: admitted.
    let body = cast(&dir, COMPUTE2, "compute.node02");
    assert!(
        bus.admit(&body, &on_nova("compute.node02").subscribed(node02.clone()))
            .is_ok()
    );
    // Straight into node02's queue through the default exchange: refused, though its
    // signature and route would pass.
    let body = cast(&dir, COMPUTE2, "compute.node02");
    let direct =
        Arrival::delivery_on_signed_exchange("", "compute.node02").subscribed(node02.clone());
    assert_eq!(
        bus.admit(&body, &direct).unwrap_err().code,
        ROUTE_NOT_SUBSCRIBED
    );
    // And without a known subscription the default exchange is refused as well.
    let unknown = Arrival::delivery("", "compute.node02");
    assert_eq!(
        bus.admit(&body, &unknown).unwrap_err().code,
        ROUTE_NOT_SUBSCRIBED
    );
    // Another exchange, or a routing key the binding does not take.
    let other =
        Arrival::delivery_on_signed_exchange("cinder", "compute.node02").subscribed(node02.clone());
    assert_eq!(
        bus.admit(&body, &other).unwrap_err().code,
        ROUTE_NOT_SUBSCRIBED
    );
    let body1 = cast(&dir, COMPUTE1, "compute.node01");
    let unbound = on_nova("compute.node01").subscribed(node02);
    assert_eq!(
        bus.admit(&body1, &unbound).unwrap_err().code,
        ROUTE_NOT_SUBSCRIBED
    );
    // A topic binding with wildcards takes what it matches.
    let wide = Subscription::new("nova", "all-compute", &["compute.*"]);
    assert!(
        bus.admit(&body1, &on_nova("compute.node01").subscribed(wide))
            .is_ok()
    );
}

#[test]
fn a_fedmsg_message_is_checked_against_the_routing_key_and_the_subscription() {
    let (_t, dir) = setup();
    let bus = bus(&dir);
    let msg = json!({"topic": "org.example.prod.compute.ping", "msg": {"n": 1}});
    let signed = waxseal_message::sign(&msg, &signer(&dir, COMPUTE1)).unwrap();
    let body = serde_json::to_vec(&signed).unwrap();
    let sub = Subscription::new("amq.topic", "q", &["org.example.prod.#"]);
    let a = bus
        .admit(
            &body,
            &Arrival::delivery("amq.topic", "org.example.prod.compute.ping")
                .subscribed(sub.clone()),
        )
        .unwrap();
    assert!(matches!(a.message, AdmittedMessage::Fedmsg(_)));
    let moved = Arrival::delivery("amq.topic", "org.example.prod.compute.pong").subscribed(sub);
    assert_eq!(bus.admit(&body, &moved).unwrap_err().code, "topic-mismatch");
}

#[test]
fn the_redelivered_flag_turns_a_known_key_into_a_duplicate_and_nothing_else() {
    let (_t, dir) = setup();
    let bus = bus(&dir);
    let body = cast(&dir, COMPUTE1, "compute.node01");
    let arrival = || on_nova("compute.node01").subscribed(compute_consumer("node01"));
    let first = bus.admit(&body, &arrival()).unwrap();
    assert!(!first.duplicate);
    let key = first.replay_key.expect("a signed message has a replay key");
    // A new delivery of the same message: a replay.
    assert_eq!(bus.admit(&body, &arrival()).unwrap_err().code, "replayed");
    // The broker's redelivery of it: a duplicate with the same key, not a refusal.
    let again = bus.admit(&body, &arrival().redelivered(true)).unwrap();
    assert!(again.duplicate);
    assert_eq!(again.replay_key, Some(key));
    // The flag never helps a message past another check: a tampered copy flagged
    // redelivered is refused for what it is.
    let tampered = String::from_utf8(body.clone())
        .unwrap()
        .replace("ping", "pong")
        .into_bytes();
    let r = bus
        .admit(&tampered, &arrival().redelivered(true))
        .unwrap_err();
    assert_eq!(r.code, "message-digest-mismatch");
    // A redelivered message never seen before is simply admitted (not a duplicate).
    let route = Route::topic("compute.node01").on_exchange("nova");
    let fresh = oslo_wire(
        &dir,
        COMPUTE1,
        &route,
        &json!({"method": "other", "args": {}}),
    );
    assert!(
        !bus.admit(&fresh, &arrival().redelivered(true))
            .unwrap()
            .duplicate
    );
}

/// An oslo message's replay key is the origin's certificate and signed attributes as
/// received (envelope signer 0), whatever hops were added since: a forwarded copy has the
/// same key as the original, a new message another.
#[test]
fn an_oslo_replay_key_is_the_origins_certificate_and_signed_attributes() {
    use base64::Engine as _;
    let (_t, dir) = setup();
    let body = cast(&dir, COMPUTE1, "compute.node01");
    let arrival = || on_nova("compute.node01").subscribed(compute_consumer("node01"));
    let key = bus(&dir)
        .admit(&body, &arrival())
        .unwrap()
        .replay_key
        .expect("a signed message has a replay key");

    // The key, computed from the wire by hand.
    let wire: Value = serde_json::from_slice(&body).unwrap();
    let der = base64::engine::general_purpose::STANDARD
        .decode(wire[oslo::SIGNATURE_KEY].as_str().unwrap())
        .unwrap();
    let cms = waxseal_envelope::Envelope::parse(&der).unwrap();
    let origin = &cms.signed_data().signer_infos[0];
    let text = wire[oslo::MESSAGE_KEY].as_str().unwrap();
    let cert = signer(&dir, COMPUTE1).certificate().clone();
    assert_eq!(
        key,
        waxseal_message::replay::replay_key(&cert, origin.signed_attrs.as_ref(), text.as_bytes())
    );

    // Forwarded by another host (a hop countersigning the origin): the same message, the
    // same key; so to a bus that admitted the original, a replay.
    let hop = waxseal_slip::hop_signer(signer(&dir, COMPUTE2), Some("relay"), None).unwrap();
    let forwarded = serde_json::to_vec(&oslo::countersign(&wire, &hop, 8).unwrap()).unwrap();
    let b = bus(&dir);
    let admitted = b.admit(&forwarded, &arrival()).unwrap();
    assert_eq!(admitted.into_oslo().unwrap().hops.len(), 2);
    assert_eq!(b.admit(&body, &arrival()).unwrap_err().code, "replayed");
    let again = bus(&dir).admit(&forwarded, &arrival()).unwrap();
    assert_eq!(again.replay_key, Some(key));

    // Another message from the same origin: another key.
    let route = Route::topic("compute.node01").on_exchange("nova");
    let other = oslo_wire(
        &dir,
        COMPUTE1,
        &route,
        &json!({"method": "pong", "args": {}}),
    );
    let other = bus(&dir).admit(&other, &arrival()).unwrap().replay_key;
    assert!(other.is_some_and(|k| k != key));
}

#[test]
fn an_unrecorded_verdict_runs_every_check_but_the_replay_store_and_records_nothing() {
    let (_t, dir) = setup();
    let bus = bus(&dir);
    let msg = json!({"topic": "org.example.prod.compute.ping", "msg": {"n": 1}});
    let signed = waxseal_message::sign(&msg, &signer(&dir, COMPUTE1)).unwrap();
    let unrecorded = |m: &Value, arrival: &Arrival| {
        bus.examine_value(m, arrival)
            .map(waxseal_message::Examined::unrecorded)
    };
    // Asked any number of times: the same answer, nothing kept.
    for _ in 0..3 {
        let a = unrecorded(&signed, &Arrival::unrouted()).unwrap();
        assert!(a.signed() && !a.duplicate && a.replay_key.is_none());
        assert_eq!(a.entity().unwrap().id, COMPUTE1);
    }
    // So the first admission of it is still new, and a second one a replay.
    let body = serde_json::to_vec(&signed).unwrap();
    assert!(!bus.admit(&body, &Arrival::unrouted()).unwrap().duplicate);
    assert_eq!(
        bus.admit(&body, &Arrival::unrouted()).unwrap_err().code,
        "replayed"
    );
    // Every other check still runs: tampered, another signer required, unauthorized, a
    // different arrival topic.
    let mut tampered = signed.clone();
    tampered["msg"]["n"] = json!(2);
    assert_eq!(
        unrecorded(&tampered, &Arrival::unrouted())
            .unwrap_err()
            .code,
        "message-digest-mismatch"
    );
    let by_scheduler = Arrival::unrouted().signed_by(SCHEDULER1);
    assert_eq!(
        unrecorded(&signed, &by_scheduler).unwrap_err().code,
        "routing-policy-denied"
    );
    let wrong = json!({"topic": "org.example.prod.billing.ping", "msg": {"n": 1}});
    let wrong = waxseal_message::sign(&wrong, &signer(&dir, COMPUTE1)).unwrap();
    assert_eq!(
        unrecorded(&wrong, &Arrival::unrouted()).unwrap_err().code,
        "topic-not-in-policy"
    );
    let moved = Arrival::on(Route::topic("org.example.prod.compute.pong"));
    assert_eq!(
        unrecorded(&signed, &moved).unwrap_err().code,
        "topic-mismatch"
    );
}

fn reply(dir: &Path, name: &str, reply_q: &str, msg_id: &str) -> Vec<u8> {
    let message =
        json!({"result": {"ok": true}, "failure": null, "ending": true, "_msg_id": msg_id});
    oslo_wire(dir, name, &Route::topic(reply_q), &message)
}

fn reply_arrival(reply_q: &str, call: Call) -> Arrival {
    Arrival::delivery_on_signed_exchange("", reply_q)
        .subscribed(Subscription::default_exchange(reply_q))
        .reply_to(call)
}

#[test]
fn a_reply_is_accepted_only_from_the_callee_and_bound_to_the_call() {
    let (_t, dir) = setup();
    let bus = bus(&dir);
    let q = "reply_0123";
    let to_sch01 = Call {
        msg_id: "m1".into(),
        topic: "scheduler".into(),
        server: Some("sch01".into()),
    };
    // The server the call went to answers: accepted.
    let genuine = reply(&dir, SCHEDULER1, q, "m1");
    let a = bus
        .admit(&genuine, &reply_arrival(q, to_sch01.clone()))
        .unwrap();
    assert_eq!(a.entity().unwrap().id, SCHEDULER1);
    // Another scheduler, validly signed, with the right msg_id: refused.
    let other = reply(&dir, SCHEDULER2, q, "m1");
    let r = bus
        .admit(&other, &reply_arrival(q, to_sch01.clone()))
        .unwrap_err();
    assert_eq!(r.code, REPLY_NOT_FROM_CALLEE);
    // An entity the routing policy does not allow on the call's topic: refused.
    let compute = reply(&dir, COMPUTE1, q, "m1");
    let r = bus
        .admit(&compute, &reply_arrival(q, to_sch01.clone()))
        .unwrap_err();
    assert_eq!(r.code, "routing-policy-denied");
    // The callee, but a signed _msg_id of another call: refused.
    let unbound = reply(&dir, SCHEDULER1, q, "m2");
    let r = bus
        .admit(&unbound, &reply_arrival(q, to_sch01))
        .unwrap_err();
    assert_eq!(r.code, REPLY_UNBOUND);
    // A call to the topic: any entity the policy allows there may answer.
    let to_topic = Call {
        msg_id: "m3".into(),
        topic: "scheduler".into(),
        server: None,
    };
    let any = reply(&dir, SCHEDULER2, q, "m3");
    assert!(bus.admit(&any, &reply_arrival(q, to_topic.clone())).is_ok());
    let compute = reply(&dir, COMPUTE1, q, "m3");
    assert_eq!(
        bus.admit(&compute, &reply_arrival(q, to_topic))
            .unwrap_err()
            .code,
        "routing-policy-denied"
    );
}

/// A replay store that is down.
struct Down;

impl ReplayStore for Down {
    fn admit(&self, _: [u8; 32], _: u64, _: u64, _: bool) -> Result<Admission, ReplayError> {
        Err(ReplayError::Unavailable)
    }
    fn settle(&self, _: [u8; 32], _: u64) -> Result<(), ReplayError> {
        Err(ReplayError::Unavailable)
    }
    fn describe(&self) -> String {
        "down".into()
    }
}

#[test]
fn a_replay_store_out_of_reach_is_transient_not_a_verdict() {
    let (_t, dir) = setup();
    let bus = bus(&dir).with_replay_store(Arc::new(Down));
    let body = cast(&dir, COMPUTE1, "compute.node01");
    let r = bus
        .admit(
            &body,
            &on_nova("compute.node01").subscribed(compute_consumer("node01")),
        )
        .unwrap_err();
    assert_eq!(r.code, "replay-store-unavailable");
    assert!(r.is_transient());
    // The message's own fault stays permanent even then (it fails before the store).
    let forged = String::from_utf8(body)
        .unwrap()
        .replace("ping", "pong")
        .into_bytes();
    let r = bus
        .admit(
            &forged,
            &on_nova("compute.node01").subscribed(compute_consumer("node01")),
        )
        .unwrap_err();
    assert!(!r.is_transient(), "{r:?}");
}
