//! What waxseal's PKI makes, checked by the real `openssl` command: certificate paths and
//! CRLs (`openssl verify -crl_check`), the subject and SAN (`openssl x509 -text`), and
//! envelopes signed with issued keys (`openssl cms -verify`, and waxseal's own verifier).

use std::path::Path;
use std::process::Command;

use waxseal_envelope::{EnvelopeBuilder, Verifier};
use waxseal_pki::{Lifetimes, PkiDir, Seed, ServiceHost};
use waxseal_trust::{CertStore, CrlSet, KeyAlgorithm, TrustAnchors, store};

fn openssl(args: &[&str]) -> std::process::Output {
    Command::new("openssl")
        .args(args)
        .output()
        .expect("the openssl command is required for interop tests (apt-get install openssl)")
}

fn text(o: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn verify(dir: &Path, name: &str, extra: &[&str]) -> std::process::Output {
    let p = |f: &str| dir.join(f).display().to_string();
    let mut args = vec![
        "verify".to_string(),
        "-CAfile".into(),
        p("root-ca.crt"),
        "-untrusted".into(),
        p("signing-ca.crt"),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    args.push(p(&format!("{name}.crt")));
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    openssl(&refs)
}

#[test]
fn openssl_accepts_waxseal_certificates_and_crls_for_every_algorithm() {
    for alg in [
        KeyAlgorithm::Rsa2048,
        KeyAlgorithm::P256,
        KeyAlgorithm::P384,
        KeyAlgorithm::Ed25519,
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("pki");
        let seed = Seed::from_json(
            r#"{"C": "US", "ST": "North Carolina", "O": "Example Org", "OU": "Messaging"}"#,
        )
        .unwrap();
        let mut pki = PkiDir::init(&dir, seed, alg, Lifetimes::default()).unwrap();
        let names: Vec<ServiceHost> = ["bodhi-app01.example.org", "fas-app02.example.org"]
            .iter()
            .map(|n| ServiceHost::parse(n).unwrap())
            .collect();
        pki.issue(&names, false, false).unwrap();
        let crl = dir.join("crl.pem").display().to_string();

        let out = verify(
            &dir,
            "bodhi-app01.example.org",
            &["-crl_check", "-CRLfile", &crl],
        );
        assert!(out.status.success(), "{alg}: {}", text(&out));
        let out = verify(
            &dir,
            "bodhi-app01.example.org",
            &["-crl_check_all", "-CRLfile", &crl],
        );
        assert!(out.status.success(), "{alg} crl_check_all: {}", text(&out));

        pki.revoke("fas-app02.example.org", "keyCompromise")
            .unwrap();
        // The revoked certificate was archived; verify the archived copy.
        let archived = std::fs::read_dir(dir.join("archive"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.extension().is_some_and(|e| e == "crt"))
            .unwrap();
        std::fs::copy(&archived, dir.join("revoked.crt")).unwrap();
        let out = verify(&dir, "revoked", &["-crl_check", "-CRLfile", &crl]);
        assert!(!out.status.success());
        assert!(
            text(&out).contains("certificate revoked"),
            "{alg}: {}",
            text(&out)
        );
        let out = verify(
            &dir,
            "bodhi-app01.example.org",
            &["-crl_check", "-CRLfile", &crl],
        );
        assert!(
            out.status.success(),
            "{alg} after revocation: {}",
            text(&out)
        );

        let shown = openssl(&[
            "x509",
            "-noout",
            "-text",
            "-in",
            &dir.join("bodhi-app01.example.org.crt")
                .display()
                .to_string(),
        ]);
        let shown = text(&shown);
        assert!(shown.contains("C = US, ST = North Carolina, O = Example Org, OU = Messaging, CN = bodhi-app01.example.org"), "{shown}");
        assert!(shown.contains("DNS:app01.example.org"), "{shown}");
        assert!(shown.contains("Digital Signature"), "{shown}");
        let shown = openssl(&["crl", "-noout", "-text", "-in", &crl]);
        assert!(text(&shown).contains("Key Compromise"), "{}", text(&shown));
    }
}

#[test]
fn envelopes_signed_with_issued_keys_verify_in_openssl_and_waxseal() {
    for alg in [KeyAlgorithm::Rsa2048, KeyAlgorithm::P256] {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("pki");
        let mut pki = PkiDir::init(&dir, Seed::default(), alg, Lifetimes::default()).unwrap();
        pki.issue(
            &[ServiceHost::parse("bodhi-app01.example.org").unwrap()],
            false,
            false,
        )
        .unwrap();
        let signer = pki.signer("bodhi-app01.example.org").unwrap();
        let content = b"{\"topic\": \"org.example.prod.bodhi.update.comment\"}";
        let env = EnvelopeBuilder::new(content)
            .add_signer(&signer)
            .build()
            .unwrap();
        let file = tmp.path().join("msg.p7m");
        std::fs::write(&file, env.to_der()).unwrap();
        let out_file = tmp.path().join("out.bin");
        // `openssl cms` has no -CRLfile: CRLs go into the trust store file with the root.
        let store_file = |tmp: &Path| {
            let f = tmp.join("store.pem");
            let both = format!(
                "{}{}",
                std::fs::read_to_string(dir.join("root-ca.crt")).unwrap(),
                std::fs::read_to_string(dir.join("crl.pem")).unwrap()
            );
            std::fs::write(&f, both).unwrap();
            f.display().to_string()
        };
        let out = openssl(&[
            "cms",
            "-verify",
            "-binary",
            "-inform",
            "DER",
            "-in",
            &file.display().to_string(),
            "-CAfile",
            &store_file(tmp.path()),
            "-crl_check",
            // OpenSSL's default purpose: an S/MIME signer (emailProtection when the
            // certificate has extendedKeyUsage, as waxseal pki's leaves do).
            "-out",
            &out_file.display().to_string(),
        ]);
        assert!(out.status.success(), "{alg}: {}", text(&out));
        assert_eq!(std::fs::read(&out_file).unwrap(), content);
        let eku = signer
            .certificate()
            .extensions()
            .ext_key_usage
            .clone()
            .expect("waxseal pki leaves carry extendedKeyUsage");
        assert!(eku.0.contains(&waxseal_trust::oid::WAXSEAL_KP_BUS_SIGNING));
        assert!(eku.0.contains(&waxseal_trust::oid::KP_EMAIL_PROTECTION));
        // The bus-signing purpose alone is enough for waxseal; a purpose the leaves do not
        // carry is not.
        let anchors = || TrustAnchors::new([pki.root_certificate().unwrap()]).unwrap();
        Verifier::new(anchors())
            .with_accepted_purposes([waxseal_trust::oid::WAXSEAL_KP_BUS_SIGNING])
            .verify_bytes(&env.to_der(), None)
            .unwrap();
        assert_eq!(
            Verifier::new(anchors())
                .with_accepted_purposes([waxseal_trust::oid::KP_CODE_SIGNING])
                .verify_bytes(&env.to_der(), None)
                .unwrap_err()
                .code(),
            "ext-key-usage"
        );

        let crls = CrlSet::from_crls(store::load_crls(&dir.join("crl.pem")).unwrap());
        let verifier = Verifier::new(TrustAnchors::new([pki.root_certificate().unwrap()]).unwrap())
            .with_store(CertStore::new())
            .with_crls(crls);
        let v = verifier.verify_bytes(&env.to_der(), None).unwrap();
        assert!(v.signers()[0].path.as_ref().unwrap().revocation_checked);

        // After revocation both refuse it.
        pki.revoke("bodhi-app01.example.org", "keyCompromise")
            .unwrap();
        let out = openssl(&[
            "cms",
            "-verify",
            "-binary",
            "-inform",
            "DER",
            "-in",
            &file.display().to_string(),
            "-CAfile",
            &store_file(tmp.path()),
            "-crl_check",
            "-purpose",
            "any",
            "-out",
            "/dev/null",
        ]);
        assert!(!out.status.success());
        assert!(text(&out).contains("certificate revoked"), "{}", text(&out));
        let crls = CrlSet::from_crls(store::load_crls(&dir.join("crl.pem")).unwrap());
        let verifier = Verifier::new(TrustAnchors::new([pki.root_certificate().unwrap()]).unwrap())
            .with_crls(crls);
        assert_eq!(
            verifier
                .verify_bytes(&env.to_der(), None)
                .unwrap_err()
                .code(),
            "revoked"
        );
    }
}
