//! Resources and revocation freshness: hostile envelopes that try to make verification
//! expensive are refused with `budget-exceeded` (or `key-too-large`) after a bounded amount
//! of work, counted by the envelope's [`Meter`]; the newest CRL decides; embedded CRLs are
//! parsed only for issuers on the path; signature outcomes are cached by key, failures too.
//! Every hostile input is built here, at test time, next to its positive twin.

use std::sync::Arc;

use const_oid::ObjectIdentifier as Oid;
use der::Encode;
use der::asn1::OctetString;
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use waxseal_envelope::rfc5652::CertificateChoice;
use waxseal_envelope::*;
use waxseal_pki::{CertParams, Issued, Revocation, TestPki, issue::parse_name};
use waxseal_trust::asn1::tlv;
use waxseal_trust::path::Work;
use waxseal_trust::*;
use x509_cert::ext::Extension;
use x509_cert::ext::pkix::crl::CrlReason;

const CONTENT: &[u8] = b"{\"topic\": \"org.example.prod.compute.select_destinations\"}";
const SKI_OID: Oid = Oid::new_unwrap("2.5.29.14");
const RSA_ENCRYPTION: Oid = Oid::new_unwrap("1.2.840.113549.1.1.1");

struct Fx {
    pki: TestPki,
    leaf: Issued,
}

fn fx() -> Fx {
    fx_with(KeyAlgorithm::Ed25519)
}

fn fx_with(leaf_algorithm: KeyAlgorithm) -> Fx {
    let pki = TestPki::new(KeyAlgorithm::P256).unwrap();
    let leaf = pki.leaf("conductor01.example.org", leaf_algorithm).unwrap();
    Fx { pki, leaf }
}

fn signer_for(issued: &Issued) -> Signer {
    let key = PrivateKey::from_bytes(issued.key.to_pkcs8_pem().as_bytes()).unwrap();
    Signer::new(issued.cert.clone(), key).unwrap()
}

impl Fx {
    fn anchors(&self) -> TrustAnchors {
        TrustAnchors::new([self.pki.root.cert.clone()]).unwrap()
    }

    fn verifier(&self) -> Verifier {
        Verifier::new(self.anchors()).at_time(self.pki.now)
    }

    fn signer(&self) -> Signer {
        signer_for(&self.leaf)
            .with_signing_time(self.pki.now)
            .with_chain(vec![self.pki.ca.cert.clone()])
            .with_signer_id(SignerIdKind::SubjectKeyIdentifier)
            .unwrap()
    }

    fn envelope(&self, content: &[u8]) -> Envelope {
        EnvelopeBuilder::new(content)
            .add_signer(&self.signer())
            .build()
            .unwrap()
    }

    /// A certificate from the signing CA for `spki`, whose subjectKeyIdentifier is `ski`
    /// (not the key's own).
    fn decoy(&self, i: usize, ski: &[u8], spki: &SubjectPublicKeyInfoOwned) -> Certificate {
        let mut params = CertParams::end_entity(
            parse_name(&format!("CN=decoy {i},O=waxseal tests")).unwrap(),
            self.pki.now,
            30,
        );
        params.subject_key_identifier = false;
        params.extra_extensions.push(Extension {
            extn_id: SKI_OID,
            critical: false,
            extn_value: OctetString::new(OctetString::new(ski).unwrap().to_der().unwrap()).unwrap(),
        });
        self.pki.ca.issue(&params, spki).unwrap()
    }

    /// The envelope with `decoys` put before every certificate it carries (the order the
    /// verifier tries signer candidates in), and the signer's own certificate removed:
    /// every candidate fails, the most work an attacker can ask for.
    fn with_decoys(&self, decoys: Vec<Certificate>, signers: usize) -> Envelope {
        let mut env = self.envelope(CONTENT);
        let sd = env.signed_data_mut();
        let leaf = self.leaf.cert.clone();
        sd.certificates
            .retain(|c| !matches!(c, CertificateChoice::Certificate(x) if *x == leaf));
        let mut certs: Vec<CertificateChoice> = decoys
            .into_iter()
            .map(CertificateChoice::Certificate)
            .collect();
        certs.append(&mut sd.certificates);
        sd.certificates = certs;
        let si = sd.signer_infos[0].clone();
        sd.signer_infos = vec![si; signers];
        env
    }

    fn ski(&self) -> Vec<u8> {
        self.leaf.cert.subject_key_identifier().unwrap().to_vec()
    }

    /// `n` decoys with the leaf's subjectKeyIdentifier and fresh Ed25519 keys of their own.
    fn decoys_with_fresh_keys(&self, n: usize) -> Vec<Certificate> {
        let ski = self.ski();
        (0..n)
            .map(|i| {
                let key = PrivateKey::generate(KeyAlgorithm::Ed25519).unwrap();
                self.decoy(i, &ski, &key.subject_public_key_info())
            })
            .collect()
    }
}

/// A `SubjectPublicKeyInfo` for an RSA key with a `bits`-bit modulus (all ones but one
/// octet, `salt`: no private key is known for it, none is needed) and public exponent `e`.
fn rsa_spki_salted(bits: usize, e: &[u8], salt: u8) -> SubjectPublicKeyInfoOwned {
    let mut n = vec![0xff; bits / 8];
    n[1] = salt;
    n.insert(0, 0x00);
    let mut key = tlv(0x02, &n);
    key.extend(tlv(0x02, e));
    SubjectPublicKeyInfoOwned {
        algorithm: AlgorithmIdentifierOwned {
            oid: RSA_ENCRYPTION,
            parameters: Some(der::Any::null()),
        },
        subject_public_key: der::asn1::BitString::from_bytes(&tlv(0x30, &key)).unwrap(),
    }
}

fn rsa_spki(bits: usize, e: &[u8]) -> SubjectPublicKeyInfoOwned {
    rsa_spki_salted(bits, e, 0xff)
}

fn verify_metered(v: &Verifier, env: &Envelope) -> (Result<Verified, VerifyError>, Work) {
    let meter = v.meter();
    let r = v.verify_with_meter(env, None, &meter);
    (r, meter.work())
}

fn code(r: &Result<Verified, VerifyError>) -> &'static str {
    r.as_ref()
        .map(|_| ())
        .expect_err("expected a rejection")
        .code()
}

// ---- item 9: signer candidates, one budget per envelope, key sizes ----

#[test]
fn a_good_envelope_costs_one_candidate_and_a_few_signature_checks() {
    let f = fx();
    let (r, work) = verify_metered(&f.verifier(), &f.envelope(CONTENT));
    r.unwrap();
    assert_eq!(work.signer_candidates, 1);
    // The content signature, leaf <- CA, CA <- root.
    assert_eq!(work.signature_checks, 3);
}

#[test]
fn many_candidates_sharing_one_ski_are_cut_off_by_the_budget() {
    let f = fx();
    let decoys = f.decoys_with_fresh_keys(255);
    let env = f.with_decoys(decoys, 1);

    // Default budget: refused after 64 candidates, each one signature check at most.
    let (r, work) = verify_metered(&f.verifier(), &env);
    assert_eq!(code(&r), "budget-exceeded");
    let max = Budget::default().max_signer_candidates;
    assert_eq!(work.signer_candidates, max + 1);
    assert!(work.signature_checks <= max, "{work:?}");

    // Its twin with a budget large enough: every one of the 255 is tried (the cost the
    // budget prevents), and the verdict is the ordinary one.
    let roomy = Budget {
        max_signer_candidates: 1000,
        max_signature_checks: 1000,
        ..Budget::default()
    };
    let (r, work) = verify_metered(&f.verifier().with_budget(roomy), &env);
    assert_eq!(code(&r), "bad-signature");
    assert_eq!(work.signature_checks, 255);
}

#[test]
fn the_budget_covers_all_signers_together_even_with_any_signer() {
    let f = fx();
    let decoys = f.decoys_with_fresh_keys(20);
    // 8 signers × 20 candidates = 160 > 64: one budget for the envelope, not per signer.
    let env = f.with_decoys(decoys.clone(), 8);
    let v = f
        .verifier()
        .with_requirement(SignerRequirement::Any)
        .with_budget(Budget {
            max_signature_checks: 1000,
            ..Budget::default()
        });
    let (r, work) = verify_metered(&v, &env);
    assert_eq!(code(&r), "budget-exceeded");
    assert_eq!(work.signer_candidates, 65);
    // Twin: 3 such signers (60 candidates) fit, and end as the bad signatures they are.
    let (r, work) = verify_metered(&v, &f.with_decoys(decoys, 3));
    assert_eq!(code(&r), "bad-signature");
    assert_eq!(work.signer_candidates, 60);
}

#[test]
fn huge_rsa_keys_are_refused_before_any_arithmetic() {
    let f = fx_with(KeyAlgorithm::Rsa2048);
    let ski = f.ski();
    let decoys: Vec<Certificate> = (0..40)
        .map(|i| f.decoy(i, &ski, &rsa_spki_salted(16384, &[1, 0, 1], i as u8)))
        .collect();
    let env = f.with_decoys(decoys, 1);
    let (r, work) = verify_metered(&f.verifier(), &env);
    assert_eq!(code(&r), "key-too-large");
    assert_eq!(work.signer_candidates, 40);
    assert_eq!(
        work.signature_checks, 0,
        "no RSA operation on a refused key"
    );

    // With the cap raised, the same keys are used (and fail as signatures).
    let v = f.verifier().with_budget(Budget {
        max_rsa_bits: 16384,
        ..Budget::default()
    });
    let (r, work) = verify_metered(&v, &env);
    assert_eq!(code(&r), "bad-signature");
    assert_eq!(work.signature_checks, 40);
}

#[test]
fn the_modulus_cap_and_the_exponent_rules_apply_to_keys() {
    let ok = |bits, e: &[u8], max| PublicKey::from_spki_bounded(&rsa_spki(bits, e), None, max);
    assert!(ok(2048, &[1, 0, 1], 8192).is_ok());
    assert!(ok(8192, &[1, 0, 1], 8192).is_ok());
    assert!(ok(2048, &[3], 8192).is_ok());
    assert!(matches!(
        ok(8200, &[1, 0, 1], 8192),
        Err(KeyError::TooLarge {
            bits: 8200,
            max: 8192,
            ..
        })
    ));
    assert!(matches!(
        ok(4096, &[1, 0, 1], 2048),
        Err(KeyError::TooLarge { .. })
    ));
    // The default cap (8192) applies to the plain constructor too.
    assert!(PublicKey::from_spki(&rsa_spki(16384, &[1, 0, 1])).is_err());
    // Even, 1, and 2^32 or more: refused.
    for e in [
        &[1, 0, 0][..],
        &[1],
        &[1, 0, 0, 0, 1],
        &[1, 0, 0, 0, 0, 0, 0, 0, 1],
    ] {
        assert!(
            matches!(ok(2048, e, 8192), Err(KeyError::BadPublicKey(_))),
            "{e:?}"
        );
    }
    // The largest accepted: 2^32 - 1.
    assert!(ok(2048, &[0, 0xff, 0xff, 0xff, 0xff], 8192).is_ok());
}

#[test]
fn a_large_signer_key_is_refused_with_its_code_and_a_small_cap_is_honoured() {
    let f = fx();
    let rsa = f
        .pki
        .leaf("rsa.example.org", KeyAlgorithm::Rsa2048)
        .unwrap();
    let env = EnvelopeBuilder::new(CONTENT)
        .add_signer(&signer_for(&rsa).with_chain(vec![f.pki.ca.cert.clone()]))
        .build()
        .unwrap();
    f.verifier().verify(&env, None).unwrap();
    let v = f.verifier().with_budget(Budget {
        max_rsa_bits: 1024,
        ..Budget::default()
    });
    assert_eq!(code(&v.verify(&env, None)), "key-too-large");
}

#[test]
fn signature_checks_are_capped_for_the_whole_envelope() {
    let f = fx();
    let env = f.envelope(CONTENT);
    for (max, expected) in [(2, Some("budget-exceeded")), (3, None)] {
        let v = f.verifier().with_budget(Budget {
            max_signature_checks: max,
            ..Budget::default()
        });
        let (r, work) = verify_metered(&v, &env);
        assert_eq!(r.as_ref().err().map(VerifyError::code), expected);
        assert!(work.signature_checks <= max + 1);
    }
}

#[test]
fn checks_over_large_messages_weigh_more() {
    // Ed25519 without signed attributes hashes the whole content for each key tried: a
    // 3 MiB content counts 1 + 3, so many candidates cannot multiply a big hash.
    let f = fx();
    let big = vec![b'x'; 3 << 20];
    let plain = EnvelopeBuilder::new(&big)
        .add_signer(&f.signer().without_signed_attributes())
        .build()
        .unwrap();
    let (r, work) = verify_metered(&f.verifier(), &plain);
    r.unwrap();
    assert_eq!(work.signature_checks, 4 + 2);
    // Twin: with signed attributes only they are signed, whatever the content's size.
    let (r, work) = verify_metered(&f.verifier(), &f.envelope(&big));
    r.unwrap();
    assert_eq!(work.signature_checks, 3);
}

// ---- item 12: signature outcomes cached by key, failures too ----

#[test]
fn a_failing_signature_is_checked_once_not_per_message() {
    let f = fx();
    let mut env = f.envelope(CONTENT);
    let sig = &mut env.signed_data_mut().signer_infos[0].signature;
    sig[5] ^= 1;
    let cache = Arc::new(PathCache::default());
    let v = f.verifier().with_cache(cache.clone());
    let (r, first) = verify_metered(&v, &env);
    assert_eq!(code(&r), "bad-signature");
    assert_eq!(first.signature_checks, 1);
    for _ in 0..5 {
        let (r, again) = verify_metered(&v, &env);
        assert_eq!(code(&r), "bad-signature");
        assert_eq!((again.signature_checks, again.signature_cache_hits), (0, 1));
    }
    assert_eq!(cache.signature_outcomes(), (0, 1));
    // Twin: without a cache, every message pays again.
    let (_, uncached) = verify_metered(&f.verifier(), &env);
    assert_eq!(uncached.signature_checks, 1);
}

#[test]
fn a_bad_certificate_signature_is_checked_once_for_every_message_of_its_signer() {
    let f = fx();
    // The leaf with one bit of its signature flipped.
    let mut der = f.leaf.cert.der().to_vec();
    let n = der.len();
    der[n - 3] ^= 1;
    let forged = Issued {
        cert: Certificate::from_der(&der).unwrap(),
        key: PrivateKey::from_bytes(f.leaf.key.to_pkcs8_pem().as_bytes()).unwrap(),
    };
    let signer = signer_for(&forged).with_chain(vec![f.pki.ca.cert.clone()]);
    let cache = Arc::new(PathCache::default());
    let v = f.verifier().with_cache(cache);
    for i in 0..4 {
        let content = format!("{{\"n\": {i}}}");
        let env = EnvelopeBuilder::new(content.as_bytes())
            .add_signer(&signer)
            .build()
            .unwrap();
        let (r, work) = verify_metered(&v, &env);
        assert_eq!(code(&r), "bad-certificate-signature");
        // The content signature is new each time; the certificate's only the first time.
        assert_eq!(work.signature_checks, if i == 0 { 2 } else { 1 }, "{i}");
    }
}

#[test]
fn two_issuer_certificates_of_one_key_share_the_cached_outcome() {
    let f = fx();
    // The signing CA re-issued: same name, same key, another certificate.
    let mut params = CertParams::ca(f.pki.ca.cert.subject().clone(), f.pki.now, 1000, Some(0));
    params.serial = Some(vec![0x42]);
    let ca2 = f
        .pki
        .root
        .issue(&params, &f.pki.ca.key.subject_public_key_info())
        .unwrap();
    assert_ne!(ca2, f.pki.ca.cert);
    let env_with = |ca: &Certificate| {
        EnvelopeBuilder::new(CONTENT)
            .add_signer(
                &signer_for(&f.leaf)
                    .with_signing_time(f.pki.now)
                    .with_chain(vec![ca.clone()]),
            )
            .build()
            .unwrap()
    };
    let cache = Arc::new(PathCache::default());
    let (r, first) = verify_metered(
        &f.verifier().with_cache(cache.clone()),
        &env_with(&f.pki.ca.cert),
    );
    r.unwrap();
    assert_eq!(first.signature_checks, 3);
    // An hour later (another path-cache bucket: the path is built again), through the
    // other CA certificate: leaf <- CA2 is the same key over the same bytes, a cache hit;
    // only CA2 <- root is new.
    let later = f.verifier().with_cache(cache).at_time(f.pki.now + 3700);
    let (r, second) = verify_metered(&later, &env_with(&ca2));
    let path = r.unwrap().signers()[0].path.clone().unwrap();
    assert_eq!(path.certificates[1], ca2);
    assert_eq!(second.signature_checks, 1, "{second:?}");
    assert!(second.signature_cache_hits >= 2, "{second:?}");
}

// ---- item 7: the newest CRL decides ----

fn crl(f: &Fx, number: u64, this_update: u64, revoked: &[(&Certificate, CrlReason)]) -> Crl {
    let entries: Vec<Revocation> = revoked
        .iter()
        .map(|(c, reason)| Revocation::of(c, this_update - 60, Some(*reason)))
        .collect();
    f.pki
        .ca
        .issue_crl(number, this_update, f.pki.now + 7 * 86_400, &entries)
        .unwrap()
}

#[test]
fn the_newest_crl_decides_not_the_first_found() {
    let f = fx();
    let now = f.pki.now;
    let env = f.envelope(CONTENT);
    let stale = crl(&f, 1, now - 7200, &[]);
    let fresh = crl(
        &f,
        2,
        now - 3600,
        &[(&f.leaf.cert, CrlReason::KeyCompromise)],
    );
    for crls in [[&stale, &fresh], [&fresh, &stale]] {
        let set = CrlSet::from_crls(crls.into_iter().cloned().chain([f.pki.root_crl().unwrap()]));
        let r = f.verifier().with_crls(set).verify(&env, None);
        assert_eq!(code(&r), "revoked");
    }
    // Twin: the newer CRL no longer lists a certificate the older one had on hold.
    let held = crl(
        &f,
        1,
        now - 7200,
        &[(&f.leaf.cert, CrlReason::CertificateHold)],
    );
    let released = crl(&f, 2, now - 3600, &[]);
    for crls in [[&held, &released], [&released, &held]] {
        let set = CrlSet::from_crls(crls.into_iter().cloned().chain([f.pki.root_crl().unwrap()]));
        f.verifier().with_crls(set).verify(&env, None).unwrap();
    }
}

#[test]
fn with_equal_crl_numbers_the_later_this_update_decides() {
    let f = fx();
    let now = f.pki.now;
    let env = f.envelope(CONTENT);
    let older = crl(&f, 7, now - 7200, &[]);
    let newer = crl(
        &f,
        7,
        now - 3600,
        &[(&f.leaf.cert, CrlReason::KeyCompromise)],
    );
    let set = CrlSet::from_crls([older.clone(), newer, f.pki.root_crl().unwrap()]);
    assert_eq!(
        code(&f.verifier().with_crls(set).verify(&env, None)),
        "revoked"
    );
    // Twin: a higher number wins over a later thisUpdate.
    let numbered = crl(&f, 8, now - 7200, &[]);
    let later = crl(
        &f,
        7,
        now - 3600,
        &[(&f.leaf.cert, CrlReason::KeyCompromise)],
    );
    let set = CrlSet::from_crls([later, numbered, f.pki.root_crl().unwrap()]);
    f.verifier().with_crls(set).verify(&env, None).unwrap();
}

#[test]
fn carried_crls_follow_the_same_rule() {
    let f = fx();
    let now = f.pki.now;
    let mut env = f.envelope(CONTENT);
    let stale = crl(&f, 1, now - 7200, &[]);
    let fresh = crl(
        &f,
        2,
        now - 3600,
        &[(&f.leaf.cert, CrlReason::KeyCompromise)],
    );
    for c in [stale, fresh, f.pki.root_crl().unwrap()] {
        env.signed_data_mut().crls.push(c.into());
    }
    let env = Envelope::parse(&env.to_der()).unwrap();
    let r = f
        .verifier()
        .with_revocation(RevocationPolicy::RequireAll)
        .verify(&env, None);
    assert_eq!(code(&r), "revoked");
}

// ---- item 11: embedded CRLs parsed lazily, for issuers on the path only, capped ----

/// A CRL whose framing and issuer are sound but whose body is garbage: it can be carried
/// and indexed, never parsed.
fn unparsable_crl(issuer: &str, i: usize) -> Vec<u8> {
    let name = parse_name(issuer).unwrap().to_der().unwrap();
    let alg = tlv(
        0x30,
        &tlv(0x06, &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02]),
    );
    let mut tbs = alg.clone();
    tbs.extend(name);
    tbs.extend(tlv(0x04, &vec![i as u8; 1000]));
    let mut body = tlv(0x30, &tbs);
    body.extend(alg);
    body.extend(tlv(0x03, &[0, 1, 2, 3]));
    tlv(0x30, &body)
}

fn with_carried(env: &Envelope, crls: Vec<LazyCrl>) -> Envelope {
    let mut env = env.clone();
    env.signed_data_mut().crls.extend(crls);
    Envelope::parse(&env.to_der()).unwrap()
}

#[test]
fn only_the_crls_of_issuers_on_the_path_are_parsed() {
    let f = fx();
    let mut carried: Vec<LazyCrl> = (0..250)
        .map(|i| LazyCrl::from_der(&unparsable_crl("CN=unrelated CA", i)).unwrap())
        .collect();
    carried.push(f.pki.crl(&[]).unwrap().into());
    carried.push(f.pki.root_crl().unwrap().into());
    let env = with_carried(&f.envelope(CONTENT), carried);
    assert_eq!(env.signed_data().crls.len(), 252);
    let v = f.verifier().with_revocation(RevocationPolicy::RequireAll);
    let (r, work) = verify_metered(&v, &env);
    let verified = r.unwrap();
    assert!(
        verified.signers()[0]
            .path
            .as_ref()
            .unwrap()
            .revocation_checked
    );
    assert_eq!(work.crls_parsed, 2, "{work:?}");
    // Twin: the unrelated CRLs were never parsed (they could not have been).
    let unrelated: Vec<&LazyCrl> = env
        .signed_data()
        .crls
        .iter()
        .filter(|c| c.issuer_display().contains("unrelated"))
        .collect();
    assert_eq!(unrelated.len(), 250);
    assert!(unrelated.iter().all(|c| c.parsed().is_none()));
    // Unparsable CRLs of an issuer on the path are looked at, and do not count as CRLs.
    let bad_ca_crls: Vec<LazyCrl> = (0..3)
        .map(|i| {
            LazyCrl::from_der(&unparsable_crl(
                "CN=waxseal test signing CA,O=waxseal tests",
                i,
            ))
            .unwrap()
        })
        .chain([f.pki.root_crl().unwrap().into()])
        .collect();
    let env = with_carried(&f.envelope(CONTENT), bad_ca_crls);
    let (r, work) = verify_metered(&v, &env);
    assert_eq!(code(&r), "revocation-unknown");
    assert!(r.unwrap_err().to_string().contains("does not parse"));
    assert_eq!(work.crls_parsed, 4);
}

#[test]
fn a_large_crl_bag_is_refused_before_anything_is_parsed() {
    let f = fx();
    let carried: Vec<LazyCrl> = (0..40)
        .map(|i| LazyCrl::from_der(&unparsable_crl("CN=bag", i)).unwrap())
        .chain([
            f.pki.crl(&[]).unwrap().into(),
            f.pki.root_crl().unwrap().into(),
        ])
        .collect();
    let env = with_carried(&f.envelope(CONTENT), carried);
    let v = f.verifier().with_revocation(RevocationPolicy::RequireAll);
    let small = Budget {
        max_crl_bytes: 20_000,
        ..Budget::default()
    };
    let (r, work) = verify_metered(&v.with_budget(small), &env);
    assert_eq!(code(&r), "budget-exceeded");
    assert_eq!(work, Work::default(), "nothing done before the refusal");
    // Twin: within the default cap, the same envelope verifies.
    let v = f.verifier().with_revocation(RevocationPolicy::RequireAll);
    let (r, work) = verify_metered(&v, &env);
    r.unwrap();
    assert_eq!(work.crls_parsed, 2);
}

#[test]
fn the_number_of_crls_parsed_is_capped() {
    let f = fx();
    let now = f.pki.now;
    // Many current CRLs of the signing CA, none covering the leaf's status better than
    // the others: each is parsed until the cap.
    let carried: Vec<LazyCrl> = (0..50)
        .map(|i| crl(&f, 100 + i, now - 7200, &[]).into())
        .collect();
    let env = with_carried(&f.envelope(CONTENT), carried);
    let v = f
        .verifier()
        .with_revocation(RevocationPolicy::RequireEndEntity);
    let (r, work) = verify_metered(&v, &env);
    assert_eq!(code(&r), "budget-exceeded");
    assert_eq!(work.crls_parsed, Budget::default().max_crls + 1);
    // Twin: with room for them, the newest (number 149) decides and the leaf is good.
    // (A fresh parse: an envelope keeps the CRLs it has parsed.)
    let env = Envelope::parse(&env.to_der()).unwrap();
    let v = v.with_budget(Budget {
        max_crls: 64,
        ..Budget::default()
    });
    let (r, work) = verify_metered(&v, &env);
    r.unwrap();
    assert_eq!(work.crls_parsed, 50);
}
