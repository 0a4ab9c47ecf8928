//! fedmsg's behaviours, re-created with our own fixtures (made with the pki crate), plus
//! claims, registry pinning and duplicate keys.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use waxseal_envelope::{Certificate, KeyAlgorithm, KeyFileCheck, PrivateKey, Signer};
use waxseal_message::{Bus, BusConfig, Stage, json as strict, sign, strip_credentials};
use waxseal_pki::{CertParams, Issuer, Lifetimes, PkiDir, Seed, ServiceHost, issue::parse_name};

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
                "org.example.prod.bodhi.*": ["bodhi-*"],
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
        && d.rule.as_deref() == Some("org.example.prod.bodhi.* -> bodhi-*")));
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
    let now = waxseal_envelope::time::now();
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
    // Not an object, no topic, non-UTF-8 bytes, a number beyond I-JSON.
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
        "malformed-json"
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
