//! The `waxseal` command's contract: behaviour, output and exit status (0 valid, 1 rejected
//! or invalid, 2 usage or I/O error).

mod common;

use std::process::Output;

use common::{Fx, code as status, stderr, write_private};
use waxseal_pki::TestPki;
use waxseal_trust::KeyAlgorithm;

impl Fx {
    fn new() -> Self {
        let fx = Fx::with_topic("org.example.bodhi");
        for (name, alg) in [
            ("bodhi-app01.example.org", KeyAlgorithm::P256),
            ("rsa", KeyAlgorithm::Rsa2048),
        ] {
            fx.leaf(name, name, alg);
        }
        std::fs::write(
            fx.p("crl.pem"),
            format!(
                "{}{}",
                fx.pki.crl(&[]).unwrap().to_pem(),
                fx.pki.root_crl().unwrap().to_pem()
            ),
        )
        .unwrap();
        fx
    }

    /// Signs `msg.json` as bodhi-app01 into `out`.
    fn sign(&self, out: &str, extra: &[&str]) -> Output {
        self.sign_as("bodhi-app01.example.org", "msg.json", out, extra)
    }

    /// A 0.01-second `waxseal speed` run of ed25519, then `extra`.
    fn speed(&self, extra: &[&str]) -> Output {
        let mut args = vec!["speed", "--seconds", "0.01", "--algorithm", "ed25519"];
        args.extend(extra);
        self.run(&args)
    }

    fn verify(&self, input: &str, extra: &[&str]) -> Output {
        let mut args = vec!["verify", "--trust", "root.pem", "--in", input];
        args.extend(extra);
        self.run(&args)
    }

    /// Asserts a refusal: exit 1, `reason` in the JSON report, and `out` not written.
    fn refused(&self, o: &Output, reason: &str, out: &str) {
        assert_eq!(status(o), 1, "{}", stderr(o));
        let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(report["reason"], reason);
        assert!(!self.p(out).exists(), "{out} written on a refusal");
    }
}

#[test]
fn sign_then_verify_in_every_form() {
    let fx = Fx::new();
    for (i, extra) in [
        vec![],
        vec!["--outform", "pem"],
        vec!["--outform", "smime"],
        vec!["--no-attrs"],
        vec!["--signer-id", "ski", "--digest", "sha512"],
    ]
    .iter()
    .enumerate()
    {
        let out = format!("env{i}");
        let o = fx.sign(&out, extra);
        assert_eq!(status(&o), 0, "sign {extra:?}: {}", stderr(&o));
        let o = fx.verify(&out, &["--out", &format!("content{i}")]);
        assert_eq!(status(&o), 0, "verify {extra:?}: {}", stderr(&o));
        assert!(
            stderr(&o).contains("verified: signer 1 CN=bodhi-app01.example.org"),
            "{}",
            stderr(&o)
        );
        assert_eq!(
            std::fs::read(fx.p(&format!("content{i}"))).unwrap(),
            std::fs::read(fx.p("msg.json")).unwrap()
        );
    }
}

#[test]
fn detached_signatures_need_their_content() {
    let fx = Fx::new();
    assert_eq!(status(&fx.sign("sig", &["--detached"])), 0);
    let o = fx.verify("sig", &["--content", "msg.json", "--json"]);
    assert_eq!(status(&o), 0, "{}", stderr(&o));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["valid"], true);
    assert_eq!(report["signers"][0]["digest"], "sha256");
    let o = fx.verify("sig", &[]);
    assert_eq!(status(&o), 1);
    assert!(
        stderr(&o).contains("missing-content") || stderr(&o).contains("content must be supplied")
    );
}

#[test]
fn rejected_envelopes_exit_1_with_one_line_and_a_reason_code() {
    let fx = Fx::new();
    assert_eq!(status(&fx.sign("env", &[])), 0);
    let mut bytes = std::fs::read(fx.p("env")).unwrap();
    let pos = bytes.windows(5).position(|w| w == b"bodhi").unwrap();
    bytes[pos] = b'B';
    std::fs::write(fx.p("tampered"), &bytes).unwrap();

    let o = fx.verify("tampered", &["--out", "content"]);
    assert_eq!(status(&o), 1);
    assert_eq!(stderr(&o).lines().count(), 1, "{}", stderr(&o));
    assert!(stderr(&o).starts_with("waxseal: rejected: "));
    assert!(
        !fx.p("content").exists(),
        "content written although verification failed"
    );

    // Only an untrusted signer gets the hint about a missing intermediate (below).
    assert!(
        !stderr(&o).contains("intermediate CA is missing"),
        "{}",
        stderr(&o)
    );

    let o = fx.verify("tampered", &["--json"]);
    assert_eq!(status(&o), 1);
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["valid"], false);
    assert_eq!(report["reason"], "message-digest-mismatch");

    std::fs::write(fx.p("garbage"), b"this is not an envelope").unwrap();
    let o = fx.verify("garbage", &["--json"]);
    assert_eq!(status(&o), 1);
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["reason"], "malformed");

    // Untrusted: another PKI's root.
    let other = TestPki::named(KeyAlgorithm::P256, "other").unwrap();
    std::fs::write(fx.p("other-root.pem"), other.root.cert.to_pem()).unwrap();
    let o = fx.run(&[
        "verify",
        "--trust",
        "other-root.pem",
        "--in",
        "env",
        "--json",
    ]);
    assert_eq!(status(&o), 1);
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["reason"], "untrusted");
    // The line says where a missing intermediate goes (the refusal's kind, not its text).
    let o = fx.run(&["verify", "--trust", "other-root.pem", "--in", "env"]);
    assert_eq!(status(&o), 1);
    assert!(
        stderr(&o).contains("if an intermediate CA is missing, give it with --certs FILE"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn revocation_through_the_command_line() {
    let fx = Fx::new();
    assert_eq!(status(&fx.sign("env", &[])), 0);
    let o = fx.verify("env", &["--crl", "crl.pem", "--json"]);
    assert_eq!(status(&o), 0, "{}", stderr(&o));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["signers"][0]["revocation_checked"], true);

    let leaf = waxseal_trust::Certificate::load_all(
        &std::fs::read(fx.p("bodhi-app01.example.org.crt")).unwrap(),
    )
    .unwrap()
    .remove(0);
    let crl = format!(
        "{}{}",
        fx.pki.crl(&[&leaf]).unwrap().to_pem(),
        fx.pki.root_crl().unwrap().to_pem()
    );
    std::fs::write(fx.p("revoked.pem"), crl).unwrap();
    let o = fx.verify("env", &["--crl", "revoked.pem"]);
    assert_eq!(status(&o), 1);
    assert!(stderr(&o).contains("revoked"), "{}", stderr(&o));

    let o = fx.cert_verify(&["--crl", "revoked.pem", "bodhi-app01.example.org.crt"]);
    assert_eq!(status(&o), 1);
    let o = fx.cert_verify(&["--crl", "crl.pem", "bodhi-app01.example.org.crt"]);
    assert_eq!(status(&o), 0, "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("revocation: checked"));
}

#[test]
fn usage_and_io_errors_exit_2() {
    let fx = Fx::new();
    // No trust anchor: refused by the argument parser.
    let o = fx.run(&["verify", "--in", "msg.json"]);
    assert_eq!(status(&o), 2);
    // Missing files.
    let o = fx.verify("does-not-exist", &[]);
    assert_eq!(status(&o), 2);
    assert!(stderr(&o).starts_with("waxseal: error: "));
    // An existing output file is never replaced without --force.
    std::fs::write(fx.p("precious"), b"keep me").unwrap();
    let o = fx.sign("precious", &[]);
    assert_eq!(status(&o), 2);
    assert!(stderr(&o).contains("--force"));
    assert_eq!(std::fs::read(fx.p("precious")).unwrap(), b"keep me");
    assert_eq!(status(&fx.sign("precious", &["--force"])), 0);
    assert_ne!(std::fs::read(fx.p("precious")).unwrap(), b"keep me");
    // A bad --at.
    assert_eq!(status(&fx.verify("precious", &["--at", "yesterday"])), 2);
}

#[test]
fn group_readable_keys_are_refused_unless_asked() {
    let fx = Fx::new();
    let key = std::fs::read(fx.p("rsa.key")).unwrap();
    write_private(&fx.p("loose.key"), &key, 0o644);
    let o = fx.run(&[
        "sign",
        "--cert",
        "rsa.crt",
        "--key",
        "loose.key",
        "--in",
        "msg.json",
        "--out",
        "x",
    ]);
    assert_eq!(status(&o), 2);
    assert!(stderr(&o).contains("chmod 600"), "{}", stderr(&o));
    let o = fx.run(&[
        "sign",
        "--cert",
        "rsa.crt",
        "--key",
        "loose.key",
        "--in",
        "msg.json",
        "--out",
        "x",
        "--insecure-key-permissions",
    ]);
    assert_eq!(status(&o), 0, "{}", stderr(&o));
    // A key that does not belong to the certificate.
    let o = fx.run(&[
        "sign",
        "--cert",
        "bodhi-app01.example.org.crt",
        "--key",
        "rsa.key",
        "--in",
        "msg.json",
        "--out",
        "y",
    ]);
    assert_eq!(status(&o), 2);
    assert!(stderr(&o).contains("does not match"), "{}", stderr(&o));
}

#[test]
fn inspect_shows_structure_without_verifying() {
    let fx = Fx::new();
    assert_eq!(status(&fx.sign("env", &[])), 0);
    let o = fx.run(&["inspect", "--in", "env"]);
    assert_eq!(status(&o), 0);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("NOT VERIFIED"));
    assert!(text.contains("CN=bodhi-app01.example.org"));
    assert!(text.contains("signing-time"));
    let o = fx.run(&["inspect", "--in", "env", "--json"]);
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["verified"], false);
    assert_eq!(report["signers"][0]["digest"], "sha256");
    std::fs::write(fx.p("garbage"), [0x30, 0x82, 0x01]).unwrap();
    assert_eq!(status(&fx.run(&["inspect", "--in", "garbage"])), 1);
}

#[test]
fn adding_a_signer_to_an_existing_envelope() {
    let fx = Fx::new();
    assert_eq!(status(&fx.sign("env", &[])), 0);
    let o = fx.run(&[
        "sign", "--cert", "rsa.crt", "--key", "rsa.key", "--add-to", "env", "--out", "env2",
    ]);
    assert_eq!(status(&o), 0, "{}", stderr(&o));
    let o = fx.verify("env2", &["--json", "--certs", "ca.pem"]);
    assert_eq!(status(&o), 0, "{}", stderr(&o));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["signers"].as_array().unwrap().len(), 2);
}

#[test]
fn speed_reports_figures() {
    let fx = Fx::new();
    let o = fx.speed(&["--json"]);
    assert_eq!(status(&o), 0, "{}", stderr(&o));
    let figures: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(figures[0]["algorithm"], "ed25519");
    assert!(figures[0]["verify_embedded_warm"].as_f64().unwrap() > 0.0);
    assert!(figures[0]["sign_omitted"].as_f64().unwrap() > 0.0);
    assert!(
        figures[0]["envelope_bytes_embedded"].as_u64().unwrap()
            > figures[0]["envelope_bytes_omitted"].as_u64().unwrap()
    );
    for (name, n) in figures[0]["failed"].as_object().unwrap() {
        assert_eq!(n, 0, "{name}");
    }
    assert_eq!(figures[0]["errors"].as_array().unwrap().len(), 0);
}

#[test]
fn speed_counts_failed_operations_and_exits_1() {
    let fx = Fx::new();
    // Verifying before the throwaway PKI existed makes every verification fail: they are
    // counted and reported, never rated, and the run exits 1; signing still succeeds.
    let o = fx.speed(&["--at", "2001-01-01T00:00:00Z", "--json"]);
    assert_eq!(status(&o), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("operation(s) failed"), "{}", stderr(&o));
    let figures: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let f = &figures[0];
    assert!(f["sign_embedded"].as_f64().unwrap() > 0.0);
    assert_eq!(f["failed"]["sign_embedded"], 0);
    for m in [
        "verify_embedded_cold",
        "verify_embedded_warm",
        "verify_omitted_cold",
        "verify_omitted_warm",
    ] {
        assert!(f[m].is_null(), "{m} rated although every operation failed");
        assert!(f["failed"][m].as_u64().unwrap() >= 2, "{m}");
    }
    let errors = f["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 4);
    assert!(errors[0].as_str().unwrap().contains("not valid before"));

    // The text report says so too.
    let o = fx.speed(&["--at", "2001-01-01T00:00:00Z"]);
    assert_eq!(status(&o), 1);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("failed: ed25519 verify, certificates omitted, warm:"),
        "{text}"
    );
}

#[test]
fn smime_multipart_with_content_in_its_signature_part_is_refused() {
    let fx = Fx::new();
    // Positive: a real multipart/signed verifies and --out gets its first part.
    assert_eq!(
        status(&fx.sign("multipart.eml", &["--detached", "--outform", "smime"])),
        0
    );
    let o = fx.verify("multipart.eml", &["--out", "first-part", "--json"]);
    assert_eq!(status(&o), 0, "{}", stderr(&o));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["format"], "smime-multipart");
    assert_eq!(
        std::fs::read(fx.p("first-part")).unwrap(),
        waxseal_envelope::format::canonical_crlf(&std::fs::read(fx.p("msg.json")).unwrap())
    );

    // The attack: an attached envelope over hidden content as the signature part of a
    // multipart/signed whose visible first part nobody signed.
    std::fs::write(fx.p("hidden.json"), b"{\"topic\": \"org.example.fas\"}").unwrap();
    let o = fx.sign_as("bodhi-app01.example.org", "hidden.json", "hidden.der", &[]);
    assert_eq!(status(&o), 0, "{}", stderr(&o));
    let crafted = waxseal_envelope::format::to_smime_detached(
        &std::fs::read(fx.p("hidden.der")).unwrap(),
        b"Content-Type: text/plain\r\n\r\n{\"topic\": \"org.example.bodhi\"}\r\n",
        &["sha-256"],
    );
    std::fs::write(fx.p("crafted.eml"), crafted).unwrap();
    let o = fx.verify("crafted.eml", &["--out", "content", "--json"]);
    fx.refused(&o, "malformed", "content");
    let o = fx.verify("crafted.eml", &["--out", "content"]);
    assert_eq!(status(&o), 1);
    assert!(stderr(&o).contains("must be detached"), "{}", stderr(&o));
    assert!(!fx.p("content").exists());
}

#[test]
fn signer_certificate_purpose_is_enforced_and_configurable() {
    let fx = Fx::new();
    let server = fx
        .pki
        .leaf_with("www.example.org", KeyAlgorithm::P256, |p| {
            p.ext_key_usage = vec![waxseal_trust::oid::KP_SERVER_AUTH];
        })
        .unwrap();
    fx.save_leaf("server", &server.cert, &server.key);
    // Signing with it is refused (verifiers would refuse it), unless the signer says the
    // verifiers accept serverAuth.
    let sign = |extra: &[&str]| fx.sign_as("server", "msg.json", "server.der", extra);
    let o = sign(&[]);
    assert_eq!(status(&o), 2, "{}", stderr(&o));
    assert!(stderr(&o).contains("extKeyUsage"), "{}", stderr(&o));
    assert!(!fx.p("server.der").exists());
    let o = sign(&["--purpose", "serverAuth"]);
    assert_eq!(status(&o), 0, "{}", stderr(&o));

    // A TLS server certificate does not sign bus messages.
    let o = fx.verify("server.der", &["--out", "content", "--json"]);
    fx.refused(&o, "ext-key-usage", "content");
    // ...unless the operator accepts that purpose.
    let o = fx.verify(
        "server.der",
        &["--purpose", "serverAuth", "--out", "content", "--json"],
    );
    assert_eq!(status(&o), 0, "{}", stderr(&o));
    assert_eq!(
        std::fs::read(fx.p("content")).unwrap(),
        std::fs::read(fx.p("msg.json")).unwrap()
    );

    // waxseal pki's leaves carry the bus-signing purpose: accepted by default and with
    // `--purpose bus-signing` (or its OID), refused when only codeSigning is accepted.
    assert_eq!(status(&fx.sign("bus.der", &[])), 0);
    assert_eq!(status(&fx.verify("bus.der", &[])), 0);
    assert_eq!(
        status(&fx.verify("bus.der", &["--purpose", "bus-signing"])),
        0
    );
    let bus_oid = waxseal_trust::oid::WAXSEAL_KP_BUS_SIGNING.to_string();
    assert_eq!(status(&fx.verify("bus.der", &["--purpose", &bus_oid])), 0);
    let o = fx.verify(
        "bus.der",
        &["--purpose", "codeSigning", "--json", "--out", "content2"],
    );
    fx.refused(&o, "ext-key-usage", "content2");
    // A purpose that is neither a known name nor an OID is a usage error.
    assert_eq!(status(&fx.verify("bus.der", &["--purpose", "mail-ish"])), 2);
}

#[test]
fn rsa_pss_keys_sign_and_verify_within_their_parameters() {
    use waxseal_trust::key::PssKeyParams;
    use waxseal_trust::{DigestAlgorithm, PrivateKey};
    let fx = Fx::new();
    // One RSA key, certified twice: id-RSASSA-PSS restricted to SHA-384 (salt >= 48), and
    // rsaEncryption.
    let rsa = PrivateKey::generate(KeyAlgorithm::Rsa2048).unwrap();
    let pss = PrivateKey::from_bytes(rsa.to_pkcs8_pem().as_bytes())
        .unwrap()
        .into_rsa_pss(Some(PssKeyParams {
            digest: DigestAlgorithm::Sha384,
            min_salt_len: 48,
        }))
        .unwrap();
    let issue = |name: &str, key: &PrivateKey| {
        let params = waxseal_pki::CertParams::end_entity(
            waxseal_pki::issue::parse_name(&format!("CN={name}")).unwrap(),
            fx.pki.now,
            30,
        );
        let cert = fx
            .pki
            .ca
            .issue(&params, &key.subject_public_key_info())
            .unwrap();
        fx.save_leaf(name, &cert, key);
    };
    issue("pss", &pss);
    issue("plain", &rsa);
    let sign = |cert: &str, key: &str, out: &str, extra: &[&str]| {
        let mut args = vec![
            "sign",
            "--cert",
            cert,
            "--key",
            key,
            "--signer-id",
            "ski",
            "--no-certs",
            "--in",
            "msg.json",
            "--out",
            out,
        ];
        args.extend(extra);
        fx.run(&args)
    };
    // The PSS key signs PSS with SHA-384 by default; verified with its PSS certificate.
    let o = sign("pss.crt", "pss.key", "pss.der", &[]);
    assert_eq!(status(&o), 0, "{}", stderr(&o));
    let o = fx.verify(
        "pss.der",
        &[
            "--certs", "ca.pem", "--certs", "pss.crt", "--json", "--out", "ok",
        ],
    );
    assert_eq!(status(&o), 0, "{}", stderr(&o));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        report["signers"][0]["signature_algorithm"],
        "rsa-pss-sha384"
    );
    assert!(fx.p("ok").exists());
    // Signing with a digest the key does not allow is refused (a usage error).
    let o = sign("pss.crt", "pss.key", "pss256.der", &["--digest", "sha256"]);
    assert_eq!(status(&o), 2, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("RSASSA-PSS parameters"),
        "{}",
        stderr(&o)
    );
    assert!(!fx.p("pss256.der").exists());

    // The same key with its rsaEncryption certificate (and an unrestricted key file) may
    // sign PSS-SHA-256; that envelope verifies against the rsaEncryption certificate but
    // not against the PSS one, whose parameters rule SHA-256 out.
    let o = sign("plain.crt", "plain.key", "plain-pss256.der", &["--rsa-pss"]);
    assert_eq!(status(&o), 0, "{}", stderr(&o));
    let o = fx.verify(
        "plain-pss256.der",
        &["--certs", "ca.pem", "--certs", "plain.crt"],
    );
    assert_eq!(status(&o), 0, "{}", stderr(&o));
    let o = fx.verify(
        "plain-pss256.der",
        &[
            "--certs", "ca.pem", "--certs", "pss.crt", "--json", "--out", "bad",
        ],
    );
    fx.refused(&o, "algorithm-mismatch", "bad");
    // PKCS #1 v1.5 from the same key: also refused with the PSS certificate.
    let o = sign("plain.crt", "plain.key", "plain-pkcs1.der", &[]);
    assert_eq!(status(&o), 0, "{}", stderr(&o));
    let o = fx.verify(
        "plain-pkcs1.der",
        &[
            "--certs", "ca.pem", "--certs", "pss.crt", "--json", "--out", "bad",
        ],
    );
    fx.refused(&o, "algorithm-mismatch", "bad");
}

/// The providers this CPU can run: rustcrypto, and graviola where the CPU has what it needs.
fn providers() -> Vec<&'static str> {
    let mut p = vec!["rustcrypto"];
    if waxseal_trust::provider::graviola_supported().is_ok() {
        p.push("graviola");
    }
    p
}

#[test]
fn each_provider_verifies_what_the_other_signed() {
    let fx = Fx::new();
    for signer in providers() {
        for (who, out) in [
            ("bodhi-app01.example.org", format!("p256-{signer}")),
            ("rsa", format!("rsa-{signer}")),
        ] {
            let o = fx.sign_as(who, "msg.json", &out, &["--provider", signer]);
            assert_eq!(status(&o), 0, "sign with {signer}: {}", stderr(&o));
            for verifier in providers() {
                let o = fx.verify(&out, &["--provider", verifier]);
                assert_eq!(
                    status(&o),
                    0,
                    "{who} {signer} -> {verifier}: {}",
                    stderr(&o)
                );
                // A flipped byte in the signature (the envelope's last bytes) is refused.
                let mut der = std::fs::read(fx.p(&out)).unwrap();
                let last = der.len() - 1;
                der[last] ^= 1;
                let bad = format!("{out}-bad");
                std::fs::write(fx.p(&bad), der).unwrap();
                let o = fx.verify(&bad, &["--provider", verifier, "--json"]);
                fx.refused(&o, "bad-signature", "nothing");
            }
        }
    }
}

#[test]
fn speed_names_the_provider_and_backend_of_each_row() {
    let fx = Fx::new();
    for p in providers() {
        let o = fx.speed(&["--json", "--provider", p]);
        assert_eq!(status(&o), 0, "{}", stderr(&o));
        let figures: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(figures[0]["provider"], p);
        // Ed25519 is covered by both backends: the backend is the provider chosen.
        assert_eq!(figures[0]["backend_sign"], p);
        assert_eq!(figures[0]["backend_verify"], p);
    }
    let o = fx.speed(&["--provider", "auto"]);
    assert_eq!(status(&o), 0, "{}", stderr(&o));
    assert!(
        stdout_of(&o).contains("provider auto ("),
        "{}",
        stdout_of(&o)
    );
}

#[test]
fn speed_measures_graviolas_bare_rsa_beside_the_envelope_only_where_graviola_does_it() {
    let fx = Fx::new();
    for p in providers() {
        let mut args = vec!["speed", "--seconds", "0.01", "--algorithm", "rsa2048"];
        args.extend(["--json", "--provider", p]);
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_waxseal"))
            .args(&args)
            .current_dir(fx.p("."))
            .output()
            .unwrap();
        assert_eq!(status(&o), 0, "{}", stderr(&o));
        let figures: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        let f = &figures[0];
        assert_eq!(f["backend_sign"], p);
        for bare in ["sign_raw", "verify_raw"] {
            if p == "graviola" {
                assert!(f[bare].as_f64().unwrap() > 0.0, "{p} {bare}");
            } else {
                // RustCrypto did the work: graviola's bare figure is no yardstick for it.
                assert!(f[bare].is_null(), "{p} {bare}");
            }
        }
        assert_eq!(f["failed"]["verify_raw"], 0);
    }
    // Not RSA: nothing bare to measure.
    let o = fx.speed(&["--json", "--provider", "auto"]);
    let figures: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(figures[0]["sign_raw"].is_null() && figures[0]["verify_raw"].is_null());
}

fn stdout_of(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn an_unknown_provider_is_a_configuration_error_not_a_fallback() {
    let fx = Fx::new();
    let o = fx.speed(&["--provider", "openssl"]);
    assert_eq!(status(&o), 2, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("unknown cryptography provider \"openssl\""),
        "{}",
        stderr(&o)
    );
    // The same from the environment, with the variable named, and a --json report.
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_waxseal"))
        .args(["verify", "--trust", "root.pem", "--in", "nothing", "--json"])
        .env("WAXSEAL_PROVIDER", "fastest")
        .current_dir(fx.p("."))
        .output()
        .unwrap();
    assert_eq!(status(&o), 2, "{}", stderr(&o));
    assert!(stderr(&o).contains("WAXSEAL_PROVIDER"), "{}", stderr(&o));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["reason"], "unknown-provider");
    // --provider overrides the environment.
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_waxseal"))
        .args([
            "speed",
            "--seconds",
            "0.01",
            "--algorithm",
            "ed25519",
            "--json",
        ])
        .args(["--provider", "rustcrypto"])
        .env("WAXSEAL_PROVIDER", "fastest")
        .current_dir(fx.p("."))
        .output()
        .unwrap();
    assert_eq!(status(&o), 0, "{}", stderr(&o));
}
