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

// Issue 10, item 3: a hop signed after the verification time plus the clock skew is
// refused, whatever `--max-age` says; nothing is written to `--out`.
#[test]
fn a_hop_signed_in_the_future_is_refused() {
    use waxseal_envelope::{EnvelopeBuilder, Signer};
    use waxseal_pki::{Issued, TestPki};
    use waxseal_slip::{DEFAULT_MAX_HOPS, append_hop};
    use waxseal_trust::{KeyAlgorithm, PrivateKey, time};

    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let pki = TestPki::new(KeyAlgorithm::P256).unwrap();
    std::fs::write(t.join("root.pem"), pki.root.cert.to_pem()).unwrap();
    let compute = pki
        .leaf("compute-node01.example.org", KeyAlgorithm::P256)
        .unwrap();
    let conductor = pki
        .leaf("conductor-node01.example.org", KeyAlgorithm::P256)
        .unwrap();
    let signer = |i: &Issued, at: u64| {
        let key = PrivateKey::from_bytes(i.key.to_pkcs8_pem().as_bytes()).unwrap();
        Signer::new(i.cert.clone(), key)
            .unwrap()
            .with_chain(vec![pki.ca.cert.clone()])
            .with_signing_time(at)
    };
    // The fixed verification time: when the PKI was made.
    let at = pki.now;
    // Origin signed at `at`, hop 1 at `hop1`.
    let write = |name: &str, hop1: u64| {
        let mut env = EnvelopeBuilder::new(b"{\"method\": \"select_destinations\"}")
            .add_signer(&signer(&compute, at))
            .build()
            .unwrap();
        append_hop(
            &mut env,
            0,
            &signer(&conductor, hop1),
            true,
            DEFAULT_MAX_HOPS,
        )
        .unwrap();
        std::fs::write(t.join(name), env.to_der()).unwrap();
    };
    write("future.der", at + 301);
    write("skew.der", at + 300);
    let at_text = time::format(at);
    let verify = |input: &str, extra: &[&str]| {
        let mut args = vec![
            "slip",
            "verify",
            "--trust",
            "root.pem",
            "--at",
            &at_text,
            "--max-age",
            "10m",
            "--json",
            "--in",
            input,
            "--out",
            "content.out",
        ];
        args.extend_from_slice(extra);
        run(t, &args)
    };
    // Hop 1 signed 301 s after the verification time (default skew 5m): exit 1.
    let o = verify("future.der", &[]);
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    let report = json(&o);
    assert_eq!(
        (report["reason"].as_str(), report["hop"].as_u64()),
        (Some("signing-time-in-future"), Some(1))
    );
    assert!(!t.join("content.out").exists(), "nothing written to --out");
    // A smaller --clock-skew refuses a time the default would accept.
    let o = verify("skew.der", &["--clock-skew", "1m"]);
    assert_eq!(json(&o)["reason"], "signing-time-in-future");
    assert!(!t.join("content.out").exists());
    // Positive twins: exactly at the skew, and a future time within a larger --clock-skew.
    let report = json(&verify("skew.der", &[]));
    assert_eq!(report["hops"].as_array().map(Vec::len), Some(2), "{report}");
    assert_eq!(
        std::fs::read(t.join("content.out")).unwrap(),
        b"{\"method\": \"select_destinations\"}"
    );
    std::fs::remove_file(t.join("content.out")).unwrap();
    ok(&verify("future.der", &["--clock-skew", "6m"]));
    assert!(t.join("content.out").exists());
}
