//! The work budget, key sizes, CRL freshness and BER nesting on the command line: each
//! hostile input (built here, at test time) exits 1 with its reason code in `--json`
//! and leaves `--out` unwritten, next to a positive twin that verifies.

mod common;

use std::ops::Deref;

use common::stderr;
use der::Encode;
use waxseal_envelope::Envelope;
use waxseal_envelope::rfc5652::CertificateChoice;
use waxseal_pki::{CertParams, Revocation, issue::parse_name};
use waxseal_trust::asn1::{read_one, split_tlvs, tlv};
use waxseal_trust::{Certificate, Crl, KeyAlgorithm, PrivateKey};
use x509_cert::ext::Extension;
use x509_cert::ext::pkix::crl::CrlReason;

const SKI_OID: der::oid::ObjectIdentifier = der::oid::ObjectIdentifier::new_unwrap("2.5.29.14");

/// The shared test directory, with the root's CRL (`root-crl.pem`) and three leaves:
/// `svc` and `hop` (P-256), `rsa` (RSA 2048).
struct Fx {
    base: common::Fx,
    svc: Certificate,
}

impl Deref for Fx {
    type Target = common::Fx;

    fn deref(&self) -> &common::Fx {
        &self.base
    }
}

impl Fx {
    fn new() -> Self {
        let base = common::Fx::with_topic("org.example.svc");
        std::fs::write(
            base.p("root-crl.pem"),
            base.pki.root_crl().unwrap().to_pem(),
        )
        .unwrap();
        let svc = base.leaf("svc", "svc.example.org", KeyAlgorithm::P256).cert;
        base.leaf("hop", "hop.example.org", KeyAlgorithm::P256);
        base.leaf("rsa", "rsa.example.org", KeyAlgorithm::Rsa2048);
        Self { base, svc }
    }

    /// Signs `input` as `who` into `out`.
    fn sign(&self, who: &str, input: &str, out: &str, extra: &[&str]) {
        let o = self.sign_as(who, input, out, extra);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    }

    /// `verify --json --out OUT` with `extra`; returns the exit status and the report.
    fn verify(&self, input: &str, out: &str, extra: &[&str]) -> (i32, serde_json::Value) {
        let mut args = vec![
            "verify", "--trust", "root.pem", "--in", input, "--out", out, "--json",
        ];
        args.extend(extra);
        let o = self.run(&args);
        let report = serde_json::from_slice(&o.stdout)
            .unwrap_or_else(|_| panic!("no JSON report: {}", stderr(&o)));
        (o.status.code().unwrap(), report)
    }

    /// Asserts a refusal: exit 1, `reason`, and `out` not written.
    fn refused(&self, input: &str, extra: &[&str], reason: &str) {
        let (status, report) = self.verify(input, "refused.out", extra);
        assert_eq!(
            (status, report["reason"].as_str()),
            (1, Some(reason)),
            "{report}"
        );
        assert!(
            !self.p("refused.out").exists(),
            "--out written on a refusal"
        );
    }

    /// Asserts acceptance: exit 0 and `out` holds the signed content.
    fn accepted(&self, input: &str, extra: &[&str], content: &str) {
        let _ = std::fs::remove_file(self.p("accepted.out"));
        let (status, report) = self.verify(input, "accepted.out", extra);
        assert_eq!(status, 0, "{report}");
        assert_eq!(
            std::fs::read(self.p("accepted.out")).unwrap(),
            std::fs::read(self.p(content)).unwrap()
        );
    }

    fn envelope(&self, name: &str) -> Envelope {
        Envelope::parse(&std::fs::read(self.p(name)).unwrap()).unwrap()
    }

    fn save(&self, name: &str, env: &Envelope) {
        std::fs::write(self.p(name), env.to_der()).unwrap();
    }
}

#[test]
fn signer_candidates_sharing_one_ski_are_cut_off() {
    let fx = Fx::new();
    fx.sign("svc", "msg.json", "env", &["--signer-id", "ski"]);
    fx.accepted("env", &[], "msg.json");
    fx.refused("env", &["--max-signer-candidates", "0"], "budget-exceeded");

    // 100 certificates with the signer's subjectKeyIdentifier but other keys, in place
    // of the signer's own.
    let ski = fx.svc.subject_key_identifier().unwrap().to_vec();
    let mut env = fx.envelope("env");
    let sd = env.signed_data_mut();
    sd.certificates.clear();
    for i in 0..100 {
        let mut params = CertParams::end_entity(
            parse_name(&format!("CN=decoy {i}")).unwrap(),
            fx.pki.now,
            30,
        );
        params.subject_key_identifier = false;
        params.extra_extensions.push(Extension {
            extn_id: SKI_OID,
            critical: false,
            extn_value: der::asn1::OctetString::new(
                der::asn1::OctetString::new(ski.clone())
                    .unwrap()
                    .to_der()
                    .unwrap(),
            )
            .unwrap(),
        });
        let key = PrivateKey::generate(KeyAlgorithm::P256).unwrap();
        let decoy = fx
            .pki
            .ca
            .issue(&params, &key.subject_public_key_info())
            .unwrap();
        sd.certificates.push(CertificateChoice::Certificate(decoy));
    }
    sd.certificates
        .push(CertificateChoice::Certificate(fx.pki.ca.cert.clone()));
    fx.save("decoys", &env);
    fx.refused("decoys", &[], "budget-exceeded");
    // With a budget large enough for all of them, each is tried and fails.
    fx.refused(
        "decoys",
        &["--max-signer-candidates", "1000"],
        "bad-signature",
    );
    // With the signer's certificate among them again, the budget is what decides.
    std::fs::write(fx.p("certs.pem"), fx.svc.to_pem()).unwrap();
    fx.accepted(
        "decoys",
        &["--certs", "certs.pem", "--max-signer-candidates", "1000"],
        "msg.json",
    );
}

#[test]
fn signature_checks_are_capped_per_envelope() {
    let fx = Fx::new();
    fx.sign("svc", "msg.json", "env", &[]);
    // The content signature, svc <- CA, CA <- root: three checks.
    fx.refused("env", &["--max-signature-checks", "2"], "budget-exceeded");
    fx.accepted("env", &["--max-signature-checks", "3"], "msg.json");
}

#[test]
fn large_keys_are_refused_with_key_too_large() {
    let fx = Fx::new();
    fx.sign("rsa", "msg.json", "env", &[]);
    fx.refused("env", &["--max-rsa-bits", "1024"], "key-too-large");
    fx.accepted("env", &["--max-rsa-bits", "2048"], "msg.json");
    fx.accepted("env", &[], "msg.json");

    let cert_verify = |extra: &[&str]| fx.cert_verify(&[extra, &["--json", "rsa.crt"]].concat());
    let o = cert_verify(&["--max-rsa-bits", "1024"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["reason"], "key-too-large");
    let o = cert_verify(&[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

fn ca_crl(fx: &Fx, number: u64, this_update: u64, revoked: Option<CrlReason>) -> Crl {
    let entries: Vec<Revocation> = revoked
        .map(|r| Revocation::of(&fx.svc, this_update - 60, Some(r)))
        .into_iter()
        .collect();
    fx.pki
        .ca
        .issue_crl(number, this_update, fx.pki.now + 7 * 86_400, &entries)
        .unwrap()
}

#[test]
fn the_newest_crl_decides() {
    let fx = Fx::new();
    let now = fx.pki.now;
    fx.sign("svc", "msg.json", "env", &[]);
    let write = |name: &str, crl: Crl| std::fs::write(fx.p(name), crl.to_pem()).unwrap();
    // A stale CRL (given first) without the revocation, the current one with it.
    write("stale.pem", ca_crl(&fx, 1, now - 7200, None));
    write(
        "fresh.pem",
        ca_crl(&fx, 2, now - 3600, Some(CrlReason::KeyCompromise)),
    );
    let crls = [
        "--crl",
        "stale.pem",
        "--crl",
        "fresh.pem",
        "--crl",
        "root-crl.pem",
    ];
    fx.refused("env", &crls, "revoked");
    // Twin: a hold on the older CRL, released on the newer one.
    write(
        "held.pem",
        ca_crl(&fx, 1, now - 7200, Some(CrlReason::CertificateHold)),
    );
    write("released.pem", ca_crl(&fx, 2, now - 3600, None));
    let crls = [
        "--crl",
        "released.pem",
        "--crl",
        "held.pem",
        "--crl",
        "root-crl.pem",
    ];
    fx.accepted("env", &crls, "msg.json");
}

#[test]
fn the_crls_an_envelope_carries_are_capped() {
    let fx = Fx::new();
    fx.sign("svc", "msg.json", "plain", &[]);
    let mut env = fx.envelope("plain");
    let crls = [
        ca_crl(&fx, 1, fx.pki.now - 3600, None),
        fx.pki.root_crl().unwrap(),
    ];
    let carried: usize = crls.iter().map(|c| c.der().len()).sum();
    env.signed_data_mut()
        .crls
        .extend(crls.into_iter().map(Into::into));
    fx.save("env", &env);
    let limit = (carried - 1).to_string();
    fx.refused("env", &["--max-crl-bytes", &limit], "budget-exceeded");
    let limit = carried.to_string();
    fx.accepted("env", &["--max-crl-bytes", &limit], "msg.json");
}

/// The BER form of one DER TLV: every constructed value with an indefinite length, and
/// the OCTET STRING holding `content` cut into chunks nested `depth` levels deep.
fn to_ber(der: &[u8], content: &[u8], depth: usize) -> Vec<u8> {
    let tag = der[0];
    let (_, body) = read_one(der).unwrap();
    if tag == 0x04 && body == content {
        let mut out = Vec::new();
        for _ in 0..depth {
            out.extend([0x24, 0x80]);
        }
        for chunk in content.chunks(1000) {
            out.extend(tlv(0x04, chunk));
        }
        for _ in 0..depth {
            out.extend([0, 0]);
        }
        return out;
    }
    if tag & 0x20 == 0 {
        return der.to_vec();
    }
    let mut out = vec![tag, 0x80];
    for (_, raw, _) in split_tlvs(body).unwrap() {
        out.extend(to_ber(raw, content, depth));
    }
    out.extend([0, 0]);
    out
}

#[test]
fn deeply_nested_ber_is_normalized_in_one_pass_or_refused() {
    let fx = Fx::new();
    // 256 KiB of content, streamed in 1000-byte chunks nested 200 levels deep: costs
    // depth × size to a rewrite that copies each level (51 MB here), one pass now.
    let big = format!("{{\"blob\": \"{}\"}}", "x".repeat(256 << 10));
    std::fs::write(fx.p("big.json"), &big).unwrap();
    fx.sign("svc", "big.json", "env", &[]);
    let der = std::fs::read(fx.p("env")).unwrap();
    std::fs::write(fx.p("ber"), to_ber(&der, big.as_bytes(), 200)).unwrap();
    fx.accepted("ber", &[], "big.json");
    // Beyond the nesting limit (256): refused as malformed, nothing written.
    std::fs::write(fx.p("deep"), to_ber(&der, big.as_bytes(), 300)).unwrap();
    fx.refused("deep", &[], "malformed");
}

#[test]
fn one_budget_covers_every_hop_of_a_slip() {
    let fx = Fx::new();
    fx.sign("svc", "msg.json", "hop0", &[]);
    let o = fx.run(&[
        "countersign",
        "--cert",
        "hop.crt",
        "--key",
        "hop.key",
        "--in",
        "hop0",
        "--out",
        "hop1",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let slip = |extra: &[&str]| {
        let _ = std::fs::remove_file(fx.p("slip.out"));
        let mut args = vec![
            "slip", "verify", "--trust", "root.pem", "--certs", "ca.pem", "--in", "hop1", "--out",
            "slip.out", "--json",
        ];
        args.extend(extra);
        let o = fx.run(&args);
        let report: serde_json::Value =
            serde_json::from_slice(&o.stdout).unwrap_or_else(|_| panic!("{}", stderr(&o)));
        (o.status.code().unwrap(), report)
    };
    // Hop 0: content, svc <- CA, CA <- root; hop 1: its signature, hop <- CA (CA <- root is
    // memoised): five checks. Four is enough for either hop alone, not for the slip.
    let (status, report) = slip(&["--max-signature-checks", "4"]);
    assert_eq!(
        (status, report["reason"].as_str()),
        (1, Some("budget-exceeded")),
        "{report}"
    );
    assert!(!fx.p("slip.out").exists());
    let (status, report) = slip(&["--max-signature-checks", "5"]);
    assert_eq!(status, 0, "{report}");
    assert!(fx.p("slip.out").exists());
}
