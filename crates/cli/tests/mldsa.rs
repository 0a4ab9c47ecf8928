//! ML-DSA from the command line: `waxseal pki init/issue --algorithm ml-dsa-*`, a bus
//! directory whose CA and services sign with ML-DSA (and mixed with ECDSA), `waxseal sign`
//! and `verify`, `waxseal speed --algorithm ml-dsa-*`, and the refusals.

mod common;

use std::path::Path;
use std::process::Output;

use common::{code, run, stderr as err, stdout as out};

fn ok(o: &Output) -> String {
    assert_eq!(code(o), 0, "{}{}", out(o), err(o));
    out(o)
}

fn init(t: &Path, dir: &str, alg: &str) {
    ok(&run(t, &["pki", "init", "--dir", dir, "--algorithm", alg]));
}

fn sign(t: &Path, dir: &str, host: &str, out_file: &str, extra: &[&str]) -> Output {
    let cert = format!("{dir}/{host}.crt");
    let key = format!("{dir}/{host}.key");
    let chain = format!("{dir}/signing-ca.crt");
    let mut args = vec![
        "sign", "--cert", &cert, "--key", &key, "--chain", &chain, "--in", "msg.json", "--out",
        out_file,
    ];
    args.extend_from_slice(extra);
    run(t, &args)
}

fn verify(t: &Path, dir: &str, input: &str) -> Output {
    let root = format!("{dir}/root-ca.crt");
    let crl = format!("{dir}/crl.pem");
    run(
        t,
        &[
            "verify", "--trust", &root, "--crl", &crl, "--in", input, "--json",
        ],
    )
}

fn reason(o: &Output) -> String {
    assert_eq!(code(o), 1, "{}{}", out(o), err(o));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    report["reason"].as_str().unwrap().to_owned()
}

#[test]
fn pki_of_every_parameter_set_signs_and_verifies_with_revocation() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    std::fs::write(t.join("msg.json"), b"{\"topic\": \"org.example.pq\"}").unwrap();
    for n in ["44", "65", "87"] {
        let dir = format!("pki{n}");
        let alg = format!("ml-dsa-{n}");
        init(t, &dir, &alg);
        ok(&run(
            t,
            &["pki", "issue", "--dir", &dir, "pq-app01.example.org"],
        ));
        let listing = ok(&run(t, &["pki", "list", "--dir", &dir]));
        assert!(listing.contains(&alg), "{listing}");
        // The key file is the RFC 9881 seed form: PKCS #8 of 54 bytes.
        let key = std::fs::read(t.join(format!("{dir}/pq-app01.example.org.key"))).unwrap();
        let parsed = waxseal_trust::PrivateKey::from_bytes(&key).unwrap();
        assert_eq!(parsed.to_pkcs8_der().len(), 54, "{alg}");
        assert_eq!(parsed.algorithm().name(), alg);
        for (i, extra) in [vec![], vec!["--no-attrs"], vec!["--detached"]]
            .iter()
            .enumerate()
        {
            let env = format!("env{n}-{i}");
            let o = sign(t, &dir, "pq-app01.example.org", &env, extra);
            ok(&o);
            let o = if extra.contains(&"--detached") {
                let root = format!("{dir}/root-ca.crt");
                run(
                    t,
                    &[
                        "verify",
                        "--trust",
                        &root,
                        "--in",
                        &env,
                        "--content",
                        "msg.json",
                        "--json",
                    ],
                )
            } else {
                verify(t, &dir, &env)
            };
            let report: serde_json::Value = serde_json::from_str(&ok(&o)).unwrap();
            assert_eq!(report["signers"][0]["signature_algorithm"], alg);
            assert_eq!(report["signers"][0]["digest"], "sha512");
        }
        // A digest too weak for the parameter set is refused when signing (exit 2 or 1,
        // nothing written); SHA-256 is enough for ML-DSA-44 only.
        let o = sign(
            t,
            &dir,
            "pq-app01.example.org",
            &format!("weak{n}"),
            &["--digest", "sha256"],
        );
        assert_eq!(code(&o) == 0, n == "44", "{alg}: {}", err(&o));
        assert_eq!(t.join(format!("weak{n}")).exists(), n == "44");
    }
    // Revoked: the service's certificate on the CRL.
    ok(&run(
        t,
        &["pki", "revoke", "--dir", "pki65", "pq-app01.example.org"],
    ));
    assert_eq!(reason(&verify(t, "pki65", "env65-0")), "revoked");
    // Another ML-DSA PKI does not vouch for it: its root has the same name (the default
    // seed) and another parameter set, so the signing CA's signature is refused.
    assert_eq!(
        reason(&verify(t, "pki44", "env87-0")),
        "certificate-algorithm"
    );
    // A flipped signature byte is refused.
    let mut bytes = std::fs::read(t.join("env87-0")).unwrap();
    let last = bytes.len() - 5;
    bytes[last] ^= 1;
    std::fs::write(t.join("forged"), &bytes).unwrap();
    assert_eq!(reason(&verify(t, "pki87", "forged")), "bad-signature");
}

#[test]
fn mixed_buses_ml_dsa_ca_over_ecdsa_services_and_the_reverse() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    std::fs::write(t.join("msg.json"), b"{\"topic\": \"org.example.mixed\"}").unwrap();
    for (dir, ca, service) in [
        ("pq-ca", "ml-dsa-65", "p256"),
        ("ec-ca", "p384", "ml-dsa-44"),
    ] {
        init(t, dir, ca);
        ok(&run(
            t,
            &[
                "pki",
                "issue",
                "--dir",
                dir,
                "--algorithm",
                service,
                "svc-app01.example.org",
            ],
        ));
        ok(&sign(
            t,
            dir,
            "svc-app01.example.org",
            &format!("{dir}.p7m"),
            &[],
        ));
        let report: serde_json::Value =
            serde_json::from_str(&ok(&verify(t, dir, &format!("{dir}.p7m")))).unwrap();
        let expected = if service == "p256" {
            "ecdsa-sha256"
        } else {
            "ml-dsa-44"
        };
        assert_eq!(
            report["signers"][0]["signature_algorithm"], expected,
            "{dir}"
        );
    }
    // Each PKI's envelope against the other's root (same names, the default seed; an
    // ML-DSA key where ECDSA signed, and the reverse): refused.
    assert_eq!(
        reason(&verify(t, "ec-ca", "pq-ca.p7m")),
        "certificate-algorithm"
    );
    assert_eq!(
        reason(&verify(t, "pq-ca", "ec-ca.p7m")),
        "certificate-algorithm"
    );
}

#[test]
fn unknown_parameter_sets_are_usage_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    for bad in ["ml-dsa-99", "ml-dsa", "mldsa65", "hash-ml-dsa-65"] {
        let o = run(t, &["pki", "init", "--dir", "pki", "--algorithm", bad]);
        assert_eq!(code(&o), 2, "{bad}");
        assert!(!t.join("pki").exists());
        let o = run(t, &["speed", "--algorithm", bad, "--seconds", "0.01"]);
        assert_eq!(code(&o), 2, "{bad}");
    }
}

#[test]
fn speed_has_a_row_for_each_parameter_set() {
    let tmp = tempfile::tempdir().unwrap();
    for n in ["44", "65", "87"] {
        let alg = format!("ml-dsa-{n}");
        let o = run(
            tmp.path(),
            &["speed", "--algorithm", &alg, "--seconds", "0.01", "--json"],
        );
        let report: serde_json::Value = serde_json::from_str(&ok(&o)).unwrap();
        let rows = report.as_array().unwrap();
        assert_eq!(rows.len(), 1, "{report}");
        assert_eq!(rows[0]["algorithm"], alg);
        assert_eq!(rows[0]["backend_sign"], "rustcrypto", "{report}");
        assert_eq!(rows[0]["backend_verify"], "rustcrypto", "{report}");
        assert!(
            rows[0]["verify_embedded_warm"].as_f64().unwrap() > 0.0,
            "{report}"
        );
        assert_eq!(rows[0]["errors"].as_array().unwrap().len(), 0, "{report}");
        assert!(rows[0]["sign_embedded"].as_f64().unwrap() > 0.0, "{report}");
    }
}
