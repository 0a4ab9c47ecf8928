//! Time-stamp tokens at the library level: what a token must be, refused with its code
//! and never a panic, and how a `Verifier` treats tokens it was or was not asked about.
//! (Tokens made by OpenSSL, and the end-to-end flow, are in the CLI's tests/timestamp.rs.)

use der::Encode;
use waxseal_envelope::rfc3161::{self, ID_CT_TST_INFO, KP_TIME_STAMPING, TimestampTrust};
use waxseal_envelope::{Envelope, EnvelopeBuilder, Signer, Verifier};
use waxseal_pki::testing::DAY;
use waxseal_pki::{Issued, TestPki};
use waxseal_trust::{DigestAlgorithm, KeyAlgorithm, TrustAnchors};
use x509_cert::ext::Extension;

fn tsa_leaf(pki: &TestPki, critical: bool) -> Issued {
    let ext = Extension {
        extn_id: waxseal_trust::oid::CE_EXT_KEY_USAGE,
        critical,
        extn_value: der::asn1::OctetString::new(
            x509_cert::ext::pkix::ExtendedKeyUsage(vec![KP_TIME_STAMPING])
                .to_der()
                .unwrap(),
        )
        .unwrap(),
    };
    let now = pki.now;
    pki.leaf_with("tsa", KeyAlgorithm::P256, |p| {
        p.not_before = now - DAY;
        p.ext_key_usage = Vec::new();
        p.extra_extensions = vec![ext];
    })
    .unwrap()
}

/// A TSTInfo over `stamped` at `gen_time`, signed by `tsa` (no signingCertificate).
fn token(
    pki: &TestPki,
    tsa: &Issued,
    stamped: &[u8],
    gen_time: u64,
    content_type: bool,
) -> Vec<u8> {
    let info = rfc3161::TstInfo {
        version: 1,
        policy: waxseal_trust::oid::Oid::new_unwrap("1.3.6.1.4.1.99999.1"),
        message_imprint: rfc3161::MessageImprint {
            hash_algorithm: DigestAlgorithm::Sha256.algorithm_identifier(),
            hashed_message: der::asn1::OctetString::new(
                waxseal_trust::provider::Provider::default()
                    .digest(DigestAlgorithm::Sha256, stamped),
            )
            .unwrap(),
        },
        serial_number: der::asn1::Int::new(&[1]).unwrap(),
        gen_time: der::Any::new(
            der::Tag::GeneralizedTime,
            waxseal_trust::time::format(gen_time)
                .replace(['-', ':', 'T'], "")
                .into_bytes(),
        )
        .unwrap(),
        accuracy: None,
        ordering: false,
        nonce: None,
        tsa: None,
        extensions: None,
    };
    let tst = info.to_der().unwrap();
    let signer = Signer::new(tsa.cert.clone(), tsa.key.clone())
        .unwrap()
        .with_chain(vec![pki.ca.cert.clone()]);
    let mut b = EnvelopeBuilder::new(&tst).add_signer(&signer);
    if content_type {
        b = b.content_type(ID_CT_TST_INFO);
    }
    b.build().unwrap().to_der()
}

fn trust(pki: &TestPki) -> TimestampTrust {
    TimestampTrust::new(TrustAnchors::new([pki.root.cert.clone()]).unwrap())
}

#[test]
fn malformed_tokens_are_refused_and_never_panic() {
    let pki = TestPki::new(KeyAlgorithm::P256).unwrap();
    let tsa = tsa_leaf(&pki, true);
    let trust = trust(&pki);
    let now = pki.now;
    let good = token(&pki, &tsa, b"sig", now - 60, true);
    // The whole token in the right shape reaches the binding check (no ESSCertID here).
    let e = trust
        .verify_token(&good, b"sig", now, None, &trust.meter())
        .unwrap_err();
    assert_eq!(e.code(), "timestamp-cert-id");
    // Every truncation, and a flipped byte at every offset: an error, never a panic.
    for n in 0..good.len() {
        assert!(
            trust
                .verify_token(&good[..n], b"sig", now, None, &trust.meter())
                .is_err()
        );
    }
    for i in 0..good.len() {
        let mut t = good.clone();
        t[i] ^= 0x40;
        assert!(
            trust
                .verify_token(&t, b"sig", now, None, &trust.meter())
                .is_err()
        );
    }
    // A SignedData of id-data is no token.
    let data = token(&pki, &tsa, b"sig", now - 60, false);
    let e = trust
        .verify_token(&data, b"sig", now, None, &trust.meter())
        .unwrap_err();
    assert_eq!(e.code(), "timestamp-malformed");
    // A nonce asked for and absent.
    let e = trust
        .verify_token(&good, b"sig", now, Some(&[1, 2]), &trust.meter())
        .unwrap_err();
    assert_eq!(e.code(), "timestamp-nonce-mismatch");
    // A genTime after the verifier's clock.
    let e = trust
        .verify_token(&good, b"sig", now - 3600, None, &trust.meter())
        .unwrap_err();
    assert_eq!(e.code(), "timestamp-in-future");
    // Within a clock skew allowed for the TSA's clock, the same genTime passes that check
    // (and reaches the binding check); one second less and it does not.
    let skewed = trust.with_clock_skew(3540);
    let e = skewed
        .verify_token(&good, b"sig", now - 3600, None, &skewed.meter())
        .unwrap_err();
    assert_eq!(e.code(), "timestamp-cert-id");
    let trust = TimestampTrust::new(TrustAnchors::new([pki.root.cert.clone()]).unwrap())
        .with_clock_skew(3539);
    let e = trust
        .verify_token(&good, b"sig", now - 3600, None, &trust.meter())
        .unwrap_err();
    assert_eq!(e.code(), "timestamp-in-future");
    // A non-critical timeStamping purpose.
    let lax = tsa_leaf(&pki, false);
    let t = token(&pki, &lax, b"sig", now - 60, true);
    let e = trust
        .verify_token(&t, b"sig", now, None, &trust.meter())
        .unwrap_err();
    assert_eq!(e.code(), "timestamp-ext-key-usage");
}

#[test]
fn a_verifier_checks_tokens_only_when_asked_and_then_never_ignores_them() {
    let pki = TestPki::new(KeyAlgorithm::P256).unwrap();
    let alice = pki.leaf("alice", KeyAlgorithm::P256).unwrap();
    let signer = Signer::new(alice.cert.clone(), alice.key.clone())
        .unwrap()
        .with_chain(vec![pki.ca.cert.clone()]);
    let env = EnvelopeBuilder::new(b"{}")
        .add_signer(&signer)
        .build()
        .unwrap();
    let anchors = || TrustAnchors::new([pki.root.cert.clone()]).unwrap();
    let tsa = tsa_leaf(&pki, true);
    // A token that fails (no ESSCertID) on the signer.
    let mut stamped = Envelope::parse(&env.to_der()).unwrap();
    let si = &mut stamped.signed_data_mut().signer_infos[0];
    let t = token(&pki, &tsa, &si.signature, pki.now - 60, true);
    rfc3161::attach(si, t.clone()).unwrap();
    // Twice on one signer: refused by attach.
    assert_eq!(
        rfc3161::attach(si, t).unwrap_err().code(),
        "timestamp-duplicate"
    );
    let at = pki.now + DAY;
    // Not asked about: verified as any unsigned attribute, ignored.
    Verifier::new(anchors())
        .at_time(at)
        .verify(&stamped, None)
        .unwrap();
    // With TSA trust: refused, with the token's own code.
    let e = Verifier::new(anchors())
        .at_time(at)
        .with_timestamp_trust(trust(&pki))
        .verify(&stamped, None)
        .unwrap_err();
    assert_eq!(e.code(), "timestamp-cert-id");
    // --at-timestamp without TSA trust, and on an unstamped envelope.
    let e = Verifier::new(anchors())
        .at_time(at)
        .at_timestamp(true)
        .verify(&stamped, None)
        .unwrap_err();
    assert_eq!(e.code(), "timestamp-no-trust");
    let e = Verifier::new(anchors())
        .at_time(at)
        .at_timestamp(true)
        .with_timestamp_trust(trust(&pki))
        .verify(&env, None)
        .unwrap_err();
    assert_eq!(e.code(), "timestamp-missing");
    // The unstamped envelope with TSA trust but no --at-timestamp: fine, no time-stamp.
    let v = Verifier::new(anchors())
        .at_time(at)
        .with_timestamp_trust(trust(&pki))
        .verify(&env, None)
        .unwrap();
    assert!(v.signers()[0].timestamp.is_none());
}
