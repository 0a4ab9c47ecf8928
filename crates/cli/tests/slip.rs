//! `waxseal countersign` and `waxseal slip verify`: the README walk-through, RFC 4134's
//! two-hop example, and the rejections with their exit status and reason codes.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn run(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_waxseal"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

fn ok(o: &Output) -> String {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap()
}

#[test]
fn three_services_sign_the_route() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    ok(&run(
        t,
        &["pki", "init", "--dir", "pki", "--algorithm", "p256"],
    ));
    ok(&run(
        t,
        &[
            "pki",
            "issue",
            "--dir",
            "pki",
            "compute-node01.example.org",
            "conductor-node01.example.org",
            "scheduler-node01.example.org",
            "compute-node02.example.org",
        ],
    ));
    std::fs::write(t.join("req.json"), br#"{"method": "select_destinations"}"#).unwrap();
    let key = |n: &str| (format!("pki/{n}.crt"), format!("pki/{n}.key"));
    let (c, k) = key("compute-node01.example.org");
    ok(&run(
        t,
        &[
            "sign",
            "--cert",
            &c,
            "--key",
            &k,
            "--chain",
            "pki/signing-ca.crt",
            "--in",
            "req.json",
            "--out",
            "hop0.der",
        ],
    ));
    let (c, k) = key("conductor-node01.example.org");
    ok(&run(
        t,
        &[
            "countersign",
            "--cert",
            &c,
            "--key",
            &k,
            "--role",
            "conductor",
            "--action",
            "forwarded",
            "--in",
            "hop0.der",
            "--out",
            "hop1.der",
        ],
    ));
    let (c, k) = key("scheduler-node01.example.org");
    ok(&run(
        t,
        &[
            "countersign",
            "--cert",
            &c,
            "--key",
            &k,
            "--role",
            "scheduler",
            "--outform",
            "pem",
            "--in",
            "hop1.der",
            "--out",
            "hop2.pem",
        ],
    ));

    let route =
        "compute-node01.example.org,conductor-node01.example.org,scheduler-node01.example.org";
    let out = ok(&run(
        t,
        &[
            "slip",
            "verify",
            "--trust",
            "pki/root-ca.crt",
            "--crl",
            "pki/crl.pem",
            "--expect",
            route,
            "--in",
            "hop2.pem",
            "--out",
            "req.out",
        ],
    ));
    assert!(
        out.contains("route verified: 3 hop(s)")
            && out.contains("[role conductor, action forwarded]"),
        "{out}"
    );
    assert_eq!(
        std::fs::read(t.join("req.out")).unwrap(),
        std::fs::read(t.join("req.json")).unwrap()
    );
    let o = run(
        t,
        &[
            "slip",
            "verify",
            "--trust",
            "pki/root-ca.crt",
            "--json",
            "--in",
            "hop2.pem",
        ],
    );
    let report = json(&o);
    assert_eq!(report["hops"][2]["role"], "scheduler");
    assert_eq!(report["hops"].as_array().unwrap().len(), 3);

    // inspect shows the route as a tree.
    let out = ok(&run(t, &["inspect", "--in", "hop2.pem"]));
    assert!(
        out.contains("countersignature (hop 1)") && out.contains("countersignature (hop 2)"),
        "{out}"
    );

    // The plain verifier (and openssl, see the library tests) still accepts the origin.
    ok(&run(
        t,
        &[
            "verify",
            "--trust",
            "pki/root-ca.crt",
            "--in",
            "hop2.pem",
            "--out",
            "plain.out",
        ],
    ));

    // A skipped hop: exit 1, reason and hop in the JSON.
    let o = run(
        t,
        &[
            "slip",
            "verify",
            "--trust",
            "pki/root-ca.crt",
            "--expect",
            route,
            "--json",
            "--in",
            "hop1.der",
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    let report = json(&o);
    assert_eq!(
        (report["reason"].as_str(), report["hop"].as_u64()),
        (Some("hop-missing"), Some(2))
    );
    // A loop.
    let (c, k) = key("compute-node01.example.org");
    ok(&run(
        t,
        &[
            "countersign",
            "--cert",
            &c,
            "--key",
            &k,
            "--in",
            "hop1.der",
            "--out",
            "loop.der",
        ],
    ));
    let o = run(
        t,
        &[
            "slip",
            "verify",
            "--trust",
            "pki/root-ca.crt",
            "--json",
            "--in",
            "loop.der",
        ],
    );
    assert_eq!(json(&o)["reason"], "repeated-hop");
    // A revoked conductor.
    ok(&run(
        t,
        &[
            "pki",
            "revoke",
            "--dir",
            "pki",
            "conductor-node01.example.org",
        ],
    ));
    let o = run(
        t,
        &[
            "slip",
            "verify",
            "--trust",
            "pki/root-ca.crt",
            "--crl",
            "pki/crl.pem",
            "--json",
            "--in",
            "hop2.pem",
        ],
    );
    let report = json(&o);
    assert_eq!(
        (report["reason"].as_str(), report["hop"].as_u64()),
        (Some("revoked"), Some(1))
    );
    // Bad arguments: exit 2.
    let o = run(
        t,
        &[
            "slip",
            "verify",
            "--trust",
            "pki/root-ca.crt",
            "--max-age",
            "soon",
            "--in",
            "hop2.pem",
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    let o = run(
        t,
        &[
            "countersign",
            "--cert",
            &c,
            "--key",
            &k,
            "--in",
            "hop1.der",
            "--out",
            "loop.der",
        ],
    );
    assert_eq!(o.status.code(), Some(2), "existing output needs --force");
}

#[test]
fn rfc4134_example_4_4_from_the_command_line() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/vectors/rfc4134");
    assert!(
        dir.is_dir(),
        "shared test vectors missing at {}",
        dir.display()
    );
    let args = [
        "slip",
        "verify",
        "--trust",
        "CarlRSASelf.cer",
        "--trust",
        "CarlDSSSelf.cer",
        "--expect",
        "AliceDSS,AliceRSA",
        "--in",
        "4.4.bin",
        // A fixed time inside the examples' validity (1999 to 2039), not the real clock.
        "--at",
        "2010-06-01T00:00:00Z",
    ];
    let mut legacy = args.to_vec();
    legacy.push("--allow-sha1");
    let out = ok(&run(&dir, &legacy));
    assert!(
        out.contains("hop 0: AliceDSS") && out.contains("hop 1: AliceRSA"),
        "{out}"
    );
    let o = run(&dir, &args);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("sha1"));
}
