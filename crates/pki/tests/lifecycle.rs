//! The PKI lifecycle on disk: init, issue, renew, revoke, CRLs, rebuild, doctor, reseed,
//! and the refusals that must leave the directory untouched.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use waxseal_pki::inventory::Status;
use waxseal_pki::{Lifetimes, PkiDir, PkiError, Seed, ServiceHost, doctor};
use waxseal_trust::{Certificate, Crl, KeyAlgorithm, KeyFileCheck, time};

fn seed() -> Seed {
    Seed::from_json(r#"{"C": "US", "ST": "North Carolina", "L": "Raleigh", "O": "Example Org", "OU": "Messaging"}"#)
        .unwrap()
}

fn names(list: &[&str]) -> Vec<ServiceHost> {
    list.iter()
        .map(|n| ServiceHost::parse(n).unwrap())
        .collect()
}

/// Every file under `dir` with its mode and contents: equal snapshots mean nothing changed.
fn snapshot(dir: &Path) -> BTreeMap<String, (u32, Vec<u8>)> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o7777;
                out.insert(
                    p.strip_prefix(dir).unwrap().display().to_string(),
                    (mode, std::fs::read(&p).unwrap()),
                );
            }
        }
    }
    out
}

fn cert(path: &Path) -> Certificate {
    Certificate::load_all(&std::fs::read(path).unwrap())
        .unwrap()
        .remove(0)
}

fn crls(dir: &Path) -> Vec<Crl> {
    Crl::load_all(&std::fs::read(dir.join("crl.pem")).unwrap()).unwrap()
}

fn new_pki(tmp: &tempfile::TempDir) -> PkiDir {
    PkiDir::init(
        &tmp.path().join("pki"),
        seed(),
        KeyAlgorithm::P256,
        Lifetimes::default(),
    )
    .unwrap()
}

#[test]
fn init_issue_layout_modes_and_certificate_profile() {
    let tmp = tempfile::tempdir().unwrap();
    let mut pki = new_pki(&tmp);
    let dir = pki.dir().to_path_buf();
    let issued = pki
        .issue(&names(&["bodhi-app01.example.org"]), false, false)
        .unwrap();
    assert_eq!(issued.len(), 1);
    for (file, mode) in [
        ("root-ca.key", 0o600),
        ("signing-ca.key", 0o600),
        ("bodhi-app01.example.org.key", 0o600),
        ("root-ca.crt", 0o644),
        ("signing-ca.crt", 0o644),
        ("bodhi-app01.example.org.crt", 0o644),
        ("crl.pem", 0o644),
        ("inventory.json", 0o644),
    ] {
        let m = std::fs::metadata(dir.join(file))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(m, mode, "{file}");
    }
    let leaf = cert(&dir.join("bodhi-app01.example.org.crt"));
    assert_eq!(
        leaf.common_name().as_deref(),
        Some("bodhi-app01.example.org")
    );
    assert_eq!(
        leaf.subject_display(),
        "CN=bodhi-app01.example.org,OU=Messaging,O=Example Org,L=Raleigh,ST=North Carolina,C=US"
    );
    let ext = leaf.extensions();
    assert!(ext.subject_key_identifier.is_some() && ext.authority_key_identifier.is_some());
    assert!(!leaf.is_ca());
    assert!(leaf.allows_key_usage(x509_cert::ext::pkix::KeyUsages::DigitalSignature));
    assert!(!leaf.allows_key_usage(x509_cert::ext::pkix::KeyUsages::KeyCertSign));
    let san = ext.subject_alt_name.as_ref().unwrap();
    assert!(format!("{:?}", san[0]).contains("app01.example.org"));
    // Serial: 128 random bits, positive.
    assert_eq!(leaf.serial().len(), 16);
    assert!(leaf.serial()[0] < 0x80);
    // CAs: keyCertSign + cRLSign, pathLen, SKI/AKI.
    let root = cert(&dir.join("root-ca.crt"));
    let ca = cert(&dir.join("signing-ca.crt"));
    for (c, path_len) in [(&root, 1), (&ca, 0)] {
        assert!(c.is_ca());
        assert_eq!(
            c.extensions()
                .basic_constraints
                .as_ref()
                .unwrap()
                .path_len_constraint,
            Some(path_len)
        );
        assert!(c.allows_key_usage(x509_cert::ext::pkix::KeyUsages::KeyCertSign));
        assert!(c.allows_key_usage(x509_cert::ext::pkix::KeyUsages::CRLSign));
        assert!(c.subject_key_identifier().is_some());
    }
    assert!(ca.extensions().authority_key_identifier.is_some());
    // The inventory records it.
    let inv = pki.inventory();
    assert_eq!(inv.entries.len(), 1);
    assert_eq!(inv.entries[0].serial, leaf.serial_hex());
    assert_eq!(inv.entries[0].status, Status::Active);
    // No temporary files left behind.
    assert!(snapshot(&dir).keys().all(|k| !k.contains(".waxseal-tmp-")));
}

#[test]
fn one_live_certificate_per_name_and_renewal() {
    let tmp = tempfile::tempdir().unwrap();
    let mut pki = new_pki(&tmp);
    let dir = pki.dir().to_path_buf();
    let first = pki
        .issue(&names(&["bodhi-app01.example.org"]), false, false)
        .unwrap()
        .remove(0);
    let before = snapshot(&dir);
    let err = pki
        .issue(&names(&["bodhi-app01.example.org"]), false, false)
        .unwrap_err();
    // Agrees with `init` of an existing PKI: a usage error (exit 2), not a rejection.
    assert!(matches!(err, PkiError::Usage(_)), "{err}");
    assert_eq!(err.exit_code(), 2);
    assert!(err.to_string().contains("--renew"));
    assert_eq!(snapshot(&dir), before, "a refusal changed the directory");

    let second = pki
        .issue(&names(&["bodhi-app01.example.org"]), true, false)
        .unwrap()
        .remove(0);
    assert_ne!(second.serial, first.serial);
    assert_eq!(second.replaced.as_deref(), Some(first.serial.as_str()));
    let listed: Vec<String> = crls(&dir)[0]
        .entries()
        .iter()
        .map(|e| hex::encode(&e.serial))
        .collect();
    assert_eq!(
        listed,
        vec![first.serial.clone()],
        "the replaced certificate is on the CRL"
    );
    // The old files were archived, not deleted.
    let archived: Vec<String> = snapshot(&dir)
        .into_keys()
        .filter(|k| k.starts_with("archive/"))
        .collect();
    assert_eq!(archived.len(), 2, "{archived:?}");
    assert_eq!(pki.inventory().active().count(), 1);
}

#[test]
fn revocation_and_crls() {
    let tmp = tempfile::tempdir().unwrap();
    let mut pki = new_pki(&tmp);
    let dir = pki.dir().to_path_buf();
    let a = pki
        .issue(
            &names(&["bodhi-app01.example.org", "fas-app02.example.org"]),
            false,
            false,
        )
        .unwrap();
    let n1 = crls(&dir)[0].crl_number().unwrap().to_vec();
    let report = pki
        .revoke("fas-app02.example.org", "keyCompromise")
        .unwrap();
    assert_eq!(report.revoked, 1);
    let list = crls(&dir);
    assert_eq!(
        list.len(),
        2,
        "crl.pem holds the signing CA's and the root's CRL"
    );
    let entry = &list[0].entries()[0];
    assert_eq!(hex::encode(&entry.serial), a[1].serial);
    assert_eq!(
        entry.reason,
        Some(x509_cert::ext::pkix::crl::CrlReason::KeyCompromise)
    );
    assert!(list[0].crl_number().unwrap() > n1.as_slice());
    assert!(
        !dir.join("fas-app02.example.org.key").exists(),
        "revoked files are archived"
    );

    // Unknown and already revoked names: refused, nothing changed.
    let before = snapshot(&dir);
    assert_eq!(
        pki.revoke("nope-app09.example.org", "superseded")
            .unwrap_err()
            .exit_code(),
        2
    );
    assert_eq!(
        pki.revoke("fas-app02.example.org", "superseded")
            .unwrap_err()
            .exit_code(),
        2
    );
    assert_eq!(
        pki.revoke("bodhi-app01.example.org", "bogus")
            .unwrap_err()
            .exit_code(),
        2
    );
    assert_eq!(snapshot(&dir), before);

    // CRL numbers strictly increase; nextUpdate follows the request; DER on demand.
    let r1 = pki.write_crl(Some(7 * 86_400), true).unwrap();
    let r2 = pki.write_crl(None, false).unwrap();
    assert!(r2.number > r1.number);
    assert!(r1.next_update >= time::now() + 7 * 86_400 - 5);
    let der = Crl::from_der(&std::fs::read(dir.join("crl.der")).unwrap()).unwrap();
    assert_eq!(der.entries().len(), 1);
}

#[test]
fn rebuild_replaces_everything_and_keeps_the_old_files() {
    let tmp = tempfile::tempdir().unwrap();
    let mut pki = new_pki(&tmp);
    let dir = pki.dir().to_path_buf();
    pki.issue(
        &names(&[
            "bodhi-app01.example.org",
            "fas-app02.example.org",
            "koji-app03.example.org",
        ]),
        false,
        false,
    )
    .unwrap();
    pki.revoke("koji-app03.example.org", "cessationOfOperation")
        .unwrap();
    let old_root = cert(&dir.join("root-ca.crt"));
    let mut calls = 0;
    let issued = pki
        .rebuild(&mut |_, total, _| {
            calls += 1;
            assert_eq!(total, 2);
        })
        .unwrap();
    assert_eq!(issued.len(), 2);
    assert!(calls >= 2);
    let new_root = cert(&dir.join("root-ca.crt"));
    assert_ne!(new_root, old_root);
    let leaf = cert(&dir.join("bodhi-app01.example.org.crt"));
    assert_eq!(leaf.issuer(), cert(&dir.join("signing-ca.crt")).subject());
    assert!(!dir.join("koji-app03.example.org.crt").exists());
    let archived = snapshot(&dir)
        .into_keys()
        .filter(|k| k.starts_with("archive/rebuild-"))
        .count();
    assert!(
        archived >= 8,
        "old CA, keys, CRL and inventory archived ({archived} files)"
    );
    assert_eq!(pki.inventory().entries.len(), 2);
}

#[test]
fn reseed_moves_a_host_and_is_idempotent() {
    let tmp = tempfile::tempdir().unwrap();
    let mut pki = new_pki(&tmp);
    let dir = pki.dir().to_path_buf();
    pki.issue(
        &names(&[
            "bodhi-localhost.localdomain",
            "fedmsg_relay-localhost.localdomain",
            "fas-app02.example.org",
        ]),
        false,
        false,
    )
    .unwrap();
    let report = pki
        .reseed("localhost.localdomain", "app01.example.org")
        .unwrap();
    assert_eq!(report.issued.len(), 2);
    assert_eq!(report.revoked.len(), 2);
    assert!(dir.join("bodhi-app01.example.org.crt").exists());
    assert!(!dir.join("bodhi-localhost.localdomain.crt").exists());
    assert_eq!(crls(&dir)[0].entries().len(), 2);
    let after_first = snapshot(&dir);
    let report = pki
        .reseed("localhost.localdomain", "app01.example.org")
        .unwrap();
    assert!(report.issued.is_empty() && report.revoked.is_empty() && report.crl.is_none());
    assert_eq!(
        snapshot(&dir),
        after_first,
        "a second reseed changed something"
    );
    assert!(pki.reseed("localhost.localdomain", "not a host").is_err());
}

#[test]
fn doctor_finds_identity_expiry_revocation_and_permission_problems() {
    let tmp = tempfile::tempdir().unwrap();
    let mut pki = new_pki(&tmp);
    let dir = pki.dir().to_path_buf();
    pki.issue(
        &names(&["bodhi-app01.example.org", "fas-localhost.localdomain"]),
        false,
        false,
    )
    .unwrap();
    let now = time::now();
    // The CA directory: only the temporary identity is wrong.
    let f = doctor(&dir, "app01.example.org", 30, now).unwrap();
    assert_eq!(f.len(), 1, "{f:?}");
    assert!(f[0].problem.contains("identity localhost.localdomain"));
    assert!(f[0].fix.contains("reseed") && f[0].fix.contains("--to app01.example.org"));
    // A key readable by others.
    std::fs::set_permissions(
        dir.join("bodhi-app01.example.org.key"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let f = doctor(&dir, "app01.example.org", 30, now).unwrap();
    assert!(f.iter().any(
        |x| x.problem.contains("readable by group or others") && x.fix.starts_with("chmod 600")
    ));
    // Expiring within the warning window, and expired later on.
    let f = doctor(&dir, "app01.example.org", 400, now).unwrap();
    assert!(
        f.iter()
            .any(|x| x.problem.contains("expires at") && x.fix.contains("--renew"))
    );
    let f = doctor(&dir, "app01.example.org", 30, now + 400 * 86_400).unwrap();
    assert!(f.iter().any(|x| x.problem.starts_with("expired at")));
    assert!(
        f.iter()
            .any(|x| x.problem.contains("CRL") && x.fix.contains("pki crl"))
    );

    // A host's deployment directory: its certificates, a revoked one among them.
    let deploy = tmp.path().join("deploy");
    std::fs::create_dir(&deploy).unwrap();
    let serial_dir = |n: &str| dir.join(format!("{n}.crt"));
    std::fs::copy(
        serial_dir("bodhi-app01.example.org"),
        deploy.join("bodhi-app01.example.org.crt"),
    )
    .unwrap();
    std::fs::copy(
        serial_dir("fas-localhost.localdomain"),
        deploy.join("fas-localhost.localdomain.crt"),
    )
    .unwrap();
    pki.revoke("bodhi-app01.example.org", "keyCompromise")
        .unwrap();
    std::fs::copy(dir.join("crl.pem"), deploy.join("crl.pem")).unwrap();
    let f = doctor(&deploy, "app01.example.org", 30, now).unwrap();
    assert!(
        f.iter()
            .any(|x| x.problem.contains("revoked")
                && x.file.ends_with("bodhi-app01.example.org.crt"))
    );
    assert!(
        f.iter()
            .any(|x| x.problem.contains("identity localhost.localdomain"))
    );
    // On another host every certificate here has the wrong identity.
    let f = doctor(&deploy, "app09.example.org", 30, now).unwrap();
    assert_eq!(
        f.iter().filter(|x| x.problem.contains("identity")).count(),
        2
    );
    // A clean directory has no findings.
    let clean = tmp.path().join("clean");
    let mut other =
        PkiDir::init(&clean, seed(), KeyAlgorithm::Ed25519, Lifetimes::default()).unwrap();
    other
        .issue(&names(&["bodhi-app01.example.org"]), false, false)
        .unwrap();
    assert_eq!(
        doctor(&clean, "app01.example.org", 30, now).unwrap(),
        vec![]
    );
}

#[test]
fn bad_input_is_refused_without_changing_anything() {
    let tmp = tempfile::tempdir().unwrap();
    // Malformed seeds.
    for bad in [r#"{"C": "USA"}"#, r#"{"Org": "x"}"#, "{", r#"{"O": ""}"#] {
        assert!(Seed::from_json(bad).is_err(), "{bad}");
    }
    // Not a PKI.
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let err = PkiDir::open(&empty, KeyFileCheck::OwnerOnly).unwrap_err();
    assert!(err.to_string().contains("not a waxseal PKI"));
    assert_eq!(
        std::fs::read_dir(&empty).unwrap().count(),
        0,
        "open created files in a non-PKI directory"
    );

    let mut pki = new_pki(&tmp);
    let dir = pki.dir().to_path_buf();
    pki.issue(&names(&["bodhi-app01.example.org"]), false, false)
        .unwrap();
    drop(pki);
    let before = snapshot(&dir);
    // init over an existing PKI.
    assert!(PkiDir::init(&dir, seed(), KeyAlgorithm::P256, Lifetimes::default()).is_err());
    // Bad names.
    for bad in ["bodhi", "bodhi-app01", "Bodhi-app01.example.org"] {
        assert!(ServiceHost::parse(bad).is_err());
    }
    // Duplicate names in one call.
    let mut pki = PkiDir::open(&dir, KeyFileCheck::OwnerOnly).unwrap();
    assert!(
        pki.issue(
            &names(&["fas-app02.example.org", "fas-app02.example.org"]),
            false,
            false
        )
        .is_err()
    );
    // A stray key file not in the inventory.
    std::fs::write(dir.join("koji-app03.example.org.key"), b"stray").unwrap();
    let err = pki
        .issue(&names(&["koji-app03.example.org"]), false, false)
        .unwrap_err();
    assert!(err.to_string().contains("--force"), "{err}");
    std::fs::remove_file(dir.join("koji-app03.example.org.key")).unwrap();
    drop(pki);
    assert_eq!(snapshot(&dir), before);

    // A missing CA key.
    std::fs::rename(dir.join("signing-ca.key"), tmp.path().join("away.key")).unwrap();
    let before = snapshot(&dir);
    let mut pki = PkiDir::open(&dir, KeyFileCheck::OwnerOnly).unwrap();
    let err = pki
        .issue(&names(&["fas-app02.example.org"]), false, false)
        .unwrap_err();
    assert!(
        err.to_string().contains("signing-ca.key is missing"),
        "{err}"
    );
    assert!(pki.revoke("bodhi-app01.example.org", "superseded").is_err());
    drop(pki);
    assert_eq!(snapshot(&dir), before);
    std::fs::rename(tmp.path().join("away.key"), dir.join("signing-ca.key")).unwrap();

    // A CA key readable by others: refused unless asked.
    std::fs::set_permissions(
        dir.join("signing-ca.key"),
        std::fs::Permissions::from_mode(0o640),
    )
    .unwrap();
    let before = snapshot(&dir);
    let mut pki = PkiDir::open(&dir, KeyFileCheck::OwnerOnly).unwrap();
    let err = pki
        .issue(&names(&["fas-app02.example.org"]), false, false)
        .unwrap_err();
    assert!(err.to_string().contains("chmod 600"), "{err}");
    drop(pki);
    assert_eq!(snapshot(&dir), before);
    let mut pki = PkiDir::open(&dir, KeyFileCheck::AllowInsecure).unwrap();
    pki.issue(&names(&["fas-app02.example.org"]), false, false)
        .unwrap();
    drop(pki);

    // A malformed inventory.
    std::fs::write(
        dir.join("inventory.json"),
        b"{\"format\": \"waxseal-pki/1\", \"extra\": 1}",
    )
    .unwrap();
    let before = snapshot(&dir);
    let err = PkiDir::open(&dir, KeyFileCheck::OwnerOnly).unwrap_err();
    assert!(err.to_string().contains("invalid inventory"), "{err}");
    assert_eq!(err.exit_code(), 2);
    assert_eq!(snapshot(&dir), before);
}

#[test]
fn one_command_at_a_time() {
    let tmp = tempfile::tempdir().unwrap();
    let pki = new_pki(&tmp);
    let err = PkiDir::open(pki.dir(), KeyFileCheck::OwnerOnly).unwrap_err();
    assert!(
        err.to_string().contains("another waxseal pki command"),
        "{err}"
    );
    let dir = pki.dir().to_path_buf();
    drop(pki);
    PkiDir::open(&dir, KeyFileCheck::OwnerOnly).unwrap();
}

/// The key algorithm of the certificate at `path`.
fn key_algorithm(path: &Path) -> KeyAlgorithm {
    let key = waxseal_trust::PublicKey::from_spki(cert(path).public_key_info()).unwrap();
    match (key.kind(), key.bits()) {
        ("RSA", 2048) => KeyAlgorithm::Rsa2048,
        ("ECDSA P-256", _) => KeyAlgorithm::P256,
        ("ECDSA P-384", _) => KeyAlgorithm::P384,
        ("Ed25519", _) => KeyAlgorithm::Ed25519,
        other => panic!("unexpected key {other:?}"),
    }
}

#[test]
fn per_name_algorithms_survive_renewal_rebuild_and_reseed() {
    let tmp = tempfile::tempdir().unwrap();
    let mut pki = new_pki(&tmp);
    let dir = pki.dir().to_path_buf();
    pki.issue(&names(&["compute-node01.example.org"]), false, false)
        .unwrap();
    pki.issue_with(
        &names(&["conductor-node01.example.org"]),
        false,
        false,
        Some(KeyAlgorithm::Ed25519),
    )
    .unwrap();
    pki.issue_with(
        &names(&["scheduler-localhost.localdomain"]),
        false,
        false,
        Some(KeyAlgorithm::Rsa2048),
    )
    .unwrap();
    let expect = |dir: &Path, scheduler: &str| {
        assert_eq!(
            key_algorithm(&dir.join("compute-node01.example.org.crt")),
            KeyAlgorithm::P256
        );
        assert_eq!(
            key_algorithm(&dir.join("conductor-node01.example.org.crt")),
            KeyAlgorithm::Ed25519
        );
        assert_eq!(
            key_algorithm(&dir.join(format!("{scheduler}.crt"))),
            KeyAlgorithm::Rsa2048
        );
    };
    expect(&dir, "scheduler-localhost.localdomain");
    // The PKI's own algorithm is not repeated in the inventory; a different one is.
    let recorded = |pki: &PkiDir, name: &str| {
        pki.inventory()
            .active_named(name)
            .unwrap()
            .algorithm
            .clone()
    };
    assert_eq!(recorded(&pki, "compute-node01.example.org"), None);
    assert_eq!(
        recorded(&pki, "conductor-node01.example.org").as_deref(),
        Some("ed25519")
    );

    // A renewal without --algorithm keeps the entry's; with one, it changes.
    pki.issue(&names(&["conductor-node01.example.org"]), true, false)
        .unwrap();
    expect(&dir, "scheduler-localhost.localdomain");
    pki.issue_with(
        &names(&["compute-node01.example.org"]),
        true,
        false,
        Some(KeyAlgorithm::P384),
    )
    .unwrap();
    assert_eq!(
        key_algorithm(&dir.join("compute-node01.example.org.crt")),
        KeyAlgorithm::P384
    );
    pki.issue_with(
        &names(&["compute-node01.example.org"]),
        true,
        false,
        Some(KeyAlgorithm::P256),
    )
    .unwrap();
    assert_eq!(recorded(&pki, "compute-node01.example.org"), None);

    pki.reseed("localhost.localdomain", "node02.example.org")
        .unwrap();
    expect(&dir, "scheduler-node02.example.org");
    pki.rebuild(&mut |_, _, _| {}).unwrap();
    expect(&dir, "scheduler-node02.example.org");

    // Reopened from disk, the inventory still says so.
    drop(pki);
    let pki = PkiDir::open(&dir, KeyFileCheck::OwnerOnly).unwrap();
    assert_eq!(
        recorded(&pki, "scheduler-node02.example.org").as_deref(),
        Some("rsa2048")
    );
}

#[test]
fn signers_load_from_the_directory_and_refuse_a_wrong_key() {
    let tmp = tempfile::tempdir().unwrap();
    let mut pki = new_pki(&tmp);
    let dir = pki.dir().to_path_buf();
    pki.issue(
        &names(&["bodhi-app01.example.org", "fas-app02.example.org"]),
        false,
        false,
    )
    .unwrap();
    let signer = pki.signer("bodhi-app01.example.org").unwrap();
    assert_eq!(signer.chain(), [cert(&dir.join("signing-ca.crt"))]);
    let env = waxseal_envelope::EnvelopeBuilder::new(b"hello")
        .add_signer(&signer)
        .build()
        .unwrap();
    let verifier = waxseal_envelope::Verifier::new(
        waxseal_trust::TrustAnchors::new([pki.root_certificate().unwrap()]).unwrap(),
    );
    let v = verifier.verify_bytes(&env.to_der(), None).unwrap();
    assert_eq!(
        v.signers()[0].certificate,
        cert(&dir.join("bodhi-app01.example.org.crt"))
    );

    // Unknown name: an error, not a panic.
    assert!(matches!(
        pki.signer("koji-app03.example.org"),
        Err(PkiError::Io { .. } | PkiError::Usage(_))
    ));
    // A key that is not the certificate's is refused.
    std::fs::copy(
        dir.join("fas-app02.example.org.key"),
        dir.join("bodhi-app01.example.org.key"),
    )
    .unwrap();
    let Err(err) =
        waxseal_pki::load_signer(&dir, "bodhi-app01.example.org", KeyFileCheck::OwnerOnly)
    else {
        panic!("a mismatched key must be refused");
    };
    assert!(err.to_string().contains("bodhi-app01.example.org"), "{err}");
    // A key readable by others is refused unless the caller says so.
    std::fs::set_permissions(
        dir.join("fas-app02.example.org.key"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    assert!(pki.signer("fas-app02.example.org").is_err());
    assert!(
        waxseal_pki::load_signer(&dir, "fas-app02.example.org", KeyFileCheck::AllowInsecure)
            .is_ok()
    );
}
