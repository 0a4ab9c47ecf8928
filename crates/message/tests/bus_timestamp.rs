//! A bus that time-stamps what it signs (`tsa_url`): against a real TSA made of `openssl
//! ts -reply` (`scripts/openssl-tsa`), with a bus PKI made at test time. The stamped
//! messages (fedmsg-style and oslo) validate at their time-stamps on a bus with
//! `at_timestamp`, and `openssl ts -verify` accepts the tokens; a TSA not trusted, a TSA
//! down and a misconfiguration each fail the sign call with their code, and no message is
//! made.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use waxseal_envelope::{Envelope, Signer, rfc3161};
use waxseal_message::timestamp::StampError;
use waxseal_message::{Bus, BusConfig, Route, SignError, oslo};
use waxseal_pki::TestPki;
use waxseal_trust::KeyAlgorithm;

const COMPUTE: &str = "compute-node01.example.org";
const TOPIC: &str = "org.example.prod.compute.ping";

/// `scripts/openssl-tsa` running in its own directory; killed (by its PID) when dropped.
struct Tsa {
    child: Child,
    dir: tempfile::TempDir,
    port: u16,
}

impl Tsa {
    fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/openssl-tsa");
        let port_file = dir.path().join("port");
        let mut child = Command::new(script)
            .arg("--dir")
            .arg(dir.path().join("tsa"))
            .arg("--port-file")
            .arg(&port_file)
            .spawn()
            .expect("scripts/openssl-tsa starts");
        // The script writes the port file (atomically) once it listens; it exits only on
        // a failure.
        let port = loop {
            if let Ok(text) = std::fs::read_to_string(&port_file) {
                break text.trim().parse().expect("a port number");
            }
            if let Some(status) = child.try_wait().unwrap() {
                panic!("scripts/openssl-tsa exited: {status}");
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        };
        Self { child, dir, port }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join("tsa").join(name)
    }

    /// Stops the TSA now (its port is then closed).
    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Tsa {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A bus PKI made now: the root and signing CA in a directory, and a compute signer.
struct Fx {
    dir: tempfile::TempDir,
    signer: Signer,
}

fn setup() -> Fx {
    let pki = TestPki::new(KeyAlgorithm::P256).unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("root.pem"), pki.root.cert.to_pem()).unwrap();
    std::fs::write(dir.path().join("ca.pem"), pki.ca.cert.to_pem()).unwrap();
    let leaf = pki.leaf(COMPUTE, KeyAlgorithm::P256).unwrap();
    Fx {
        dir,
        signer: Signer::new(leaf.cert, leaf.key).unwrap(),
    }
}

impl Fx {
    /// A bus of this PKI with `extra` configuration keys.
    fn bus(&self, extra: Value) -> Result<Bus, waxseal_message::ConfigError> {
        let mut cfg = json!({
            "trust": ["root.pem"],
            "certs": ["ca.pem"],
            "routing_policy": {"org.example.prod.compute.*": ["compute-*"], "scheduler": ["compute-*"]},
            "nitpicky": true,
        });
        for (k, v) in extra.as_object().unwrap() {
            cfg[k] = v.clone();
        }
        Bus::new(BusConfig::from_json(&cfg.to_string(), self.dir.path())?)
    }

    /// A bus stamping at `tsa`, trusting the TSA whose root is `tsa_root`.
    fn stamping(&self, tsa: &Tsa, tsa_root: &Path) -> Bus {
        self.bus(json!({"tsa_url": tsa.url(), "tsa_trust": [tsa_root]}))
            .unwrap()
    }

    /// A bus validating at the time-stamps of the TSA rooted at `tsa_root`.
    fn at_timestamp(&self, tsa_root: &Path) -> Bus {
        self.bus(json!({"tsa_trust": [tsa_root], "at_timestamp": true}))
            .unwrap()
    }
}

fn message(n: u32) -> Value {
    json!({"topic": TOPIC, "msg": {"n": n}})
}

/// The CMS of a base64 signature field.
fn cms(field: &Value) -> Envelope {
    Envelope::parse(&STANDARD.decode(field.as_str().unwrap()).unwrap()).unwrap()
}

/// The time-stamp tokens on the (only) signer of `cms`, and its signature value.
fn tokens(cms: &Envelope) -> (Vec<Vec<u8>>, Vec<u8>) {
    let si = &cms.signed_data().signer_infos[0];
    (
        rfc3161::tokens(si).iter().map(|t| t.to_vec()).collect(),
        si.signature.clone(),
    )
}

fn openssl_ts_verify(dir: &Path, data: &[u8], token: &[u8], tsa: &Tsa) -> bool {
    std::fs::write(dir.join("data.bin"), data).unwrap();
    std::fs::write(dir.join("token.der"), token).unwrap();
    Command::new("openssl")
        .current_dir(dir)
        .args([
            "ts",
            "-verify",
            "-data",
            "data.bin",
            "-in",
            "token.der",
            "-token_in",
        ])
        .arg("-CAfile")
        .arg(tsa.path("root.pem"))
        .arg("-untrusted")
        .arg(tsa.path("ca.pem"))
        .output()
        .unwrap()
        .status
        .success()
}

fn timestamp_code(e: &SignError) -> &'static str {
    match e {
        SignError::Timestamp(s) => s.code(),
        other => panic!("not a time-stamp failure: {other:?}"),
    }
}

#[test]
fn a_bus_with_tsa_url_stamps_what_it_signs_and_at_timestamp_validates_it() {
    let fx = setup();
    let tsa = Tsa::start();
    let other = Tsa::start();
    let bus = fx.stamping(&tsa, &tsa.path("root.pem"));
    let signed = bus.sign(&message(1), &fx.signer).unwrap();
    let (toks, signature) = tokens(&cms(&signed["signature"]));
    assert_eq!(toks.len(), 1, "one token on the signer");

    // waxseal validates the message at its time-stamp...
    let v = fx
        .at_timestamp(&tsa.path("root.pem"))
        .validate(&signed)
        .unwrap();
    assert_eq!(v.entity.unwrap().id, COMPUTE);
    // ...but not with another TSA's root as the TSA trust,
    let e = fx
        .at_timestamp(&other.path("root.pem"))
        .validate(&signed)
        .unwrap_err();
    assert_eq!(e.code, "timestamp-untrusted");
    // and a message signed without the TSA is refused at its (missing) time-stamp.
    let plain = waxseal_message::sign(&message(2), &fx.signer).unwrap();
    let e = fx
        .at_timestamp(&tsa.path("root.pem"))
        .validate(&plain)
        .unwrap_err();
    assert_eq!(e.code, "timestamp-missing");

    // OpenSSL accepts the token for the signature value, against the TSA's root only.
    let work = tempfile::tempdir().unwrap();
    assert!(openssl_ts_verify(work.path(), &signature, &toks[0], &tsa));
    assert!(!openssl_ts_verify(
        work.path(),
        b"other data",
        &toks[0],
        &tsa
    ));
    assert!(!openssl_ts_verify(
        work.path(),
        &signature,
        &toks[0],
        &other
    ));

    // sign_text: the members kept byte for byte, and stamped too.
    let text = format!(r#"{{"topic": "{TOPIC}", "msg": {{"x": 1.0}}}}"#);
    let out = bus.sign_text(&text, &fx.signer).unwrap();
    assert!(out.contains(r#""x": 1.0"#));
    let value: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(tokens(&cms(&value["signature"])).0.len(), 1);
    fx.at_timestamp(&tsa.path("root.pem"))
        .validate_bytes(out.as_bytes())
        .unwrap();

    // prepare (sign_messages on) stamps as well.
    let prepared = bus.prepare(&message(3), &fx.signer).unwrap();
    assert_eq!(tokens(&cms(&prepared["signature"])).0.len(), 1);
}

#[test]
fn a_bus_without_tsa_url_signs_as_the_free_functions_do() {
    let fx = setup();
    let bus = fx.bus(json!({})).unwrap();
    let text = format!(r#"{{"topic": "{TOPIC}", "msg": {{"x": 1.0}}}}"#);
    let by_bus = bus.sign_text(&text, &fx.signer).unwrap();
    let free = waxseal_message::sign_text(&text, &fx.signer).unwrap();
    let strip = |s: &str| {
        let mut v: Value = serde_json::from_str(s).unwrap();
        let sig = v.as_object_mut().unwrap().remove("signature").unwrap();
        (v, sig)
    };
    let ((bus_rest, bus_sig), (free_rest, free_sig)) = (strip(&by_bus), strip(&free));
    assert_eq!(bus_rest, free_rest, "same members, same certificate field");
    assert!(by_bus.contains(r#""x": 1.0"#));
    assert!(tokens(&cms(&bus_sig)).0.is_empty(), "no token");
    assert!(tokens(&cms(&free_sig)).0.is_empty());
    bus.validate_bytes(by_bus.as_bytes()).unwrap();
    let v = bus.sign(&message(4), &fx.signer).unwrap();
    assert!(tokens(&cms(&v["signature"])).0.is_empty());
    bus.validate(&v).unwrap();
}

#[test]
fn a_tsa_not_trusted_or_down_fails_the_sign_call_and_makes_no_message() {
    let fx = setup();
    let tsa = Tsa::start();
    let mut other = Tsa::start();
    // The TSA answers, but its reply chains to a root the bus does not trust for TSAs.
    let bus = fx.stamping(&tsa, &other.path("root.pem"));
    let e = bus.sign(&message(5), &fx.signer).unwrap_err();
    assert_eq!(timestamp_code(&e), "timestamp-untrusted");
    assert_eq!(e.code(), Some("timestamp-untrusted"));
    assert!(!e.is_transient(), "the TSA's fault: {e}");
    let text = format!(r#"{{"topic": "{TOPIC}", "msg": {{}}}}"#);
    let e = bus.sign_text(&text, &fx.signer).unwrap_err();
    assert_eq!(timestamp_code(&e), "timestamp-untrusted");
    let envelope = oslo::wrap(&json!({"method": "ping", "args": {}})).unwrap();
    let s = oslo::route_signer(fx.signer.clone(), &Route::topic("scheduler")).unwrap();
    let e = bus.sign_oslo(&envelope, &s).unwrap_err();
    assert!(
        matches!(
            e,
            SignError::Timestamp(StampError::Refused { index: 0, .. })
        ),
        "{e:?}"
    );

    // The TSA down: ours, transient.
    let down = fx.stamping(&other, &other.path("root.pem"));
    down.sign(&message(6), &fx.signer).unwrap();
    other.stop();
    let e = down.sign(&message(7), &fx.signer).unwrap_err();
    assert_eq!(timestamp_code(&e), "tsa-unavailable");
    assert!(e.is_transient());
    let e = down.sign_oslo(&envelope, &s).unwrap_err();
    assert_eq!(e.code(), Some("tsa-unavailable"));
}

#[test]
fn tsa_url_needs_tsa_trust_and_an_http_url() {
    let fx = setup();
    let e = fx
        .bus(json!({"tsa_url": "http://127.0.0.1:9/"}))
        .unwrap_err()
        .to_string();
    assert!(e.contains("tsa_url") && e.contains("tsa_trust"), "{e}");
    let root = fx.dir.path().join("root.pem");
    for url in [
        "ftp://tsa.example.org/",
        "tsa.example.org",
        "http://",
        "file:///tsa",
    ] {
        let e = fx
            .bus(json!({"tsa_url": url, "tsa_trust": [root]}))
            .unwrap_err()
            .to_string();
        assert!(e.contains("tsa_url"), "{url}: {e}");
    }
    let e = fx
        .bus(json!({"tsa_url": "http://127.0.0.1:9/", "tsa_trust": ["missing.pem"]}))
        .unwrap_err()
        .to_string();
    assert!(e.contains("tsa_trust"), "{e}");
    // A well-formed configuration builds (the TSA is not asked until a message is signed).
    fx.bus(json!({"tsa_url": "https://tsa.example.org/tsa", "tsa_trust": [root]}))
        .unwrap();
}

#[test]
fn sign_oslo_stamps_the_envelope_and_at_timestamp_verifies_it() {
    let fx = setup();
    let tsa = Tsa::start();
    let bus = fx.stamping(&tsa, &tsa.path("root.pem"));
    let envelope = oslo::wrap(&json!({"method": "select_destinations", "args": {}})).unwrap();
    let s = oslo::route_signer(fx.signer.clone(), &Route::topic("scheduler")).unwrap();
    let signed = bus.sign_oslo(&envelope, &s).unwrap();
    let (toks, signature) = tokens(&cms(&signed[oslo::SIGNATURE_KEY]));
    assert_eq!(toks.len(), 1);
    let work = tempfile::tempdir().unwrap();
    assert!(openssl_ts_verify(work.path(), &signature, &toks[0], &tsa));
    let verifier = fx.at_timestamp(&tsa.path("root.pem"));
    let v = verifier.verify_oslo(&signed, "scheduler").unwrap();
    assert_eq!(v.entity.unwrap().id, COMPUTE);
    // The unstamped twin (the free oslo::sign) is refused at its missing time-stamp.
    let plain = oslo::sign(&envelope, &s).unwrap();
    assert!(tokens(&cms(&plain[oslo::SIGNATURE_KEY])).0.is_empty());
    assert_eq!(
        verifier.verify_oslo(&plain, "scheduler").unwrap_err().code,
        "timestamp-missing"
    );
    // A bus without tsa_url signs oslo envelopes as oslo::sign does: no token.
    let unstamped = fx.bus(json!({})).unwrap().sign_oslo(&envelope, &s).unwrap();
    assert!(tokens(&cms(&unstamped[oslo::SIGNATURE_KEY])).0.is_empty());
}
