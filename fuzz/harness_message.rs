// The bus-message fuzz harness, shared by the `message_validate` libFuzzer target and the
// corpus replay test of the message crate (`crates/message/tests/fuzz_corpus.rs`).

/// The fixed verification time of the harness: two hours after the test CRL's thisUpdate
/// (`testdata/generate.sh` makes the PKI, the CRL and the signed samples in one run), so
/// neither the certificates, the CRL nor the samples ever expire under it and every stage,
/// authorization included, stays reachable whatever the date.
pub fn test_time(testdata: &std::path::Path) -> u64 {
    let pem = std::fs::read(testdata.join("pki/p256/crl.pem")).expect("test CRL");
    let crl = waxseal_trust::Crl::load_all(&pem).expect("test CRL parses");
    crl[0]
        .x509()
        .tbs_cert_list
        .this_update
        .to_unix_duration()
        .as_secs()
        + 7200
}

/// A bus over `testdata/pki/p256` (root, signing CA, CRL), with a routing policy, claims
/// and an unsigned topic, so every validation stage is reachable; verifying at
/// [`test_time`].
pub fn test_bus(testdata: &std::path::Path) -> waxseal_message::Bus {
    let p = testdata.join("pki/p256");
    let config = serde_json::json!({
        "trust": [p.join("root.pem")],
        "certs": [p.join("ca.pem")],
        "crls": [p.join("crl.pem")],
        "crl_scope": "leaf",
        "routing_policy": {"org.example.prod.bodhi.#": ["speed-*"], "scheduler": ["speed-*"]},
        "claims": [{"topic": "scheduler", "pointer": "/args/host", "field": "host"}],
        "unsigned_topics": ["org.example.prod.heartbeat"],
        "route": {"max_hops": 8},
        // The harness's fixed time is an hour after testdata/generate.sh signed the
        // samples: a window of two hours keeps them fresh and the check on.
        "freshness": {"max_age_secs": 7200}
    });
    let config = waxseal_message::BusConfig::from_json(&config.to_string(), testdata)
        .expect("test bus configuration");
    waxseal_message::Bus::new(config)
        .expect("test bus")
        .at_time(test_time(testdata))
}

/// Validate `data` as a fedmsg-style message and as an oslo envelope (arrived on
/// `scheduler`); canonicalize and strip it. Returns the outcome of each validation in
/// order (`None`: accepted, else the reason code): fedmsg bytes, oslo bytes, then for
/// JSON input the stripped message, `validate_signed_by` and `validate_on_topic`.
pub fn message(data: &[u8], bus: &waxseal_message::Bus) -> Vec<Option<String>> {
    let code = |r: Result<(), waxseal_message::Rejection>| r.err().map(|e| e.code);
    let mut out = vec![
        code(bus.validate_bytes(data).map(drop)),
        code(bus.verify_oslo_bytes(data, "scheduler").map(drop)),
    ];
    if let Ok(v) = waxseal_message::json::parse(data) {
        let _ = waxseal_message::json::canonical(&v);
        let stripped = waxseal_message::strip_credentials(&v);
        out.push(code(bus.validate(&stripped).map(drop)));
        out.push(code(
            bus.validate_signed_by(&v, "speed-p256.example.org")
                .map(drop),
        ));
        out.push(code(bus.validate_on_topic(&v, "scheduler").map(drop)));
    }
    out
}
