//! Entity mapping, routing policy, claims and registry, each decision with its reason.

use std::collections::BTreeMap;

use serde_json::json;
use waxseal_entity::*;
use waxseal_pki::TestPki;
use waxseal_trust::KeyAlgorithm;

fn rule(source: Source, pattern: Option<&str>, id: Option<&str>) -> RuleConfig {
    RuleConfig {
        source,
        pattern: pattern.map(str::to_owned),
        id: id.map(str::to_owned),
    }
}

#[test]
fn service_host_convention_is_the_default_rule() {
    let pki = TestPki::new(KeyAlgorithm::P256).unwrap();
    let leaf = pki
        .leaf("bodhi-app01.example.org", KeyAlgorithm::P256)
        .unwrap();
    let e = EntityMapper::default().map(&leaf.cert).unwrap();
    assert_eq!(e.id, "bodhi-app01.example.org");
    assert_eq!(
        (e.field("service"), e.field("host")),
        (Some("bodhi"), Some("app01.example.org"))
    );
    let odd = pki.leaf("Not A Service Name", KeyAlgorithm::P256).unwrap();
    assert_eq!(
        EntityMapper::default().map(&odd.cert).unwrap_err().code(),
        "entity-unmapped"
    );
}

#[test]
fn a_kept_answer_is_the_answer_and_belongs_to_its_rules() {
    let pki = TestPki::new(KeyAlgorithm::P256).unwrap();
    let leaf = pki
        .leaf("bodhi-app01.example.org", KeyAlgorithm::P256)
        .unwrap();
    let odd = pki.leaf("Not A Service Name", KeyAlgorithm::P256).unwrap();
    let mapper = EntityMapper::default();
    let clone = mapper.clone();
    for _ in 0..2 {
        // Asked again, and through a clone that shares what was kept: the same answers,
        // refusals included.
        for m in [&mapper, &clone] {
            assert_eq!(m.map(&leaf.cert).unwrap().id, "bodhi-app01.example.org");
            assert_eq!(m.map(&odd.cert).unwrap_err().code(), "entity-unmapped");
        }
        // A fresh copy of the certificate (as a message carries it) is the same certificate.
        let copy = waxseal_trust::Certificate::from_der(leaf.cert.der()).unwrap();
        assert_eq!(mapper.map(&copy).unwrap().field("service"), Some("bodhi"));
    }
    // Another mapper, other rules: its own answers, whatever the first one kept.
    let by_cn =
        EntityMapper::new(&[rule(Source::Cn, Some("^(?P<all>.+)$"), Some("cn:{all}"))]).unwrap();
    assert_eq!(by_cn.map(&odd.cert).unwrap().id, "cn:Not A Service Name");
    assert_eq!(
        by_cn.map(&leaf.cert).unwrap().id,
        "cn:bodhi-app01.example.org"
    );
    assert_eq!(mapper.map(&odd.cert).unwrap_err().code(), "entity-unmapped");
}

#[test]
fn san_uri_rule_with_a_template() {
    let pki = TestPki::new(KeyAlgorithm::P256).unwrap();
    let leaf = pki
        .leaf_with("node-7", KeyAlgorithm::P256, |p| {
            p.uris = vec!["urn:example:compute:node-7".into()];
        })
        .unwrap();
    let m = EntityMapper::new(&[rule(
        Source::SanUri,
        Some("^urn:example:compute:(?P<node>.+)$"),
        Some("compute:{node}"),
    )])
    .unwrap();
    let e = m.map(&leaf.cert).unwrap();
    assert_eq!(
        (e.id.as_str(), e.field("node")),
        ("compute:node-7", Some("node-7"))
    );
    // A template naming a group the pattern lacks is a configuration error.
    let err = EntityMapper::new(&[rule(
        Source::SanUri,
        Some("^urn:(?P<x>.+)$"),
        Some("{node}"),
    )])
    .unwrap_err();
    assert_eq!(err.code(), "config");
    assert!(EntityMapper::new(&[rule(Source::Cn, Some("("), None)]).is_err());
    assert!(EntityMapper::new(&[]).is_err());
}

#[test]
fn ambiguous_matches_are_errors_never_a_default() {
    let pki = TestPki::new(KeyAlgorithm::P256).unwrap();
    // Two DNS names both match: which one speaks?
    let leaf = pki
        .leaf_with("two-names", KeyAlgorithm::P256, |p| {
            p.dns_names = vec!["a.example.org".into(), "b.example.org".into()];
        })
        .unwrap();
    let m = EntityMapper::new(&[rule(Source::SanDns, None, None)]).unwrap();
    let err = m.map(&leaf.cert).unwrap_err();
    assert_eq!(err.code(), "entity-ambiguous");
    assert!(err.to_string().contains("a.example.org") && err.to_string().contains("b.example.org"));
    // Two rules that agree are fine; two that disagree are not.
    // (The PKI directory's layout: CN bodhi-app01.example.org, SAN dNSName app01.example.org.)
    let bodhi = pki
        .leaf_with("bodhi-app01.example.org", KeyAlgorithm::P256, |p| {
            p.dns_names = vec!["app01.example.org".into()]
        })
        .unwrap();
    let agree = EntityMapper::new(&[
        rule(Source::Cn, None, None),
        rule(Source::SanDns, Some("^(?P<host>.+)$"), Some("bodhi-{host}")),
    ])
    .unwrap();
    assert_eq!(
        agree.map(&bodhi.cert).unwrap().id,
        "bodhi-app01.example.org"
    );
    let disagree = EntityMapper::new(&[
        rule(Source::Cn, None, None),
        rule(Source::SanDns, None, None),
    ])
    .unwrap();
    assert_eq!(
        disagree.map(&bodhi.cert).unwrap_err().code(),
        "entity-ambiguous"
    );
}

fn policy(entries: &[(&str, &[&str])], nitpicky: bool) -> RoutingPolicy {
    let map: BTreeMap<String, Vec<String>> = entries
        .iter()
        .map(|(t, es)| (t.to_string(), es.iter().map(|e| e.to_string()).collect()))
        .collect();
    RoutingPolicy::new(&map, nitpicky).unwrap()
}

#[test]
fn routing_policy_keeps_fedmsg_semantics() {
    let p = policy(
        &[(
            "org.example.prod.bodhi.update.comment",
            &["bodhi-app01.example.org"],
        )],
        false,
    );
    assert!(
        p.decide(
            "org.example.prod.bodhi.update.comment",
            "bodhi-app01.example.org"
        )
        .allowed
    );
    let d = p.decide(
        "org.example.prod.bodhi.update.comment",
        "fas-app01.example.org",
    );
    assert_eq!((d.allowed, d.code), (false, "routing-policy-denied"));
    assert!(d.rule.unwrap().contains("bodhi-app01.example.org"));
    let d = p.decide("org.example.prod.wiki.edit", "fas-app01.example.org");
    assert_eq!((d.allowed, d.code), (true, "topic-not-in-policy"));
    let strict = policy(
        &[(
            "org.example.prod.bodhi.update.comment",
            &["bodhi-app01.example.org"],
        )],
        true,
    );
    assert!(
        !strict
            .decide("org.example.prod.wiki.edit", "fas-app01.example.org")
            .allowed
    );
    // Patterns on both sides; the most specific matching entry decides, not the union.
    let g = policy(
        &[
            ("org.example.prod.bodhi.*", &["bodhi-*"]),
            ("org.example.prod.#", &["admin-*"]),
            (
                "org.example.prod.bodhi.update.comment",
                &["bodhi-app01.example.org"],
            ),
        ],
        true,
    );
    let decide = |t: &str, e: &str| g.decide(t, e);
    assert!(decide("org.example.prod.bodhi.update", "bodhi-app07.example.org").allowed);
    // The broad `#` entry does not widen the narrower one...
    let d = decide("org.example.prod.bodhi.update", "admin-ops01.example.org");
    assert_eq!(
        (d.allowed, d.code, d.rule.as_deref()),
        (
            false,
            "routing-policy-denied",
            Some("org.example.prod.bodhi.* -> [bodhi-*]")
        )
    );
    // ...but decides where it is the most specific.
    assert!(decide("org.example.prod.wiki.edit", "admin-ops01.example.org").allowed);
    assert!(!decide("org.example.prod.wiki.edit", "bodhi-app07.example.org").allowed);
    // `*` is one segment: two segments fall to `#`.
    assert!(!decide("org.example.prod.bodhi.update.x", "bodhi-app07.example.org").allowed);
    // The exact topic beats every pattern.
    assert!(
        !decide(
            "org.example.prod.bodhi.update.comment",
            "bodhi-app07.example.org"
        )
        .allowed
    );
    assert!(
        decide(
            "org.example.prod.bodhi.update.comment",
            "bodhi-app01.example.org"
        )
        .allowed
    );
    assert!(!decide("org.example.stg.bodhi.update", "bodhi-app07.example.org").allowed);
}

#[test]
fn malformed_topics_are_refused_before_matching() {
    // Before: `org.example.prod.bodhi.*` (fnmatch) matched "...bodhi.x\n..." and the
    // topic passed. Now every control character, white space or non-ASCII byte is refused.
    let open = policy(&[("org.example.prod.bodhi.#", &["bodhi-*"])], false);
    for bad in [
        "org.example.prod.bodhi.x\norg.example.prod.fas.user",
        "org.example.prod.fas.user\n",
        "org.example prod",
        "org.example.prod.caf\u{e9}",
        "",
    ] {
        let d = open.decide(bad, "bodhi-app01.example.org");
        assert_eq!((d.allowed, d.code), (false, "malformed-topic"), "{bad:?}");
    }
    // Positive twin: the same topic without the control character.
    assert!(
        open.decide("org.example.prod.bodhi.x", "bodhi-app01.example.org")
            .allowed
    );
    // fnmatch syntax in a policy is a configuration error, not a silent literal.
    for bad in ["org.example.prod.bodhi*", "org.example.?", "org.[ab]"] {
        let mut p = BTreeMap::new();
        p.insert(bad.to_string(), vec!["x".to_string()]);
        let e = RoutingPolicy::new(&p, false).unwrap_err();
        assert_eq!(e.code(), "config");
        assert!(e.to_string().contains("routing_policy"), "{e}");
    }
    let mut p = BTreeMap::new();
    p.insert("a.b".to_string(), vec!["node0?".to_string()]);
    assert!(RoutingPolicy::new(&p, false).is_err());
}

#[test]
fn authorizer_reports_every_decision() {
    let pki = TestPki::new(KeyAlgorithm::P256).unwrap();
    let node1 = pki
        .leaf("compute-node01.example.org", KeyAlgorithm::P256)
        .unwrap();
    let config: AuthorizationConfig = serde_json::from_value(json!({
        "routing_policy": {"org.example.compute.*": ["compute-*"]},
        "nitpicky": true,
        "claims": [{"pointer": "/args/host", "field": "host"}]
    }))
    .unwrap();
    let a = Authorizer::new(&config, None).unwrap();
    let ok = a.authorize(
        &node1.cert,
        "org.example.compute.boot",
        Some(&json!({"args": {"host": "node01.example.org"}})),
    );
    assert!(ok.allowed);
    assert_eq!(ok.decisions.len(), 3);
    let bad = a.authorize(
        &node1.cert,
        "org.example.compute.boot",
        Some(&json!({"args": {"host": "node02.example.org"}})),
    );
    let d = bad.denial().unwrap();
    assert_eq!(d.code, "claim-mismatch");
    assert!(d.reason.contains("node02.example.org") && d.reason.contains("node01.example.org"));
    let missing = a.authorize(
        &node1.cert,
        "org.example.compute.boot",
        Some(&json!({"args": {}})),
    );
    assert_eq!(missing.denial().unwrap().code, "claim-missing");
    // fedmsg's validate_signed_by.
    let only = a.signed_by("org.example.compute.boot", "compute-node02.example.org");
    let d = only.authorize(
        &node1.cert,
        "org.example.compute.boot",
        Some(&json!({"args": {"host": "node01.example.org"}})),
    );
    assert_eq!(d.denial().unwrap().code, "routing-policy-denied");
    // A malformed topic is the first (and only) decision.
    let d = a.authorize(
        &node1.cert,
        "org.example.compute.boot\u{1b}[2K",
        Some(&json!({"args": {"host": "node01.example.org"}})),
    );
    assert_eq!((d.allowed, d.decisions.len()), (false, 1));
    assert_eq!(d.denial().unwrap().code, "malformed-topic");
    // Unknown configuration keys are errors naming the key.
    let err =
        serde_json::from_value::<AuthorizationConfig>(json!({"routing_polcy": {}})).unwrap_err();
    assert!(err.to_string().contains("routing_polcy"));
}

#[test]
fn registry_pins_certificates_and_keys() {
    let pki = TestPki::new(KeyAlgorithm::P256).unwrap();
    let a = pki
        .leaf("bodhi-app01.example.org", KeyAlgorithm::P256)
        .unwrap();
    let b = pki
        .leaf("bodhi-app01.example.org", KeyAlgorithm::P256)
        .unwrap();
    let r = Registry::from_json(
        &json!({"entities": {"bodhi-app01.example.org": {"certificates": [registry::certificate_fingerprint(&a.cert)]}}}).to_string(),
    )
    .unwrap();
    let e = EntityMapper::default().map(&a.cert).unwrap();
    assert!(r.check_binding(&e, &a.cert).is_ok());
    assert_eq!(
        r.check_binding(&e, &b.cert).unwrap_err().0,
        "certificate-not-pinned"
    );
    // Fingerprints may be written with colons and in upper case.
    let fp = registry::key_fingerprint(&b.cert).to_uppercase();
    let colons: Vec<String> = fp
        .as_bytes()
        .chunks(2)
        .map(|c| String::from_utf8(c.to_vec()).unwrap())
        .collect();
    let r = Registry::from_json(
        &json!({"entities": {"bodhi-app01.example.org": {"keys": [colons.join(":")]}}}).to_string(),
    )
    .unwrap();
    assert!(r.check_binding(&e, &b.cert).is_ok());
    assert!(Registry::from_json(r#"{"entities": {"x": {"certificates": ["abc"]}}}"#).is_err());
}
