//! `waxseal pki ...` from the command line: the operator walk-through of the README, and
//! the refusals (exit 2 for bad input, 1 for refusals) that leave the disk unchanged.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::{code, run, stderr as err, stdout as out};

/// `waxseal pki issue --dir pki` followed by `args`.
fn issue(dir: &Path, args: &[&str]) -> Output {
    let mut all = vec!["pki", "issue", "--dir", "pki"];
    all.extend_from_slice(args);
    run(dir, &all)
}

/// `waxseal pki doctor` on `pki/` for the host the walk-throughs use.
fn doctor(dir: &Path) -> Output {
    run(
        dir,
        &[
            "pki",
            "doctor",
            "--dir",
            "pki",
            "--hostname",
            "app01.example.org",
        ],
    )
}

fn listing(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn operator_walk_through() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    std::fs::write(
        t.join("seed.json"),
        r#"{"C": "US", "O": "Example Org", "OU": "Messaging"}"#,
    )
    .unwrap();
    let o = run(
        t,
        &[
            "pki",
            "init",
            "--dir",
            "pki",
            "--seed",
            "seed.json",
            "--algorithm",
            "p256",
        ],
    );
    assert_eq!(code(&o), 0, "{}", err(&o));
    assert!(out(&o).contains("trust anchor for verifiers"));

    let o = issue(t, &["bodhi-app01.example.org", "fas-localhost.localdomain"]);
    assert_eq!(code(&o), 0, "{}", err(&o));

    // Sign with an issued key and verify with revocation through the envelope commands.
    std::fs::write(t.join("msg.json"), b"{\"topic\": \"bodhi\"}").unwrap();
    let o = run(
        t,
        &[
            "sign",
            "--cert",
            "pki/bodhi-app01.example.org.crt",
            "--key",
            "pki/bodhi-app01.example.org.key",
            "--chain",
            "pki/signing-ca.crt",
            "--in",
            "msg.json",
            "--out",
            "msg.p7m",
        ],
    );
    assert_eq!(code(&o), 0, "{}", err(&o));
    let o = run(
        t,
        &[
            "verify",
            "--trust",
            "pki/root-ca.crt",
            "--crl",
            "pki/crl.pem",
            "--in",
            "msg.p7m",
            "--json",
        ],
    );
    assert_eq!(code(&o), 0, "{}", err(&o));
    assert!(out(&o).contains("\"revocation_checked\": true"));
    let o = run(
        t,
        &[
            "cert",
            "verify",
            "--trust",
            "pki/root-ca.crt",
            "--untrusted",
            "pki",
            "--crl",
            "pki/crl.pem",
            "pki/bodhi-app01.example.org.crt",
        ],
    );
    assert_eq!(code(&o), 0, "{}", err(&o));

    // Doctor: the temporary identity, one line with its fix; exit 1.
    let o = doctor(t);
    assert_eq!(code(&o), 1);
    let lines: Vec<String> = out(&o).lines().map(str::to_owned).collect();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].contains(
        "fix: waxseal pki reseed --dir pki --from localhost.localdomain --to app01.example.org"
    ));

    // Reseed, twice: the second run changes nothing.
    let o = run(
        t,
        &[
            "pki",
            "reseed",
            "--dir",
            "pki",
            "--from",
            "localhost.localdomain",
            "--to",
            "app01.example.org",
        ],
    );
    assert_eq!(code(&o), 0, "{}", err(&o));
    assert!(out(&o).contains("issued fas-app01.example.org"));
    let before = listing(&t.join("pki"));
    let o = run(
        t,
        &[
            "pki",
            "reseed",
            "--dir",
            "pki",
            "--from",
            "localhost.localdomain",
            "--to",
            "app01.example.org",
        ],
    );
    assert_eq!(code(&o), 0);
    assert!(out(&o).contains("nothing to do"));
    assert_eq!(listing(&t.join("pki")), before);
    let o = doctor(t);
    assert_eq!(code(&o), 0, "{}", out(&o));

    // Revoke: the envelope is now refused.
    let o = run(
        t,
        &[
            "pki",
            "revoke",
            "--dir",
            "pki",
            "bodhi-app01.example.org",
            "--reason",
            "keyCompromise",
        ],
    );
    assert_eq!(code(&o), 0, "{}", err(&o));
    assert!(out(&o).contains("CRL #"));
    let o = run(
        t,
        &[
            "verify",
            "--trust",
            "pki/root-ca.crt",
            "--crl",
            "pki/crl.pem",
            "--in",
            "msg.p7m",
        ],
    );
    assert_eq!(code(&o), 1);
    assert!(err(&o).contains("revoked"));

    // A fresh CRL, in PEM and DER.
    let o = run(
        t,
        &["pki", "crl", "--dir", "pki", "--next-update", "7d", "--der"],
    );
    assert_eq!(code(&o), 0, "{}", err(&o));
    assert!(t.join("pki/crl.der").exists());
    let o = run(t, &["pki", "list", "--dir", "pki"]);
    assert!(out(&o).contains("revoked") && out(&o).contains("active until"));

    // Rebuild needs --yes.
    let before = listing(&t.join("pki"));
    let o = run(t, &["pki", "rebuild", "--dir", "pki"]);
    assert_eq!(code(&o), 2);
    assert!(err(&o).contains("--yes"));
    assert_eq!(listing(&t.join("pki")), before);
    let o = run(t, &["pki", "rebuild", "--dir", "pki", "--yes"]);
    assert_eq!(code(&o), 0, "{}", err(&o));
    assert!(out(&o).contains("re-issued"));
    assert_ne!(
        std::fs::read(t.join("pki/root-ca.crt")).unwrap(),
        before.iter().find(|(n, _)| n == "root-ca.crt").unwrap().1
    );
}

#[test]
fn bad_input_exits_with_one_line_and_changes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    // Malformed seed: exit 2, no directory created.
    std::fs::write(t.join("seed.json"), r#"{"Country": "US"}"#).unwrap();
    let o = run(t, &["pki", "init", "--dir", "pki", "--seed", "seed.json"]);
    assert_eq!(code(&o), 2);
    assert_eq!(err(&o).lines().count(), 1, "{}", err(&o));
    assert!(!t.join("pki").exists());
    // Not a PKI.
    std::fs::create_dir(t.join("plain")).unwrap();
    let o = run(
        t,
        &["pki", "issue", "--dir", "plain", "bodhi-app01.example.org"],
    );
    assert_eq!(code(&o), 2);
    assert!(err(&o).contains("not a waxseal PKI"));
    assert_eq!(std::fs::read_dir(t.join("plain")).unwrap().count(), 0);

    assert_eq!(code(&run(t, &["pki", "init", "--dir", "pki"])), 0);
    let before = listing(&t.join("pki"));
    for bad in [
        vec!["pki", "issue", "--dir", "pki", "bodhi"],
        vec!["pki", "issue", "--dir", "pki", "bodhi-app01"],
        vec!["pki", "issue", "--dir", "pki", "Bodhi-app01.example.org"],
        vec!["pki", "revoke", "--dir", "pki", "nobody-app01.example.org"],
        vec!["pki", "crl", "--dir", "pki", "--next-update", "soon"],
        vec!["pki", "init", "--dir", "pki"],
        vec![
            "pki",
            "reseed",
            "--dir",
            "pki",
            "--from",
            "a.example.org",
            "--to",
            "a.example.org",
        ],
    ] {
        let o = run(t, &bad);
        assert_eq!(code(&o), 2, "{bad:?}: {}", err(&o));
        assert!(
            err(&o).starts_with("waxseal: error: "),
            "{bad:?}: {}",
            err(&o)
        );
        assert_eq!(err(&o).lines().count(), 1, "{bad:?}: {}", err(&o));
        assert_eq!(
            listing(&t.join("pki")),
            before,
            "{bad:?} changed the directory"
        );
    }
    // A second live certificate is refused like a second PKI: exit 2, one line, nothing
    // changed, the way out named.
    assert_eq!(
        code(&run(
            t,
            &["pki", "issue", "--dir", "pki", "bodhi-app01.example.org"]
        )),
        0
    );
    let before = listing(&t.join("pki"));
    let o = run(
        t,
        &["pki", "issue", "--dir", "pki", "bodhi-app01.example.org"],
    );
    assert_eq!(code(&o), 2);
    assert!(err(&o).starts_with("waxseal: error: "), "{}", err(&o));
    assert!(err(&o).contains("--renew"));
    assert_eq!(listing(&t.join("pki")), before);
    let o = run(t, &["pki", "init", "--dir", "pki"]);
    assert_eq!(code(&o), 2);
    assert!(err(&o).starts_with("waxseal: error: "), "{}", err(&o));
    assert!(err(&o).contains("already holds a PKI"), "{}", err(&o));
    assert_eq!(listing(&t.join("pki")), before);
    // A CA key with loose permissions.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(
        t.join("pki/signing-ca.key"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let before = listing(&t.join("pki"));
    let o = run(
        t,
        &["pki", "issue", "--dir", "pki", "fas-app02.example.org"],
    );
    assert_eq!(code(&o), 2);
    assert!(err(&o).contains("chmod 600"), "{}", err(&o));
    assert_eq!(listing(&t.join("pki")), before);
    let o = issue(t, &["fas-app02.example.org", "--insecure-key-permissions"]);
    assert_eq!(code(&o), 0, "{}", err(&o));
    // A missing CA key.
    std::fs::remove_file(t.join("pki/signing-ca.key")).unwrap();
    let o = run(
        t,
        &["pki", "issue", "--dir", "pki", "koji-app03.example.org"],
    );
    assert_eq!(code(&o), 2);
    assert!(err(&o).contains("signing-ca.key is missing"), "{}", err(&o));
    assert!(!t.join("pki/koji-app03.example.org.key").exists());
}

fn openssl_verify(t: &Path, file: &str) -> Output {
    Command::new("openssl")
        .args([
            "verify",
            "-CAfile",
            "pki/root-ca.crt",
            "-CRLfile",
            "pki/crl.pem",
            "-crl_check",
            file,
        ])
        .current_dir(t)
        .output()
        .expect("the openssl command is required for interop tests (apt-get install openssl)")
}

#[test]
fn single_tier_pki_for_fedmsg() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let o = run(
        t,
        &[
            "pki",
            "init",
            "--dir",
            "pki",
            "--single-tier",
            "--algorithm",
            "rsa2048",
        ],
    );
    assert_eq!(code(&o), 0, "{}", err(&o));
    assert!(out(&o).contains("single-tier"), "{}", out(&o));
    assert!(!t.join("pki/signing-ca.crt").exists());
    let o = issue(t, &["bodhi-app01.example.org", "fas-app02.example.org"]);
    assert_eq!(code(&o), 0, "{}", err(&o));
    let o = run(t, &["pki", "list", "--dir", "pki"]);
    assert!(out(&o).contains("rsa2048, single-tier"), "{}", out(&o));

    // One CA certificate and one CRL, no intermediates: what fedmsg trusts.
    for f in [
        "pki/bodhi-app01.example.org.crt",
        "pki/fas-app02.example.org.crt",
    ] {
        let o = openssl_verify(t, f);
        assert!(o.status.success(), "{f}: {}{}", out(&o), err(&o));
    }
    std::fs::copy(t.join("pki/fas-app02.example.org.crt"), t.join("fas.crt")).unwrap();

    // Signing needs no --chain; waxseal verifies against the root with the CRL.
    std::fs::write(t.join("msg.json"), b"{\"topic\": \"bodhi\"}").unwrap();
    let sign = |name: &str, outfile: &str| {
        run(
            t,
            &[
                "sign",
                "--cert",
                &format!("pki/{name}.crt"),
                "--key",
                &format!("pki/{name}.key"),
                "--in",
                "msg.json",
                "--out",
                outfile,
            ],
        )
    };
    let o = sign("fas-app02.example.org", "fas.p7m");
    assert_eq!(code(&o), 0, "{}", err(&o));
    let verify = |file: &str| {
        run(
            t,
            &[
                "verify",
                "--trust",
                "pki/root-ca.crt",
                "--crl",
                "pki/crl.pem",
                "--in",
                file,
            ],
        )
    };
    let o = verify("fas.p7m");
    assert_eq!(code(&o), 0, "{}", err(&o));

    // Revoked: openssl and waxseal both refuse it; the live one still passes.
    let o = run(
        t,
        &["pki", "revoke", "--dir", "pki", "fas-app02.example.org"],
    );
    assert_eq!(code(&o), 0, "{}", err(&o));
    let o = openssl_verify(t, "fas.crt");
    assert!(!o.status.success());
    assert!(
        out(&o).contains("certificate revoked") || err(&o).contains("certificate revoked"),
        "{}{}",
        out(&o),
        err(&o)
    );
    let o = verify("fas.p7m");
    assert_eq!(code(&o), 1, "{}", err(&o));
    assert!(err(&o).contains("revoked"), "{}", err(&o));
    let o = openssl_verify(t, "pki/bodhi-app01.example.org.crt");
    assert!(o.status.success(), "{}{}", out(&o), err(&o));

    // The later commands keep the layout: crl, renew, reseed, rebuild, doctor.
    let o = run(t, &["pki", "crl", "--dir", "pki", "--der"]);
    assert_eq!(code(&o), 0, "{}", err(&o));
    let o = issue(t, &["--renew", "bodhi-app01.example.org"]);
    assert_eq!(code(&o), 0, "{}", err(&o));
    let o = run(t, &["pki", "rebuild", "--dir", "pki", "--yes"]);
    assert_eq!(code(&o), 0, "{}", err(&o));
    assert!(!t.join("pki/signing-ca.crt").exists());
    let o = openssl_verify(t, "pki/bodhi-app01.example.org.crt");
    assert!(o.status.success(), "{}{}", out(&o), err(&o));
    let o = doctor(t);
    assert_eq!(code(&o), 0, "{}{}", out(&o), err(&o));

    // The default is still two-tier.
    let o = run(t, &["pki", "init", "--dir", "two"]);
    assert_eq!(code(&o), 0, "{}", err(&o));
    assert!(out(&o).contains("signing CA:"), "{}", out(&o));
    assert!(t.join("two/signing-ca.crt").exists());
}
