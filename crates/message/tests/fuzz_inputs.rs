//! Replays the seed corpora of the configuration and input parser targets (bus
//! configuration, registry, PKI inventory and seed, service-host names, countersigning)
//! through the harnesses their libFuzzer targets run (`fuzz/harness_inputs.rs`). Any panic
//! fails the test.

#[path = "../../../fuzz/harness_inputs.rs"]
mod harness;

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn replay(dir: &Path, harness: &dyn Fn(&[u8])) -> usize {
    let mut inputs: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    inputs.sort();
    for p in &inputs {
        let data = std::fs::read(p).unwrap();
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| harness(&data)));
        assert!(r.is_ok(), "harness panicked on {}", p.display());
    }
    inputs.len()
}

/// A corpus directory, its harness, and the least number of inputs it must hold.
type Target<'a> = (&'static str, &'a dyn Fn(&[u8]), usize);

#[test]
fn input_parser_corpora_replay_without_panics() {
    let fx = harness::Fixture::new(&root().join("testdata"));
    let corpus = root().join("fuzz/corpus");
    let targets: [Target; 8] = [
        ("bus_config", &|d| harness::bus_config(d, &fx), 5),
        ("registry", &|d| harness::registry(d, &fx), 3),
        ("pki_inventory", &harness::pki_inventory, 2),
        ("pki_seed", &harness::pki_seed, 5),
        ("service_host", &harness::service_host, 10),
        ("countersign", &|d| harness::countersign(d, &fx), 5),
        ("msg_countersign", &|d| harness::msg_countersign(d, &fx), 5),
        (
            "message_validate",
            &|d| harness::msg_countersign(d, &fx),
            20,
        ),
    ];
    for (dir, harness, min) in targets {
        let n = replay(&corpus.join(dir), harness);
        assert!(
            n >= min,
            "{dir}: {n} corpus inputs, expected at least {min}"
        );
    }
}

#[test]
fn countersigning_a_sample_adds_a_hop() {
    // The harnesses reach the interesting code: a real slip and a real oslo envelope are
    // countersigned (the negative twin: garbage is not).
    let fx = harness::Fixture::new(&root().join("testdata"));
    let slip = std::fs::read(root().join("testdata/envelopes/slip-2hops.der")).unwrap();
    let mut env = waxseal_slip::parse(&slip, 8).unwrap();
    let before = waxseal_slip::hops(&env, 0, 8).unwrap().len();
    waxseal_slip::append_hop(&mut env, 0, &fx.signer, true, 8).unwrap();
    assert_eq!(waxseal_slip::hops(&env, 0, 8).unwrap().len(), before + 1);
    assert!(waxseal_slip::parse(b"not an envelope", 8).is_err());

    let oslo = std::fs::read(root().join("testdata/messages/oslo-signed.json")).unwrap();
    let v = waxseal_message::json::parse(&oslo).unwrap();
    assert!(waxseal_message::oslo::countersign(&v, &fx.signer, 8).is_ok());
    let unsigned = serde_json::json!({"oslo.version": "2.0", "oslo.message": "{}"});
    assert!(waxseal_message::oslo::countersign(&unsigned, &fx.signer, 8).is_err());
}

#[test]
fn a_sample_bus_configuration_compiles() {
    // The bus_config harness gets past parsing on its seeds (else it would test nothing).
    let fx = harness::Fixture::new(&root().join("testdata"));
    let text = r#"{"trust": ["root.pem"], "routing_policy": {"scheduler": ["speed-*"]}}"#;
    let config = waxseal_message::BusConfig::from_json(text, &fx.dir).unwrap();
    assert!(waxseal_message::Bus::new(config).is_ok());
    let bad =
        r#"{"trust": ["root.pem"], "claims": [{"topic": "t", "pointer": "x", "field": "host"}]}"#;
    let config = waxseal_message::BusConfig::from_json(bad, &fx.dir).unwrap();
    assert!(waxseal_message::Bus::new(config).is_err());
}
