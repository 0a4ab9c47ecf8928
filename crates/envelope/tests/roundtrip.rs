//! Sign-then-verify round trips with waxseal on both sides, and the negative cases next
//! to them: each rejection must come with its own reason code.

use waxseal_envelope::*;
use waxseal_pki::TestPki;
use waxseal_trust::*;

fn verifier(pki: &TestPki) -> Verifier {
    Verifier::new(TrustAnchors::new([pki.root.cert.clone()]).unwrap())
}

#[test]
fn every_algorithm_round_trips_attached_and_detached() {
    let pki = TestPki::new(KeyAlgorithm::P256).unwrap();
    for alg in [
        KeyAlgorithm::Rsa2048,
        KeyAlgorithm::P256,
        KeyAlgorithm::P384,
        KeyAlgorithm::Ed25519,
    ] {
        let leaf = pki.leaf(&format!("svc-{alg}.example.org"), alg).unwrap();
        let signer = Signer::new(leaf.cert.clone(), leaf.key)
            .unwrap()
            .with_chain(vec![pki.ca.cert.clone()]);
        for detached in [false, true] {
            let env = EnvelopeBuilder::new(b"payload")
                .detached(detached)
                .add_signer(&signer)
                .build()
                .unwrap();
            let der = env.to_der();
            let content = detached.then_some(&b"payload"[..]);
            let v = verifier(&pki)
                .verify_bytes(&der, content)
                .unwrap_or_else(|e| panic!("{alg} detached={detached}: {e}"));
            assert_eq!(v.content(), b"payload");
            assert_eq!(v.signers()[0].certificate, leaf.cert);
            assert!(v.signers()[0].signing_time.is_some());
            let wrong = verifier(&pki)
                .verify_bytes(&der, Some(&b"pay1oad"[..]).filter(|_| detached))
                .map(|_| ());
            if detached {
                assert_eq!(wrong.unwrap_err().code(), "message-digest-mismatch");
            }
        }
    }
}

/// Which provider this run uses: graviola by default where the CPU runs it (`auto`),
/// RustCrypto under `WAXSEAL_PROVIDER=rustcrypto` (the second run of these suites).
#[test]
fn the_suite_runs_with_the_provider_the_environment_names() {
    // What the process default resolves to is what every verifier and signer made
    // without a provider of its own holds.
    use waxseal_trust::provider::{self, BackendId, Provider, ProviderChoice, SignOp};
    let current = Provider::default();
    let key = PrivateKey::generate(KeyAlgorithm::P256).unwrap();
    let op = SignOp::Ecdsa(DigestAlgorithm::Sha256);
    match std::env::var(provider::ENV_VAR)
        .ok()
        .filter(|v| !v.is_empty())
    {
        None => {
            assert_eq!(current.choice(), ProviderChoice::Auto);
            let expected = if provider::graviola_supported().is_ok() {
                BackendId::Graviola
            } else {
                BackendId::RustCrypto
            };
            assert_eq!(current.backend_for_sign(&key, &op), expected);
        }
        Some(name) => {
            assert_eq!(current, Provider::from_name(&name).unwrap());
            if current == Provider::RUSTCRYPTO {
                assert_eq!(current.backend_for_sign(&key, &op), BackendId::RustCrypto);
            }
        }
    }
}
