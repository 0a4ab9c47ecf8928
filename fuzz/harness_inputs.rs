// The fuzz harnesses of the configuration and input parsers above the envelope crate,
// shared by their libFuzzer targets (`include!`d from fuzz_targets/) and by the corpus
// replay test of the message crate (`crates/message/tests/fuzz_inputs.rs`).
//
// Each harness only has to return: any panic is a bug. None reads the clock: the
// certificates of testdata/ are used to sign and to be authorized, never validated
// against the current time.

use std::path::{Path, PathBuf};

/// The fixed material the harnesses use: testdata/pki/p256 (root, signing CA, leaf and
/// its key) and a signer made from them.
pub struct Fixture {
    /// testdata/pki/p256.
    pub dir: PathBuf,
    /// The leaf certificate.
    pub leaf: waxseal_trust::Certificate,
    /// A signer with the leaf's key.
    pub signer: waxseal_envelope::Signer,
}

impl Fixture {
    /// Loads testdata/pki/p256 under `testdata`.
    pub fn new(testdata: &Path) -> Self {
        use waxseal_envelope::*;
        use waxseal_trust::*;
        let dir = testdata.join("pki/p256");
        let leaf = Certificate::load_all(&std::fs::read(dir.join("leaf.pem")).unwrap())
            .unwrap()
            .remove(0);
        let key = PrivateKey::from_bytes(&std::fs::read(dir.join("leaf.key")).unwrap()).unwrap();
        let ca = Certificate::load_all(&std::fs::read(dir.join("ca.pem")).unwrap()).unwrap();
        let signer = Signer::new(leaf.clone(), key).unwrap().with_chain(ca);
        Self { dir, leaf, signer }
    }
}

/// A bus configuration: parsed, its file paths pinned to the fixture's (a configuration
/// from the input must not make the harness read arbitrary files), compiled (policy
/// patterns, claim pointers, mapping rules, unsigned topics), then used to authorize the
/// fixture's certificate on a few topics.
pub fn bus_config(data: &[u8], fx: &Fixture) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(mut config) = waxseal_message::BusConfig::from_json(text, &fx.dir) else {
        return;
    };
    config.trust = vec![fx.dir.join("root.pem").into()];
    config.certs = vec![fx.dir.join("ca.pem").into()];
    config.crls = vec![fx.dir.join("crl.pem").into()];
    config.registry = None;
    let Ok(bus) = waxseal_message::Bus::new(config) else {
        return;
    };
    let payload = serde_json::json!({"args": {"host": "p256.example.org"}, "a/b": {"~": 1}});
    let topics = [
        "scheduler",
        "org.example.prod.bodhi.update",
        "a.b.c",
        "",
        "#",
        "*",
    ];
    for topic in topics {
        let _ = bus.authorizer().authorize(&fx.leaf, topic, Some(&payload));
    }
    let _ = bus.authorizer().authorize(&fx.leaf, "scheduler", None);
    let _ = bus.authorizer().mapper().map(&fx.leaf);
}

/// An entity registry: parsed, then asked about the fixture's certificate.
pub fn registry(data: &[u8], fx: &Fixture) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(registry) = waxseal_entity::Registry::from_json(text) else {
        return;
    };
    let names: Vec<String> = registry.entities.keys().cloned().collect();
    let Ok(auth) = waxseal_entity::Authorizer::new(
        &waxseal_entity::AuthorizationConfig::default(),
        Some(registry),
    ) else {
        return;
    };
    let _ = auth.authorize(&fx.leaf, "scheduler", None);
    for n in names.iter().take(8) {
        let _ = auth.signed_by("scheduler", n);
    }
}

/// A PKI inventory: parsed and checked, written back (and that parses again), its times
/// parsed the way revocation reads them.
pub fn pki_inventory(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(inv) = waxseal_pki::inventory::Inventory::from_json(text) else {
        return;
    };
    let again = waxseal_pki::inventory::Inventory::from_json(&inv.to_json());
    assert!(
        again.is_ok(),
        "a valid inventory does not survive its own writing"
    );
    let _ = inv.active().count();
    if let Ok(v) = serde_json::from_str::<serde_json::Value>(text) {
        let mut stack = vec![&v];
        while let Some(v) = stack.pop() {
            match v {
                serde_json::Value::String(s) => {
                    let _ = waxseal_trust::time::parse_rfc3339(s);
                }
                serde_json::Value::Array(a) => stack.extend(a),
                serde_json::Value::Object(o) => stack.extend(o.values()),
                _ => {}
            }
        }
    }
}

/// A PKI seed: parsed and checked, then used to make subject names.
pub fn pki_seed(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(seed) = waxseal_pki::Seed::from_json(text) else {
        return;
    };
    for cn in ["waxseal root CA", "bodhi-app01.example.org", "a,b+c", "#x"] {
        let name = seed.subject(cn);
        assert!(
            name.is_ok(),
            "a checked seed makes no valid name for {cn:?}: {name:?}"
        );
    }
}

/// A service-host name (`<service>-<fqdn>`) and, as a distinguished name, the string
/// `pki` parses for subjects.
pub fn service_host(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Ok(sh) = waxseal_pki::ServiceHost::parse(&text) {
        let shown = sh.to_string();
        let again = waxseal_pki::ServiceHost::parse(&shown);
        assert!(again.is_ok(), "{shown:?} does not parse back");
        let _ = (sh.service(), sh.host());
        let _ = sh.on_host("other.example.org");
        let _ = waxseal_pki::Seed::default().subject(&shown);
    }
    let _ = waxseal_pki::name::check_fqdn(&text);
    let _ = waxseal_pki::name::is_temporary_identity(&text);
    if let Ok(name) = waxseal_pki::issue::parse_name(&text) {
        let _ = waxseal_trust::name::display(&name);
    }
}

/// `waxseal countersign`: parse a slip and add a hop to it, then walk the hops.
pub fn countersign(data: &[u8], fx: &Fixture) {
    let max = waxseal_slip::DEFAULT_MAX_HOPS;
    let Ok(mut env) = waxseal_slip::parse(data, max) else {
        return;
    };
    if waxseal_slip::append_hop(&mut env, 0, &fx.signer, true, max).is_ok() {
        let again = waxseal_slip::parse(&env.to_der(), max);
        let _ = again.map(|e| waxseal_slip::hops(&e, 0, max).map(|h| h.len()));
    }
}

/// `waxseal msg countersign`: countersign an oslo envelope, then parse what came out.
pub fn msg_countersign(data: &[u8], fx: &Fixture) {
    let Ok(v) = waxseal_message::json::parse(data) else {
        return;
    };
    if let Ok(out) = waxseal_message::oslo::countersign(&v, &fx.signer, 8) {
        let text = serde_json::to_vec(&out).expect("values serialise");
        let _ = waxseal_message::json::parse(&text);
    }
}
