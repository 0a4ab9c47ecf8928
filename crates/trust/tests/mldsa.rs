//! ML-DSA keys and certificates (FIPS 204, RFC 9881) against the examples of RFC 9881
//! Appendix C (testdata/mldsa/, from github.com/lamps-wg/dilithium-certificates, made
//! by an independent implementation): they are the known-answer tests of key generation
//! (seed 00..1f gives the expanded key and public key printed there) and of verification
//! (the self-signed certificates).

use std::path::PathBuf;

use waxseal_trust::algorithm::{AlgorithmError, DigestAlgorithm, SignatureScheme};
use waxseal_trust::mldsa::MlDsaParameterSet;
use waxseal_trust::provider::{BackendId, Provider, ProviderChoice};
use waxseal_trust::{Certificate, KeyAlgorithm, KeyError, PrivateKey, PublicKey};

fn testdata(name: &str) -> Vec<u8> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/mldsa")
        .join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn pem_der(name: &str) -> Vec<u8> {
    pem::parse(testdata(name)).unwrap().contents().to_vec()
}

fn sets() -> [(MlDsaParameterSet, &'static str); 3] {
    [
        (MlDsaParameterSet::MlDsa44, "ML-DSA-44"),
        (MlDsaParameterSet::MlDsa65, "ML-DSA-65"),
        (MlDsaParameterSet::MlDsa87, "ML-DSA-87"),
    ]
}

fn providers() -> Vec<Provider> {
    let mut v = vec![
        Provider::RUSTCRYPTO,
        Provider::new(ProviderChoice::Auto).unwrap(),
    ];
    if let Ok(g) = Provider::new(ProviderChoice::Graviola) {
        v.push(g);
    }
    v
}

#[test]
fn rfc9881_seed_expanded_and_both_forms_give_the_published_public_key() {
    for (set, name) in sets() {
        let spki =
            spki::SubjectPublicKeyInfoOwned::try_from(pem_der(&format!("{name}.pub")).as_slice())
                .unwrap();
        let published = PublicKey::from_spki(&spki).unwrap();
        assert_eq!(published.kind(), name);
        for form in ["seed", "expanded", "both"] {
            let key = PrivateKey::from_bytes(&testdata(&format!("{name}-{form}.priv")))
                .unwrap_or_else(|e| panic!("{name} {form}: {e}"));
            assert_eq!(key.algorithm(), KeyAlgorithm::MlDsa(set));
            assert_eq!(key.public_key(), published, "{name} {form}");
            // Written in the seed form whenever the seed is known (RFC 9881 §6), else in
            // the form it was read in: byte for byte the RFC's files.
            let written = key.to_pkcs8_der();
            let expected = match form {
                "expanded" => pem_der(&format!("{name}-expanded.priv")),
                _ => pem_der(&format!("{name}-seed.priv")),
            };
            assert_eq!(written.as_slice(), expected.as_slice(), "{name} {form}");
            // And it signs what the published key verifies.
            let p = Provider::default();
            let (alg, sig) = key
                .sign(&p, b"known answer", DigestAlgorithm::Sha512, false)
                .unwrap();
            assert_eq!(alg.oid, set.oid());
            assert!(alg.parameters.is_none());
            let scheme = SignatureScheme::from_algorithm_identifier(&alg).unwrap();
            p.verify(
                &published,
                &scheme,
                DigestAlgorithm::Sha512,
                b"known answer",
                &sig,
            )
            .unwrap();
            assert!(
                p.verify(
                    &published,
                    &scheme,
                    DigestAlgorithm::Sha512,
                    b"known answeR",
                    &sig
                )
                .is_err()
            );
        }
    }
}

#[test]
fn rfc9881_inconsistent_private_keys_are_refused() {
    // 1: both, seed and expanded key disagree; 2: expanded key whose tr is not its
    // public key's.
    for n in 1..=2 {
        let r = PrivateKey::from_bytes(&testdata(&format!("bad-ML-DSA-44-{n}.priv")));
        assert!(
            matches!(r, Err(KeyError::Unreadable(_))),
            "bad-ML-DSA-44-{n}: {r:?}"
        );
    }
    // 3: expanded key whose t0 is not what s1 and s2 imply. Not detected (t0 is not
    // recomputed, see waxseal_trust::mldsa); what it signs is still checked like any
    // signature, under the public key s1 and s2 imply.
    let key = PrivateKey::from_bytes(&testdata("bad-ML-DSA-44-3.priv")).unwrap();
    let p = Provider::default();
    let (alg, sig) = key.sign(&p, b"t0", DigestAlgorithm::Sha512, false).unwrap();
    let scheme = SignatureScheme::from_algorithm_identifier(&alg).unwrap();
    p.verify(
        &key.public_key(),
        &scheme,
        DigestAlgorithm::Sha512,
        b"t0",
        &sig,
    )
    .unwrap();
    // A seed of 31 bytes, an unknown CHOICE tag, trailing bytes.
    let der = pem_der("ML-DSA-44-seed.priv");
    let seed_at = der.len() - 32;
    let mut short = der.clone();
    short.pop();
    assert!(PrivateKey::from_der(&short).is_err());
    let mut tag = der.clone();
    tag[seed_at - 2] = 0x81;
    assert!(PrivateKey::from_der(&tag).is_err());
}

#[test]
fn rfc9881_certificates_verify_with_both_providers_and_tampering_fails() {
    for (set, name) in sets() {
        let cert = Certificate::load_all(&testdata(&format!("{name}.crt")))
            .unwrap()
            .remove(0);
        let key = cert.public_key_bounded(None, 8192).unwrap();
        let scheme =
            SignatureScheme::from_algorithm_identifier(cert.signature_algorithm()).unwrap();
        assert_eq!(scheme, SignatureScheme::MlDsa(set));
        assert_eq!(cert.signature().len(), set.signature_len());
        let mut tbs = cert.tbs_der().to_vec();
        for p in providers() {
            assert_eq!(
                p.backend_for_verify(key.key(), &scheme, DigestAlgorithm::Sha512),
                BackendId::RustCrypto
            );
            p.verify_prepared(
                &key,
                &scheme,
                DigestAlgorithm::Sha512,
                cert.tbs_der(),
                cert.signature(),
            )
            .unwrap_or_else(|_| panic!("{name} with {}", p.describe()));
            let last = tbs.len() - 1;
            tbs[last] ^= 1;
            assert!(
                p.verify_prepared(
                    &key,
                    &scheme,
                    DigestAlgorithm::Sha512,
                    &tbs,
                    cert.signature()
                )
                .is_err()
            );
            tbs[last] ^= 1;
            let mut sig = cert.signature().to_vec();
            sig[0] ^= 1;
            assert!(
                p.verify_prepared(&key, &scheme, DigestAlgorithm::Sha512, &tbs, &sig)
                    .is_err()
            );
        }
    }
}

#[test]
fn parameters_lengths_and_parameter_sets_are_checked() {
    let spki_der = pem_der("ML-DSA-65.pub");
    let spki = spki::SubjectPublicKeyInfoOwned::try_from(spki_der.as_slice()).unwrap();
    // Parameters present (even NULL): refused, on the key and on the signature algorithm.
    let mut with_null = spki.clone();
    with_null.algorithm.parameters = Some(der::asn1::Null.into());
    assert!(matches!(
        PublicKey::from_spki(&with_null),
        Err(KeyError::BadPublicKey(_))
    ));
    assert!(matches!(
        SignatureScheme::from_algorithm_identifier(&with_null.algorithm),
        Err(AlgorithmError::BadParameters(_))
    ));
    // A key one byte short, or labelled with another parameter set: refused.
    let mut short = spki.clone();
    let bytes = spki.subject_public_key.raw_bytes();
    short.subject_public_key = der::asn1::BitString::from_bytes(&bytes[1..]).unwrap();
    assert!(PublicKey::from_spki(&short).is_err());
    let mut relabelled = spki.clone();
    relabelled.algorithm.oid = MlDsaParameterSet::MlDsa44.oid();
    assert!(PublicKey::from_spki(&relabelled).is_err());
    // HashML-DSA (RFC 9881 §8 forbids it) and an identifier after id-ml-dsa-87 are not
    // parameter sets waxseal knows: unsupported.
    for oid in ["2.16.840.1.101.3.4.3.32", "2.16.840.1.101.3.4.3.20"] {
        let alg = spki::AlgorithmIdentifierOwned {
            oid: oid.parse().unwrap(),
            parameters: None,
        };
        assert!(matches!(
            SignatureScheme::from_algorithm_identifier(&alg),
            Err(AlgorithmError::UnsupportedSignature(_))
        ));
    }
    // An ML-DSA-65 key with an ML-DSA-44 signature algorithm, or ECDSA: a mismatch.
    let key = PublicKey::from_spki(&spki).unwrap();
    let policy = Default::default();
    for scheme in [
        SignatureScheme::MlDsa(MlDsaParameterSet::MlDsa44),
        SignatureScheme::Ecdsa { digest: None },
        SignatureScheme::Ed25519,
    ] {
        assert!(matches!(
            key.check_scheme(&scheme, DigestAlgorithm::Sha512, &policy),
            Err(AlgorithmError::KeyMismatch { .. })
        ));
    }
    key.check_scheme(
        &SignatureScheme::MlDsa(MlDsaParameterSet::MlDsa65),
        DigestAlgorithm::Sha512,
        &policy,
    )
    .unwrap();
}

#[test]
fn signing_digests_follow_rfc9882() {
    for (set, _) in sets() {
        let key = PrivateKey::generate(KeyAlgorithm::MlDsa(set)).unwrap();
        assert_eq!(key.default_digest(), DigestAlgorithm::Sha512);
        assert!(key.check_digest(DigestAlgorithm::Sha512, false).is_ok());
        // A hash shorter than twice the parameter set's collision strength is refused.
        for d in [DigestAlgorithm::Sha256, DigestAlgorithm::Sha384] {
            assert_eq!(
                key.check_digest(d, false).is_ok(),
                d >= set.min_digest(),
                "{set} {d}"
            );
        }
        assert!(key.check_digest(DigestAlgorithm::Sha1, false).is_err());
        // No PSS for an ML-DSA key.
        assert!(key.check_digest(DigestAlgorithm::Sha512, true).is_err());
        // A key read back from what it writes is the same key.
        let again = PrivateKey::from_bytes(key.to_pkcs8_pem().as_bytes()).unwrap();
        assert_eq!(again.public_key(), key.public_key());
    }
}
