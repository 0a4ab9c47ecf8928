//! Single-tier PKIs (`PkiDir::init_single_tier`, `waxseal pki init --single-tier`): the
//! root issues the service-host certificates itself, `crl.pem` holds the root's CRL, and
//! every lifecycle operation keeps that layout. Checked with waxseal's verifier and with
//! `openssl verify -CAfile root-ca.crt -CRLfile crl.pem -crl_check` (one CA, no
//! intermediates: what fedmsg 1.x trusts).

use std::path::Path;
use std::process::Command;

use waxseal_envelope::{EnvelopeBuilder, Verifier};
use waxseal_pki::inventory::Inventory;
use waxseal_pki::{Lifetimes, PkiDir, Seed, ServiceHost, doctor};
use waxseal_trust::{
    Certificate, Crl, CrlSet, KeyAlgorithm, KeyFileCheck, TrustAnchors, store, time,
};

fn names(list: &[&str]) -> Vec<ServiceHost> {
    list.iter()
        .map(|n| ServiceHost::parse(n).unwrap())
        .collect()
}

fn cert(path: &Path) -> Certificate {
    Certificate::load_all(&std::fs::read(path).unwrap())
        .unwrap()
        .remove(0)
}

fn crls(dir: &Path) -> Vec<Crl> {
    Crl::load_all(&std::fs::read(dir.join("crl.pem")).unwrap()).unwrap()
}

fn single(tmp: &tempfile::TempDir, alg: KeyAlgorithm) -> PkiDir {
    PkiDir::init_single_tier(
        &tmp.path().join("pki"),
        Seed::from_json(r#"{"C": "US", "O": "Example Org", "OU": "Messaging"}"#).unwrap(),
        alg,
        Lifetimes::default(),
    )
    .unwrap()
}

/// `openssl verify -CAfile root-ca.crt -CRLfile crl.pem -crl_check FILE`: the root alone,
/// no untrusted intermediates.
fn openssl_verify(dir: &Path, file: &Path) -> (bool, String) {
    let o = Command::new("openssl")
        .arg("verify")
        .arg("-CAfile")
        .arg(dir.join("root-ca.crt"))
        .arg("-CRLfile")
        .arg(dir.join("crl.pem"))
        .arg("-crl_check")
        .arg(file)
        .output()
        .expect("the openssl command is required for interop tests (apt-get install openssl)");
    (
        o.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ),
    )
}

fn verifier(pki: &PkiDir) -> Verifier {
    Verifier::new(TrustAnchors::new([pki.root_certificate().unwrap()]).unwrap()).with_crls(
        CrlSet::from_crls(store::load_crls(&pki.dir().join("crl.pem")).unwrap()),
    )
}

#[test]
fn leaves_are_issued_by_the_root_and_the_crl_is_the_roots() {
    let tmp = tempfile::tempdir().unwrap();
    let mut pki = single(&tmp, KeyAlgorithm::Rsa2048);
    let dir = pki.dir().to_path_buf();
    assert!(pki.single_tier());
    assert!(!dir.join("signing-ca.crt").exists() && !dir.join("signing-ca.key").exists());
    let root = cert(&dir.join("root-ca.crt"));
    assert!(root.is_ca());
    // Nothing below the leaves: the root's path length is 0.
    assert_eq!(
        root.extensions()
            .basic_constraints
            .as_ref()
            .unwrap()
            .path_len_constraint,
        Some(0)
    );
    // The inventory records it, and two-tier inventories do not mention tiers at all.
    let text = std::fs::read_to_string(dir.join("inventory.json")).unwrap();
    assert!(text.contains("\"tiers\": 1"), "{text}");
    assert!(!text.contains("signing_ca"), "{text}");

    pki.issue(
        &names(&["bodhi-app01.example.org", "fas-app02.example.org"]),
        false,
        false,
    )
    .unwrap();
    let leaf = cert(&dir.join("bodhi-app01.example.org.crt"));
    assert_eq!(leaf.issuer(), root.subject());
    assert!(!leaf.is_ca());
    let crl = crls(&dir);
    assert_eq!(crl.len(), 1, "crl.pem holds the root's CRL only");
    assert_eq!(crl[0].issuer(), root.subject());
    assert!(crl[0].entries().is_empty());

    // A signer has no chain; its envelope verifies against the root with the CRL.
    let signer = pki.signer("bodhi-app01.example.org").unwrap();
    assert!(signer.chain().is_empty());
    let env = EnvelopeBuilder::new(b"hello")
        .add_signer(&signer)
        .build()
        .unwrap();
    let v = verifier(&pki).verify_bytes(&env.to_der(), None).unwrap();
    assert!(v.signers()[0].path.as_ref().unwrap().revocation_checked);
    // The read-only loader (a deployment directory) finds the same.
    let loaded =
        waxseal_pki::load_signer(&dir, "bodhi-app01.example.org", KeyFileCheck::OwnerOnly).unwrap();
    assert!(loaded.chain().is_empty());

    // Revocation lands on the root's CRL; waxseal refuses the revoked signer.
    pki.revoke("bodhi-app01.example.org", "keyCompromise")
        .unwrap();
    let crl = crls(&dir);
    assert_eq!(crl.len(), 1);
    assert_eq!(crl[0].entries().len(), 1);
    assert_eq!(hex::encode(&crl[0].entries()[0].serial), leaf.serial_hex());
    assert_eq!(
        verifier(&pki)
            .verify_bytes(&env.to_der(), None)
            .unwrap_err()
            .code(),
        "revoked"
    );
    // crl --der writes the same (root's) CRL in DER.
    let report = pki.write_crl(None, true).unwrap();
    let der = Crl::load_all(&std::fs::read(dir.join("crl.der")).unwrap()).unwrap();
    assert_eq!(der[0].issuer(), root.subject());
    assert_eq!(der[0].entries().len(), 1);
    assert_eq!(report.revoked, 1);
}

#[test]
fn openssl_verify_with_the_root_alone_accepts_live_and_refuses_revoked() {
    for alg in [KeyAlgorithm::Rsa2048, KeyAlgorithm::P256] {
        let tmp = tempfile::tempdir().unwrap();
        let mut pki = single(&tmp, alg);
        let dir = pki.dir().to_path_buf();
        pki.issue(
            &names(&["bodhi-app01.example.org", "fas-app02.example.org"]),
            false,
            false,
        )
        .unwrap();
        let live = dir.join("bodhi-app01.example.org.crt");
        let (ok, out) = openssl_verify(&dir, &live);
        assert!(ok, "{alg}: {out}");
        // Keep a copy of the certificate about to be revoked (revoke archives it).
        let revoked = tmp.path().join("revoked.crt");
        std::fs::copy(dir.join("fas-app02.example.org.crt"), &revoked).unwrap();
        let (ok, out) = openssl_verify(&dir, &revoked);
        assert!(ok, "{alg} before revocation: {out}");

        pki.revoke("fas-app02.example.org", "keyCompromise")
            .unwrap();
        let (ok, out) = openssl_verify(&dir, &revoked);
        assert!(!ok, "{alg}: a revoked certificate must be refused: {out}");
        assert!(out.contains("certificate revoked"), "{alg}: {out}");
        let (ok, out) = openssl_verify(&dir, &live);
        assert!(ok, "{alg} after revocation: {out}");

        // A certificate from another single-tier PKI is refused by this root.
        let other_tmp = tempfile::tempdir().unwrap();
        let mut other = single(&other_tmp, alg);
        other
            .issue(&names(&["bodhi-app01.example.org"]), false, false)
            .unwrap();
        let (ok, _) = openssl_verify(&dir, &other.dir().join("bodhi-app01.example.org.crt"));
        assert!(!ok, "{alg}: a foreign certificate must be refused");
    }
}

#[test]
fn renew_rebuild_reseed_and_doctor_keep_the_single_tier_layout() {
    let tmp = tempfile::tempdir().unwrap();
    let mut pki = single(&tmp, KeyAlgorithm::P256);
    let dir = pki.dir().to_path_buf();
    pki.issue(
        &names(&["bodhi-app01.example.org", "fas-localhost.localdomain"]),
        false,
        false,
    )
    .unwrap();
    let old = cert(&dir.join("bodhi-app01.example.org.crt"));

    // Renewal: the old one is revoked on the root's CRL.
    let renewed = pki
        .issue(&names(&["bodhi-app01.example.org"]), true, false)
        .unwrap();
    assert_eq!(
        renewed[0].replaced.as_deref(),
        Some(old.serial_hex().as_str())
    );
    let crl = crls(&dir);
    assert_eq!(crl.len(), 1);
    assert!(
        crl[0]
            .entries()
            .iter()
            .any(|e| hex::encode(&e.serial) == old.serial_hex())
    );

    // Reseed: a temporary identity moves to its real name, still issued by the root.
    let report = pki
        .reseed("localhost.localdomain", "app02.example.org")
        .unwrap();
    assert_eq!(report.issued.len(), 1);
    let root = cert(&dir.join("root-ca.crt"));
    assert_eq!(
        cert(&dir.join("fas-app02.example.org.crt")).issuer(),
        root.subject()
    );
    assert_eq!(crls(&dir).len(), 1);

    // Doctor: nothing wrong with a single-tier PKI directory.
    let findings = doctor(&dir, "app01.example.org", 30, time::now()).unwrap();
    assert!(findings.is_empty(), "{findings:?}");

    // Rebuild: a new root, still no signing CA, leaves issued by the new root.
    pki.rebuild(&mut |_, _, _| {}).unwrap();
    assert!(!dir.join("signing-ca.crt").exists());
    let new_root = cert(&dir.join("root-ca.crt"));
    assert_ne!(new_root.serial_hex(), root.serial_hex());
    for n in ["bodhi-app01.example.org", "fas-app02.example.org"] {
        let c = cert(&dir.join(format!("{n}.crt")));
        assert_eq!(c.issuer(), new_root.subject(), "{n}");
        let (ok, out) = openssl_verify(&dir, &dir.join(format!("{n}.crt")));
        assert!(ok, "{n}: {out}");
    }
    assert_eq!(crls(&dir)[0].issuer(), new_root.subject());

    // Reopened from disk, it is still single-tier.
    drop(pki);
    let pki = PkiDir::open(&dir, KeyFileCheck::OwnerOnly).unwrap();
    assert!(pki.single_tier());
    assert!(pki.inventory().signing_ca.is_none());
    assert!(pki.signing_certificate().is_err());
}

#[test]
fn two_tier_default_is_unchanged_and_inconsistent_inventories_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("pki");
    let pki = PkiDir::init(
        &dir,
        Seed::default(),
        KeyAlgorithm::P256,
        Lifetimes::default(),
    )
    .unwrap();
    assert!(!pki.single_tier());
    assert!(dir.join("signing-ca.crt").exists());
    assert_eq!(crls(&dir).len(), 2);
    let text = std::fs::read_to_string(dir.join("inventory.json")).unwrap();
    assert!(!text.contains("tiers"), "{text}");
    assert!(text.contains("signing_ca"), "{text}");
    drop(pki);

    // tiers and signing_ca must agree; tiers is 1 or 2.
    let two = Inventory::from_json(&text).unwrap();
    assert_eq!(two.tiers, 2);
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["tiers"] = 1.into();
    let err = Inventory::from_json(&v.to_string()).unwrap_err();
    assert!(err.to_string().contains("single-tier"), "{err}");
    v["tiers"] = 3.into();
    assert!(Inventory::from_json(&v.to_string()).is_err());
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v.as_object_mut().unwrap().remove("signing_ca");
    let err = Inventory::from_json(&v.to_string()).unwrap_err();
    assert!(err.to_string().contains("signing_ca"), "{err}");
}
