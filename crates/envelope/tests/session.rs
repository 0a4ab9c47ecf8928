//! A verification session (issue 23): an envelope verified once, then a countersignature
//! (RFC 5652 §11.4, a routing slip's hop) checked with what that verification built: the
//! envelope's certificates, its CRLs, the options and the meter. The countersigner's
//! certificate is carried only by the envelope, so finding it proves the session's store
//! is the envelope's. Negative twins: a tampered countersignature, one over other bytes,
//! one by a certificate of another PKI, one by a certificate nobody carries, one with a
//! content-type, and one past the envelope's budget.

use waxseal_envelope::rfc5652::{CertificateChoice, SignerInfo};
use waxseal_envelope::*;
use waxseal_pki::{Issued, TestPki};
use waxseal_trust::{Budget, Certificate, ErrorKind, KeyAlgorithm, TrustAnchors};

const CONTENT: &[u8] = b"{\"method\": \"ping\"}";

fn signer_for(pki: &TestPki, issued: &Issued) -> Signer {
    pki.signer(issued).unwrap()
}

struct Fx {
    pki: TestPki,
    origin: Issued,
    relay: Issued,
}

impl Fx {
    fn new() -> Self {
        let pki = TestPki::new(KeyAlgorithm::P256).unwrap();
        let origin = pki.leaf("origin.example.org", KeyAlgorithm::P256).unwrap();
        let relay = pki.leaf("relay.example.org", KeyAlgorithm::P256).unwrap();
        Fx { pki, origin, relay }
    }

    /// Trusts the test root only; no store, so a countersigner's certificate is found in
    /// the envelope or nowhere.
    fn verifier(&self) -> Verifier {
        Verifier::new(TrustAnchors::new([self.pki.root.cert.clone()]).unwrap())
            .at_time(self.pki.now)
    }

    /// An envelope signed by the origin, carrying `extra` certificates besides its chain.
    fn envelope(&self, extra: &[&Certificate]) -> Envelope {
        let mut env = EnvelopeBuilder::new(CONTENT)
            .add_signer(&signer_for(&self.pki, &self.origin))
            .build()
            .unwrap();
        let sd = env.signed_data_mut();
        for c in extra {
            sd.certificates
                .push(CertificateChoice::Certificate((*c).clone()));
        }
        env
    }

    /// The origin's SignerInfo, as the envelope carries it.
    fn origin_si(env: &Envelope) -> SignerInfo {
        env.signed_data().signer_infos[0].clone()
    }
}

fn code(r: &Result<VerifiedSigner, SignerError>) -> &'static str {
    r.as_ref().err().map_or("ok", SignerError::code)
}

#[test]
fn a_countersignature_verifies_with_the_envelopes_certificates_and_counts_on_its_meter() {
    let f = Fx::new();
    let env = f.envelope(&[&f.relay.cert]);
    let origin = Fx::origin_si(&env);
    let countersignature = signer_for(&f.pki, &f.relay).countersign(&origin).unwrap();
    let v = f.verifier();

    let meter = v.meter();
    let session = v.session(&env, None, &meter).unwrap();
    assert_eq!(session.verified().content(), CONTENT);
    assert_eq!(session.verified().signers()[0].certificate, f.origin.cert);
    assert!(session.certificates().iter().any(|c| *c == f.relay.cert));
    assert_eq!(session.options().time, f.pki.now);
    let origin_work = meter.work();

    // The session is verify_with_meter, kept open: the same result, the same work.
    let plain = v.meter();
    let verified = v.verify_with_meter(&env, None, &plain).unwrap();
    assert_eq!(verified.content(), CONTENT);
    assert_eq!(plain.work(), origin_work);

    let hop = session
        .verify_countersignature(&countersignature, &origin.signature)
        .unwrap();
    assert_eq!(hop.certificate, f.relay.cert);
    assert_eq!(hop.signing_time, Some(f.pki.now));
    let path = hop.path.expect("a trusted path");
    assert_eq!(path.subjects().len(), 3, "{:?}", path.subjects());
    // The hop's work went on the envelope's meter: one signer candidate, the
    // countersignature and the relay certificate's signature (the CA's certificate was
    // already checked for the origin's path, on this meter).
    let work = session.meter().work();
    assert_eq!(work.signer_candidates, origin_work.signer_candidates + 1);
    assert_eq!(
        work.signature_checks,
        origin_work.signature_checks + 2,
        "{origin_work:?} then {work:?}"
    );
    assert_eq!(meter.work(), work, "the caller's meter is the session's");
}

#[test]
fn a_tampered_countersignature_is_refused_with_the_reason_codes_it_always_had() {
    let f = Fx::new();
    let env = f.envelope(&[&f.relay.cert]);
    let origin = Fx::origin_si(&env);
    let good = signer_for(&f.pki, &f.relay).countersign(&origin).unwrap();
    let v = f.verifier();
    let session = v.session(&env, None, &v.meter()).unwrap();
    assert_eq!(
        code(&session.verify_countersignature(&good, &origin.signature)),
        "ok"
    );

    // Its signature altered: the signed attributes no longer verify.
    let mut forged = good.clone();
    let last = forged.signature.len() - 1;
    forged.signature[last] ^= 1;
    assert_eq!(
        code(&session.verify_countersignature(&forged, &origin.signature)),
        "bad-signature"
    );

    // Over other bytes (the countersigned signature altered): its message digest no
    // longer matches (a slip reports this as `chain-broken`).
    let mut other = origin.signature.clone();
    other[0] ^= 1;
    assert_eq!(
        code(&session.verify_countersignature(&good, &other)),
        "message-digest-mismatch"
    );

    // A SignerInfo with a content-type attribute (the origin's own) is not a
    // countersignature.
    assert_eq!(
        code(&session.verify_countersignature(&origin, &origin.signature)),
        "countersignature-content-type"
    );
}

#[test]
fn a_countersignature_by_an_untrusted_or_unknown_certificate_is_refused() {
    let f = Fx::new();
    let stranger_pki = TestPki::named(KeyAlgorithm::P256, "Stranger").unwrap();
    let stranger = stranger_pki
        .leaf("relay.example.org", KeyAlgorithm::P256)
        .unwrap();

    // The envelope carries the stranger's certificate and CA: found, but its path ends at
    // a root the verifier does not trust.
    let env = f.envelope(&[&stranger.cert, &stranger_pki.ca.cert]);
    let origin = Fx::origin_si(&env);
    let v = f.verifier();
    let session = v.session(&env, None, &v.meter()).unwrap();
    let countersignature = signer_for(&stranger_pki, &stranger)
        .countersign(&origin)
        .unwrap();
    let r = session.verify_countersignature(&countersignature, &origin.signature);
    let e = r.as_ref().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Untrusted, "{e}");
    assert_eq!(code(&r), "untrusted", "{e}");

    // The relay's certificate carried by neither the envelope nor the verifier's store.
    let env = f.envelope(&[]);
    let origin = Fx::origin_si(&env);
    let session = v.session(&env, None, &v.meter()).unwrap();
    let countersignature = signer_for(&f.pki, &f.relay).countersign(&origin).unwrap();
    assert_eq!(
        code(&session.verify_countersignature(&countersignature, &origin.signature)),
        "signer-certificate-not-found"
    );
}

#[test]
fn a_countersignature_spends_the_envelopes_budget() {
    let f = Fx::new();
    let env = f.envelope(&[&f.relay.cert]);
    let origin = Fx::origin_si(&env);
    let countersignature = signer_for(&f.pki, &f.relay).countersign(&origin).unwrap();

    // Exactly what the origin needs: the envelope verifies, the hop has nothing left.
    let meter = f.verifier().meter();
    f.verifier().verify_with_meter(&env, None, &meter).unwrap();
    let budget = Budget {
        max_signature_checks: meter.work().signature_checks,
        ..Budget::default()
    };
    let v = f.verifier().with_budget(budget);
    let session = v.session(&env, None, &v.meter()).unwrap();
    assert_eq!(
        code(&session.verify_countersignature(&countersignature, &origin.signature)),
        "budget-exceeded"
    );

    // Twin: one more check allowed is still not enough for the relay's path, two are.
    for (extra, want) in [(1, "budget-exceeded"), (2, "ok")] {
        let v = f.verifier().with_budget(Budget {
            max_signature_checks: budget.max_signature_checks + extra,
            ..budget
        });
        let session = v.session(&env, None, &v.meter()).unwrap();
        assert_eq!(
            code(&session.verify_countersignature(&countersignature, &origin.signature)),
            want,
            "{extra} more"
        );
    }
}
