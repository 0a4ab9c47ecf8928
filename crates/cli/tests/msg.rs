//! `waxseal msg sign|validate|countersign` and `waxseal authorize` from the command line.

use std::path::Path;
use std::process::{Command, Output};

fn run(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_waxseal"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn setup() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    ok(&run(t, &["pki", "init", "--dir", "pki"]));
    ok(&run(
        t,
        &[
            "pki",
            "issue",
            "--dir",
            "pki",
            "bodhi-app01.example.org",
            "fas-app02.example.org",
            "compute-node01.example.org",
            "conductor-ctl01.example.org",
        ],
    ));
    std::fs::write(
        t.join("bus.json"),
        r#"{
  "trust": ["pki/root-ca.crt"], "certs": ["pki/signing-ca.crt"], "crls": ["pki/crl.pem"],
  "routing_policy": {"org.example.prod.bodhi.*": ["bodhi-*"], "scheduler": ["compute-*"]},
  "claims": [{"topic": "scheduler", "pointer": "/args/host", "field": "host"}],
  "route": {"itinerary": ["compute-node01.example.org", "conductor-ctl01.example.org"]}
}"#,
    )
    .unwrap();
    std::fs::write(
        t.join("msg.json"),
        r#"{"topic": "org.example.prod.bodhi.update.comment", "msg": {"text": "LGTM"}}"#,
    )
    .unwrap();
    std::fs::write(
        t.join("rpc.json"),
        r#"{"method": "select_destinations", "args": {"host": "node01.example.org"}}"#,
    )
    .unwrap();
    tmp
}

const BODHI: [&str; 4] = [
    "--cert",
    "pki/bodhi-app01.example.org.crt",
    "--key",
    "pki/bodhi-app01.example.org.key",
];

#[test]
fn fedmsg_style_sign_and_validate() {
    let tmp = setup();
    let t = tmp.path();
    let mut args = vec!["msg", "sign", "--in", "msg.json", "--out", "signed.json"];
    args.extend(BODHI);
    ok(&run(t, &args));
    let out = ok(&run(
        t,
        &[
            "msg",
            "validate",
            "--config",
            "bus.json",
            "--in",
            "signed.json",
        ],
    ));
    assert!(
        out.starts_with("accepted: signed by CN=bodhi-app01.example.org"),
        "{out}"
    );
    let o = run(
        t,
        &[
            "msg",
            "validate",
            "--config",
            "bus.json",
            "--in",
            "signed.json",
            "--json",
        ],
    );
    let v: serde_json::Value = serde_json::from_str(&ok(&o)).unwrap();
    assert_eq!(v["result"]["entity"]["id"], "bodhi-app01.example.org");
    ok(&run(
        t,
        &[
            "msg",
            "validate",
            "--config",
            "bus.json",
            "--signed-by",
            "bodhi-app01.example.org",
            "--in",
            "signed.json",
        ],
    ));
    let o = run(
        t,
        &[
            "msg",
            "validate",
            "--config",
            "bus.json",
            "--signed-by",
            "fas-app02.example.org",
            "--in",
            "signed.json",
            "--json",
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["reason"], "routing-policy-denied");

    let text = std::fs::read_to_string(t.join("signed.json"))
        .unwrap()
        .replace("LGTM", "NACK");
    std::fs::write(t.join("tampered.json"), text).unwrap();
    let o = run(
        t,
        &[
            "msg",
            "validate",
            "--config",
            "bus.json",
            "--in",
            "tampered.json",
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("message-digest")
            || String::from_utf8_lossy(&o.stderr).contains("digest")
    );
    // Usage errors: a bad configuration, an unknown key.
    std::fs::write(
        t.join("typo.json"),
        r#"{"trust": ["pki/root-ca.crt"], "nitpicky_": true}"#,
    )
    .unwrap();
    let o = run(
        t,
        &[
            "msg",
            "validate",
            "--config",
            "typo.json",
            "--in",
            "signed.json",
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("nitpicky_"));
}

#[test]
fn authorize_a_certificate_or_a_message() {
    let tmp = setup();
    let t = tmp.path();
    let out = ok(&run(
        t,
        &[
            "authorize",
            "--config",
            "bus.json",
            "--topic",
            "org.example.prod.bodhi.update",
            "--in",
            "pki/bodhi-app01.example.org.crt",
        ],
    ));
    assert!(
        out.contains("allow:") && out.contains("routing-policy"),
        "{out}"
    );
    let o = run(
        t,
        &[
            "authorize",
            "--config",
            "bus.json",
            "--topic",
            "org.example.prod.bodhi.update",
            "--in",
            "pki/fas-app02.example.org.crt",
            "--json",
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["valid"], false);
    assert!(
        v["authorization"]["decisions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["code"] == "routing-policy-denied")
    );
    let mut args = vec!["msg", "sign", "--in", "msg.json", "--out", "signed.json"];
    args.extend(BODHI);
    ok(&run(t, &args));
    ok(&run(
        t,
        &[
            "authorize",
            "--config",
            "bus.json",
            "--topic",
            "org.example.prod.bodhi.x",
            "--in",
            "signed.json",
        ],
    ));
    let o = run(
        t,
        &[
            "authorize",
            "--config",
            "bus.json",
            "--topic",
            "scheduler",
            "--in",
            "signed.json",
        ],
    );
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn oslo_envelopes_with_a_forwarding_hop() {
    let tmp = setup();
    let t = tmp.path();
    ok(&run(
        t,
        &[
            "msg",
            "sign",
            "--oslo",
            "--cert",
            "pki/compute-node01.example.org.crt",
            "--key",
            "pki/compute-node01.example.org.key",
            "--in",
            "rpc.json",
            "--out",
            "rpc.signed",
        ],
    ));
    let env: serde_json::Value =
        serde_json::from_slice(&std::fs::read(t.join("rpc.signed")).unwrap()).unwrap();
    assert_eq!(env["oslo.version"], "2.0");
    // Without the conductor's hop the route is incomplete.
    let o = run(
        t,
        &[
            "msg",
            "validate",
            "--config",
            "bus.json",
            "--topic",
            "scheduler",
            "--in",
            "rpc.signed",
            "--json",
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        (v["reason"].as_str(), v["hop"].as_u64()),
        (Some("hop-missing"), Some(1))
    );
    ok(&run(
        t,
        &[
            "msg",
            "countersign",
            "--cert",
            "pki/conductor-ctl01.example.org.crt",
            "--key",
            "pki/conductor-ctl01.example.org.key",
            "--role",
            "conductor",
            "--in",
            "rpc.signed",
            "--out",
            "rpc.fwd",
        ],
    ));
    let out = ok(&run(
        t,
        &[
            "msg",
            "validate",
            "--config",
            "bus.json",
            "--topic",
            "scheduler",
            "--in",
            "rpc.fwd",
        ],
    ));
    assert!(
        out.contains("route compute-node01.example.org -> conductor-ctl01.example.org"),
        "{out}"
    );
}
