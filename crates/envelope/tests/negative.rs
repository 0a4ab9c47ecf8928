//! Rejections: each forged, tampered, expired, revoked or malformed envelope fails with
//! its own reason code, next to the positive case it departs from.

use std::sync::Arc;

use const_oid::ObjectIdentifier as Oid;
use der::Encode;
use waxseal_envelope::rfc5652::{Attribute, Attributes};
use waxseal_envelope::*;
use waxseal_pki::{CertParams, Issued, TestPki, issue::parse_name};
use waxseal_trust::oid;
use waxseal_trust::*;

const CONTENT: &[u8] = b"{\"topic\": \"org.example.prod.compute.select_destinations\"}";

struct Fx {
    pki: TestPki,
    leaf: Issued,
}

fn fx() -> Fx {
    let pki = TestPki::new(KeyAlgorithm::P256).unwrap();
    let leaf = pki
        .leaf("conductor01.example.org", KeyAlgorithm::P256)
        .unwrap();
    Fx { pki, leaf }
}

impl Fx {
    fn signer(&self) -> Signer {
        signer_for(&self.leaf).with_chain(vec![self.pki.ca.cert.clone()])
    }

    fn verifier(&self) -> Verifier {
        Verifier::new(TrustAnchors::new([self.pki.root.cert.clone()]).unwrap())
    }

    fn envelope(&self) -> Envelope {
        EnvelopeBuilder::new(CONTENT)
            .add_signer(&self.signer())
            .build()
            .unwrap()
    }
}

fn signer_for(issued: &Issued) -> Signer {
    let key = PrivateKey::from_bytes(issued.key.to_pkcs8_pem().as_bytes()).unwrap();
    Signer::new(issued.cert.clone(), key).unwrap()
}

fn code(r: Result<Verified, VerifyError>) -> &'static str {
    r.map(|_| ()).expect_err("expected a rejection").code()
}

/// Re-signs the first signer's attributes `attrs` with `key` (to build envelopes whose
/// signatures are valid but whose attributes break a rule).
fn resign(env: &mut Envelope, key: &PrivateKey, attrs: Vec<Attribute>) {
    let si = &mut env.signed_data_mut().signer_infos[0];
    let attrs = Attributes::from_items(attrs);
    let (alg, sig) = key
        .sign(
            &waxseal_trust::provider::Provider::default(),
            &attrs.signed_bytes(),
            DigestAlgorithm::Sha256,
            false,
        )
        .unwrap();
    si.signed_attrs = Some(attrs);
    si.signature_algorithm = alg;
    si.signature = sig;
}

fn attrs_of(env: &Envelope) -> Vec<Attribute> {
    env.signed_data().signer_infos[0]
        .signed_attrs
        .as_ref()
        .unwrap()
        .iter()
        .cloned()
        .collect()
}

#[test]
fn baseline_verifies() {
    let f = fx();
    let v = f
        .verifier()
        .verify_bytes(&f.envelope().to_der(), None)
        .unwrap();
    assert_eq!(v.content(), CONTENT);
    assert!(v.is_authenticated());
}

#[test]
fn tampered_content() {
    let f = fx();
    let mut der = f.envelope().to_der();
    let pos = der.windows(5).position(|w| w == b"topic").unwrap();
    der[pos] = b'T';
    assert_eq!(
        code(f.verifier().verify_bytes(&der, None)),
        "message-digest-mismatch"
    );
}

#[test]
fn tampered_signed_attribute() {
    let f = fx();
    let mut env = f.envelope();
    let mut attrs = attrs_of(&env);
    let t = attrs
        .iter_mut()
        .find(|a| a.oid == waxseal_envelope::oid::ID_SIGNING_TIME)
        .unwrap();
    t.values[0] =
        der::asn1::UtcTime::from_unix_duration(std::time::Duration::from_secs(1_000_000_000))
            .unwrap()
            .to_der()
            .unwrap();
    env.signed_data_mut().signer_infos[0].signed_attrs = Some(Attributes::from_items(attrs));
    assert_eq!(code(f.verifier().verify(&env, None)), "bad-signature");
}

#[test]
fn signature_by_another_key() {
    let f = fx();
    let mut env = f.envelope();
    let other = PrivateKey::generate(KeyAlgorithm::P256).unwrap();
    let attrs = env.signed_data().signer_infos[0]
        .signed_attrs
        .clone()
        .unwrap();
    let (_, sig) = other
        .sign(
            &waxseal_trust::provider::Provider::default(),
            &attrs.signed_bytes(),
            DigestAlgorithm::Sha256,
            false,
        )
        .unwrap();
    env.signed_data_mut().signer_infos[0].signature = sig;
    assert_eq!(code(f.verifier().verify(&env, None)), "bad-signature");
}

#[test]
fn wrong_digest_algorithm() {
    let f = fx();
    // digestAlgorithm says SHA-384 while the signature algorithm is ecdsa-with-SHA256.
    let mut env = f.envelope();
    env.signed_data_mut().signer_infos[0].digest_algorithm =
        DigestAlgorithm::Sha384.algorithm_identifier();
    assert_eq!(code(f.verifier().verify(&env, None)), "algorithm-mismatch");
    // The message-digest attribute holds another digest of the content.
    let mut env = f.envelope();
    let mut attrs = attrs_of(&env);
    let md = attrs
        .iter_mut()
        .find(|a| a.oid == waxseal_envelope::oid::ID_MESSAGE_DIGEST)
        .unwrap();
    md.values[0] = waxseal_trust::asn1::tlv(
        0x04,
        &waxseal_trust::provider::Provider::default().digest(DigestAlgorithm::Sha512, CONTENT)
            [..32],
    );
    resign(&mut env, &f.leaf.key, attrs);
    assert_eq!(
        code(f.verifier().verify(&env, None)),
        "message-digest-mismatch"
    );
}

#[test]
fn signature_algorithm_that_does_not_fit_the_key() {
    let f = fx();
    let mut env = f.envelope();
    env.signed_data_mut().signer_infos[0].signature_algorithm = spki::AlgorithmIdentifierOwned {
        oid: const_oid::db::rfc5912::SHA_256_WITH_RSA_ENCRYPTION,
        parameters: None,
    };
    assert_eq!(code(f.verifier().verify(&env, None)), "algorithm-mismatch");
}

#[test]
fn content_type_rules() {
    let f = fx();
    // eContentType changed after signing: the attribute no longer matches.
    let mut env = f.envelope();
    env.signed_data_mut().encap_content_info =
        waxseal_envelope::rfc5652::EncapsulatedContentInfo::new(
            Oid::new_unwrap("1.2.840.113549.1.9.16.1.4"),
            Some(CONTENT.to_vec()),
        );
    assert_eq!(
        code(f.verifier().verify_bytes(&env.to_der(), None)),
        "content-type-mismatch"
    );

    // Signed attributes without content-type.
    let mut env = f.envelope();
    let attrs: Vec<Attribute> = attrs_of(&env)
        .into_iter()
        .filter(|a| a.oid != waxseal_envelope::oid::ID_CONTENT_TYPE)
        .collect();
    resign(&mut env, &f.leaf.key, attrs);
    assert_eq!(
        code(f.verifier().verify(&env, None)),
        "missing-content-type"
    );

    // Without message-digest.
    let mut env = f.envelope();
    let attrs: Vec<Attribute> = attrs_of(&env)
        .into_iter()
        .filter(|a| a.oid != waxseal_envelope::oid::ID_MESSAGE_DIGEST)
        .collect();
    resign(&mut env, &f.leaf.key, attrs);
    assert_eq!(
        code(f.verifier().verify(&env, None)),
        "missing-message-digest"
    );

    // A second message-digest attribute.
    let mut env = f.envelope();
    let mut attrs = attrs_of(&env);
    let md = attrs
        .iter()
        .find(|a| a.oid == waxseal_envelope::oid::ID_MESSAGE_DIGEST)
        .unwrap()
        .clone();
    attrs.push(md);
    resign(&mut env, &f.leaf.key, attrs);
    assert_eq!(code(f.verifier().verify(&env, None)), "duplicate-attribute");

    // A countersignature among the signed attributes.
    let mut env = f.envelope();
    let mut attrs = attrs_of(&env);
    attrs.push(Attribute::new(
        waxseal_envelope::oid::ID_COUNTERSIGNATURE,
        waxseal_trust::asn1::tlv(0x30, &[]),
    ));
    resign(&mut env, &f.leaf.key, attrs);
    assert_eq!(
        code(f.verifier().verify(&env, None)),
        "countersignature-signed"
    );
}

#[test]
fn untrusted_root() {
    let f = fx();
    let stranger = TestPki::named(KeyAlgorithm::P256, "stranger").unwrap();
    let v = Verifier::new(TrustAnchors::new([stranger.root.cert.clone()]).unwrap());
    assert_eq!(
        code(v.verify_bytes(&f.envelope().to_der(), None)),
        "untrusted"
    );
    // A root with the same name but another key does not help either.
    let impostor = TestPki::named(KeyAlgorithm::P256, "waxseal test").unwrap();
    let v = Verifier::new(TrustAnchors::new([impostor.root.cert.clone()]).unwrap());
    assert_eq!(
        code(v.verify_bytes(&f.envelope().to_der(), None)),
        "bad-certificate-signature"
    );
}

#[test]
fn expired_and_not_yet_valid_signers() {
    let f = fx();
    for (leaf, expected) in [
        (
            f.pki
                .expired_leaf("old.example.org", KeyAlgorithm::P256)
                .unwrap(),
            "certificate-expired",
        ),
        (
            f.pki
                .not_yet_valid_leaf("new.example.org", KeyAlgorithm::P256)
                .unwrap(),
            "certificate-not-yet-valid",
        ),
    ] {
        let signer = signer_for(&leaf).with_chain(vec![f.pki.ca.cert.clone()]);
        let der = EnvelopeBuilder::new(CONTENT)
            .add_signer(&signer)
            .build()
            .unwrap()
            .to_der();
        assert_eq!(code(f.verifier().verify_bytes(&der, None)), expected);
        // Verification at a time inside the whole path's validity window succeeds.
        let from = leaf.cert.not_before().max(f.pki.root.cert.not_before());
        if from < leaf.cert.not_after() {
            f.verifier()
                .at_time(from + 60)
                .verify_bytes(&der, None)
                .unwrap();
        }
    }
}

#[test]
fn ca_without_key_cert_sign() {
    let f = fx();
    let bad_ca_key = PrivateKey::generate(KeyAlgorithm::P256).unwrap();
    let mut params = CertParams::ca(
        parse_name("CN=no keyCertSign CA").unwrap(),
        f.pki.now,
        30,
        None,
    );
    params.key_usage = Some(vec![x509_cert::ext::pkix::KeyUsages::CRLSign]);
    let bad_ca = waxseal_pki::Issuer {
        cert: f
            .pki
            .root
            .issue(&params, &bad_ca_key.subject_public_key_info())
            .unwrap(),
        key: bad_ca_key,
    };
    let leaf_key = PrivateKey::generate(KeyAlgorithm::P256).unwrap();
    let leaf = bad_ca
        .issue(
            &CertParams::end_entity(parse_name("CN=victim").unwrap(), f.pki.now, 30),
            &leaf_key.subject_public_key_info(),
        )
        .unwrap();
    let signer = Signer::new(leaf, leaf_key)
        .unwrap()
        .with_chain(vec![bad_ca.cert.clone()]);
    let der = EnvelopeBuilder::new(CONTENT)
        .add_signer(&signer)
        .build()
        .unwrap()
        .to_der();
    assert_eq!(
        code(f.verifier().verify_bytes(&der, None)),
        "issuer-lacks-keycertsign"
    );
}

#[test]
fn leaf_without_digital_signature() {
    let f = fx();
    let leaf = f
        .pki
        .leaf_with("encrypt-only.example.org", KeyAlgorithm::P256, |p| {
            p.key_usage = Some(vec![x509_cert::ext::pkix::KeyUsages::KeyAgreement]);
        })
        .unwrap();
    let signer = signer_for(&leaf).with_chain(vec![f.pki.ca.cert.clone()]);
    let der = EnvelopeBuilder::new(CONTENT)
        .add_signer(&signer)
        .build()
        .unwrap()
        .to_der();
    assert_eq!(code(f.verifier().verify_bytes(&der, None)), "key-usage");
}

#[test]
fn revocation() {
    let f = fx();
    let der = f.envelope().to_der();
    let root_crl = f.pki.root_crl().unwrap();
    // Current CRLs that do not list the signer: valid, and revocation is reported checked.
    let good = CrlSet::from_crls([f.pki.crl(&[]).unwrap(), root_crl.clone()]);
    let v = f
        .verifier()
        .with_crls(good)
        .verify_bytes(&der, None)
        .unwrap();
    assert!(v.signers()[0].path.as_ref().unwrap().revocation_checked);
    // Revoked signer.
    let revoked = CrlSet::from_crls([f.pki.crl(&[&f.leaf.cert]).unwrap(), root_crl.clone()]);
    assert_eq!(
        code(f.verifier().with_crls(revoked).verify_bytes(&der, None)),
        "revoked"
    );
    // Expired CRL.
    let stale = CrlSet::from_crls([f.pki.expired_crl().unwrap(), root_crl.clone()]);
    assert_eq!(
        code(f.verifier().with_crls(stale).verify_bytes(&der, None)),
        "crl-expired"
    );
    // No CRL for the signing CA's certificates while CRLs are required for all.
    let partial = CrlSet::from_crls([root_crl]);
    assert_eq!(
        code(
            f.verifier()
                .with_crls(partial.clone())
                .verify_bytes(&der, None)
        ),
        "revocation-unknown"
    );
    // ...which the leaf-only scope does not require of the intermediate, but does of the leaf.
    let leaf_only = f
        .verifier()
        .with_crls(partial)
        .with_revocation(RevocationPolicy::RequireEndEntity);
    assert_eq!(
        code(leaf_only.verify_bytes(&der, None)),
        "revocation-unknown"
    );
    let leaf_crl_only = CrlSet::from_crls([f.pki.crl(&[]).unwrap()]);
    f.verifier()
        .with_crls(leaf_crl_only)
        .with_revocation(RevocationPolicy::RequireEndEntity)
        .verify_bytes(&der, None)
        .unwrap();
    // A CRL signed by another key in the CA's name is not trusted.
    let impostor = TestPki::named(KeyAlgorithm::P256, "waxseal test").unwrap();
    let forged = CrlSet::from_crls([impostor.crl(&[]).unwrap(), f.pki.root_crl().unwrap()]);
    assert_eq!(
        code(f.verifier().with_crls(forged).verify_bytes(&der, None)),
        "revocation-unknown"
    );
}

#[test]
fn missing_signer_certificate() {
    let f = fx();
    let der = EnvelopeBuilder::new(CONTENT)
        .include_certificates(false)
        .add_signer(&f.signer())
        .build()
        .unwrap()
        .to_der();
    assert_eq!(
        code(f.verifier().verify_bytes(&der, None)),
        "signer-certificate-not-found"
    );
    // With the signer and its CA in the store it verifies.
    let store = CertStore::from_certificates([f.leaf.cert.clone(), f.pki.ca.cert.clone()]);
    f.verifier()
        .with_store(store)
        .verify_bytes(&der, None)
        .unwrap();
}

#[test]
fn detached_content_rules() {
    let f = fx();
    let detached = EnvelopeBuilder::new(CONTENT)
        .detached(true)
        .add_signer(&f.signer())
        .build()
        .unwrap()
        .to_der();
    assert_eq!(
        code(f.verifier().verify_bytes(&detached, None)),
        "missing-content"
    );
    assert_eq!(
        code(
            f.verifier()
                .verify_bytes(&f.envelope().to_der(), Some(CONTENT))
        ),
        "content-conflict"
    );
    f.verifier().verify_bytes(&detached, Some(CONTENT)).unwrap();
}

#[test]
fn truncated_and_garbage_input() {
    let f = fx();
    let der = f.envelope().to_der();
    for cut in [1, 10, der.len() / 2, der.len() - 1] {
        assert_eq!(
            code(f.verifier().verify_bytes(&der[..cut], None)),
            "malformed",
            "cut at {cut}"
        );
    }
    for garbage in [&b""[..], b"hello", &[0x30, 0x80], &[0xff; 64]] {
        assert_eq!(code(f.verifier().verify_bytes(garbage, None)), "malformed");
    }
    let mut extra = der.clone();
    extra.push(0);
    assert_eq!(code(f.verifier().verify_bytes(&extra, None)), "malformed");
}

#[test]
fn several_signers_all_or_any() {
    let f = fx();
    let second = f
        .pki
        .leaf("scheduler01.example.org", KeyAlgorithm::Ed25519)
        .unwrap();
    let s2 = signer_for(&second);
    let mut env = EnvelopeBuilder::new(CONTENT)
        .add_signer(&f.signer())
        .add_signer(&s2)
        .build()
        .unwrap();
    assert_eq!(f.verifier().verify(&env, None).unwrap().signers().len(), 2);
    // Break the second signer.
    let i = env
        .signed_data()
        .signer_infos
        .iter()
        .position(|s| s.signature_algorithm.oid == const_oid::db::rfc8410::ID_ED_25519)
        .unwrap();
    env.signed_data_mut().signer_infos[i].signature[0] ^= 1;
    assert_eq!(code(f.verifier().verify(&env, None)), "bad-signature");
    let v = f
        .verifier()
        .with_requirement(SignerRequirement::Any)
        .verify(&env, None)
        .unwrap();
    assert_eq!(v.signers().len(), 1);
    assert_eq!(v.rejected()[0].error.code(), "bad-signature");
}

#[test]
fn trust_anchors_are_required_and_signature_only_is_named() {
    assert!(TrustAnchors::new(Vec::<Certificate>::new()).is_err());
    let f = fx();
    let v = Verifier::signature_only_unauthenticated()
        .verify_bytes(&f.envelope().to_der(), None)
        .unwrap();
    assert!(!v.is_authenticated());
    assert!(v.signers()[0].path.is_none());
}

#[test]
fn hostile_certificate_pool_hits_the_budget() {
    // 40 CAs all named "CN=loop", each signed by the previous one's key: every one is a
    // candidate issuer of every other, and none leads to the trust anchor.
    let f = fx();
    let now = f.pki.now;
    let name = parse_name("CN=loop").unwrap();
    let mut keys: Vec<PrivateKey> = (0..40)
        .map(|_| PrivateKey::generate(KeyAlgorithm::Ed25519).unwrap())
        .collect();
    let mut pool = Vec::new();
    for i in 0..keys.len() {
        let issuer_key = std::mem::replace(
            &mut keys[(i + 1) % 40],
            PrivateKey::generate(KeyAlgorithm::Ed25519).unwrap(),
        );
        let params = CertParams::ca(name.clone(), now, 30, None);
        let issuer = waxseal_pki::Issuer::self_signed(&params, issuer_key).unwrap();
        pool.push(
            issuer
                .issue(&params, &keys[i].subject_public_key_info())
                .unwrap(),
        );
        keys[(i + 1) % 40] = issuer.key;
    }
    let leaf_key = PrivateKey::generate(KeyAlgorithm::Ed25519).unwrap();
    let issuer = waxseal_pki::Issuer {
        cert: pool[0].clone(),
        key: std::mem::replace(
            &mut keys[0],
            PrivateKey::generate(KeyAlgorithm::Ed25519).unwrap(),
        ),
    };
    let leaf = issuer
        .issue(
            &CertParams::end_entity(parse_name("CN=victim").unwrap(), now, 30),
            &leaf_key.subject_public_key_info(),
        )
        .unwrap();
    let signer = Signer::new(leaf, leaf_key).unwrap().with_chain(pool);
    let der = EnvelopeBuilder::new(CONTENT)
        .add_signer(&signer)
        .build()
        .unwrap()
        .to_der();
    let c = code(f.verifier().verify_bytes(&der, None));
    assert!(
        c == "budget-exceeded" || c == "untrusted" || c == "bad-certificate-signature",
        "{c}"
    );
}

#[test]
fn path_cache_serves_repeat_signers_and_respects_crl_changes() {
    let f = fx();
    let der = f.envelope().to_der();
    let cache = Arc::new(PathCache::default());
    let v = f.verifier().with_cache(cache.clone());
    for _ in 0..5 {
        v.verify_bytes(&der, None).unwrap();
    }
    assert_eq!((cache.misses(), cache.hits()), (1, 4));
    // A new CRL set (now revoking the signer) is a different cache key: not served stale.
    let revoked = CrlSet::from_crls([
        f.pki.crl(&[&f.leaf.cert]).unwrap(),
        f.pki.root_crl().unwrap(),
    ]);
    let v2 = f.verifier().with_cache(cache.clone()).with_crls(revoked);
    assert_eq!(code(v2.verify_bytes(&der, None)), "revoked");
    // A verification time after the certificate's expiry misses the cache too.
    let late = f.leaf.cert.not_after() + 10;
    assert_eq!(
        code(
            f.verifier()
                .with_cache(cache)
                .at_time(late)
                .verify_bytes(&der, None)
        ),
        "certificate-expired"
    );
}

#[test]
fn signer_refuses_a_key_that_is_not_the_certificates() {
    let f = fx();
    let other = PrivateKey::generate(KeyAlgorithm::P256).unwrap();
    assert!(matches!(
        Signer::new(f.leaf.cert.clone(), other),
        Err(SignError::KeyMismatch(_))
    ));
}

#[test]
fn non_data_content_needs_signed_attributes() {
    let f = fx();
    let signer = f.signer().without_signed_attributes();
    let r = EnvelopeBuilder::new(CONTENT)
        .content_type(Oid::new_unwrap("1.2.840.113549.1.9.16.1.4"))
        .add_signer(&signer)
        .build();
    assert!(matches!(r, Err(SignError::AttributesRequired(_))));
}

#[test]
fn signed_attributes_are_verified_as_received_not_re_sorted() {
    // Another implementation may send its signed attributes in a non-DER order and sign
    // those bytes. Verifying a re-encoding (which re-sorts the SET OF) would break them.
    let f = fx();
    let mut env = f.envelope();
    let mut attrs = attrs_of(&env);
    attrs.sort_by_key(|a| std::cmp::Reverse(a.to_der()));
    let unsorted = Attributes::from_items_in_order(attrs.clone());
    assert_ne!(
        unsorted.signed_bytes(),
        Attributes::from_items(attrs).signed_bytes(),
        "the test needs an order DER would change"
    );
    let (alg, sig) = f
        .leaf
        .key
        .sign(
            &waxseal_trust::provider::Provider::default(),
            &unsorted.signed_bytes(),
            DigestAlgorithm::Sha256,
            false,
        )
        .unwrap();
    let si = &mut env.signed_data_mut().signer_infos[0];
    si.signed_attrs = Some(unsorted);
    si.signature_algorithm = alg;
    si.signature = sig;
    let der = env.to_der();
    f.verifier().verify_bytes(&der, None).unwrap();
    // And it survives a parse / re-encode round trip byte for byte.
    assert_eq!(Envelope::parse(&der).unwrap().to_der(), der);
}

// --- S/MIME multipart/signed structure (issue 10, item 6) ---

const VISIBLE_PART: &[u8] = b"Content-Type: text/plain\r\n\r\nvisible: pay 10 to alice\r\n";

/// A correct multipart/signed: a detached signature over `VISIBLE_PART`.
fn multipart(f: &Fx) -> Vec<u8> {
    let env = EnvelopeBuilder::new(VISIBLE_PART)
        .detached(true)
        .add_signer(&f.signer())
        .build()
        .unwrap();
    env.to_smime(Some(VISIBLE_PART)).unwrap()
}

#[test]
fn smime_multipart_verifies_its_first_part() {
    let f = fx();
    let v = f.verifier().verify_bytes(&multipart(&f), None).unwrap();
    assert_eq!(v.content(), VISIBLE_PART);
    assert_eq!(v.format(), Format::SmimeDetached);
}

#[test]
fn smime_signature_part_carrying_its_own_content_is_refused() {
    // The attack: a valid *attached* envelope over hidden content as the signature part,
    // next to an unsigned visible first part. It used to verify and hand out the hidden
    // content while the visible part was never checked.
    let f = fx();
    let hidden = EnvelopeBuilder::new(b"hidden: pay 1000 to mallory")
        .add_signer(&f.signer())
        .build()
        .unwrap();
    let crafted = format::to_smime_detached(&hidden.to_der(), VISIBLE_PART, &["sha-256"]);
    assert!(matches!(
        Envelope::parse(&crafted),
        Err(ParseError::Format(m)) if m.contains("must be detached")
    ));
    assert_eq!(code(f.verifier().verify_bytes(&crafted, None)), "malformed");
    // Positive twin: the same signature part sent as application/pkcs7-mime verifies.
    let opaque = hidden.to_smime(None).unwrap();
    assert_eq!(
        f.verifier().verify_bytes(&opaque, None).unwrap().content(),
        b"hidden: pay 1000 to mallory"
    );
}

#[test]
fn smime_multipart_needs_exactly_two_parts() {
    let f = fx();
    let good = String::from_utf8(multipart(&f)).unwrap();
    let boundary = good
        .split("boundary=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap()
        .to_string();
    let closing = format!("\r\n--{boundary}--\r\n");
    // A third part before the closing boundary.
    let three = good.replace(
        &closing,
        &format!(
            "\r\n--{boundary}\r\nContent-Type: text/plain\r\n\r\nunsigned extra part{closing}"
        ),
    );
    assert_ne!(three, good);
    assert_eq!(
        code(f.verifier().verify_bytes(three.as_bytes(), None)),
        "malformed"
    );
    // Only one part: the signature removed.
    let second = format!("\r\n--{boundary}\r\nContent-Type: application/pkcs7-signature");
    let cut = good.find(&second).unwrap();
    let one = format!("{}{closing}", &good[..cut]);
    assert_eq!(
        code(f.verifier().verify_bytes(one.as_bytes(), None)),
        "malformed"
    );
    // A protocol parameter naming something else than the signature part.
    let protocol = good.replacen(
        "protocol=\"application/pkcs7-signature\"",
        "protocol=\"application/pgp-signature\"",
        1,
    );
    assert_ne!(protocol, good);
    assert_eq!(
        code(f.verifier().verify_bytes(protocol.as_bytes(), None)),
        "malformed"
    );
    f.verifier().verify_bytes(good.as_bytes(), None).unwrap();
}

#[test]
fn smime_multipart_refuses_other_content() {
    // The first part is what is verified: content supplied besides it is a conflict, not a
    // replacement.
    let f = fx();
    let mime = multipart(&f);
    assert_eq!(
        code(f.verifier().verify_bytes(&mime, Some(VISIBLE_PART))),
        "content-conflict"
    );
    f.verifier().verify_bytes(&mime, None).unwrap();
}

// --- Key purpose of the signer (issue 10, item 5) ---

fn leaf_with(f: &Fx, name: &str, adjust: impl FnOnce(&mut CertParams)) -> Signer {
    let leaf = f.pki.leaf_with(name, KeyAlgorithm::P256, adjust).unwrap();
    signer_for(&leaf).with_chain(vec![f.pki.ca.cert.clone()])
}

fn signed_by(signer: &Signer) -> Vec<u8> {
    EnvelopeBuilder::new(CONTENT)
        .add_signer(signer)
        .build()
        .unwrap()
        .to_der()
}

#[test]
fn tls_server_certificate_may_not_sign_messages() {
    let f = fx();
    let server = leaf_with(&f, "www.example.org", |p| {
        p.ext_key_usage = vec![oid::KP_SERVER_AUTH];
    });
    let der = signed_by(&server);
    assert_eq!(code(f.verifier().verify_bytes(&der, None)), "ext-key-usage");
    // Positive twins: waxseal pki's leaves (bus-signing and emailProtection), leaves
    // without extendedKeyUsage and with anyExtendedKeyUsage.
    let pki_leaf = f.signer();
    let eku = pki_leaf
        .certificate()
        .extensions()
        .ext_key_usage
        .clone()
        .unwrap();
    assert_eq!(
        eku.0,
        vec![oid::WAXSEAL_KP_BUS_SIGNING, oid::KP_EMAIL_PROTECTION]
    );
    f.verifier()
        .verify_bytes(&signed_by(&pki_leaf), None)
        .unwrap();
    for (name, ekus) in [
        ("none.example.org", vec![]),
        ("any.example.org", vec![oid::ANY_EXTENDED_KEY_USAGE]),
        (
            "mail.example.org",
            vec![oid::KP_SERVER_AUTH, oid::KP_EMAIL_PROTECTION],
        ),
    ] {
        let s = leaf_with(&f, name, |p| p.ext_key_usage = ekus);
        f.verifier()
            .verify_bytes(&signed_by(&s), None)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

#[test]
fn accepted_purposes_are_configurable() {
    let f = fx();
    let code_signer = leaf_with(&f, "builder.example.org", |p| {
        p.ext_key_usage = vec![oid::KP_CODE_SIGNING];
    });
    let der = signed_by(&code_signer);
    assert_eq!(code(f.verifier().verify_bytes(&der, None)), "ext-key-usage");
    let code_only = || f.verifier().with_accepted_purposes([oid::KP_CODE_SIGNING]);
    code_only().verify_bytes(&der, None).unwrap();
    // The configured list replaces the default one: a bus-signing leaf is now refused,
    // and anyExtendedKeyUsage counts only when listed.
    assert_eq!(
        code(code_only().verify_bytes(&signed_by(&f.signer()), None)),
        "ext-key-usage"
    );
    let any = leaf_with(&f, "any.example.org", |p| {
        p.ext_key_usage = vec![oid::ANY_EXTENDED_KEY_USAGE];
    });
    assert_eq!(
        code(code_only().verify_bytes(&signed_by(&any), None)),
        "ext-key-usage"
    );
    f.verifier()
        .with_required_eku(oid::KP_CODE_SIGNING)
        .verify_bytes(&signed_by(&any), None)
        .unwrap();
}

#[test]
fn signer_key_usage_must_allow_signatures() {
    use x509_cert::ext::pkix::KeyUsages;
    let f = fx();
    let encipher = leaf_with(&f, "kex.example.org", |p| {
        p.key_usage = Some(vec![KeyUsages::KeyEncipherment, KeyUsages::KeyAgreement]);
    });
    assert_eq!(
        code(f.verifier().verify_bytes(&signed_by(&encipher), None)),
        "key-usage"
    );
    for (name, usage) in [
        ("nr.example.org", Some(vec![KeyUsages::NonRepudiation])),
        ("ds.example.org", Some(vec![KeyUsages::DigitalSignature])),
        ("noku.example.org", None),
    ] {
        let s = leaf_with(&f, name, |p| p.key_usage = usage);
        f.verifier()
            .verify_bytes(&signed_by(&s), None)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

// --- RSASSA-PSS keys (issue 10, item 8) ---

fn pss_384() -> key::PssKeyParams {
    key::PssKeyParams {
        digest: DigestAlgorithm::Sha384,
        min_salt_len: 48,
    }
}

/// The same RSA key without its PSS restriction.
fn unrestricted(k: &PrivateKey) -> PrivateKey {
    PrivateKey::from_bytes(k.to_pkcs8_pem().as_bytes())
        .unwrap()
        .into_rsa_pss(None)
        .map(|k| match k {
            PrivateKey::RsaPss(k, _) => PrivateKey::Rsa(k),
            other => other,
        })
        .unwrap()
}

fn issue_for(f: &Fx, name: &str, key: &PrivateKey) -> Certificate {
    f.pki
        .ca
        .issue(
            &CertParams::end_entity(parse_name(&format!("CN={name}")).unwrap(), f.pki.now, 30),
            &key.subject_public_key_info(),
        )
        .unwrap()
}

#[test]
fn rsa_pss_key_signs_with_its_parameters() {
    let f = fx();
    let key = PrivateKey::generate(KeyAlgorithm::Rsa2048)
        .unwrap()
        .into_rsa_pss(Some(pss_384()))
        .unwrap();
    // PKCS #8 and SubjectPublicKeyInfo keep the restriction.
    let spki = key.subject_public_key_info();
    assert_eq!(spki.algorithm.oid, const_oid::db::rfc5912::ID_RSASSA_PSS);
    assert_eq!(
        PublicKey::from_spki(&spki).unwrap(),
        PublicKey::RsaPss(
            match key.public_key() {
                PublicKey::RsaPss(k, _) => k,
                other => panic!("{other:?}"),
            },
            Some(pss_384())
        )
    );
    let back = PrivateKey::from_bytes(key.to_pkcs8_pem().as_bytes()).unwrap();
    assert_eq!(back.pss_restriction(), Some(Some(pss_384())));
    let cert = issue_for(&f, "pss384", &key);
    let signer = Signer::new(cert, back)
        .unwrap()
        .with_chain(vec![f.pki.ca.cert.clone()]);
    assert_eq!(signer.digest(), DigestAlgorithm::Sha384);
    let v = f
        .verifier()
        .verify_bytes(&signed_by(&signer), None)
        .unwrap();
    assert_eq!(v.signers()[0].signature_algorithm, "rsa-pss-sha384");
    // Refused: a digest the key does not allow.
    let err = signer.with_digest(DigestAlgorithm::Sha256).unwrap_err();
    assert!(
        matches!(
            err,
            SignError::Algorithm(AlgorithmError::PssKeyRestriction { .. })
        ),
        "{err}"
    );
    // A plain RSA key file with the PSS certificate signs PSS, as the certificate says.
    let cert = issue_for(&f, "pss384-plain-key", &key);
    let signer = Signer::new(cert, unrestricted(&key)).unwrap();
    assert_eq!(signer.digest(), DigestAlgorithm::Sha384);
    let env = EnvelopeBuilder::new(CONTENT)
        .add_signer(&signer.with_chain(vec![f.pki.ca.cert.clone()]))
        .build()
        .unwrap();
    let v = f.verifier().verify(&env, None).unwrap();
    assert_eq!(v.signers()[0].signature_algorithm, "rsa-pss-sha384");
}

#[test]
fn rsa_pss_certificate_refuses_signatures_outside_its_parameters() {
    // One RSA key, two certificates: rsaEncryption (anything goes) and id-RSASSA-PSS
    // restricted to SHA-384 with a salt of at least 48 bytes. Envelopes identify the
    // signer by subject key identifier (the same for both) and carry no certificate, so
    // the verifier's store decides which certificate is the signer's.
    let f = fx();
    let restricted = PrivateKey::generate(KeyAlgorithm::Rsa2048)
        .unwrap()
        .into_rsa_pss(Some(pss_384()))
        .unwrap();
    let pss_cert = issue_for(&f, "pss", &restricted);
    let plain = unrestricted(&restricted);
    let plain_cert = issue_for(&f, "plain", &plain);
    let any_pss_cert = issue_for(
        &f,
        "pss-any",
        &unrestricted(&restricted).into_rsa_pss(None).unwrap(),
    );
    let with_store = |c: &Certificate| {
        f.verifier().with_store(CertStore::from_certificates([
            c.clone(),
            f.pki.ca.cert.clone(),
        ]))
    };
    let envelope = |digest, pss| {
        let signer = Signer::new(plain_cert.clone(), unrestricted(&restricted))
            .unwrap()
            .with_digest(digest)
            .unwrap()
            .with_rsa_pss(pss)
            .unwrap()
            .with_signer_id(SignerIdKind::SubjectKeyIdentifier)
            .unwrap();
        EnvelopeBuilder::new(CONTENT)
            .include_certificates(false)
            .add_signer(&signer)
            .build()
            .unwrap()
            .to_der()
    };
    let pkcs1 = envelope(DigestAlgorithm::Sha384, false);
    let pss256 = envelope(DigestAlgorithm::Sha256, true);
    let pss384 = envelope(DigestAlgorithm::Sha384, true);
    for der in [&pkcs1, &pss256, &pss384] {
        with_store(&plain_cert).verify_bytes(der, None).unwrap();
    }
    // PKCS #1 v1.5 with a PSS key: refused, with or without parameters.
    assert_eq!(
        code(with_store(&pss_cert).verify_bytes(&pkcs1, None)),
        "algorithm-mismatch"
    );
    assert_eq!(
        code(with_store(&any_pss_cert).verify_bytes(&pkcs1, None)),
        "algorithm-mismatch"
    );
    // PSS with another hash than the key's: refused; with the key's hash: accepted.
    assert_eq!(
        code(with_store(&pss_cert).verify_bytes(&pss256, None)),
        "algorithm-mismatch"
    );
    with_store(&any_pss_cert)
        .verify_bytes(&pss256, None)
        .unwrap();
    with_store(&pss_cert).verify_bytes(&pss384, None).unwrap();
    // A salt shorter than the key's minimum: refused.
    let longer_salt = issue_for(
        &f,
        "pss-salt64",
        &unrestricted(&restricted)
            .into_rsa_pss(Some(key::PssKeyParams {
                digest: DigestAlgorithm::Sha384,
                min_salt_len: 64,
            }))
            .unwrap(),
    );
    assert_eq!(
        code(with_store(&longer_salt).verify_bytes(&pss384, None)),
        "algorithm-mismatch"
    );
}

#[test]
fn the_signer_is_found_by_its_issuer_as_rfc_5280_compares_names_and_by_nothing_else() {
    let f = fx();
    let leaf = &f.leaf.cert;
    let store = CertStore::from_certificates([leaf.clone(), f.pki.ca.cert.clone()]);
    let serial = leaf.serial();
    // The issuer exactly as the certificate writes it.
    assert_eq!(
        store.by_issuer_name_serial(leaf.issuer(), serial),
        Some(leaf)
    );
    // The same name written otherwise (other case, another string type): RFC 5280 §7.1
    // names the same issuer, so the same certificate.
    let recased = parse_name(&leaf.issuer().to_string().to_uppercase()).unwrap();
    assert_ne!(
        der::Encode::to_der(&recased).unwrap(),
        der::Encode::to_der(leaf.issuer()).unwrap()
    );
    assert_eq!(store.by_issuer_name_serial(&recased, serial), Some(leaf));
    // Another issuer with the same serial number, or another serial number: none.
    assert_eq!(store.by_issuer_name_serial(leaf.subject(), serial), None);
    let mut other = serial.to_vec();
    *other.last_mut().unwrap() ^= 1;
    assert_eq!(store.by_issuer_name_serial(leaf.issuer(), &other), None);
}
