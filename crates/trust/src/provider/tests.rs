use super::*;
use crate::algorithm::AlgorithmPolicy;
use crate::key::{KeyAlgorithm, PssKeyParams};

#[test]
fn legacy_rsa_sha1_signs_only_with_rsa_and_verifies_only_under_the_legacy_policy() {
    let key = PrivateKey::generate(KeyAlgorithm::Rsa2048).unwrap();
    let sig = PreparedPrivateKey::new(key.clone())
        .sign_legacy_rsa_pkcs1_sha1(&Provider::default(), b"hello")
        .unwrap();
    let public = key.public_key();
    let scheme = SignatureScheme::RsaPkcs1 {
        digest: Some(DigestAlgorithm::Sha1),
    };
    assert!(
        public
            .check_scheme(&scheme, DigestAlgorithm::Sha1, &AlgorithmPolicy::STRICT)
            .is_err()
    );
    public
        .check_scheme(
            &scheme,
            DigestAlgorithm::Sha1,
            &AlgorithmPolicy::LEGACY_SHA1,
        )
        .unwrap();
    let p = Provider::default();
    p.verify(&public, &scheme, DigestAlgorithm::Sha1, b"hello", &sig)
        .unwrap();
    assert!(
        p.verify(&public, &scheme, DigestAlgorithm::Sha1, b"hellO", &sig)
            .is_err()
    );
    let ec = PrivateKey::generate(KeyAlgorithm::P256).unwrap();
    assert!(
        PreparedPrivateKey::new(ec)
            .sign_legacy_rsa_pkcs1_sha1(&p, b"hello")
            .is_err()
    );
}

#[test]
fn every_generated_key_signs_and_verifies() {
    for alg in [
        KeyAlgorithm::Rsa2048,
        KeyAlgorithm::P256,
        KeyAlgorithm::P384,
        KeyAlgorithm::Ed25519,
    ] {
        let key = PrivateKey::generate(alg).unwrap();
        let digest = alg.default_digest();
        let p = Provider::default();
        let (ai, sig) = key.sign(&p, b"hello", digest, false).unwrap();
        let scheme = SignatureScheme::from_algorithm_identifier(&ai).unwrap();
        let public = key.public_key();
        public
            .check_scheme(&scheme, digest, &AlgorithmPolicy::STRICT)
            .unwrap();
        p.verify(&public, &scheme, digest, b"hello", &sig).unwrap();
        assert_eq!(
            p.verify(&public, &scheme, digest, b"hellO", &sig),
            Err(SignatureError),
            "{alg}"
        );
        // PKCS #8 round trip.
        let back = PrivateKey::from_bytes(key.to_pkcs8_pem().as_bytes()).unwrap();
        assert_eq!(back.public_key(), public);
        // SPKI round trip.
        let spki = key.subject_public_key_info();
        assert_eq!(PublicKey::from_spki(&spki).unwrap(), public);
    }
}

#[test]
fn rsa_pss_round_trip() {
    let key = PrivateKey::generate(KeyAlgorithm::Rsa2048).unwrap();
    let p = Provider::default();
    let (ai, sig) = key.sign(&p, b"m", DigestAlgorithm::Sha384, true).unwrap();
    let scheme = SignatureScheme::from_algorithm_identifier(&ai).unwrap();
    assert_eq!(
        scheme,
        SignatureScheme::RsaPss {
            digest: DigestAlgorithm::Sha384,
            salt_len: 48
        }
    );
    p.verify(
        &key.public_key(),
        &scheme,
        DigestAlgorithm::Sha384,
        b"m",
        &sig,
    )
    .unwrap();
}

#[test]
fn ed25519_demands_sha512_and_ec_refuses_pss() {
    let ed = PrivateKey::generate(KeyAlgorithm::Ed25519).unwrap();
    let p = Provider::default();
    assert!(ed.sign(&p, b"m", DigestAlgorithm::Sha256, false).is_err());
    let ec = PrivateKey::generate(KeyAlgorithm::P256).unwrap();
    assert!(ec.sign(&p, b"m", DigestAlgorithm::Sha256, true).is_err());
    assert!(ec.sign(&p, b"m", DigestAlgorithm::Sha1, false).is_err());
}

/// graviola (when this CPU runs it), then RustCrypto.
fn providers() -> Vec<Provider> {
    let mut all = vec![Provider::RUSTCRYPTO];
    if let Ok(g) = Provider::new(ProviderChoice::Graviola) {
        all.push(g);
    }
    all
}

fn graviola() -> Option<Provider> {
    Provider::new(ProviderChoice::Graviola).ok()
}

/// Every key type and signing operation waxseal makes, with its scheme for verification.
fn cases() -> Vec<(PrivateKey, SignOp, SignatureScheme, DigestAlgorithm)> {
    use DigestAlgorithm::*;
    let rsa = PrivateKey::generate(KeyAlgorithm::Rsa2048).unwrap();
    let p256 = PrivateKey::generate(KeyAlgorithm::P256).unwrap();
    let p384 = PrivateKey::generate(KeyAlgorithm::P384).unwrap();
    let ed = PrivateKey::generate(KeyAlgorithm::Ed25519).unwrap();
    let mut out = Vec::new();
    for d in [Sha256, Sha384, Sha512] {
        out.push((
            rsa.clone(),
            SignOp::RsaPkcs1(d),
            SignatureScheme::RsaPkcs1 { digest: Some(d) },
            d,
        ));
        out.push((
            rsa.clone(),
            SignOp::RsaPss(d, d.output_len()),
            SignatureScheme::RsaPss {
                digest: d,
                salt_len: d.output_len(),
            },
            d,
        ));
        for ec in [&p256, &p384] {
            out.push((
                ec.clone(),
                SignOp::Ecdsa(d),
                SignatureScheme::Ecdsa { digest: Some(d) },
                d,
            ));
        }
    }
    out.push((ed, SignOp::Ed25519, SignatureScheme::Ed25519, Sha512));
    out
}

#[test]
fn each_provider_verifies_what_the_other_signed_and_refuses_tampering() {
    let providers = providers();
    for (key, op, scheme, digest) in cases() {
        let public = key.public_key();
        for signer in &providers {
            let (sig, _) = signer.sign(&key, &op, b"message").unwrap();
            for verifier in &providers {
                let what = format!("{op:?} signed by {signer:?}, verified by {verifier:?}");
                verifier
                    .verify(&public, &scheme, digest, b"message", &sig)
                    .unwrap_or_else(|_| panic!("{what}"));
                assert_eq!(
                    verifier.verify(&public, &scheme, digest, b"messagE", &sig),
                    Err(SignatureError),
                    "tampered message: {what}"
                );
                let mut bad = sig.clone();
                let last = bad.len() - 1;
                bad[last] ^= 1;
                assert_eq!(
                    verifier.verify(&public, &scheme, digest, b"message", &bad),
                    Err(SignatureError),
                    "tampered signature: {what}"
                );
                assert_eq!(
                    verifier.verify(&public, &scheme, digest, b"message", &sig[..last]),
                    Err(SignatureError),
                    "truncated signature: {what}"
                );
                // Another key of the same type does not verify it.
                let other = PrivateKey::generate(key.algorithm()).unwrap().public_key();
                assert_eq!(
                    verifier.verify(&other, &scheme, digest, b"message", &sig),
                    Err(SignatureError),
                    "wrong key: {what}"
                );
            }
        }
    }
}

/// Four messages, for [`sign_four`].
const FOUR: [&[u8]; 4] = [b"m", b"m1", b"m2", b"m3"];

/// Signs the four messages of [`FOUR`]: the signatures and who made each.
fn sign_four(p: &Provider, key: &PrivateKey, op: &SignOp) -> Vec<(Vec<u8>, BackendId)> {
    FOUR.iter().map(|m| p.sign(key, op, m).unwrap()).collect()
}

/// Every signature was made by `expected`, except that graviola may hand an RSA signature
/// to RustCrypto: graviola checks each RSA signature before handing it out and refuses
/// a few of them (measured between 1 in 1,000 and 1 in 200), and the provider then signs
/// with RustCrypto. So of four RSA signatures at least one must be graviola's (all four
/// falling back would happen about once in 10^9 runs or less).
fn assert_signed_by(signed: &[(Vec<u8>, BackendId)], expected: BackendId, op: &SignOp) {
    let by_expected = signed.iter().filter(|(_, by)| *by == expected).count();
    let rsa = matches!(op, SignOp::RsaPkcs1(_) | SignOp::RsaPss(..));
    if rsa && expected == BackendId::Graviola {
        assert!(
            by_expected >= 1,
            "{op:?}: none of four signatures was graviola's"
        );
    } else {
        assert_eq!(by_expected, signed.len(), "{op:?}");
    }
}

#[test]
fn graviola_does_the_work_it_covers() {
    let Some(g) = graviola() else {
        eprintln!("skipped: this CPU cannot run graviola");
        return;
    };
    for (key, op, scheme, digest) in cases() {
        let signed = sign_four(&g, &key, &op);
        assert_signed_by(&signed, BackendId::Graviola, &op);
        let sig = signed[0].0.clone();
        for ((s, _), m) in signed.iter().zip(FOUR) {
            assert!(
                g.verify(&key.public_key(), &scheme, digest, m, s).is_ok(),
                "{op:?}"
            );
        }
        assert_eq!(g.backend_for_sign(&key, &op), BackendId::Graviola);
        let public = key.public_key();
        assert_eq!(
            g.verify(&public, &scheme, digest, b"m", &sig),
            Ok(BackendId::Graviola),
            "{op:?}"
        );
        assert_eq!(
            g.backend_for_verify(&public, &scheme, digest),
            BackendId::Graviola
        );
        // The RustCrypto provider never uses graviola.
        assert_eq!(
            Provider::RUSTCRYPTO.verify(&public, &scheme, digest, b"m", &sig),
            Ok(BackendId::RustCrypto)
        );
        assert_eq!(
            Provider::RUSTCRYPTO.sign(&key, &op, b"m").unwrap().1,
            BackendId::RustCrypto
        );
    }
}

#[test]
fn auto_uses_graviola_where_the_cpu_runs_it() {
    let auto = Provider::new(ProviderChoice::Auto).unwrap();
    let expected = if graviola_supported().is_ok() {
        BackendId::Graviola
    } else {
        BackendId::RustCrypto
    };
    assert_eq!(auto.digest_by(DigestAlgorithm::Sha256, b"m").1, expected);
    for (key, op, scheme, digest) in cases() {
        let signed = sign_four(&auto, &key, &op);
        assert_signed_by(&signed, expected, &op);
        let sig = signed[0].0.clone();
        assert_eq!(auto.backend_for_sign(&key, &op), expected);
        assert_eq!(
            auto.verify(&key.public_key(), &scheme, digest, b"m", &sig),
            Ok(expected),
            "{op:?}"
        );
    }
}

#[test]
fn what_graviola_does_not_cover_falls_back_to_rustcrypto() {
    let Some(g) = graviola() else {
        eprintln!("skipped: this CPU cannot run graviola");
        return;
    };
    // SHA-1 and MD5 digests.
    for d in [DigestAlgorithm::Sha1, DigestAlgorithm::Md5] {
        let (h, by) = g.digest_by(d, b"abc");
        assert_eq!(by, BackendId::RustCrypto);
        assert_eq!(h, Provider::RUSTCRYPTO.digest(d, b"abc"));
    }
    // SHA-2 digests: graviola, the same bytes as RustCrypto.
    for d in [
        DigestAlgorithm::Sha256,
        DigestAlgorithm::Sha384,
        DigestAlgorithm::Sha512,
    ] {
        let (h, by) = g.digest_by(d, b"abc");
        assert_eq!(by, BackendId::Graviola);
        assert_eq!(h, Provider::RUSTCRYPTO.digest(d, b"abc"));
        assert_eq!(h.len(), d.output_len());
    }

    // RSA below 2048 bits.
    let small = PrivateKey::Rsa(Box::new(
        ::rsa::RsaPrivateKey::new(&mut crate::key::rng(), 1024).unwrap(),
    ));
    let op = SignOp::RsaPkcs1(DigestAlgorithm::Sha256);
    assert_eq!(g.backend_for_sign(&small, &op), BackendId::RustCrypto);
    let (sig, by) = g.sign(&small, &op, b"m").unwrap();
    assert_eq!(by, BackendId::RustCrypto);
    let scheme = SignatureScheme::RsaPkcs1 {
        digest: Some(DigestAlgorithm::Sha256),
    };
    let public = small.public_key();
    assert_eq!(
        g.verify(&public, &scheme, DigestAlgorithm::Sha256, b"m", &sig),
        Ok(BackendId::RustCrypto)
    );
    assert_eq!(
        g.verify(&public, &scheme, DigestAlgorithm::Sha256, b"M", &sig),
        Err(SignatureError)
    );

    // A PSS salt other than the hash length (an id-RSASSA-PSS key asking for 40 bytes).
    let rsa = PrivateKey::generate(KeyAlgorithm::Rsa2048).unwrap();
    let pss_key = rsa
        .clone()
        .into_rsa_pss(Some(PssKeyParams {
            digest: DigestAlgorithm::Sha256,
            min_salt_len: 40,
        }))
        .unwrap();
    let op = pss_key.sign_op(DigestAlgorithm::Sha256, true).unwrap();
    assert_eq!(op, SignOp::RsaPss(DigestAlgorithm::Sha256, 40));
    let (sig, by) = g.sign(&pss_key, &op, b"m").unwrap();
    assert_eq!(by, BackendId::RustCrypto);
    let scheme = SignatureScheme::RsaPss {
        digest: DigestAlgorithm::Sha256,
        salt_len: 40,
    };
    assert_eq!(
        g.verify(
            &pss_key.public_key(),
            &scheme,
            DigestAlgorithm::Sha256,
            b"m",
            &sig
        ),
        Ok(BackendId::RustCrypto)
    );
    // ... and a signature made with another salt length than the scheme says fails on
    // both backends.
    let (sig32, _) = g
        .sign(&rsa, &SignOp::RsaPss(DigestAlgorithm::Sha256, 32), b"m")
        .unwrap();
    for p in providers() {
        assert_eq!(
            p.verify(
                &rsa.public_key(),
                &scheme,
                DigestAlgorithm::Sha256,
                b"m",
                &sig32
            ),
            Err(SignatureError)
        );
    }

    // Legacy SHA-1 signing.
    let op = SignOp::RsaPkcs1(DigestAlgorithm::Sha1);
    assert_eq!(g.sign(&rsa, &op, b"m").unwrap().1, BackendId::RustCrypto);

    // A digest computed elsewhere (no signed attributes): graviola has no prehash entry.
    let p256 = PrivateKey::generate(KeyAlgorithm::P256).unwrap();
    let (sig, _) = g
        .sign(&p256, &SignOp::Ecdsa(DigestAlgorithm::Sha256), b"m")
        .unwrap();
    let scheme = SignatureScheme::Ecdsa {
        digest: Some(DigestAlgorithm::Sha256),
    };
    let hash = Provider::RUSTCRYPTO.digest(DigestAlgorithm::Sha256, b"m");
    assert_eq!(
        g.verify_prehash(
            &p256.public_key(),
            &scheme,
            DigestAlgorithm::Sha256,
            &hash,
            &sig
        ),
        Ok(BackendId::RustCrypto)
    );
}

#[test]
fn a_key_never_verifies_a_scheme_of_another_type() {
    let ed = PrivateKey::generate(KeyAlgorithm::Ed25519).unwrap();
    let (sig, _) = Provider::RUSTCRYPTO
        .sign(&ed, &SignOp::Ed25519, b"m")
        .unwrap();
    let ecdsa = SignatureScheme::Ecdsa {
        digest: Some(DigestAlgorithm::Sha512),
    };
    for p in providers() {
        assert_eq!(
            p.verify(
                &ed.public_key(),
                &ecdsa,
                DigestAlgorithm::Sha512,
                b"m",
                &sig
            ),
            Err(SignatureError)
        );
        let rsa = PrivateKey::generate(KeyAlgorithm::P256).unwrap();
        assert!(p.sign(&rsa, &SignOp::Ed25519, b"m").is_err());
    }
}

#[test]
fn provider_names_parse_and_unknown_ones_are_refused() {
    for c in ProviderChoice::ALL {
        assert_eq!(c.name().parse::<ProviderChoice>(), Ok(c));
    }
    assert_eq!(
        "RustCrypto".parse::<ProviderChoice>(),
        Ok(ProviderChoice::RustCrypto)
    );
    let err = "openssl".parse::<ProviderChoice>().unwrap_err();
    assert_eq!(err.reason(), "unknown-provider");
    assert!(err.to_string().contains("openssl"), "{err}");
    // WAXSEAL_PROVIDER: unset or empty means the default; anything unknown is an error,
    // never a silent fallback.
    assert_eq!(parse_env(None), Ok(None));
    assert_eq!(parse_env(Some("".as_ref())), Ok(None));
    assert_eq!(
        parse_env(Some("rustcrypto".as_ref())),
        Ok(Some(Provider::RUSTCRYPTO))
    );
    assert!(matches!(
        parse_env(Some("fastest".as_ref())),
        Err(ProviderError::Unknown(v)) if v == "fastest"
    ));
    assert!(
        matches!(
            parse_env(Some("graviola ".as_ref())),
            Ok(Some(p)) if p.choice() == ProviderChoice::Graviola
        ) || graviola_supported().is_err()
    );
}

#[test]
fn graviola_is_refused_by_name_only_where_the_cpu_cannot_run_it() {
    match graviola_supported() {
        Ok(()) => {
            assert!(Provider::new(ProviderChoice::Graviola).is_ok());
            assert_eq!(
                Provider::new(ProviderChoice::Auto).unwrap().describe(),
                "auto (graviola)"
            );
        }
        Err(missing) => {
            assert!(matches!(
                Provider::new(ProviderChoice::Graviola),
                Err(ProviderError::Unsupported(m)) if m == missing
            ));
            assert_eq!(
                Provider::new(ProviderChoice::Auto).unwrap().describe(),
                "auto (rustcrypto)"
            );
        }
    }
}

#[test]
fn a_value_carries_its_provider_and_the_default_is_set_once() {
    use crate::path::ValidationOptions;
    // Options made with a provider keep it, whatever the process default says.
    let options = ValidationOptions::at(0).with_provider(Provider::RUSTCRYPTO);
    assert_eq!(options.provider, Provider::RUSTCRYPTO);
    for p in providers() {
        assert_eq!(ValidationOptions::at(0).with_provider(p).provider, p);
    }
    // Without one, the options take the process default when they are made.
    assert_eq!(ValidationOptions::at(0).provider, Provider::default());
    assert!(!Provider::default().is_unusable());
}

#[test]
fn an_unusable_provider_refuses_every_check_and_every_signature() {
    let unusable = Provider {
        unusable: true,
        ..Provider::RUSTCRYPTO
    };
    assert!(unusable.is_unusable());
    let key = PrivateKey::generate(KeyAlgorithm::P256).unwrap();
    let digest = DigestAlgorithm::Sha256;
    let (ai, sig) = key
        .sign(&Provider::RUSTCRYPTO, b"m", digest, false)
        .unwrap();
    let scheme = SignatureScheme::from_algorithm_identifier(&ai).unwrap();
    // The twin: the same signature verifies with a usable provider.
    Provider::RUSTCRYPTO
        .verify(&key.public_key(), &scheme, digest, b"m", &sig)
        .unwrap();
    assert_eq!(
        unusable.verify(&key.public_key(), &scheme, digest, b"m", &sig),
        Err(SignatureError)
    );
    let hash = unusable.digest(digest, b"m");
    assert_eq!(
        unusable.verify_prehash(&key.public_key(), &scheme, digest, &hash, &sig),
        Err(SignatureError)
    );
    assert!(matches!(
        key.sign(&unusable, b"m", digest, false),
        Err(KeyError::Sign(_))
    ));
}

#[test]
fn sha2_digests_match_known_answers_with_every_provider() {
    let abc = [
        (
            DigestAlgorithm::Sha256,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        ),
        (
            DigestAlgorithm::Sha1,
            "a9993e364706816aba3e25717850c26c9cd0d89d",
        ),
    ];
    for p in providers() {
        for (d, hex) in abc {
            assert_eq!(hex::encode(p.digest(d, b"abc")), hex, "{p:?} {d}");
        }
    }
    for d in DigestAlgorithm::ALL {
        for p in providers() {
            assert_eq!(p.digest(d, b"abc").len(), d.output_len());
            // The incremental hash agrees with the one-shot one, also across a fork.
            let mut h = p.digest_context(d);
            h.update(b"a");
            let fork = h.box_clone();
            h.update(b"bc");
            assert_eq!(h.finish(), p.digest(d, b"abc"), "{p:?} {d}");
            let mut fork = fork;
            fork.update(b"bd");
            assert_eq!(fork.finish(), p.digest(d, b"abd"), "{p:?} {d}");
        }
    }
}

// Prepared keys: made once, reused, and never standing for another key.

/// The keys of [`cases`] restricted to RSASSA-PSS too (with and without parameters).
fn cases_with_pss_keys() -> Vec<(PrivateKey, SignOp, SignatureScheme, DigestAlgorithm)> {
    use DigestAlgorithm::*;
    let mut out = cases();
    let rsa = PrivateKey::generate(KeyAlgorithm::Rsa2048).unwrap();
    let restricted = PssKeyParams {
        digest: Sha384,
        min_salt_len: 48,
    };
    for (params, d) in [(None, Sha256), (Some(restricted), Sha384)] {
        out.push((
            rsa.clone().into_rsa_pss(params).unwrap(),
            SignOp::RsaPss(d, d.output_len()),
            SignatureScheme::RsaPss {
                digest: d,
                salt_len: d.output_len(),
            },
            d,
        ));
    }
    out
}

fn graviola_keys_made() -> u64 {
    graviola::SIGNING_PREPARED.with(std::cell::Cell::get)
}

#[test]
fn a_prepared_private_key_signs_like_a_fresh_one_and_is_made_once() {
    for provider in providers() {
        for (key, op, scheme, digest) in cases_with_pss_keys() {
            let what = format!("{provider:?} {op:?} {}", key.public_key().kind());
            let public = key.public_key();
            let prepared = PreparedPrivateKey::new(key.clone());
            // Cloned before anything is made: the clone and the original share the form
            // the first signature (the clone's, here) makes.
            let early = prepared.clone();
            let before = graviola_keys_made();
            let (early_sig, b0) = provider.sign_prepared(&early, &op, b"message").unwrap();
            let (first, b1) = provider.sign_prepared(&prepared, &op, b"message").unwrap();
            let (second, b2) = provider.sign_prepared(&prepared, &op, b"message").unwrap();
            // A clone shares what was made.
            let (third, b3) = provider
                .sign_prepared(&prepared.clone(), &op, b"message")
                .unwrap();
            let prepared_made = graviola_keys_made() - before;
            let (fresh, b4) = provider.sign(&key, &op, b"message").unwrap();
            let (fresh2, _) = provider.sign(&key, &op, b"message").unwrap();
            let fresh_made = graviola_keys_made() - before - prepared_made;
            let backend = provider.backend_for_sign(&key, &op);
            for by in [b0, b1, b2, b3, b4] {
                // graviola's check of its own RSA signature fails now and then (about one
                // signature in 200, a prepared key or not); RustCrypto then signs.
                let rsa_fallback = matches!(key, PrivateKey::Rsa(_) | PrivateKey::RsaPss(..))
                    && by == BackendId::RustCrypto;
                assert!(by == backend || rsa_fallback, "{what}: {by}");
            }
            if backend == BackendId::Graviola {
                assert_eq!(prepared_made, 1, "{what}: made once, reused twice");
                assert_eq!(fresh_made, 2, "{what}: a key on its own is made every time");
            } else {
                assert_eq!(prepared_made + fresh_made, 0, "{what}");
            }
            if matches!(op, SignOp::RsaPkcs1(_) | SignOp::Ed25519) {
                // Deterministic: the very same bytes.
                assert_eq!(first, fresh, "{what}");
                assert_eq!(second, fresh, "{what}");
                assert_eq!(third, fresh2, "{what}");
            }
            for sig in [&early_sig, &first, &second, &third, &fresh] {
                for verifier in providers() {
                    verifier
                        .verify(&public, &scheme, digest, b"message", sig)
                        .unwrap_or_else(|_| panic!("{what}"));
                    assert_eq!(
                        verifier.verify(&public, &scheme, digest, b"messagE", sig),
                        Err(SignatureError),
                        "{what}"
                    );
                }
            }
        }
    }
}

#[test]
fn a_prepared_private_key_signs_through_the_provider_it_is_given() {
    let key = PrivateKey::generate(KeyAlgorithm::Rsa2048).unwrap();
    let prepared = PreparedPrivateKey::from(key.clone());
    assert_eq!(prepared.key().public_key(), key.public_key());
    for provider in providers() {
        let p = &provider;
        let (alg, sig) = prepared
            .sign(p, b"m", DigestAlgorithm::Sha256, false)
            .unwrap();
        assert_eq!(
            (alg, sig),
            key.sign(p, b"m", DigestAlgorithm::Sha256, false).unwrap()
        );
        assert!(
            prepared
                .sign(p, b"m", DigestAlgorithm::Sha1, false)
                .is_err()
        );
        assert_eq!(
            prepared.sign_legacy_rsa_pkcs1_sha1(p, b"m").unwrap(),
            PreparedPrivateKey::new(key.clone())
                .sign_legacy_rsa_pkcs1_sha1(p, b"m")
                .unwrap()
        );
    }
    assert_eq!(prepared.into_key().public_key(), key.public_key());
}

#[test]
fn a_cached_public_key_verifies_like_a_fresh_one_and_still_refuses_tampering() {
    use crate::keycache::builds_on_this_thread as built;
    for provider in providers() {
        for (key, op, scheme, digest) in cases_with_pss_keys() {
            let what = format!("{provider:?} {op:?} {}", key.public_key().kind());
            let (sig, _) = provider.sign(&key, &op, b"message").unwrap();
            let spki = key.subject_public_key_info();
            let fresh = key.public_key();
            let first = PublicKey::from_spki(&spki).unwrap();
            let before = built();
            let again = PublicKey::from_spki(&spki).unwrap();
            assert_eq!(built() - before, 0, "{what}: parsed once per process");
            assert_eq!(first, fresh, "{what}");
            assert_eq!(again, fresh, "{what}");
            // The first verification may make graviola's form; the next ones reuse it.
            let good = provider.verify(&first, &scheme, digest, b"message", &sig);
            let before = built();
            for _ in 0..3 {
                assert_eq!(
                    provider.verify(&again, &scheme, digest, b"message", &sig),
                    good,
                    "{what}"
                );
                assert_eq!(
                    provider.verify(&again, &scheme, digest, b"messagE", &sig),
                    Err(SignatureError),
                    "{what}"
                );
                let mut bad = sig.clone();
                *bad.last_mut().unwrap() ^= 1;
                assert_eq!(
                    provider.verify(&again, &scheme, digest, b"message", &bad),
                    Err(SignatureError),
                    "{what}"
                );
            }
            assert_eq!(built() - before, 0, "{what}: nothing made again");
            assert_eq!(
                good.map(drop),
                Provider::RUSTCRYPTO
                    .verify(&fresh, &scheme, digest, b"message", &sig)
                    .map(drop),
                "{what}: same verdict as a fresh key"
            );
            assert_eq!(
                good,
                Ok(provider.backend_for_verify(&fresh, &scheme, digest))
            );
        }
    }
}

/// An rsaEncryption `SubjectPublicKeyInfo` of modulus `n` and exponent `e`.
fn rsa_spki(n: &rsa::BoxedUint, e: u64) -> spki::SubjectPublicKeyInfoOwned {
    use der::Decode;
    use pkcs8::EncodePublicKey;
    let key = rsa::RsaPublicKey::new(n.clone(), rsa::BoxedUint::from(e)).unwrap();
    let der = key.to_public_key_der().unwrap();
    spki::SubjectPublicKeyInfoOwned::from_der(der.as_bytes()).unwrap()
}

#[test]
fn keys_that_differ_only_in_their_exponent_never_share_an_entry() {
    use rsa::traits::PublicKeyParts;
    let key = PrivateKey::generate(KeyAlgorithm::Rsa2048).unwrap();
    let PublicKey::Rsa(public) = key.public_key() else {
        panic!("an RSA key")
    };
    let n = public.n().as_ref().clone();
    for provider in providers() {
        for op_d in [DigestAlgorithm::Sha256, DigestAlgorithm::Sha512] {
            let op = SignOp::RsaPkcs1(op_d);
            let scheme = SignatureScheme::RsaPkcs1 { digest: Some(op_d) };
            let (sig, _) = provider.sign(&key, &op, b"m").unwrap();
            // The real key first (its forms are cached), then the same modulus with
            // other exponents, then the real key again.
            for e in [65537, 3, 17, 65537] {
                let k = PublicKey::from_spki(&rsa_spki(&n, e)).unwrap();
                let PublicKey::Rsa(r) = &k else {
                    panic!("an RSA key")
                };
                assert_eq!(r.e(), &rsa::BoxedUint::from(e));
                let verdict = provider.verify(&k, &scheme, op_d, b"m", &sig);
                assert_eq!(verdict.is_ok(), e == 65537, "{provider:?} e = {e}");
            }
        }
    }
}

#[test]
fn the_same_key_as_rsa_and_as_rsassa_pss_never_shares_an_entry() {
    for pss_first in [false, true] {
        let key = PrivateKey::generate(KeyAlgorithm::Rsa2048).unwrap();
        let params = Some(PssKeyParams {
            digest: DigestAlgorithm::Sha256,
            min_salt_len: 32,
        });
        let spkis = [
            key.subject_public_key_info(),
            key.clone()
                .into_rsa_pss(None)
                .unwrap()
                .subject_public_key_info(),
            key.clone()
                .into_rsa_pss(params)
                .unwrap()
                .subject_public_key_info(),
        ];
        // The same subjectPublicKey bytes, three algorithm identifiers.
        assert_eq!(spkis[0].subject_public_key, spkis[1].subject_public_key);
        assert_eq!(spkis[1].subject_public_key, spkis[2].subject_public_key);
        let order: Vec<usize> = if pss_first {
            vec![2, 1, 0, 2]
        } else {
            vec![0, 1, 2, 0]
        };
        for i in order {
            let k = PublicKey::from_spki(&spkis[i]).unwrap();
            match (i, &k) {
                (0, PublicKey::Rsa(_)) | (1, PublicKey::RsaPss(_, None)) => {}
                (2, PublicKey::RsaPss(_, p)) => assert_eq!(*p, params),
                _ => panic!("SPKI {i} parsed as {k:?}"),
            }
            // A PSS-restricted key still refuses PKCS #1 v1.5, cached or not.
            let pkcs1 = SignatureScheme::RsaPkcs1 {
                digest: Some(DigestAlgorithm::Sha256),
            };
            assert_eq!(
                k.check_scheme(&pkcs1, DigestAlgorithm::Sha256, &AlgorithmPolicy::STRICT)
                    .is_ok(),
                i == 0
            );
        }
    }
}

#[test]
fn a_cached_key_does_not_lift_a_lower_modulus_cap() {
    let key = PrivateKey::generate(KeyAlgorithm::Rsa3072).unwrap();
    let spki = key.subject_public_key_info();
    for _ in 0..2 {
        assert_eq!(
            PublicKey::from_spki_bounded(&spki, None, 4096).unwrap(),
            key.public_key()
        );
        assert!(matches!(
            PublicKey::from_spki_bounded(&spki, None, 2048),
            Err(KeyError::TooLarge { bits: 3072, .. })
        ));
    }
}

#[test]
fn a_prepared_public_key_verifies_like_the_key_and_makes_its_forms_once() {
    use crate::keycache::builds_on_this_thread as built;
    use crate::path::budget::{prepared_signature_id, signature_id};
    for provider in providers() {
        for (key, op, scheme, digest) in cases_with_pss_keys() {
            let what = format!("{provider:?} {op:?} {}", key.public_key().kind());
            let (sig, _) = provider.sign(&key, &op, b"message").unwrap();
            let public = key.public_key();
            // Caches off: whatever the prepared key does not keep is made again.
            crate::key::without_key_caches(|| {
                let prepared = PreparedPublicKey::new(public.clone());
                let good = provider.verify_prepared(&prepared, &scheme, digest, b"message", &sig);
                assert_eq!(
                    good,
                    provider.verify(&public, &scheme, digest, b"message", &sig),
                    "{what}: same verdict and backend as the key itself"
                );
                assert_eq!(
                    good,
                    Ok(provider.backend_for_verify(&public, &scheme, digest)),
                    "{what}"
                );
                let before = built();
                for _ in 0..3 {
                    assert_eq!(
                        provider.verify_prepared(&prepared, &scheme, digest, b"message", &sig),
                        good,
                        "{what}"
                    );
                    assert_eq!(
                        provider.verify_prepared(&prepared, &scheme, digest, b"messagE", &sig),
                        Err(SignatureError),
                        "{what}: tampered message"
                    );
                    let mut bad = sig.clone();
                    *bad.last_mut().unwrap() ^= 1;
                    assert_eq!(
                        provider.verify_prepared(&prepared, &scheme, digest, b"message", &bad),
                        Err(SignatureError),
                        "{what}: tampered signature"
                    );
                    assert_eq!(
                        provider.verify_prepared(
                            &prepared,
                            &scheme,
                            digest,
                            b"message",
                            &sig[..sig.len() - 1]
                        ),
                        Err(SignatureError),
                        "{what}: truncated signature"
                    );
                }
                assert_eq!(built() - before, 0, "{what}: graviola's form kept");
                if good == Ok(BackendId::Graviola) {
                    // What the prepared key saves: the bare key makes the form each time.
                    let before = built();
                    for _ in 0..2 {
                        provider
                            .verify(&public, &scheme, digest, b"message", &sig)
                            .unwrap();
                    }
                    assert_eq!(built() - before, 2, "{what}");
                }
                let other = PreparedPublicKey::new(
                    PrivateKey::generate(key.algorithm()).unwrap().public_key(),
                );
                assert_eq!(
                    provider.verify_prepared(&other, &scheme, digest, b"message", &sig),
                    Err(SignatureError),
                    "{what}: another key"
                );
                // The same identity in the signature memo as the bare key's.
                assert_eq!(prepared.spki_der(), public.to_spki_der().as_deref());
                let id = prepared_signature_id(&prepared, &[b"alg"], b"message id", &sig);
                assert!(id.is_some());
                assert_eq!(id, signature_id(&public, &[b"alg"], b"message id", &sig));
                assert_ne!(
                    id,
                    prepared_signature_id(&prepared, &[b"alg"], b"message id", &sig[1..])
                );
                assert_ne!(
                    id,
                    prepared_signature_id(&other, &[b"alg"], b"message id", &sig)
                );
            });
        }
    }
}

const RSA_CA: &[u8] = include_bytes!("../../../../testdata/x509/rsa2048-ca.der");
const RSA_LEAF: &[u8] = include_bytes!("../../../../testdata/x509/rsa2048-leaf.der");

#[test]
fn a_certificate_sets_its_key_up_once_and_checks_the_cap_every_time() {
    use crate::cert::Certificate;
    use crate::keycache::builds_on_this_thread as built;
    use std::sync::Arc;
    let leaf = Certificate::from_der(RSA_LEAF).unwrap();
    let scheme = SignatureScheme::from_algorithm_identifier(leaf.signature_algorithm()).unwrap();
    let digest = scheme.named_digest().unwrap();
    crate::key::without_key_caches(|| {
        let ca = Certificate::from_der(RSA_CA).unwrap();
        // Under a cap below its modulus the key is refused, and nothing is kept.
        for _ in 0..2 {
            assert!(matches!(
                ca.public_key_bounded(None, 1024),
                Err(KeyError::TooLarge {
                    bits: 2048,
                    max: 1024,
                    ..
                })
            ));
        }
        let before = built();
        let first = ca.public_key_bounded(None, 8192).unwrap();
        assert_eq!(built() - before, 1, "parsed");
        // Kept, and shared by the certificate's clones.
        let again = ca.clone().public_key_bounded(None, 2048).unwrap();
        assert_eq!(built() - before, 1, "not parsed again");
        assert!(Arc::ptr_eq(&first, &again));
        // The cap is checked on every call, on the kept key too.
        assert!(matches!(
            ca.public_key_bounded(None, 2047),
            Err(KeyError::TooLarge {
                bits: 2048,
                max: 2047,
                ..
            })
        ));
        assert_eq!(
            first.key(),
            &PublicKey::from_spki(ca.public_key_info()).unwrap()
        );
        // Another copy of the certificate (an envelope's, say) has its own.
        let copy = Certificate::from_der(RSA_CA).unwrap();
        assert!(!Arc::ptr_eq(
            &first,
            &copy.public_key_bounded(None, 8192).unwrap()
        ));
        for p in providers() {
            p.verify_prepared(&first, &scheme, digest, leaf.tbs_der(), leaf.signature())
                .unwrap();
            let mut tbs = leaf.tbs_der().to_vec();
            tbs[20] ^= 1;
            assert_eq!(
                p.verify_prepared(&first, &scheme, digest, &tbs, leaf.signature()),
                Err(SignatureError)
            );
            // The leaf's own key did not sign the leaf.
            let own = leaf.public_key_bounded(None, 8192).unwrap();
            assert_eq!(
                p.verify_prepared(&own, &scheme, digest, leaf.tbs_der(), leaf.signature()),
                Err(SignatureError)
            );
        }
    });
    // Elliptic-curve and Ed25519 keys are kept too; the RSA cap does not concern them.
    for der in [
        &include_bytes!("../../../../testdata/x509/p256-leaf.der")[..],
        &include_bytes!("../../../../testdata/x509/ed25519-leaf.der")[..],
    ] {
        let cert = Certificate::from_der(der).unwrap();
        let a = cert.public_key_bounded(None, 1024).unwrap();
        let b = cert.public_key_bounded(None, 1024).unwrap();
        assert!(Arc::ptr_eq(&a, &b));
    }
}

#[test]
fn validating_a_path_again_sets_no_key_up_again() {
    use crate::cert::Certificate;
    use crate::keycache::builds_on_this_thread as built;
    use crate::path::{PathError, Purpose, TrustAnchors, ValidationOptions};
    use crate::store::CrlSet;
    let crls = CrlSet::new();
    for provider in providers() {
        let mut options = ValidationOptions::at(1_795_392_000).with_provider(provider);
        options.purpose = Purpose::Any;
        {
            crate::key::without_key_caches(|| {
                // The signing CA as the anchor (trusted directly), its leaf, inside both
                // validities; parsed afresh for each provider (the process-wide cache of
                // parsed certificates is off here too), so that nothing is set up yet.
                let anchors = TrustAnchors::new([Certificate::from_der(RSA_CA).unwrap()]).unwrap();
                let leaf = Certificate::from_der(RSA_LEAF).unwrap();
                let validate = |cert: &Certificate, options: &ValidationOptions| {
                    crate::path::validate(cert, &anchors, &[], &crls, options)
                };
                let before = built();
                let path = validate(&leaf, &options).unwrap();
                assert_eq!(path.certificates.len(), 2);
                let first = built() - before;
                assert!(first >= 2, "the anchor's key and the leaf's: {first}");
                let before = built();
                validate(&leaf, &options).unwrap();
                assert_eq!(built() - before, 0, "{provider:?}: every key kept");
                // Negative twins: a kept key still refuses what it did not sign, and
                // the path still expires.
                let mut der = RSA_LEAF.to_vec();
                let last = der.len() - 1;
                der[last] ^= 1;
                let forged = Certificate::from_der(&der).unwrap();
                assert!(matches!(
                    validate(&forged, &options),
                    Err(PathError::BadSignature { .. })
                ));
                let mut late = options.clone();
                late.time = leaf.not_after() + 1;
                assert!(matches!(
                    validate(&leaf, &late),
                    Err(PathError::Expired { .. })
                ));
            })
        }
    }
}
