//! fedmsg's behaviours, re-created with our own fixtures (made with the pki crate), plus
//! claims, registry pinning and duplicate keys.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use waxseal_envelope::Signer;
use waxseal_message::{Bus, BusConfig, Stage, json as strict, sign, strip_credentials};
use waxseal_pki::{CertParams, Issuer, Lifetimes, PkiDir, Seed, ServiceHost, issue::parse_name};
use waxseal_trust::{Certificate, KeyAlgorithm, KeyFileCheck, PrivateKey};

struct Fx {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    pki: PkiDir,
}

fn fx() -> Fx {
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
        "bodhi-app01.example.org",
        "fas-app02.example.org",
        "compute-node01.example.org",
        "compute-node02.example.org",
    ]
    .iter()
    .map(|n| ServiceHost::parse(n).unwrap())
    .collect();
    pki.issue(&names, false, false).unwrap();
    Fx {
        _tmp: tmp,
        dir,
        pki,
    }
}

impl Fx {
    fn signer(&self, name: &str) -> Signer {
        signer_in(&self.dir, name)
    }

    fn config(&self, extra: Value) -> BusConfig {
        let mut base = json!({
            "trust": ["root-ca.crt"],
            "certs": ["signing-ca.crt"],
            "crls": ["crl.pem"],
            "routing_policy": {
                "org.example.prod.bodhi.#": ["bodhi-*"],
                "org.example.prod.fas.user.create": ["fas-app02.example.org"],
                "org.example.prod.compute.*": ["compute-*"]
            },
            "claims": [{"topic": "org.example.prod.compute.*", "pointer": "/msg/host", "field": "host"}],
            "unsigned_topics": ["org.example.prod.heartbeat"]
        });
        for (k, v) in extra.as_object().unwrap() {
            if v.is_null() {
                base.as_object_mut().unwrap().remove(k);
            } else {
                base[k] = v.clone();
            }
        }
        BusConfig::from_json(&base.to_string(), &self.dir).unwrap()
    }

    fn bus(&self, extra: Value) -> Bus {
        Bus::new(self.config(extra)).unwrap()
    }
}

fn signer_in(dir: &Path, name: &str) -> Signer {
    waxseal_pki::load_signer(dir, name, KeyFileCheck::OwnerOnly).unwrap()
}

fn bodhi_msg() -> Value {
    json!({"topic": "org.example.prod.bodhi.update.comment", "msg": {"comment": {"text": "LGTM", "karma": 1}}, "i": 1})
}

fn rejected(r: Result<waxseal_message::Validated, waxseal_message::Rejection>) -> (Stage, String) {
    let e = r.expect_err("expected a rejection");
    (e.stage, e.code)
}

#[test]
fn sign_adds_the_fields_and_the_round_trip_validates() {
    let f = fx();
    let signed = sign(&bodhi_msg(), &f.signer("bodhi-app01.example.org")).unwrap();
    assert_eq!(signed["crypto"], "cms");
    assert!(signed["signature"].is_string() && signed["certificate"].is_string());
    let pem = base64_decode(signed["certificate"].as_str().unwrap());
    assert!(
        String::from_utf8(pem)
            .unwrap()
            .starts_with("-----BEGIN CERTIFICATE-----")
    );
    // Over the wire, any key order and white space.
    let wire = serde_json::to_vec_pretty(&signed).unwrap();
    let v = f.bus(json!({})).validate_bytes(&wire).unwrap();
    assert!(v.signed);
    assert_eq!(v.entity.as_ref().unwrap().id, "bodhi-app01.example.org");
    assert_eq!(v.entity.as_ref().unwrap().fields["service"], "bodhi");
    let decisions = &v.authorization.as_ref().unwrap().decisions;
    assert!(decisions.iter().any(|d| d.code == "routing-policy"
        && d.rule.as_deref() == Some("org.example.prod.bodhi.# -> bodhi-*")));
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}

#[test]
fn unsigned_messages_only_on_unsigned_topics() {
    let f = fx();
    let bus = f.bus(json!({}));
    assert_eq!(
        rejected(bus.validate(&bodhi_msg())),
        (Stage::Signature, "unsigned".into())
    );
    let heartbeat = json!({"topic": "org.example.prod.heartbeat", "msg": {}});
    let v = bus.validate(&heartbeat).unwrap();
    assert!(!v.signed);
    // A signed message on an unsigned topic is still fully validated.
    let mut signed = sign(&heartbeat, &f.signer("bodhi-app01.example.org")).unwrap();
    bus.validate(&signed).unwrap();
    signed["msg"] = json!({"forged": true});
    assert_eq!(rejected(bus.validate(&signed)).1, "message-digest-mismatch");
}

#[test]
fn certificate_from_another_ca_is_rejected() {
    let f = fx();
    let other_tmp = tempfile::tempdir().unwrap();
    let other_dir = other_tmp.path().join("other");
    let seed = Seed::from_json(r#"{"O": "Other Org"}"#).unwrap();
    let mut other =
        PkiDir::init(&other_dir, seed, KeyAlgorithm::P256, Lifetimes::default()).unwrap();
    other
        .issue(
            &[ServiceHost::parse("bodhi-app01.example.org").unwrap()],
            false,
            false,
        )
        .unwrap();
    let msg = sign(
        &bodhi_msg(),
        &signer_in(&other_dir, "bodhi-app01.example.org"),
    )
    .unwrap();
    assert_eq!(
        rejected(f.bus(json!({})).validate(&msg)),
        (Stage::Certificate, "untrusted".into())
    );
    // Another CA that copies our CA names is caught by its signatures.
    let mut copycat = PkiDir::init(
        &other_tmp.path().join("copycat"),
        Seed::default(),
        KeyAlgorithm::P256,
        Lifetimes::default(),
    )
    .unwrap();
    copycat
        .issue(
            &[ServiceHost::parse("bodhi-app01.example.org").unwrap()],
            false,
            false,
        )
        .unwrap();
    let msg = sign(
        &bodhi_msg(),
        &signer_in(&other_tmp.path().join("copycat"), "bodhi-app01.example.org"),
    )
    .unwrap();
    assert_eq!(
        rejected(f.bus(json!({})).validate(&msg)),
        (Stage::Certificate, "bad-certificate-signature".into())
    );
}

#[test]
fn another_certificate_swapped_in_is_rejected() {
    let f = fx();
    let bus = f.bus(json!({}));
    let mut msg = sign(&bodhi_msg(), &f.signer("bodhi-app01.example.org")).unwrap();
    let fas = sign(&bodhi_msg(), &f.signer("fas-app02.example.org")).unwrap();
    msg["certificate"] = fas["certificate"].clone();
    let (stage, code) = rejected(bus.validate(&msg));
    assert_eq!(stage, Stage::Certificate);
    assert!(
        code == "signer-certificate-not-found" || code == "certificate-mismatch",
        "{code}"
    );
    // Even when the real signer's certificate is in the store, the swap is caught.
    let store_all = f.bus(json!({"certs": ["signing-ca.crt", "bodhi-app01.example.org.crt"]}));
    assert_eq!(
        rejected(store_all.validate(&msg)),
        (Stage::Certificate, "certificate-mismatch".into())
    );
}

#[test]
fn revocation_and_crls() {
    let mut f = fx();
    let msg = sign(&bodhi_msg(), &f.signer("bodhi-app01.example.org")).unwrap();
    // No CRL configured: accepted.
    f.bus(json!({"crls": null})).validate(&msg).unwrap();
    f.pki
        .revoke("bodhi-app01.example.org", "keyCompromise")
        .unwrap();
    assert_eq!(
        rejected(f.bus(json!({})).validate(&msg)),
        (Stage::Certificate, "revoked".into())
    );
    // An expired CRL.
    f.pki.write_crl(Some(0), false).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let (stage, code) = rejected(f.bus(json!({})).validate(&msg));
    assert_eq!((stage, code.as_str()), (Stage::Certificate, "crl-expired"));
}

#[test]
fn tampered_body_is_rejected() {
    let f = fx();
    let mut msg = sign(&bodhi_msg(), &f.signer("bodhi-app01.example.org")).unwrap();
    msg["msg"]["comment"]["karma"] = json!(-1);
    assert_eq!(
        rejected(f.bus(json!({})).validate(&msg)),
        (Stage::Signature, "message-digest-mismatch".into())
    );
    let mut msg = sign(&bodhi_msg(), &f.signer("bodhi-app01.example.org")).unwrap();
    msg["topic"] = json!("org.example.prod.bodhi.update.request");
    assert_eq!(
        rejected(f.bus(json!({})).validate(&msg)).1,
        "message-digest-mismatch"
    );
    let mut msg = sign(&bodhi_msg(), &f.signer("bodhi-app01.example.org")).unwrap();
    msg["crypto"] = json!("x509");
    assert_eq!(
        rejected(f.bus(json!({})).validate(&msg)),
        (Stage::Format, "unsupported-crypto".into())
    );
}

#[test]
fn expired_ca_is_rejected() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let now = waxseal_trust::time::now();
    let root = Issuer::self_signed(
        &CertParams::ca(
            parse_name("CN=old root").unwrap(),
            now - 400 * 86_400,
            3650,
            Some(1),
        ),
        PrivateKey::generate(KeyAlgorithm::P256).unwrap(),
    )
    .unwrap();
    let ca_key = PrivateKey::generate(KeyAlgorithm::P256).unwrap();
    let mut ca_params = CertParams::ca(
        parse_name("CN=expired signing CA").unwrap(),
        now - 400 * 86_400,
        30,
        Some(0),
    );
    ca_params.not_after = now - 86_400;
    let ca = Issuer {
        cert: root
            .issue(&ca_params, &ca_key.subject_public_key_info())
            .unwrap(),
        key: ca_key,
    };
    let leaf_key = PrivateKey::generate(KeyAlgorithm::P256).unwrap();
    let leaf = ca
        .issue(
            &CertParams::end_entity(parse_name("CN=bodhi-app01.example.org").unwrap(), now, 30),
            &leaf_key.subject_public_key_info(),
        )
        .unwrap();
    std::fs::write(d.join("root-ca.crt"), root.cert.to_pem()).unwrap();
    std::fs::write(d.join("signing-ca.crt"), ca.cert.to_pem()).unwrap();
    let signer = Signer::new(leaf, leaf_key)
        .unwrap()
        .with_chain(vec![ca.cert.clone()]);
    let msg = sign(&bodhi_msg(), &signer).unwrap();
    let cfg = BusConfig::from_json(
        r#"{"trust": ["root-ca.crt"], "certs": ["signing-ca.crt"]}"#,
        d,
    )
    .unwrap();
    let bus = Bus::new(cfg).unwrap();
    assert_eq!(
        rejected(bus.validate(&msg)),
        (Stage::Certificate, "certificate-expired".into())
    );
}

#[test]
fn routing_policy_semantics() {
    let f = fx();
    let bus = f.bus(json!({}));
    let fas = f.signer("fas-app02.example.org");
    // Listed signer allowed; unlisted signer denied.
    bus.validate(&sign(&bodhi_msg(), &f.signer("bodhi-app01.example.org")).unwrap())
        .unwrap();
    let (stage, code) = rejected(bus.validate(&sign(&bodhi_msg(), &fas).unwrap()));
    assert_eq!(
        (stage, code.as_str()),
        (Stage::Authorization, "routing-policy-denied")
    );
    // A topic the policy does not mention: allowed unless nitpicky.
    let unknown = json!({"topic": "org.example.prod.wiki.edit", "msg": {}});
    let msg = sign(&unknown, &fas).unwrap();
    let v = bus.validate(&msg).unwrap();
    assert!(
        v.authorization
            .unwrap()
            .decisions
            .iter()
            .any(|d| d.code == "topic-not-in-policy" && d.allowed)
    );
    let strict_bus = f.bus(json!({"nitpicky": true}));
    assert_eq!(rejected(strict_bus.validate(&msg)).1, "topic-not-in-policy");
}

#[test]
fn validate_signed_by_forces_the_signer() {
    let f = fx();
    let bus = f.bus(json!({}));
    let msg = sign(&bodhi_msg(), &f.signer("bodhi-app01.example.org")).unwrap();
    bus.validate_signed_by(&msg, "bodhi-app01.example.org")
        .unwrap();
    let (stage, code) = rejected(bus.validate_signed_by(&msg, "bodhi-app09.example.org"));
    assert_eq!(
        (stage, code.as_str()),
        (Stage::Authorization, "routing-policy-denied")
    );
    let unsigned = json!({"topic": "org.example.prod.heartbeat"});
    assert_eq!(
        rejected(bus.validate_signed_by(&unsigned, "bodhi-app01.example.org")).1,
        "not-signed"
    );
}

#[test]
fn strip_credentials_leaves_its_input_untouched() {
    let f = fx();
    let msg = sign(&bodhi_msg(), &f.signer("bodhi-app01.example.org")).unwrap();
    let before = msg.clone();
    let stripped = strip_credentials(&msg);
    assert_eq!(msg, before);
    assert!(stripped.get("signature").is_none() && stripped.get("certificate").is_none());
    assert_eq!(stripped["crypto"], "cms");
    assert_eq!(stripped["msg"], msg["msg"]);
}

#[test]
fn malformed_fields_are_rejected_cleanly() {
    let f = fx();
    let bus = f.bus(json!({}));
    let good = sign(&bodhi_msg(), &f.signer("bodhi-app01.example.org")).unwrap();
    let mut cases = Vec::new();
    for (field, value) in [
        ("signature", json!("%%% not base64 %%%")),
        ("signature", json!(42)),
        ("signature", json!("aGVsbG8=")),
        ("certificate", json!("//79/A==")),
        ("certificate", json!("not base64!")),
        ("certificate", json!("aGVsbG8=")),
    ] {
        let mut m = good.clone();
        m[field] = value.clone();
        let (stage, code) = rejected(bus.validate(&m));
        assert_eq!(stage, Stage::Format, "{field}={value}: {code}");
        cases.push(code);
    }
    // Not an object, no topic, non-UTF-8 bytes, a number that is not exactly a double.
    assert_eq!(rejected(bus.validate(&json!([1, 2]))).1, "malformed");
    assert_eq!(
        rejected(bus.validate(&json!({"msg": 1}))).1,
        "missing-topic"
    );
    assert_eq!(
        rejected(bus.validate_bytes(b"{\"topic\": \"\xff\"}")).1,
        "malformed-json"
    );
    assert_eq!(
        rejected(bus.validate_bytes(br#"{"topic": "t", "n": 9007199254740993}"#)).1,
        "inexact-number"
    );
}

#[test]
fn duplicate_keys_are_rejected() {
    let f = fx();
    let bus = f.bus(json!({}));
    let signed = sign(&bodhi_msg(), &f.signer("bodhi-app01.example.org")).unwrap();
    let wire = serde_json::to_string(&signed).unwrap();
    // A second "topic" key that a lenient parser might prefer.
    let doubled = wire.replacen('{', "{\"topic\": \"org.example.prod.fas.user.create\", ", 1);
    let e = bus.validate_bytes(doubled.as_bytes()).unwrap_err();
    assert_eq!(e.code, "malformed-json");
    assert!(e.reason.contains("duplicate key"), "{}", e.reason);
    assert!(strict::parse(br#"{"msg": {"a": 1, "a": 1}}"#).is_err());
}

/// I-JSON strings (RFC 7493 §2.1): a message signed with U+FFFD whose character is swapped
/// on the wire for an escaped lone surrogate (which some decoders read as U+FFFD and
/// Python's `json` as a surrogate) is refused, at validation and at signing; an escaped
/// surrogate pair is one character, and signs and validates.
#[test]
fn lone_surrogates_are_refused_and_pairs_validate() {
    let f = fx();
    let bus = f.bus(json!({}));
    let signer = f.signer("bodhi-app01.example.org");
    let mut m = bodhi_msg();
    m["msg"]["comment"]["text"] = json!("LGTM \u{fffd}");
    let signed = sign(&m, &signer).unwrap();
    // serde_json writes U+FFFD as UTF-8; the wire may carry it escaped, which is the same.
    let wire = serde_json::to_string(&signed)
        .unwrap()
        .replace('\u{fffd}', "\\ufffd");
    assert!(bus.validate_bytes(wire.as_bytes()).unwrap().signed);
    for swapped in ["\\ud800", "\\udc00", "\\ud83d"] {
        let forged = wire.replace("\\ufffd", swapped);
        let e = bus.validate_bytes(forged.as_bytes()).unwrap_err();
        assert_eq!(
            (e.stage, e.code.as_str()),
            (Stage::Format, "malformed-json"),
            "{swapped}"
        );
        assert!(e.reason.contains("lone surrogate"), "{}", e.reason);
        let e = waxseal_message::sign_text(&forged, &signer).unwrap_err();
        assert_eq!(e.input_code(), Some("malformed-json"), "{swapped}");
    }
    // An escaped pair: the character U+1F600, signed as UTF-8 in the canonical form.
    let text = r#"{"topic": "org.example.prod.bodhi.update.comment", "msg": {"comment": {"text": "\ud83d\ude00"}}}"#;
    let signed = waxseal_message::sign_text(text, &signer).unwrap();
    assert!(
        signed.contains(r#""\ud83d\ude00""#),
        "the text is kept as written"
    );
    let v = bus.validate_bytes(signed.as_bytes()).unwrap();
    assert!(v.signed);
    let parsed = strict::parse(signed.as_bytes()).unwrap();
    assert_eq!(parsed["msg"]["comment"]["text"], "\u{1f600}");
    // The same message with the character written as UTF-8 has the same signature (a
    // second bus: the first one remembers the signature as seen).
    let utf8 = signed.replace(r#""\ud83d\ude00""#, "\"\u{1f600}\"");
    let other = f.bus(json!({}));
    assert!(other.validate_bytes(utf8.as_bytes()).unwrap().signed);
    // Tampered: another character in the pair's place.
    let tampered = signed.replace(r#""\ud83d\ude00""#, r#""\ud83d\ude01""#);
    assert_eq!(
        rejected(bus.validate_bytes(tampered.as_bytes())).1,
        "message-digest-mismatch"
    );
}

#[test]
fn a_node_may_only_speak_for_itself() {
    let f = fx();
    let bus = f.bus(json!({}));
    let claim = |host: &str| json!({"topic": "org.example.prod.compute.select_destinations", "msg": {"host": host}});
    let node1 = f.signer("compute-node01.example.org");
    let v = bus
        .validate(&sign(&claim("node01.example.org"), &node1).unwrap())
        .unwrap();
    assert!(
        v.authorization
            .unwrap()
            .decisions
            .iter()
            .any(|d| d.code == "claim" && d.allowed)
    );
    let (stage, code) =
        rejected(bus.validate(&sign(&claim("node02.example.org"), &node1).unwrap()));
    assert_eq!(
        (stage, code.as_str()),
        (Stage::Authorization, "claim-mismatch")
    );
    let no_host = json!({"topic": "org.example.prod.compute.select_destinations", "msg": {}});
    assert_eq!(
        rejected(bus.validate(&sign(&no_host, &node1).unwrap())).1,
        "claim-missing"
    );
}

#[test]
fn registry_pinning() {
    let f = fx();
    let bodhi =
        Certificate::load_all(&std::fs::read(f.dir.join("bodhi-app01.example.org.crt")).unwrap())
            .unwrap()
            .remove(0);
    let fas =
        Certificate::load_all(&std::fs::read(f.dir.join("fas-app02.example.org.crt")).unwrap())
            .unwrap()
            .remove(0);
    let registry = json!({"entities": {
        "bodhi-app01.example.org": {"certificates": [waxseal_entity::registry::certificate_fingerprint(&bodhi)]},
        "fas-app02.example.org": {"keys": [waxseal_entity::registry::key_fingerprint(&bodhi)]}
    }});
    std::fs::write(f.dir.join("registry.json"), registry.to_string()).unwrap();
    let bus = f.bus(json!({"registry": "registry.json"}));
    bus.validate(&sign(&bodhi_msg(), &f.signer("bodhi-app01.example.org")).unwrap())
        .unwrap();
    let unknown =
        json!({"topic": "org.example.prod.compute.x", "msg": {"host": "node01.example.org"}});
    let (stage, code) =
        rejected(bus.validate(&sign(&unknown, &f.signer("compute-node01.example.org")).unwrap()));
    assert_eq!(
        (stage, code.as_str()),
        (Stage::Authorization, "entity-unregistered")
    );
    // fas is registered, but pinned to another key: a valid certificate is not enough.
    let wiki = json!({"topic": "org.example.prod.fas.user.create", "msg": {}});
    assert_eq!(
        rejected(bus.validate(&sign(&wiki, &f.signer("fas-app02.example.org")).unwrap())).1,
        "certificate-not-pinned"
    );
    let _ = fas;
    // A malformed registry is a configuration error naming the problem.
    std::fs::write(f.dir.join("bad.json"), r#"{"entities": {"x": {}}}"#).unwrap();
    let err = Bus::new(f.config(json!({"registry": "bad.json"}))).unwrap_err();
    assert!(err.to_string().contains("pins no certificate"), "{err}");
}

#[test]
fn switches() {
    let f = fx();
    let off = f.bus(json!({"validate_signatures": false}));
    let v = off.validate(&json!({"topic": "anything"})).unwrap();
    assert!(!v.signed && v.note.contains("switched off"));
    let no_sign = f.bus(json!({"sign_messages": false}));
    let msg = bodhi_msg();
    assert_eq!(
        no_sign
            .prepare(&msg, &f.signer("bodhi-app01.example.org"))
            .unwrap(),
        msg
    );
    let yes_sign = f.bus(json!({}));
    assert!(
        yes_sign
            .prepare(&msg, &f.signer("bodhi-app01.example.org"))
            .unwrap()
            .get("signature")
            .is_some()
    );
}

#[test]
fn configuration_errors_name_the_key() {
    let f = fx();
    let err =
        BusConfig::from_json(r#"{"trust": ["root-ca.crt"], "trusts": []}"#, &f.dir).unwrap_err();
    assert!(err.to_string().contains("trusts"), "{err}");
    let err = BusConfig::from_json(r#"{"route": {"max_hop": 3}}"#, &f.dir).unwrap_err();
    assert!(err.to_string().contains("max_hop"), "{err}");
    let err = Bus::new(BusConfig::from_json(r#"{}"#, &f.dir).unwrap()).unwrap_err();
    assert!(err.to_string().contains("trust anchor"), "{err}");
    let err =
        Bus::new(f.config(json!({"entity_rules": [{"source": "cn", "pattern": "(", "id": "x"}]})))
            .unwrap_err();
    assert!(err.to_string().contains("entity_rules[0]"), "{err}");
}

// Item 1: topics are printable ASCII, patterns are RabbitMQ's, the most specific decides.
#[test]
fn malformed_topics_are_refused_before_any_matching() {
    let f = fx();
    let bus = f.bus(json!({}));
    let good = sign(&bodhi_msg(), &f.signer("bodhi-app01.example.org")).unwrap();
    for bad in [
        "org.example.prod.bodhi.update\norg.example.prod.fas.user.create",
        "org.example.prod.bodhi.update comment",
        "org.example.prod.bodhi.\u{1b}[2Kupdate",
        "org.example.prod.heartbeat\t",
        "",
    ] {
        let mut m = good.clone();
        m["topic"] = json!(bad);
        assert_eq!(
            rejected(bus.validate(&m)),
            (Stage::Format, "malformed-topic".into()),
            "{bad:?}"
        );
        // Unsigned on an "unsigned topic" with a control character: refused too.
        let mut u = json!({"msg": {}});
        u["topic"] = json!(bad);
        assert_eq!(rejected(bus.validate(&u)).1, "malformed-topic");
        // And sign refuses to sign it.
        let e = sign(&u, &f.signer("bodhi-app01.example.org")).unwrap_err();
        assert_eq!(e.input_code(), Some("malformed-topic"));
    }
    // Positive twin.
    bus.validate(&good).unwrap();
}

#[test]
fn the_most_specific_policy_entry_decides() {
    let f = fx();
    let bus = f.bus(json!({"routing_policy": {
        "org.example.prod.#": ["fas-*"],
        "org.example.prod.bodhi.#": ["bodhi-*"],
        "org.example.prod.bodhi.update.comment": ["bodhi-app01.example.org"]
    }, "claims": []}));
    let fas = f.signer("fas-app02.example.org");
    // The broad entry does not add fas to the bodhi topics (no union of entries).
    assert_eq!(
        rejected(bus.validate(&sign(&bodhi_msg(), &fas).unwrap())).1,
        "routing-policy-denied"
    );
    // Positive twin: where the broad entry is the most specific one, it decides.
    let wiki = json!({"topic": "org.example.prod.wiki.edit", "msg": {}});
    bus.validate(&sign(&wiki, &fas).unwrap()).unwrap();
    bus.validate(&sign(&bodhi_msg(), &f.signer("bodhi-app01.example.org")).unwrap())
        .unwrap();
    // fnmatch syntax is a configuration error naming the key.
    let err = Bus::new(f.config(json!({"routing_policy": {"org.example.prod.bodhi*": ["x"]}})))
        .unwrap_err();
    assert!(err.to_string().contains("routing_policy"), "{err}");
    let err = Bus::new(f.config(json!({"unsigned_topics": ["heart[b]eat"]}))).unwrap_err();
    assert!(err.to_string().contains("unsigned_topics"), "{err}");
}

// Item 2: a fedmsg-style message carries its topic inside the signed part.
#[test]
fn an_arrival_topic_that_differs_from_the_message_is_refused() {
    let f = fx();
    let msg = sign(&bodhi_msg(), &f.signer("bodhi-app01.example.org")).unwrap();
    let e = f
        .bus(json!({}))
        .validate_on_topic(&msg, "org.example.prod.bodhi.update.request")
        .unwrap_err();
    assert_eq!((e.stage, e.code.as_str()), (Stage::Route, "topic-mismatch"));
    assert_eq!(
        f.bus(json!({}))
            .validate_on_topic(&msg, "org.example.prod.bodhi.update\n")
            .unwrap_err()
            .code,
        "malformed-topic"
    );
    f.bus(json!({}))
        .validate_on_topic(&msg, "org.example.prod.bodhi.update.comment")
        .unwrap();
}

// Item 3: replay and signing times.
#[test]
fn a_replayed_message_is_refused() {
    let f = fx();
    let bus = f.bus(json!({"freshness": {"max_age_secs": 600}}));
    let msg = sign(&bodhi_msg(), &f.signer("bodhi-app01.example.org")).unwrap();
    bus.validate(&msg).unwrap();
    let e = bus.validate(&msg).unwrap_err();
    assert_eq!((e.stage, e.code.as_str()), (Stage::Freshness, "replayed"));
    // Re-encoded on the wire (other key order, white space): the same message.
    let pretty = serde_json::to_vec_pretty(&msg).unwrap();
    assert_eq!(bus.validate_bytes(&pretty).unwrap_err().code, "replayed");
    // Positive twin: another signature of the same content is a new message.
    let again = sign(
        &bodhi_msg(),
        &f.signer("bodhi-app01.example.org")
            .with_signing_time(waxseal_trust::time::now() - 100),
    )
    .unwrap();
    bus.validate(&again).unwrap();
    // A refused message is not recorded: a forged copy does not burn the real one.
    let other = f.bus(json!({}));
    let mut forged = msg.clone();
    forged["msg"] = json!({"forged": true});
    assert_eq!(
        rejected(other.validate(&forged)).1,
        "message-digest-mismatch"
    );
    other.validate(&msg).unwrap();
}

#[test]
fn the_replay_cache_is_bounded_and_fails_closed() {
    let f = fx();
    let t = waxseal_trust::time::now();
    let cfg = json!({"freshness": {"max_age_secs": 100, "clock_skew_secs": 10, "replay_cache_capacity": 1}});
    let signed_at = |when: u64| {
        sign(
            &bodhi_msg(),
            &f.signer("bodhi-app01.example.org").with_signing_time(when),
        )
        .unwrap()
    };
    let bus = f.bus(cfg.clone()).at_time(t);
    bus.validate(&signed_at(t - 5)).unwrap();
    // Full of a live entry: a new message is refused rather than the entry forgotten.
    let e = bus.validate(&signed_at(t - 4)).unwrap_err();
    assert_eq!(
        (e.stage, e.code.as_str()),
        (Stage::Freshness, "replay-cache-full")
    );
    // Later (the entry expired at t - 5 + 100 + 10): room again, the message accepted.
    let later = f
        .bus(cfg)
        .at_time(t + 106)
        .with_replay_store(bus.replay_store());
    later.validate(&signed_at(t + 100)).unwrap();
    // And the new entry is live: a copy is a replay.
    assert_eq!(
        later.validate(&signed_at(t + 100)).unwrap_err().code,
        "replayed"
    );
    assert!(
        BusConfig::from_json(r#"{"freshness": {"replay_cache_capacity": 0}}"#, &f.dir).is_err()
    );
}

#[test]
fn signing_times_in_the_future_and_too_old_are_refused() {
    let f = fx();
    let t = waxseal_trust::time::now();
    let at = |when: u64| {
        sign(
            &bodhi_msg(),
            &f.signer("bodhi-app01.example.org").with_signing_time(when),
        )
        .unwrap()
    };
    // Default skew: 5 minutes.
    let bus = f.bus(json!({})).at_time(t);
    let e = bus.validate(&at(t + 301)).unwrap_err();
    assert_eq!(
        (e.stage, e.code.as_str()),
        (Stage::Freshness, "signing-time-in-future")
    );
    bus.validate(&at(t + 299)).unwrap();
    // Configurable.
    let tight = f
        .bus(json!({"freshness": {"clock_skew_secs": 10}}))
        .at_time(t);
    assert_eq!(
        tight.validate(&at(t + 60)).unwrap_err().code,
        "signing-time-in-future"
    );
    // A far-future time no longer defeats max-age.
    let aged = f
        .bus(json!({"freshness": {"max_age_secs": 300}}))
        .at_time(t);
    assert_eq!(
        aged.validate(&at(t + 86_400)).unwrap_err().code,
        "signing-time-in-future"
    );
    assert_eq!(
        aged.validate(&at(t - 301)).unwrap_err().code,
        "message-too-old"
    );
    aged.validate(&at(t - 299)).unwrap();
    // With max_age set, a signature without a signing time cannot be aged.
    let bare = sign(
        &bodhi_msg(),
        &f.signer("bodhi-app01.example.org")
            .without_signed_attributes(),
    )
    .unwrap();
    assert_eq!(
        aged.validate(&bare).unwrap_err().code,
        "missing-signing-time"
    );
    // The window is on by default (10 minutes); only an explicit null turns it off.
    assert_eq!(
        f.bus(json!({})).validate(&bare).unwrap_err().code,
        "missing-signing-time"
    );
    f.bus(json!({"freshness": {"max_age_secs": null}}))
        .validate(&bare)
        .unwrap();
}

// Item 4: numbers are exact or refused, and never rewritten.
#[test]
fn numbers_are_exact_or_refused_and_never_rewritten() {
    let f = fx();
    let bodhi = f.signer("bodhi-app01.example.org");
    let text = r#"{"topic": "org.example.prod.bodhi.update.comment", "msg": {"amount": 9007199254740992, "price": 1.10, "big": 1e22, "exp": 2.5E-3}}"#;
    let signed = waxseal_message::sign_text(text, &bodhi).unwrap();
    // Every number exactly as given.
    assert!(signed.starts_with(
        r#"{"topic": "org.example.prod.bodhi.update.comment","msg": {"amount": 9007199254740992, "price": 1.10, "big": 1e22, "exp": 2.5E-3},"crypto":"cms","signature":""#
    ), "{signed}");
    f.bus(json!({})).validate_bytes(signed.as_bytes()).unwrap();
    // An amount altered to a neighbour that rounds to the same double: refused.
    let altered = signed.replace("9007199254740992", "9007199254740993");
    let e = f
        .bus(json!({}))
        .validate_bytes(altered.as_bytes())
        .unwrap_err();
    assert_eq!(
        (e.stage, e.code.as_str()),
        (Stage::Format, "inexact-number")
    );
    let altered = signed.replace("1.10", "1.1000000000000000000001");
    assert_eq!(
        f.bus(json!({}))
            .validate_bytes(altered.as_bytes())
            .unwrap_err()
            .code,
        "inexact-number"
    );
    // Refused at signing too, from text and from a value.
    for bad in [
        r#"{"topic": "t", "n": 12345678901234567891}"#,
        r#"{"topic": "t", "n": 0.1000000000000000000001}"#,
        r#"{"topic": "t", "n": -0}"#,
    ] {
        let e = waxseal_message::sign_text(bad, &bodhi).unwrap_err();
        assert_eq!(e.input_code(), Some("inexact-number"), "{bad}");
    }
    let e = sign(&json!({"topic": "t", "n": u64::MAX}), &bodhi).unwrap_err();
    assert_eq!(e.input_code(), Some("inexact-number"));
    // Re-signing replaces the credentials and keeps the rest byte for byte.
    let resigned = waxseal_message::sign_text(&signed, &bodhi).unwrap();
    assert_eq!(resigned.matches("\"signature\"").count(), 1);
    assert!(resigned.contains(r#""price": 1.10"#));
    f.bus(json!({}))
        .validate_bytes(resigned.as_bytes())
        .unwrap();
}
