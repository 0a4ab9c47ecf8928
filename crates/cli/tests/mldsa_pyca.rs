//! ML-DSA interop with pyca/cryptography 50.0.2 (OpenSSL 4.0's ML-DSA), both ways, through
//! `tests/interop/mldsa_pyca.py`:
//!
//! - pyca verifies what waxseal made (`waxseal pki`-style certificates from `TestPki`,
//!   envelopes from `waxseal sign`): certificate signatures over their TBS, SignerInfo
//!   signatures over the signed attributes' DER (SET OF tag) and over the content, and it
//!   reads waxseal's seed-form PKCS #8 keys;
//! - waxseal verifies what pyca made (certificates and every signature by pyca; the CMS
//!   structure assembled by the script), and signs with pyca's keys.
//!
//! Needs the venv scripts/test-all makes (target/mldsa-venv, `cryptography==50.0.2`), or
//! `WAXSEAL_MLDSA_PYTHON`. Without it the test says so and passes, unless
//! `WAXSEAL_REQUIRE_MLDSA_PYCA=1` (scripts/test-all sets it): then it fails.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{code, run, stderr as err, stdout as out, write_key};
use waxseal_pki::TestPki;
use waxseal_trust::KeyAlgorithm;
use waxseal_trust::mldsa::MlDsaParameterSet;

fn python() -> Option<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let p = std::env::var_os("WAXSEAL_MLDSA_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target/mldsa-venv/bin/python"));
    if p.exists() {
        return Some(p);
    }
    assert!(
        std::env::var_os("WAXSEAL_REQUIRE_MLDSA_PYCA").is_none(),
        "WAXSEAL_REQUIRE_MLDSA_PYCA is set but {} does not exist",
        p.display()
    );
    eprintln!(
        "skipped: no pyca venv at {} (scripts/test-all makes it)",
        p.display()
    );
    None
}

fn script(py: &Path, args: &[&str]) -> String {
    let s = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/interop/mldsa_pyca.py");
    let o = Command::new(py).arg(s).args(args).output().unwrap();
    assert!(o.status.success(), "{}{}", out(&o), err(&o));
    out(&o)
}

fn ok(o: &Output) -> String {
    assert_eq!(code(o), 0, "{}{}", out(o), err(o));
    out(o)
}

fn reason(o: &Output) -> String {
    assert_eq!(code(o), 1, "{}{}", out(o), err(o));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    report["reason"].as_str().unwrap().to_owned()
}

const SETS: [(MlDsaParameterSet, &str); 3] = [
    (MlDsaParameterSet::MlDsa44, "44"),
    (MlDsaParameterSet::MlDsa65, "65"),
    (MlDsaParameterSet::MlDsa87, "87"),
];

#[test]
fn pyca_verifies_waxseal_certificates_keys_and_signatures() {
    let Some(py) = python() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    std::fs::write(t.join("msg.json"), b"{\"topic\": \"org.example.pq\"}\n").unwrap();
    for (set, n) in SETS {
        let alg = KeyAlgorithm::MlDsa(set);
        let pki = TestPki::new(alg).unwrap();
        let leaf = pki.leaf(&format!("pq-{n}.example.org"), alg).unwrap();
        std::fs::write(t.join(format!("root-{n}.pem")), pki.root.cert.to_pem()).unwrap();
        std::fs::write(t.join(format!("ca-{n}.pem")), pki.ca.cert.to_pem()).unwrap();
        std::fs::write(t.join(format!("leaf-{n}.crt")), leaf.cert.to_pem()).unwrap();
        write_key(&t.join(format!("leaf-{n}.key")), &leaf.key);
        let (cert, key, ca) = (
            format!("leaf-{n}.crt"),
            format!("leaf-{n}.key"),
            format!("ca-{n}.pem"),
        );
        for (out_file, extra) in [
            (format!("env-{n}.der"), None),
            (format!("noattrs-{n}.der"), Some("--no-attrs")),
        ] {
            let mut args = vec![
                "sign", "--cert", &cert, "--key", &key, "--chain", &ca, "--in", "msg.json",
                "--out", &out_file,
            ];
            args.extend(extra);
            ok(&run(t, &args));
        }
    }
    let report = script(&py, &["check-waxseal", t.to_str().unwrap()]);
    assert!(
        report.contains("\"pyca_verified_waxseal\": [44, 65, 87]"),
        "{report}"
    );
}

#[test]
fn waxseal_verifies_what_pyca_signed_and_signs_with_pyca_keys() {
    let Some(py) = python() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let report = script(&py, &["make", t.to_str().unwrap()]);
    assert!(report.contains("\"pyca_made\": [44, 65, 87]"), "{report}");
    let content = std::fs::read(t.join("py-content.txt")).unwrap();
    for (_, n) in SETS {
        for stem in ["py-env", "py-noattrs"] {
            let env = format!("{stem}-{n}.der");
            let o = run(
                t,
                &[
                    "verify",
                    "--trust",
                    "py-root.pem",
                    "--in",
                    &env,
                    "--out",
                    &format!("{env}.out"),
                    "--json",
                ],
            );
            let r: serde_json::Value = serde_json::from_str(&ok(&o)).unwrap();
            assert_eq!(
                r["signers"][0]["signature_algorithm"],
                format!("ml-dsa-{n}")
            );
            assert_eq!(
                std::fs::read(t.join(format!("{env}.out"))).unwrap(),
                content
            );
            // pyca's signature with one bit flipped.
            let mut bytes = std::fs::read(t.join(&env)).unwrap();
            let last = bytes.len() - 40;
            bytes[last] ^= 1;
            std::fs::write(t.join("forged.der"), &bytes).unwrap();
            let o = run(
                t,
                &[
                    "verify",
                    "--trust",
                    "py-root.pem",
                    "--in",
                    "forged.der",
                    "--json",
                ],
            );
            assert_eq!(reason(&o), "bad-signature", "{env}");
            // The content changed under pyca's signature.
            let mut bytes = std::fs::read(t.join(&env)).unwrap();
            let at = bytes.windows(4).position(|w| w == b"pyca").unwrap();
            bytes[at] = b'P';
            std::fs::write(t.join("changed.der"), &bytes).unwrap();
            let o = run(
                t,
                &[
                    "verify",
                    "--trust",
                    "py-root.pem",
                    "--in",
                    "changed.der",
                    "--json",
                ],
            );
            let want = if stem == "py-env" {
                "message-digest-mismatch"
            } else {
                "bad-signature"
            };
            assert_eq!(reason(&o), want, "{env}");
        }
        // waxseal reads pyca's PKCS #8 (seed form) and signs with it under pyca's certificate.
        let (cert, key) = (format!("py-leaf-{n}.crt"), format!("py-leaf-{n}.key"));
        let out_file = format!("wax-with-pyca-key-{n}.p7m");
        ok(&run(
            t,
            &[
                "sign",
                "--cert",
                &cert,
                "--key",
                &key,
                "--in",
                "py-content.txt",
                "--out",
                &out_file,
            ],
        ));
        let o = run(
            t,
            &[
                "verify",
                "--trust",
                "py-root.pem",
                "--in",
                &out_file,
                "--json",
            ],
        );
        ok(&o);
    }
    // Another root (waxseal's own ML-DSA PKI) does not vouch for pyca's envelopes.
    let pki = TestPki::new(KeyAlgorithm::MlDsa(MlDsaParameterSet::MlDsa65)).unwrap();
    std::fs::write(t.join("other-root.pem"), pki.root.cert.to_pem()).unwrap();
    let o = run(
        t,
        &[
            "verify",
            "--trust",
            "other-root.pem",
            "--in",
            "py-env-65.der",
            "--json",
        ],
    );
    assert_eq!(reason(&o), "untrusted");
}
