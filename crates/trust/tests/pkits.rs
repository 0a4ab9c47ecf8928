//! NIST PKITS (Public Key Interoperability Test Suite) through waxseal's path validator.
//!
//! Every `Valid...EE.crt` / `Invalid...EE.crt` of `../shared/vectors/pkits` is validated
//! against `TrustAnchorRootCertificate.crt` with the whole certificate pool and every CRL
//! available, at 2010-06-01T00:00:00Z, with the default policy inputs: the prefix of the
//! file name is the expected verdict.

use std::path::PathBuf;

use waxseal_trust::algorithm::AlgorithmPolicy;
use waxseal_trust::cert::Certificate;
use waxseal_trust::path::{
    self as trust, Purpose, RevocationPolicy, TrustAnchors, ValidationOptions,
};
use waxseal_trust::store::{CertStore, CrlSet, load_certificates, load_crls};

/// `../shared/vectors` beside the project root. Panics (the test fails loudly) when it
/// is missing: conformance tests must never pass by skipping.
fn vectors() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/vectors");
    assert!(
        dir.is_dir(),
        "shared test vectors missing at {}",
        dir.display()
    );
    dir
}

#[test]
fn pkits_path_validation_verdicts() {
    let dir = vectors().join("pkits");
    let certs = load_certificates(&dir.join("certs")).expect("PKITS certificates");
    let crls = CrlSet::from_crls(load_crls(&dir.join("crls")).expect("PKITS CRLs"));
    let anchor = Certificate::load_all(
        &std::fs::read(dir.join("certs/TrustAnchorRootCertificate.crt")).unwrap(),
    )
    .unwrap()
    .remove(0);
    let anchors = TrustAnchors::new([anchor]).unwrap();
    let pool = CertStore::from_certificates(certs);
    let mut options = ValidationOptions::at(1_275_350_400);
    options.algorithms = AlgorithmPolicy::LEGACY_SHA1;
    options.revocation = RevocationPolicy::RequireAll;
    options.purpose = Purpose::Any;

    let mut names: Vec<String> = std::fs::read_dir(dir.join("certs"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with("EE.crt") && (n.starts_with("Valid") || n.starts_with("Invalid")))
        .collect();
    names.sort();
    assert_eq!(
        names.len(),
        203,
        "PKITS should have 203 Valid/Invalid end-entity certificates"
    );

    let mut wrong = Vec::new();
    let mut codes = std::collections::BTreeMap::new();
    for name in &names {
        let ee = Certificate::load_all(&std::fs::read(dir.join("certs").join(name)).unwrap())
            .unwrap()
            .remove(0);
        let result = trust::validate(&ee, &anchors, &[&pool], &crls, &options);
        let expect_valid = name.starts_with("Valid");
        if let Err(e) = &result {
            *codes.entry(e.code()).or_insert(0) += 1;
        }
        if result.is_ok() != expect_valid {
            wrong.push(format!(
                "{name}: expected {}, got {:?}",
                if expect_valid { "valid" } else { "invalid" },
                result.err()
            ));
        }
    }
    println!(
        "PKITS: {}/{} verdicts correct",
        names.len() - wrong.len(),
        names.len()
    );
    println!("rejection reasons: {codes:?}");
    for w in &wrong {
        println!("  {w}");
    }
    assert!(wrong.is_empty(), "{} PKITS verdicts wrong", wrong.len());
}
