use super::*;
use crate::algorithm::AlgorithmPolicy;
use crate::key::KeyAlgorithm;

    #[test]
    fn legacy_rsa_sha1_signs_only_with_rsa_and_verifies_only_under_the_legacy_policy() {
        let key = PrivateKey::generate(KeyAlgorithm::Rsa2048).unwrap();
        let sig = key.sign_legacy_rsa_pkcs1_sha1(b"hello").unwrap();
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
        public
            .verify(&scheme, DigestAlgorithm::Sha1, b"hello", &sig)
            .unwrap();
        assert!(
            public
                .verify(&scheme, DigestAlgorithm::Sha1, b"hellO", &sig)
                .is_err()
        );
        let ec = PrivateKey::generate(KeyAlgorithm::P256).unwrap();
        assert!(ec.sign_legacy_rsa_pkcs1_sha1(b"hello").is_err());
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
            let (ai, sig) = key.sign(b"hello", digest, false).unwrap();
            let scheme = SignatureScheme::from_algorithm_identifier(&ai).unwrap();
            let public = key.public_key();
            public
                .check_scheme(&scheme, digest, &AlgorithmPolicy::STRICT)
                .unwrap();
            public.verify(&scheme, digest, b"hello", &sig).unwrap();
            assert_eq!(
                public.verify(&scheme, digest, b"hellO", &sig),
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
        let (ai, sig) = key.sign(b"m", DigestAlgorithm::Sha384, true).unwrap();
        let scheme = SignatureScheme::from_algorithm_identifier(&ai).unwrap();
        assert_eq!(
            scheme,
            SignatureScheme::RsaPss {
                digest: DigestAlgorithm::Sha384,
                salt_len: 48
            }
        );
        key.public_key()
            .verify(&scheme, DigestAlgorithm::Sha384, b"m", &sig)
            .unwrap();
    }

    #[test]
    fn ed25519_demands_sha512_and_ec_refuses_pss() {
        let ed = PrivateKey::generate(KeyAlgorithm::Ed25519).unwrap();
        assert!(ed.sign(b"m", DigestAlgorithm::Sha256, false).is_err());
        let ec = PrivateKey::generate(KeyAlgorithm::P256).unwrap();
        assert!(ec.sign(b"m", DigestAlgorithm::Sha256, true).is_err());
        assert!(ec.sign(b"m", DigestAlgorithm::Sha1, false).is_err());
    }

