//! `waxseal demo`: every verdict the expected one, the JSON report, the kept directory
//! whose messages re-check with `waxseal msg validate`, and a non-empty `--dir` refused.

use std::path::Path;
use std::process::{Command, Output};

fn waxseal(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_waxseal"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

#[test]
fn demo_reports_every_expected_verdict_and_keeps_what_it_made() {
    let tmp = tempfile::tempdir().unwrap();
    let o = waxseal(tmp.path(), &["demo", "--dir", "run", "--json"]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["ok"], true);
    let verdicts: Vec<(&str, &str, &str)> = report["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            assert_eq!(c["ok"], true, "{c}");
            (
                c["verdict"].as_str().unwrap(),
                c["checked_by"].as_str().unwrap(),
                c["message"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        verdicts,
        [
            ("accepted", "scheduler", "messages/1-accepted.json"),
            (
                "claim-mismatch",
                "scheduler",
                "messages/2-impersonation.json"
            ),
            (
                "message-digest-mismatch",
                "scheduler",
                "messages/3-tampered.json"
            ),
            (
                "required-hop-missing",
                "scheduler",
                "messages/4-hop-skipped.json"
            ),
            (
                "routing-policy-denied",
                "scheduler",
                "messages/5-wrong-topic.json"
            ),
            ("revoked", "conductor", "messages/6-revoked.json"),
        ]
    );
    // Three algorithms among the service keys, as the PKI inventory records them.
    let algorithms: std::collections::BTreeSet<&str> = report["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s[1].as_str().unwrap())
        .collect();
    assert_eq!(
        algorithms,
        ["ed25519", "p256", "rsa2048"].into_iter().collect()
    );
    assert_eq!(
        report["accepted"]["entity"]["id"],
        "compute-node01.example.org"
    );
    assert_eq!(report["accepted"]["hops"].as_array().unwrap().len(), 2);

    // The kept messages re-check the same way with the ordinary command.
    let run = tmp.path().join("run");
    let check = |topic: &str, file: &str| {
        waxseal(
            &run,
            &[
                "msg",
                "validate",
                "--config",
                "scheduler.json",
                "--topic",
                topic,
                "--in",
                file,
            ],
        )
    };
    assert_eq!(
        check("scheduler", "messages/1-accepted.json").status.code(),
        Some(0)
    );
    let tampered = check("scheduler", "messages/3-tampered.json");
    assert_eq!(tampered.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&tampered.stderr).contains("message digest"));
    assert_eq!(
        check("scheduler-admin", "messages/5-wrong-topic.json")
            .status
            .code(),
        Some(1)
    );
}

#[test]
fn demo_text_report_is_readable_and_a_used_directory_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let o = waxseal(tmp.path(), &["demo"]);
    assert_eq!(o.status.code(), Some(0));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("hop 1  conductor-node01.example.org"),
        "{text}"
    );
    assert!(text.contains("refused: claim-mismatch"), "{text}");
    assert!(text.contains("6/6 verdicts as expected"), "{text}");
    assert!(!text.contains("FAIL"), "{text}");

    std::fs::write(tmp.path().join("keep.txt"), "mine").unwrap();
    let o = waxseal(tmp.path(), &["demo", "--dir", "."]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("not empty"), "{err}");
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("keep.txt")).unwrap(),
        "mine"
    );
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 1);
}
