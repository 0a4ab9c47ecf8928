// The bus-message fuzz harness, shared by the `message_validate` libFuzzer target and the
// corpus replay test of the message crate (`crates/message/tests/fuzz_corpus.rs`).

/// A bus over `testdata/pki/p256` (root, signing CA, CRL), with a routing policy, claims
/// and an unsigned topic, so every validation stage is reachable.
pub fn test_bus(testdata: &std::path::Path) -> waxseal_message::Bus {
    let p = testdata.join("pki/p256");
    let config = serde_json::json!({
        "trust": [p.join("root.pem")],
        "certs": [p.join("ca.pem")],
        "crls": [p.join("crl.pem")],
        "crl_scope": "leaf",
        "routing_policy": {"org.example.prod.bodhi.*": ["speed-*"], "scheduler": ["speed-*"]},
        "claims": [{"topic": "scheduler", "pointer": "/args/host", "field": "host"}],
        "unsigned_topics": ["org.example.prod.heartbeat"],
        "route": {"max_hops": 8}
    });
    let config = waxseal_message::BusConfig::from_json(&config.to_string(), testdata)
        .expect("test bus configuration");
    waxseal_message::Bus::new(config).expect("test bus")
}

/// Validate `data` as a fedmsg-style message and as an oslo envelope; canonicalize and
/// strip it.
pub fn message(data: &[u8], bus: &waxseal_message::Bus) {
    let _ = bus.validate_bytes(data);
    let _ = bus.verify_oslo_bytes(data, Some("scheduler"));
    if let Ok(v) = waxseal_message::json::parse(data) {
        let _ = waxseal_message::json::canonical(&v);
        let stripped = waxseal_message::strip_credentials(&v);
        let _ = bus.validate(&stripped);
        let _ = bus.validate_signed_by(&v, "speed-p256.example.org");
        let _ = bus.validate_for_topic(&v, "scheduler");
    }
}
