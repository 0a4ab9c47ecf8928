//! `waxseal msg sign|validate|countersign` and `waxseal authorize` from the command line.

mod common;

use std::path::Path;
use std::process::Output;

use common::{ok, run};

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
  "routing_policy": {"org.example.prod.bodhi.#": ["bodhi-*"], "scheduler": ["compute-*"]},
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

const COMPUTE: [&str; 4] = [
    "--cert",
    "pki/compute-node01.example.org.crt",
    "--key",
    "pki/compute-node01.example.org.key",
];

/// `msg sign` as the holder of `cert_key` (a `--cert`/`--key` pair), with `args`.
fn sign_as(t: &Path, cert_key: [&str; 4], args: &[&str]) -> Output {
    let mut all = vec!["msg", "sign"];
    all.extend(cert_key);
    all.extend(args);
    run(t, &all)
}

/// `msg validate --config CONFIG` with `args`.
fn validate_with(t: &Path, config: &str, args: &[&str]) -> Output {
    let mut all = vec!["msg", "validate", "--config", config];
    all.extend(args);
    run(t, &all)
}

/// `authorize --config bus.json` with `args`.
fn authorize(t: &Path, args: &[&str]) -> Output {
    let mut all = vec!["authorize", "--config", "bus.json"];
    all.extend(args);
    run(t, &all)
}

/// `msg countersign` of `input` into `out` as conductor-ctl01, in the role `conductor`,
/// with `extra`.
fn countersign_conductor(t: &Path, input: &str, out: &str, extra: &[&str]) -> Output {
    let mut args = vec![
        "msg",
        "countersign",
        "--cert",
        "pki/conductor-ctl01.example.org.crt",
        "--key",
        "pki/conductor-ctl01.example.org.key",
        "--role",
        "conductor",
        "--in",
        input,
        "--out",
        out,
    ];
    args.extend(extra);
    run(t, &args)
}

#[test]
fn fedmsg_style_sign_and_validate() {
    let tmp = setup();
    let t = tmp.path();
    ok(&sign_as(
        t,
        BODHI,
        &["--in", "msg.json", "--out", "signed.json"],
    ));
    let out = ok(&validate_with(t, "bus.json", &["--in", "signed.json"]));
    assert!(
        out.starts_with("accepted: signed by CN=bodhi-app01.example.org"),
        "{out}"
    );
    let o = validate_with(t, "bus.json", &["--in", "signed.json", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&ok(&o)).unwrap();
    assert_eq!(v["result"]["entity"]["id"], "bodhi-app01.example.org");
    ok(&validate_with(
        t,
        "bus.json",
        &[
            "--signed-by",
            "bodhi-app01.example.org",
            "--in",
            "signed.json",
        ],
    ));
    let o = validate_with(
        t,
        "bus.json",
        &[
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
    let o = validate_with(t, "bus.json", &["--in", "tampered.json"]);
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
    let o = validate_with(t, "typo.json", &["--in", "signed.json"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("nitpicky_"));
}

#[test]
fn authorize_a_certificate_or_a_message() {
    let tmp = setup();
    let t = tmp.path();
    let out = ok(&authorize(
        t,
        &[
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
    let o = authorize(
        t,
        &[
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
    ok(&sign_as(
        t,
        BODHI,
        &["--in", "msg.json", "--out", "signed.json"],
    ));
    ok(&authorize(
        t,
        &[
            "--topic",
            "org.example.prod.bodhi.update.comment",
            "--in",
            "signed.json",
        ],
    ));
    let o = authorize(
        t,
        &["--topic", "scheduler", "--in", "signed.json", "--json"],
    );
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["reason"], "topic-mismatch");
}

#[test]
fn oslo_envelopes_with_a_forwarding_hop() {
    let tmp = setup();
    let t = tmp.path();
    ok(&sign_oslo(t, "scheduler", "rpc.json", "rpc.signed", &[]));
    let env: serde_json::Value =
        serde_json::from_slice(&std::fs::read(t.join("rpc.signed")).unwrap()).unwrap();
    assert_eq!(env["oslo.version"], "2.0");
    // Without the conductor's hop the route is incomplete.
    let o = validate_with(
        t,
        "bus.json",
        &["--topic", "scheduler", "--in", "rpc.signed", "--json"],
    );
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        (v["reason"].as_str(), v["hop"].as_u64()),
        (Some("hop-missing"), Some(1))
    );
    ok(&countersign_conductor(t, "rpc.signed", "rpc.fwd", &[]));
    let out = ok(&validate_with(
        t,
        "bus.json",
        &["--topic", "scheduler", "--in", "rpc.fwd"],
    ));
    assert!(
        out.contains("route compute-node01.example.org -> conductor-ctl01.example.org"),
        "{out}"
    );
}

fn refused(o: &Output, code: &str) {
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&o.stdout)));
    assert_eq!(v["reason"], code, "{v}");
}

fn sign_bodhi(t: &Path, input: &str, out: &str, extra: &[&str]) -> Output {
    let args = [&["--json", "--in", input, "--out", out][..], extra].concat();
    sign_as(t, BODHI, &args)
}

fn validate(t: &Path, input: &str, extra: &[&str]) -> Output {
    let args = [&["--json", "--in", input][..], extra].concat();
    validate_with(t, "bus.json", &args)
}

/// `msg sign --oslo --topic TOPIC` of `input` into `out` as compute-node01, with `extra`.
fn sign_oslo(t: &Path, topic: &str, input: &str, out: &str, extra: &[&str]) -> Output {
    let args = [
        &["--oslo", "--topic", topic, "--in", input, "--out", out][..],
        extra,
    ]
    .concat();
    sign_as(t, COMPUTE, &args)
}

// Item 1.
#[test]
fn malformed_topics_are_refused() {
    let tmp = setup();
    let t = tmp.path();
    std::fs::write(
        t.join("nl.json"),
        r#"{"topic": "org.example.prod.bodhi.update\norg.example.prod.fas.user.create", "msg": {}}"#,
    )
    .unwrap();
    refused(
        &sign_bodhi(t, "nl.json", "nl.signed", &[]),
        "malformed-topic",
    );
    assert!(!t.join("nl.signed").exists(), "nothing written to --out");
    // On the command line too, before anything else.
    ok(&sign_oslo(t, "scheduler", "rpc.json", "rpc.signed", &[]));
    refused(
        &validate(t, "rpc.signed", &["--topic", "scheduler\u{1b}[2K"]),
        "malformed-topic",
    );
    let o = sign_oslo(t, "sched uler", "rpc.json", "bad.signed", &["--json"]);
    refused(&o, "malformed-topic");
    assert!(!t.join("bad.signed").exists());
    // fnmatch syntax in a configuration: exit 2, naming the file and the key.
    std::fs::write(
        t.join("glob.json"),
        r#"{"trust": ["pki/root-ca.crt"], "routing_policy": {"org.example.prod.bodhi*": ["bodhi-*"]}}"#,
    )
    .unwrap();
    let o = validate_with(t, "glob.json", &["--in", "msg.json"]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("glob.json") && err.contains("routing_policy"),
        "{err}"
    );
    // `authorize --topic` too.
    let o = authorize(
        t,
        &[
            "--json",
            "--topic",
            "org.example.prod.bodhi.update\ncomment",
            "--in",
            "pki/bodhi-app01.example.org.crt",
        ],
    );
    refused(&o, "malformed-topic");
    // Positive twin.
    ok(&sign_bodhi(t, "msg.json", "msg.signed", &[]));
    ok(&validate(t, "msg.signed", &[]));
}

// Item 2.
#[test]
fn the_route_is_signed_and_compared() {
    let tmp = setup();
    let t = tmp.path();
    // --oslo without --topic is a usage error, and writes nothing.
    let o = sign_as(
        t,
        COMPUTE,
        &["--oslo", "--in", "rpc.json", "--out", "none.signed"],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(!t.join("none.signed").exists());
    // Signed for the conductor, forwarded by it to the scheduler (re-bound), validated
    // where it arrives.
    ok(&sign_oslo(t, "conductor", "rpc.json", "rpc.signed", &[]));
    refused(&validate(t, "rpc.signed", &[]), "topic-required");
    // (bus.json requires the conductor's hop; direct.json does not.)
    std::fs::write(
        t.join("direct.json"),
        r#"{"trust": ["pki/root-ca.crt"], "certs": ["pki/signing-ca.crt"], "crls": ["pki/crl.pem"],
            "routing_policy": {"scheduler": ["compute-*"], "conductor": ["compute-*"]},
            "claims": [{"topic": "scheduler", "pointer": "/args/host", "field": "host"}]}"#,
    )
    .unwrap();
    let direct = |topic: &str| {
        validate_with(
            t,
            "direct.json",
            &["--json", "--in", "rpc.signed", "--topic", topic],
        )
    };
    refused(&direct("scheduler"), "topic-mismatch");
    refused(&direct("compute.node02"), "topic-mismatch");
    ok(&direct("conductor"));
    ok(&countersign_conductor(t, "rpc.signed", "kept.fwd", &[]));
    refused(
        &validate(t, "kept.fwd", &["--topic", "scheduler"]),
        "topic-mismatch",
    );
    ok(&countersign_conductor(
        t,
        "rpc.signed",
        "rebound.fwd",
        &["--topic", "scheduler"],
    ));
    ok(&validate(t, "rebound.fwd", &["--topic", "scheduler"]));
    // fedmsg-style: the message's own topic; another --topic is refused, never ignored.
    ok(&sign_bodhi(t, "msg.json", "msg.signed", &[]));
    refused(
        &validate(
            t,
            "msg.signed",
            &["--topic", "org.example.prod.bodhi.update.request"],
        ),
        "topic-mismatch",
    );
    ok(&validate(
        t,
        "msg.signed",
        &["--topic", "org.example.prod.bodhi.update.comment"],
    ));
    refused(
        &sign_bodhi(
            t,
            "msg.json",
            "other.signed",
            &["--topic", "org.example.prod.bodhi.x"],
        ),
        "topic-mismatch",
    );
    assert!(!t.join("other.signed").exists());
}

// Item 3.
#[test]
fn replays_across_processes_and_future_signing_times() {
    let tmp = setup();
    let t = tmp.path();
    ok(&sign_bodhi(t, "msg.json", "msg.signed", &[]));
    // Without a shared cache each process remembers nothing (positive twin).
    ok(&validate(t, "msg.signed", &[]));
    ok(&validate(t, "msg.signed", &[]));
    // With one, the second process refuses the replay.
    ok(&validate(t, "msg.signed", &["--replay-cache", "seen.txt"]));
    // The journal: the header, the admission, and its settlement (the command's verdict
    // is its acknowledgement).
    let cache = std::fs::read_to_string(t.join("seen.txt")).unwrap();
    let lines: Vec<&str> = cache.lines().collect();
    assert!(
        lines.len() == 3
            && lines[0] == "waxseal-replay-cache 1"
            && lines[2] == format!("{} s", lines[1]),
        "{cache}"
    );
    refused(
        &validate(t, "msg.signed", &["--replay-cache", "seen.txt"]),
        "replayed",
    );
    // Re-encoded (pretty-printed) it is still the same message.
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(t.join("msg.signed")).unwrap()).unwrap();
    std::fs::write(
        t.join("pretty.json"),
        serde_json::to_string_pretty(&v).unwrap(),
    )
    .unwrap();
    refused(
        &validate(t, "pretty.json", &["--replay-cache", "seen.txt"]),
        "replayed",
    );
    // Concurrent processes on one cache: exactly one accepts.
    let children: Vec<_> = (0..4)
        .map(|_| {
            std::process::Command::new(env!("CARGO_BIN_EXE_waxseal"))
                .args([
                    "msg",
                    "validate",
                    "--config",
                    "bus.json",
                    "--replay-cache",
                    "race.txt",
                    "--in",
                    "msg.signed",
                ])
                .current_dir(t)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    let codes: Vec<i32> = children
        .into_iter()
        .map(|mut c| c.wait().unwrap().code().unwrap())
        .collect();
    assert_eq!(codes.iter().filter(|c| **c == 0).count(), 1, "{codes:?}");
    assert_eq!(codes.iter().filter(|c| **c == 1).count(), 3, "{codes:?}");
    // A corrupt cache file is an error (exit 2), never an empty cache.
    std::fs::write(t.join("bad.txt"), "not a cache\n").unwrap();
    assert_eq!(
        validate(t, "msg.signed", &["--replay-cache", "bad.txt"])
            .status
            .code(),
        Some(2)
    );
    // Signed after the verification time by more than the allowed skew (here 60 s; the
    // CRL made at setup would not be valid yet, so this configuration has none).
    std::fs::write(
        t.join("skew.json"),
        r#"{"trust": ["pki/root-ca.crt"], "certs": ["pki/signing-ca.crt"],
            "freshness": {"clock_skew_secs": 60}}"#,
    )
    .unwrap();
    let now = waxseal_trust::time::now();
    let at = |secs: u64| {
        validate_with(
            t,
            "skew.json",
            &[
                "--json",
                "--in",
                "msg.signed",
                "--at",
                &waxseal_trust::time::format(secs),
            ],
        )
    };
    refused(&at(now - 600), "signing-time-in-future");
    ok(&at(now - 20));
}

// Item 4.
#[test]
fn numbers_are_exact_or_refused_and_never_rewritten() {
    let tmp = setup();
    let t = tmp.path();
    std::fs::write(
        t.join("pay.json"),
        r#"{"topic": "org.example.prod.bodhi.update.comment", "msg": {"amount": 9007199254740992, "price": 1.10, "e": 1E2}}"#,
    )
    .unwrap();
    ok(&sign_bodhi(t, "pay.json", "pay.signed", &[]));
    let signed = std::fs::read_to_string(t.join("pay.signed")).unwrap();
    assert!(
        signed.contains(r#""msg": {"amount": 9007199254740992, "price": 1.10, "e": 1E2}"#),
        "numbers exactly as given: {signed}"
    );
    ok(&validate(t, "pay.signed", &[]));
    // Altered to a neighbour that a double cannot tell apart: refused.
    std::fs::write(
        t.join("altered.json"),
        signed.replace("9007199254740992", "9007199254740993"),
    )
    .unwrap();
    refused(&validate(t, "altered.json", &[]), "inexact-number");
    // Refused at signing, nothing written.
    std::fs::write(
        t.join("big.json"),
        r#"{"topic": "org.example.prod.bodhi.update.comment", "msg": {"amount": 12345678901234567891}}"#,
    )
    .unwrap();
    refused(
        &sign_bodhi(t, "big.json", "big.signed", &[]),
        "inexact-number",
    );
    assert!(!t.join("big.signed").exists());
    std::fs::write(
        t.join("rpcbig.json"),
        r#"{"method": "select_destinations", "args": {"host": "node01.example.org", "n": 0.1000000000000000000001}}"#,
    )
    .unwrap();
    let o = sign_oslo(t, "scheduler", "rpcbig.json", "rpcbig.signed", &["--json"]);
    refused(&o, "inexact-number");
    assert!(!t.join("rpcbig.signed").exists());
}
