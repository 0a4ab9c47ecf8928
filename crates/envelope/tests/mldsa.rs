//! ML-DSA in CMS SignedData (RFC 9882): RFC 9882's own examples verify; waxseal signs and
//! verifies with ML-DSA-44, -65 and -87, with and without signed attributes, under every
//! provider, with ML-DSA and ECDSA CAs mixed; and each way of getting it wrong is refused
//! with its own reason code.

use std::path::PathBuf;

use waxseal_envelope::*;
use waxseal_pki::TestPki;
use waxseal_trust::mldsa::MlDsaParameterSet;
use waxseal_trust::provider::{Provider, ProviderChoice};
use waxseal_trust::*;

fn testdata(name: &str) -> Vec<u8> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/mldsa")
        .join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

const SETS: [MlDsaParameterSet; 3] = [
    MlDsaParameterSet::MlDsa44,
    MlDsaParameterSet::MlDsa65,
    MlDsaParameterSet::MlDsa87,
];

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

/// Replaces every occurrence of `from` by `to` (same length) in `der`.
fn patch(der: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    assert_eq!(from.len(), to.len());
    let mut out = der.to_vec();
    let mut found = false;
    let mut i = 0;
    while i + from.len() <= out.len() {
        if &out[i..i + from.len()] == from {
            out[i..i + from.len()].copy_from_slice(to);
            found = true;
            i += from.len();
        } else {
            i += 1;
        }
    }
    assert!(found, "nothing to patch");
    out
}

/// Replaces the last occurrence of `from` by `to` (the signerInfos come last).
fn patch_last(der: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let at = der
        .windows(from.len())
        .rposition(|w| w == from)
        .expect("nothing to patch");
    let mut out = der.to_vec();
    out[at..at + from.len()].copy_from_slice(to);
    out
}

fn oid_der(oid: &str) -> Vec<u8> {
    der::Encode::to_der(&oid.parse::<der::oid::ObjectIdentifier>().unwrap()).unwrap()
}

fn at_time(cert: &Certificate) -> u64 {
    cert.not_before() + 86_400
}

#[test]
fn rfc9882_examples_verify_against_rfc9881_certificates() {
    for (n, name) in [(44, "ML-DSA-44"), (65, "ML-DSA-65"), (87, "ML-DSA-87")] {
        let cert = Certificate::load_all(&testdata(&format!("{name}.crt")))
            .unwrap()
            .remove(0);
        let example = testdata(&format!("rfc9882-mldsa{n}-signed-attrs.pem"));
        let at = at_time(&cert);
        for p in providers() {
            {
                let v = Verifier::new(TrustAnchors::new([cert.clone()]).unwrap())
                    .with_provider(p)
                    .with_store(CertStore::from_certificates([cert.clone()]))
                    .at_time(at)
                    .verify_bytes(&example, None)
                    .unwrap_or_else(|e| panic!("{name} with {}: {e}", p.describe()));
                assert_eq!(
                    v.content(),
                    format!("ML-DSA-{n} signed-data example with signed attributes").as_bytes()
                );
                assert_eq!(v.signers()[0].digest, DigestAlgorithm::Sha512);
                assert_eq!(v.signers()[0].signature_algorithm, format!("ml-dsa-{n}"));
            }
        }
        // The RFC's three certificates share issuer and serial number: another parameter
        // set's certificate is found for the signer, and its key does not fit.
        let other = if n == 44 { "ML-DSA-65" } else { "ML-DSA-44" };
        let other = Certificate::load_all(&testdata(&format!("{other}.crt")))
            .unwrap()
            .remove(0);
        let err = Verifier::signature_only_unauthenticated()
            .with_store(CertStore::from_certificates([other]))
            .verify_bytes(&example, None)
            .unwrap_err();
        assert_eq!(err.code(), "algorithm-mismatch", "{name}");
        // Content changed: the message digest no longer matches.
        let pem = String::from_utf8(example.clone()).unwrap();
        let mut der = pem::parse(pem).unwrap().contents().to_vec();
        let at = der.windows(7).position(|w| w == b"example").unwrap();
        der[at] = b'E';
        let err = Verifier::new(TrustAnchors::new([cert.clone()]).unwrap())
            .with_store(CertStore::from_certificates([cert.clone()]))
            .at_time(at_time(&cert))
            .verify_bytes(&der, None)
            .unwrap_err();
        assert_eq!(err.code(), "message-digest-mismatch", "{name}");
    }
}

#[test]
fn every_parameter_set_round_trips_with_and_without_signed_attributes() {
    for set in SETS {
        let alg = KeyAlgorithm::MlDsa(set);
        let pki = TestPki::new(alg).unwrap();
        let leaf = pki.leaf(&format!("svc-{set}.example.org"), alg).unwrap();
        // `inspect` names the parameter set, which says the strength (no bit count).
        let summary = waxseal_envelope::inspect::CertificateSummary::of(&leaf.cert);
        assert_eq!(summary.key, set.to_string().to_uppercase(), "{set}");
        for signed_attributes in [true, false] {
            for p in providers() {
                let verifier = Verifier::new(TrustAnchors::new([pki.root.cert.clone()]).unwrap())
                    .with_provider(p);
                {
                    let mut signer = Signer::new(leaf.cert.clone(), leaf.key.clone())
                        .unwrap()
                        .with_provider(p)
                        .with_chain(vec![pki.ca.cert.clone()]);
                    assert_eq!(signer.digest(), DigestAlgorithm::Sha512);
                    if !signed_attributes {
                        signer = signer.without_signed_attributes();
                    }
                    for detached in [false, true] {
                        let env = EnvelopeBuilder::new(b"payload")
                            .detached(detached)
                            .add_signer(&signer)
                            .build()
                            .unwrap();
                        let der = env.to_der();
                        let content = detached.then_some(&b"payload"[..]);
                        let v = verifier.verify_bytes(&der, content).unwrap_or_else(|e| {
                            panic!("{set} attrs={signed_attributes} {}: {e}", p.describe())
                        });
                        assert_eq!(v.content(), b"payload");
                        assert_eq!(v.signers()[0].certificate, leaf.cert);
                        assert_eq!(v.signers()[0].signing_time.is_some(), signed_attributes);
                        if detached {
                            let e = verifier.verify_bytes(&der, Some(b"pay1oad")).unwrap_err();
                            let code = if signed_attributes {
                                "message-digest-mismatch"
                            } else {
                                "bad-signature"
                            };
                            assert_eq!(e.code(), code, "{set} attrs={signed_attributes}");
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn mixed_pkis_ml_dsa_over_ecdsa_and_ecdsa_over_ml_dsa() {
    for (ca, leaf_alg) in [
        (
            KeyAlgorithm::MlDsa(MlDsaParameterSet::MlDsa65),
            KeyAlgorithm::P256,
        ),
        (
            KeyAlgorithm::P384,
            KeyAlgorithm::MlDsa(MlDsaParameterSet::MlDsa44),
        ),
        (
            KeyAlgorithm::MlDsa(MlDsaParameterSet::MlDsa87),
            KeyAlgorithm::MlDsa(MlDsaParameterSet::MlDsa44),
        ),
    ] {
        let pki = TestPki::new(ca).unwrap();
        let leaf = pki.leaf("mixed.example.org", leaf_alg).unwrap();
        let signer = Signer::new(leaf.cert.clone(), leaf.key)
            .unwrap()
            .with_chain(vec![pki.ca.cert.clone()]);
        let der = EnvelopeBuilder::new(b"mixed")
            .add_signer(&signer)
            .build()
            .unwrap()
            .to_der();
        let v = Verifier::new(TrustAnchors::new([pki.root.cert.clone()]).unwrap())
            .verify_bytes(&der, None)
            .unwrap_or_else(|e| panic!("{ca} over {leaf_alg}: {e}"));
        assert_eq!(v.content(), b"mixed");
        // Another PKI of the same algorithms does not vouch for it.
        let other = TestPki::named(ca, "other").unwrap();
        let e = Verifier::new(TrustAnchors::new([other.root.cert.clone()]).unwrap())
            .verify_bytes(&der, None)
            .unwrap_err();
        assert_eq!(e.code(), "untrusted", "{ca} over {leaf_alg}");
        // A CA certificate whose signature is flipped: the path breaks.
        let mut ca_der = pki.ca.cert.der().to_vec();
        let last = ca_der.len() - 1;
        ca_der[last] ^= 1;
        let forged_ca = Certificate::from_der(&ca_der).unwrap();
        let e = Verifier::new(TrustAnchors::new([pki.root.cert.clone()]).unwrap())
            .verify_bytes(
                &EnvelopeBuilder::new(b"mixed")
                    .add_signer(&signer.clone().with_chain(vec![forged_ca]))
                    .build()
                    .unwrap()
                    .to_der(),
                None,
            )
            .unwrap_err();
        assert!(
            ["bad-certificate-signature", "untrusted"].contains(&e.code()),
            "{ca} over {leaf_alg}: {}",
            e.code()
        );
    }
}

#[test]
fn forged_relabelled_and_weak_digest_envelopes_are_refused() {
    let set = MlDsaParameterSet::MlDsa87;
    let alg = KeyAlgorithm::MlDsa(set);
    let pki = TestPki::new(KeyAlgorithm::P256).unwrap();
    let leaf = pki.leaf("svc.example.org", alg).unwrap();
    let signer = Signer::new(leaf.cert.clone(), leaf.key.clone())
        .unwrap()
        .with_chain(vec![pki.ca.cert.clone()]);
    let verifier = Verifier::new(TrustAnchors::new([pki.root.cert.clone()]).unwrap());
    let der = EnvelopeBuilder::new(b"payload")
        .add_signer(&signer)
        .build()
        .unwrap()
        .to_der();
    verifier.verify_bytes(&der, None).unwrap();

    // The signer cannot be asked for a digest RFC 9882 finds too weak for ML-DSA-87.
    for d in [DigestAlgorithm::Sha256, DigestAlgorithm::Sha384] {
        assert!(signer.clone().with_digest(d).is_err(), "{d}");
    }
    // Nor for PSS.
    assert!(signer.clone().with_rsa_pss(true).is_err());

    // A flipped bit in the signature.
    let sig_at = der.len() - 10;
    let mut forged = der.clone();
    forged[sig_at] ^= 1;
    assert_eq!(
        verifier.verify_bytes(&forged, None).unwrap_err().code(),
        "bad-signature"
    );

    // The signature algorithm relabelled as ML-DSA-44 (the key is ML-DSA-87).
    let mldsa87 = oid_der("2.16.840.1.101.3.4.3.19");
    let relabelled = patch_last(&der, &mldsa87, &oid_der("2.16.840.1.101.3.4.3.17"));
    assert_eq!(
        verifier.verify_bytes(&relabelled, None).unwrap_err().code(),
        "algorithm-mismatch"
    );
    // A parameter set waxseal does not know (the next identifier of the arc), HashML-DSA.
    for unknown in ["2.16.840.1.101.3.4.3.20", "2.16.840.1.101.3.4.3.34"] {
        let unknown = patch_last(&der, &mldsa87, &oid_der(unknown));
        assert_eq!(
            verifier.verify_bytes(&unknown, None).unwrap_err().code(),
            "unsupported-algorithm"
        );
    }
    // NULL parameters on the signature algorithm (RFC 9882 §2: MUST be absent): the
    // AlgorithmIdentifier grows by two bytes, so it is rebuilt rather than patched.
    let mut with_null = der::Encode::to_der(&der::asn1::Null).unwrap();
    let mut ai = mldsa87.clone();
    ai.append(&mut with_null);
    let mut env = Envelope::parse(&der).unwrap();
    env.signed_data_mut().signer_infos[0].signature_algorithm =
        der::Decode::from_der(&waxseal_trust::asn1::tlv(0x30, &ai)).unwrap();
    let e = verifier.verify_bytes(&env.to_der(), None).unwrap_err();
    assert_eq!(e.code(), "unsupported-algorithm");

    // SHA-512 relabelled as SHA-256 (digestAlgorithms and the SignerInfo): for ML-DSA-87
    // with signed attributes that is below what RFC 9882 asks.
    let weak = patch(
        &der,
        &oid_der("2.16.840.1.101.3.4.2.3"),
        &oid_der("2.16.840.1.101.3.4.2.1"),
    );
    assert_eq!(
        verifier.verify_bytes(&weak, None).unwrap_err().code(),
        "algorithm-mismatch"
    );
}

#[test]
fn without_signed_attributes_the_digest_algorithm_is_not_what_is_signed() {
    // RFC 9882 §3.3: without signed attributes the signature covers the content; the
    // digestAlgorithm (any waxseal knows) does not change the verdict.
    let set = MlDsaParameterSet::MlDsa44;
    let pki = TestPki::new(KeyAlgorithm::MlDsa(set)).unwrap();
    let leaf = pki
        .leaf("raw.example.org", KeyAlgorithm::MlDsa(set))
        .unwrap();
    let signer = Signer::new(leaf.cert.clone(), leaf.key)
        .unwrap()
        .with_chain(vec![pki.ca.cert.clone()])
        .with_digest(DigestAlgorithm::Sha256)
        .unwrap()
        .without_signed_attributes();
    let der = EnvelopeBuilder::new(b"raw")
        .add_signer(&signer)
        .build()
        .unwrap()
        .to_der();
    let verifier = Verifier::new(TrustAnchors::new([pki.root.cert.clone()]).unwrap());
    assert_eq!(verifier.verify_bytes(&der, None).unwrap().content(), b"raw");
    // Content replaced by content of the same length: the signature no longer holds.
    let forged = patch(&der, b"raw", b"rAw");
    assert_eq!(
        verifier.verify_bytes(&forged, None).unwrap_err().code(),
        "bad-signature"
    );
}

#[test]
fn streamed_content_without_signed_attributes_is_kept_up_to_the_retain_limit() {
    // Without signed attributes ML-DSA signs the content itself: a streamed verification
    // keeps it up to RETAIN_LIMIT and refuses a larger one (`content-too-large`), as for
    // Ed25519; with signed attributes the digest suffices at any size.
    let set = MlDsaParameterSet::MlDsa44;
    let pki = TestPki::new(KeyAlgorithm::MlDsa(set)).unwrap();
    let leaf = pki
        .leaf("stream.example.org", KeyAlgorithm::MlDsa(set))
        .unwrap();
    let signer = Signer::new(leaf.cert.clone(), leaf.key)
        .unwrap()
        .with_chain(vec![pki.ca.cert.clone()]);
    let verifier = Verifier::new(TrustAnchors::new([pki.root.cert.clone()]).unwrap());
    let small = vec![b'a'; 1024];
    let large = vec![b'b'; waxseal_envelope::stream::RETAIN_LIMIT + 1];
    for (content, attrs, want) in [
        (&small, false, None),
        (&large, false, Some("content-too-large")),
        (&large, true, None),
    ] {
        let s = if attrs {
            signer.clone()
        } else {
            signer.clone().without_signed_attributes()
        };
        let env = EnvelopeBuilder::new(content)
            .detached(true)
            .add_signer(&s)
            .build()
            .unwrap();
        let r = verifier.verify_detached_reader(&env, content.as_slice());
        match want {
            None => assert_eq!(r.unwrap().content_len(), content.len() as u64),
            Some(code) => assert_eq!(r.unwrap_err().code(), code),
        }
    }
}
