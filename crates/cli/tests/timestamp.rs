//! Signature time-stamps (RFC 3161) with OpenSSL as the independent party: `openssl ts
//! -reply` is the time-stamp authority (behind a small HTTP server on 127.0.0.1 started
//! here), `openssl ts -verify` checks waxseal's requests and the tokens it embeds, and
//! waxseal verifies the tokens OpenSSL made. Every PKI is made at test time, valid around
//! now (OpenSSL stamps the current time); "later" is `--at`.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

use common::{Fx, code, ok, stderr, stdout, write_key};
use der::Encode;
use waxseal_envelope::Envelope;
use waxseal_envelope::rfc3161::{self, KP_TIME_STAMPING};
use waxseal_pki::{Issued, TestPki, testing::DAY};
use waxseal_trust::{Certificate, KeyAlgorithm};
use x509_cert::ext::Extension;

const YEAR: u64 = 365 * DAY;

/// How the test TSA answers.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// `openssl ts -reply` to the request as received.
    Honest,
    /// A reply to another request for the same imprint (another nonce).
    OtherNonce,
    /// HTTP 503.
    Down,
}

/// An OpenSSL time-stamp authority on 127.0.0.1: its PKI (root, CA, TSA certificate and
/// key) in `dir`, its config `tsa.cnf`, the last request it got in `last.tsq`.
struct Tsa {
    dir: PathBuf,
    url: String,
    mode: Arc<Mutex<Mode>>,
    pki: TestPki,
}

/// A TSA certificate's extendedKeyUsage: timeStamping alone, critical (RFC 3161 §2.3).
fn eku(purposes: Vec<waxseal_trust::oid::Oid>, critical: bool) -> Extension {
    Extension {
        extn_id: waxseal_trust::oid::CE_EXT_KEY_USAGE,
        critical,
        extn_value: der::asn1::OctetString::new(
            x509_cert::ext::pkix::ExtendedKeyUsage(purposes)
                .to_der()
                .unwrap(),
        )
        .unwrap(),
    }
}

/// A TSA leaf of `pki`, valid four years from now (so "three years later" is within it).
fn tsa_leaf(pki: &TestPki, name: &str, ext: Extension) -> Issued {
    let now = pki.now;
    pki.leaf_with(name, KeyAlgorithm::P256, |p| {
        p.ext_key_usage = Vec::new();
        p.extra_extensions = vec![ext];
        p.not_before = now - DAY;
        p.not_after = now + 4 * YEAR;
    })
    .unwrap()
}

fn openssl(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl runs")
}

fn openssl_ok(dir: &Path, args: &[&str]) -> String {
    let o = openssl(dir, args);
    assert!(
        o.status.success(),
        "openssl {args:?}: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

impl Tsa {
    /// A TSA whose PKI is named `prefix`, in `dir` (its own subdirectory).
    fn start(parent: &Path, prefix: &str, ess_cert_id_alg: &str) -> Self {
        let dir = parent.join(prefix);
        std::fs::create_dir(&dir).unwrap();
        let pki = TestPki::named(KeyAlgorithm::P256, prefix).unwrap();
        let leaf = tsa_leaf(
            &pki,
            &format!("{prefix} tsa"),
            eku(vec![KP_TIME_STAMPING], true),
        );
        std::fs::write(dir.join("root.pem"), pki.root.cert.to_pem()).unwrap();
        std::fs::write(dir.join("ca.pem"), pki.ca.cert.to_pem()).unwrap();
        std::fs::write(dir.join("tsa.pem"), leaf.cert.to_pem()).unwrap();
        write_key(&dir.join("tsa.key"), &leaf.key);
        std::fs::write(dir.join("serial"), "01\n").unwrap();
        std::fs::write(
            dir.join("tsa.cnf"),
            format!(
                "[ tsa ]\ndefault_tsa = tsa1\n[ tsa1 ]\nserial = {d}/serial\n\
                 signer_cert = {d}/tsa.pem\ncerts = {d}/ca.pem\nsigner_key = {d}/tsa.key\n\
                 signer_digest = sha256\ndefault_policy = 1.3.6.1.4.1.99999.1\n\
                 digests = sha256, sha384, sha512\naccuracy = secs:1\nordering = no\n\
                 tsa_name = yes\ness_cert_id_chain = no\ness_cert_id_alg = {ess_cert_id_alg}\n",
                d = dir.display()
            ),
        )
        .unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/tsa", listener.local_addr().unwrap());
        let mode = Arc::new(Mutex::new(Mode::Honest));
        let (d, m) = (dir.clone(), mode.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                serve(&d, *m.lock().unwrap(), stream);
            }
        });
        Tsa {
            dir,
            url,
            mode,
            pki,
        }
    }

    fn set(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
    }

    fn p(&self, name: &str) -> String {
        self.dir.join(name).display().to_string()
    }
}

/// Answers one HTTP request: the body is a time-stamp query, the reply `openssl ts
/// -reply`'s (or what `mode` says).
fn serve(dir: &Path, mode: Mode, mut stream: std::net::TcpStream) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut len = 0usize;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let l = line.trim_end().to_ascii_lowercase();
        if l.is_empty() {
            break;
        }
        if let Some(v) = l.strip_prefix("content-length:") {
            len = v.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0u8; len];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    std::fs::write(dir.join("last.tsq"), &body).unwrap();
    if mode == Mode::Down {
        let _ = stream.write_all(
            b"HTTP/1.1 503 Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
        );
        return;
    }
    let query = if mode == Mode::OtherNonce {
        // The same imprint, asked again: OpenSSL picks a new random nonce.
        let req = <rfc3161::TimeStampReq as der::Decode>::from_der(&body).unwrap();
        let digest = hex::encode(req.message_imprint.hashed_message.as_bytes());
        openssl_ok(
            dir,
            &[
                "ts",
                "-query",
                "-digest",
                &digest,
                "-sha256",
                "-cert",
                "-out",
                "other.tsq",
            ],
        );
        "other.tsq"
    } else {
        "last.tsq"
    };
    let o = openssl(
        dir,
        &[
            "ts",
            "-reply",
            "-config",
            "tsa.cnf",
            "-queryfile",
            query,
            "-out",
            "last.tsr",
        ],
    );
    let reply = if o.status.success() {
        std::fs::read(dir.join("last.tsr")).unwrap()
    } else {
        Vec::new()
    };
    let _ = stream.write_all(
        format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/timestamp-reply\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
            reply.len()
        )
        .as_bytes(),
    );
    let _ = stream.write_all(&reply);
}

/// A message PKI (`root.pem`, `ca.pem`, signer `alice`) and a TSA beside it.
fn setup() -> (Fx, Tsa) {
    let fx = Fx::with_topic("org.example.build");
    fx.leaf("alice", "alice", KeyAlgorithm::P256);
    let tsa = Tsa::start(fx.dir.path(), "tsa", "sha256");
    (fx, tsa)
}

/// `alice` signs `msg.json` into `signed.der`, which the TSA stamps into `stamped.der`.
fn signed_and_stamped(fx: &Fx, tsa: &Tsa) {
    ok(&fx.sign_as("alice", "msg.json", "signed.der", &[]));
    ok(&fx.run(&[
        "timestamp",
        "--tsa",
        &tsa.url,
        "--tsa-trust",
        &tsa.p("root.pem"),
        "--tsa-certs",
        &tsa.p("ca.pem"),
        "--in",
        "signed.der",
        "--out",
        "stamped.der",
    ]));
}

/// `verify` of `file` against the message root and the TSA's, with `extra`, `--json`.
fn verify(fx: &Fx, tsa_root: &str, file: &str, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "verify",
        "--trust",
        "root.pem",
        "--in",
        file,
        "--json",
        "--tsa-trust",
        tsa_root,
    ];
    args.extend(extra);
    fx.run(&args)
}

fn reason(o: &std::process::Output) -> String {
    let v: serde_json::Value = serde_json::from_str(stdout(o).trim()).unwrap_or_else(|e| {
        panic!("{e}: {}{}", stdout(o), stderr(o));
    });
    v["reason"].as_str().unwrap_or("").to_string()
}

fn rfc3339(t: u64) -> String {
    waxseal_trust::time::format(t)
}

/// The envelope `file` with its first signer's token replaced by `token`.
fn with_token(fx: &Fx, file: &str, token: Vec<u8>, out: &str) {
    let mut env = Envelope::parse(&std::fs::read(fx.p(file)).unwrap()).unwrap();
    let si = &mut env.signed_data_mut().signer_infos[0];
    si.unsigned_attrs = None;
    rfc3161::attach(si, token).unwrap();
    std::fs::write(fx.p(out), env.to_der()).unwrap();
}

fn token_of(fx: &Fx, file: &str) -> (Vec<u8>, Vec<u8>) {
    let env = Envelope::parse(&std::fs::read(fx.p(file)).unwrap()).unwrap();
    let si = &env.signed_data().signer_infos[0];
    (
        rfc3161::token(si).unwrap().expect("a token").to_vec(),
        si.signature.clone(),
    )
}

#[test]
fn openssl_tsa_stamps_and_both_sides_verify() {
    let (fx, tsa) = setup();
    signed_and_stamped(&fx, &tsa);
    // waxseal: the token verifies and is reported.
    let o = verify(
        &fx,
        &tsa.p("root.pem"),
        "stamped.der",
        &["--tsa-certs", &tsa.p("ca.pem")],
    );
    let v: serde_json::Value = serde_json::from_str(&ok(&o)).unwrap();
    let ts = &v["signers"][0]["timestamp"];
    assert_eq!(ts["tsa"], "CN=tsa tsa,O=waxseal tests", "{v}");
    assert_eq!(ts["policy"], "1.3.6.1.4.1.99999.1");
    assert_eq!(ts["imprint_algorithm"], "sha256");
    // OpenSSL: waxseal's request asks for the TSA certificate, with a nonce, SHA-256 of
    // the signature value...
    let (token, signature) = token_of(&fx, "stamped.der");
    std::fs::write(fx.p("sig.bin"), &signature).unwrap();
    std::fs::write(fx.p("token.der"), &token).unwrap();
    let text = openssl_ok(
        fx.dir.path(),
        &["ts", "-query", "-in", &tsa.p("last.tsq"), "-text"],
    );
    assert!(text.contains("Certificate required: yes"), "{text}");
    assert!(text.contains("Nonce: 0x"), "{text}");
    assert!(text.contains("Hash Algorithm: sha256"), "{text}");
    // ... and the reply answers it (nonce and imprint), and the embedded token is, to
    // OpenSSL, a valid time-stamp of the signature value.
    openssl_ok(
        fx.dir.path(),
        &[
            "ts",
            "-verify",
            "-queryfile",
            &tsa.p("last.tsq"),
            "-in",
            &tsa.p("last.tsr"),
            "-CAfile",
            &tsa.p("root.pem"),
            "-untrusted",
            &tsa.p("ca.pem"),
        ],
    );
    openssl_ok(
        fx.dir.path(),
        &[
            "ts",
            "-verify",
            "-data",
            "sig.bin",
            "-in",
            "token.der",
            "-token_in",
            "-CAfile",
            &tsa.p("root.pem"),
            "-untrusted",
            &tsa.p("ca.pem"),
        ],
    );
    // Its negative twin for the oracle: other data does not verify with OpenSSL either.
    std::fs::write(fx.p("other.bin"), b"another signature").unwrap();
    assert!(
        !openssl(
            fx.dir.path(),
            &[
                "ts",
                "-verify",
                "-data",
                "other.bin",
                "-in",
                "token.der",
                "-token_in",
                "-CAfile",
                &tsa.p("root.pem"),
                "-untrusted",
                &tsa.p("ca.pem"),
            ],
        )
        .status
        .success()
    );
    // The token is an unsigned attribute: OpenSSL still verifies the stamped envelope.
    openssl_ok(
        fx.dir.path(),
        &[
            "cms",
            "-verify",
            "-binary",
            "-inform",
            "DER",
            "-in",
            "stamped.der",
            "-CAfile",
            "root.pem",
            "-out",
            "/dev/null",
        ],
    );
    // The stamped envelope still verifies as before without --tsa-trust (token ignored)...
    ok(&fx.run(&[
        "verify",
        "--trust",
        "root.pem",
        "--in",
        "stamped.der",
        "--json",
    ]));
    // ... but --at-timestamp without --tsa-trust refuses it.
    let o = fx.run(&[
        "verify",
        "--trust",
        "root.pem",
        "--in",
        "stamped.der",
        "--json",
        "--at-timestamp",
    ]);
    assert_eq!(code(&o), 1);
    assert_eq!(reason(&o), "timestamp-no-trust");
    // --at-timestamp on an envelope without a token: refused.
    let o = verify(&fx, &tsa.p("root.pem"), "signed.der", &["--at-timestamp"]);
    assert_eq!(code(&o), 1);
    assert_eq!(reason(&o), "timestamp-missing");
}

#[test]
fn tokens_openssl_made_by_itself_verify_v1_and_v2_cert_ids() {
    let fx = Fx::with_topic("org.example.build");
    fx.leaf("alice", "alice", KeyAlgorithm::P256);
    ok(&fx.sign_as("alice", "msg.json", "signed.der", &[]));
    let env = Envelope::parse(&std::fs::read(fx.p("signed.der")).unwrap()).unwrap();
    std::fs::write(
        fx.p("sig.bin"),
        &env.signed_data().signer_infos[0].signature,
    )
    .unwrap();
    for (alg, name) in [("sha1", "v1"), ("sha256", "v2"), ("sha384", "v2-384")] {
        let tsa = Tsa::start(fx.dir.path(), &format!("tsa-{name}"), alg);
        // OpenSSL makes the request and the token; waxseal only carries and checks it.
        openssl_ok(
            fx.dir.path(),
            &[
                "ts", "-query", "-data", "sig.bin", "-sha256", "-cert", "-out", "q.tsq",
            ],
        );
        openssl_ok(
            fx.dir.path(),
            &[
                "ts",
                "-reply",
                "-config",
                &tsa.p("tsa.cnf"),
                "-queryfile",
                "q.tsq",
                "-token_out",
                "-out",
                "t.der",
            ],
        );
        let token = std::fs::read(fx.p("t.der")).unwrap();
        with_token(&fx, "signed.der", token, "openssl-stamped.der");
        let o = verify(
            &fx,
            &tsa.p("root.pem"),
            "openssl-stamped.der",
            &["--tsa-certs", &tsa.p("ca.pem"), "--at-timestamp"],
        );
        ok(&o);
        // Negative twin: another TSA's anchor does not vouch for it.
        let other = TestPki::named(KeyAlgorithm::P256, "stranger").unwrap();
        std::fs::write(fx.p("stranger.pem"), other.root.cert.to_pem()).unwrap();
        let o = verify(
            &fx,
            "stranger.pem",
            "openssl-stamped.der",
            &["--at-timestamp"],
        );
        assert_eq!(code(&o), 1, "{alg}");
        assert_eq!(reason(&o), "timestamp-untrusted", "{alg}");
    }
}

#[test]
fn revoked_after_the_timestamp_verifies_revoked_before_does_not() {
    let (fx, tsa) = setup();
    signed_and_stamped(&fx, &tsa);
    let alice = Certificate::load_all(&std::fs::read(fx.p("alice.crt")).unwrap())
        .unwrap()
        .remove(0);
    let now = fx.pki.now;
    // Two days later the verifier has a CRL issued yesterday (from its point of view).
    let at = rfc3339(now + 2 * DAY);
    let crl = |date: u64, name: &str| {
        let entry = waxseal_pki::issue::Revocation::of(
            &alice,
            date,
            Some(x509_cert::ext::pkix::crl::CrlReason::KeyCompromise),
        );
        let crl = fx
            .pki
            .ca
            .issue_crl(2, now + DAY, now + 7 * DAY, &[entry])
            .unwrap();
        std::fs::write(fx.p(name), crl.to_pem()).unwrap();
    };
    // Revoked an hour after the time-stamp: the signature was made before.
    crl(now + 3600, "later.crl");
    let args = [
        "--at",
        &at,
        "--crl",
        "later.crl",
        "--crl-scope",
        "leaf",
        "--tsa-certs",
        &tsa.p("ca.pem"),
    ];
    let mut with = args.to_vec();
    with.push("--at-timestamp");
    ok(&verify(&fx, &tsa.p("root.pem"), "stamped.der", &with));
    // Twin: at the verifier's own time it is revoked.
    let o = verify(&fx, &tsa.p("root.pem"), "stamped.der", &args);
    assert_eq!(code(&o), 1);
    assert_eq!(reason(&o), "revoked");
    // Revoked an hour before the time-stamp: refused even at the time-stamp.
    crl(now - 3600, "earlier.crl");
    let mut before = with.clone();
    before[3] = "earlier.crl";
    let o = verify(&fx, &tsa.p("root.pem"), "stamped.der", &before);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert_eq!(reason(&o), "revoked");
}

#[test]
fn expired_after_the_timestamp_verifies_three_years_later() {
    let (fx, tsa) = setup();
    signed_and_stamped(&fx, &tsa);
    // Alice's certificate (one year) has expired three years on; the TSA's (four) has not.
    let later = rfc3339(fx.pki.now + 3 * YEAR);
    let tsa_certs = tsa.p("ca.pem");
    ok(&verify(
        &fx,
        &tsa.p("root.pem"),
        "stamped.der",
        &["--at", &later, "--at-timestamp", "--tsa-certs", &tsa_certs],
    ));
    // Twin: without --at-timestamp it is expired.
    let o = verify(
        &fx,
        &tsa.p("root.pem"),
        "stamped.der",
        &["--at", &later, "--tsa-certs", &tsa_certs],
    );
    assert_eq!(code(&o), 1);
    assert_eq!(reason(&o), "certificate-expired");
    // Twin: five years on, the TSA's certificate has expired too: its token proves nothing.
    let o = verify(
        &fx,
        &tsa.p("root.pem"),
        "stamped.der",
        &[
            "--at",
            &rfc3339(fx.pki.now + 5 * YEAR),
            "--at-timestamp",
            "--tsa-certs",
            &tsa_certs,
        ],
    );
    assert_eq!(code(&o), 1);
    assert_eq!(reason(&o), "timestamp-untrusted");
    // Twin: a verifier clock before the time-stamp.
    let o = verify(
        &fx,
        &tsa.p("root.pem"),
        "stamped.der",
        &[
            "--at",
            &rfc3339(fx.pki.now - 600),
            "--at-timestamp",
            "--tsa-certs",
            &tsa_certs,
        ],
    );
    assert_eq!(code(&o), 1);
    assert_eq!(reason(&o), "timestamp-in-future");
}

/// Flips the last byte of the first occurrence of `needle` in `hay`.
fn flip_in(hay: &mut [u8], needle: &[u8]) {
    let i = hay
        .windows(needle.len())
        .position(|w| w == needle)
        .expect("found");
    hay[i + needle.len() - 1] ^= 1;
}

#[test]
fn forged_and_tampered_tokens_are_refused_each_with_its_code() {
    let (fx, tsa) = setup();
    signed_and_stamped(&fx, &tsa);
    let root = tsa.p("root.pem");
    let certs = ["--tsa-certs", tsa.p("ca.pem").leak() as &str];
    let (token, signature) = token_of(&fx, "stamped.der");

    // A token for another signature: Bob's envelope with Alice's token.
    fx.leaf("bob", "bob", KeyAlgorithm::P256);
    ok(&fx.sign_as("bob", "msg.json", "bob.der", &[]));
    with_token(&fx, "bob.der", token.clone(), "bob-stolen.der");
    let o = verify(&fx, &root, "bob-stolen.der", &certs);
    assert_eq!(reason(&o), "timestamp-imprint-mismatch");

    // The imprint changed inside the token.
    let digest = waxseal_trust::provider::Provider::default()
        .digest(waxseal_trust::DigestAlgorithm::Sha256, &signature);
    let mut t = token.clone();
    flip_in(&mut t, &digest);
    with_token(&fx, "stamped.der", t, "imprint.der");
    assert_eq!(
        reason(&verify(&fx, &root, "imprint.der", &certs)),
        "timestamp-imprint-mismatch"
    );

    // The token's own signature tampered.
    let tsd = waxseal_envelope::rfc5652::SignedData::from_content_info(&token, &Default::default())
        .unwrap();
    let mut t = token.clone();
    flip_in(&mut t, &tsd.signer_infos[0].signature);
    with_token(&fx, "stamped.der", t, "tsig.der");
    assert_eq!(
        reason(&verify(&fx, &root, "tsig.der", &certs)),
        "timestamp-bad-signature"
    );

    // Two tokens on one signer.
    let mut env = Envelope::parse(&std::fs::read(fx.p("stamped.der")).unwrap()).unwrap();
    let si = &mut env.signed_data_mut().signer_infos[0];
    let mut items: Vec<_> = si
        .unsigned_attrs
        .as_ref()
        .unwrap()
        .iter()
        .cloned()
        .collect();
    items[0].values.push(token.clone());
    si.unsigned_attrs = Some(waxseal_envelope::rfc5652::Attributes::from_items_in_order(
        items,
    ));
    std::fs::write(fx.p("two.der"), env.to_der()).unwrap();
    assert_eq!(
        reason(&verify(&fx, &root, "two.der", &certs)),
        "timestamp-duplicate"
    );

    // Garbage where the token goes.
    with_token(
        &fx,
        "stamped.der",
        b"\x30\x03\x02\x01\x01".to_vec(),
        "junk.der",
    );
    assert_eq!(
        reason(&verify(&fx, &root, "junk.der", &certs)),
        "timestamp-malformed"
    );

    // A tampered token is refused even without --at-timestamp (never ignored when TSA
    // trust is configured).
    let o = verify(&fx, &root, "tsig.der", &certs);
    assert_eq!(code(&o), 1);
}

/// A token as a TSA would make it, but made by waxseal's own signer with `signer`'s
/// certificate: for the certificates OpenSSL refuses to stamp with. No signingCertificate
/// attribute (waxseal's signer adds none).
fn forged_token(signer: &Issued, chain: &Certificate, stamped: &[u8]) -> Vec<u8> {
    let info = rfc3161::TstInfo {
        version: 1,
        policy: waxseal_trust::oid::Oid::new_unwrap("1.3.6.1.4.1.99999.1"),
        message_imprint: rfc3161::MessageImprint {
            hash_algorithm: waxseal_trust::DigestAlgorithm::Sha256.algorithm_identifier(),
            hashed_message: der::asn1::OctetString::new(
                waxseal_trust::provider::Provider::default()
                    .digest(waxseal_trust::DigestAlgorithm::Sha256, stamped),
            )
            .unwrap(),
        },
        serial_number: der::asn1::Int::new(&[7]).unwrap(),
        gen_time: der::Any::new(
            der::Tag::GeneralizedTime,
            waxseal_trust::time::format(waxseal_trust::time::now() - 60)
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
    let s = waxseal_envelope::Signer::new(signer.cert.clone(), signer.key.clone())
        .unwrap()
        .with_chain(vec![chain.clone()]);
    waxseal_envelope::EnvelopeBuilder::new(&tst)
        .content_type(rfc3161::ID_CT_TST_INFO)
        .add_signer(&s)
        .build()
        .unwrap()
        .to_der()
}

#[test]
fn tsa_certificates_without_the_critical_time_stamping_purpose_are_refused() {
    let (fx, tsa) = setup();
    ok(&fx.sign_as("alice", "msg.json", "signed.der", &[]));
    let env = Envelope::parse(&std::fs::read(fx.p("signed.der")).unwrap()).unwrap();
    let signature = env.signed_data().signer_infos[0].signature.clone();
    let root = tsa.p("root.pem");
    let certs = ["--tsa-certs", tsa.p("ca.pem").leak() as &str];
    let cases = [
        ("not critical", eku(vec![KP_TIME_STAMPING], false)),
        (
            "not alone",
            eku(
                vec![KP_TIME_STAMPING, waxseal_trust::oid::KP_EMAIL_PROTECTION],
                true,
            ),
        ),
        (
            "another purpose",
            eku(vec![waxseal_trust::oid::KP_CODE_SIGNING], true),
        ),
    ];
    for (what, ext) in cases {
        let leaf = tsa_leaf(&tsa.pki, what, ext);
        let token = forged_token(&leaf, &tsa.pki.ca.cert, &signature);
        with_token(&fx, "signed.der", token, "forged.der");
        let o = verify(&fx, &root, "forged.der", &certs);
        assert_eq!(code(&o), 1, "{what}");
        assert_eq!(
            reason(&o),
            "timestamp-ext-key-usage",
            "{what}: {}",
            stdout(&o)
        );
    }
    // Its twin: the real TSA certificate in the same forged shape passes the purpose
    // check and is refused only for the missing ESSCertID binding.
    let leaf = tsa_leaf(&tsa.pki, "proper", eku(vec![KP_TIME_STAMPING], true));
    let token = forged_token(&leaf, &tsa.pki.ca.cert, &signature);
    with_token(&fx, "signed.der", token, "forged.der");
    assert_eq!(
        reason(&verify(&fx, &root, "forged.der", &certs)),
        "timestamp-cert-id"
    );
}

#[test]
fn timestamp_command_refuses_bad_replies_and_follows_output_conventions() {
    let (fx, tsa) = setup();
    ok(&fx.sign_as("alice", "msg.json", "signed.der", &[]));
    let stamp = |out: &str, extra: &[&str]| {
        let mut a = vec![
            "timestamp",
            "--tsa",
            &tsa.url,
            "--tsa-trust",
            "tsa/root.pem",
            "--tsa-certs",
            "tsa/ca.pem",
            "--in",
            "signed.der",
            "--out",
            out,
        ];
        a.extend(extra);
        fx.run(&a)
    };
    // A reply to another request (another nonce): refused, nothing written.
    tsa.set(Mode::OtherNonce);
    let o = stamp("out.der", &[]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("nonce"), "{}", stderr(&o));
    assert!(!fx.p("out.der").exists());
    // The TSA down: our failure (exit 2), nothing written.
    tsa.set(Mode::Down);
    let o = stamp("out.der", &[]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(!fx.p("out.der").exists());
    // A wrong TSA anchor: the reply is not attached.
    tsa.set(Mode::Honest);
    let other = TestPki::named(KeyAlgorithm::P256, "stranger").unwrap();
    std::fs::write(fx.p("stranger.pem"), other.root.cert.to_pem()).unwrap();
    let o = fx.run(&[
        "timestamp",
        "--tsa",
        &tsa.url,
        "--tsa-trust",
        "stranger.pem",
        "--in",
        "signed.der",
        "--out",
        "out.der",
    ]);
    assert_eq!(code(&o), 1);
    assert!(!fx.p("out.der").exists());
    // Without --tsa-trust: a usage error.
    let o = fx.run(&[
        "timestamp",
        "--tsa",
        &tsa.url,
        "--in",
        "signed.der",
        "--out",
        "out.der",
    ]);
    assert_eq!(code(&o), 2);
    // Honest: written; again without --force: refused, the file intact; with: replaced.
    ok(&stamp("out.der", &[]));
    let first = std::fs::read(fx.p("out.der")).unwrap();
    let o = stamp("out.der", &[]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert_eq!(std::fs::read(fx.p("out.der")).unwrap(), first);
    ok(&stamp("out.der", &["--force"]));
    // A directory where the output goes: refused.
    std::fs::create_dir(fx.p("adir")).unwrap();
    let o = stamp("adir", &["--force"]);
    assert_eq!(code(&o), 2);
    // An envelope already stamped: refused (one token per signer).
    let o = fx.run(&[
        "timestamp",
        "--tsa",
        &tsa.url,
        "--tsa-trust",
        "tsa/root.pem",
        "--in",
        "out.der",
        "--out",
        "twice.der",
    ]);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("more than one"), "{}", stderr(&o));
    assert!(!fx.p("twice.der").exists());
    fx.assert_no_temporary_file();
}

#[test]
fn stapled_crls_are_the_revocation_data_of_the_signing_time() {
    let (fx, tsa) = setup();
    let alice = Certificate::load_all(&std::fs::read(fx.p("alice.crt")).unwrap())
        .unwrap()
        .remove(0);
    // The CRL current when Alice signs, carried in the envelope.
    std::fs::write(fx.p("current.crl"), fx.pki.crl(&[]).unwrap().to_pem()).unwrap();
    ok(&fx.sign_as(
        "alice",
        "msg.json",
        "signed.der",
        &["--staple", "current.crl"],
    ));
    let env = Envelope::parse(&std::fs::read(fx.p("signed.der")).unwrap()).unwrap();
    assert_eq!(env.signed_data().crls.len(), 1);
    let stamp = |input: &str, out: &str| {
        ok(&fx.run(&[
            "timestamp",
            "--tsa",
            &tsa.url,
            "--tsa-trust",
            "tsa/root.pem",
            "--tsa-certs",
            "tsa/ca.pem",
            "--in",
            input,
            "--out",
            out,
        ]))
    };
    stamp("signed.der", "stamped.der");
    // Three years on, with no CRL of the verifier's: the stapled one says Alice was good.
    let later = rfc3339(fx.pki.now + 3 * YEAR);
    let o = verify(
        &fx,
        "tsa/root.pem",
        "stamped.der",
        &["--at", &later, "--at-timestamp"],
    );
    ok(&o);
    // (The signer's certificate needs a CRL; the signing CA's is checked where one is
    // carried, so `revocation_checked`, which means all of the path, stays false here.)
    // Twin: a stapled CRL that lists Alice (revoked a minute before she signed).
    std::fs::write(fx.p("revoked.crl"), fx.pki.crl(&[&alice]).unwrap().to_pem()).unwrap();
    ok(&fx.sign_as(
        "alice",
        "msg.json",
        "signed2.der",
        &["--staple", "revoked.crl"],
    ));
    stamp("signed2.der", "stamped2.der");
    let o = verify(
        &fx,
        "tsa/root.pem",
        "stamped2.der",
        &["--at", &later, "--at-timestamp"],
    );
    assert_eq!(code(&o), 1);
    assert_eq!(reason(&o), "revoked");
}

#[test]
fn an_archive_of_fedmsg_messages_is_revalidated_at_its_time_stamps() {
    let fx = Fx::with_topic("org.example.prod.bodhi.update");
    fx.leaf("bodhi", "bodhi-app01.example.org", KeyAlgorithm::P256);
    let tsa = Tsa::start(fx.dir.path(), "tsa", "sha256");
    // An archive's configuration: no maximum age (the messages are old by design).
    std::fs::write(
        fx.p("archive.json"),
        r#"{"trust": ["root.pem"], "certs": ["ca.pem"], "freshness": {"max_age_secs": null}}"#,
    )
    .unwrap();
    let sign = |out: &str| {
        ok(&fx.run(&[
            "msg",
            "sign",
            "--cert",
            "bodhi.crt",
            "--key",
            "bodhi.key",
            "--chain",
            "ca.pem",
            "--in",
            "msg.json",
            "--out",
            out,
        ]))
    };
    sign("signed.json");
    sign("unstamped.json");
    ok(&fx.run(&[
        "msg",
        "timestamp",
        "--tsa",
        &tsa.url,
        "--tsa-trust",
        "tsa/root.pem",
        "--in",
        "signed.json",
        "--out",
        "stamped.json",
    ]));
    // Every member but the signature kept; the signature now carries a token.
    let signed: serde_json::Value =
        serde_json::from_slice(&std::fs::read(fx.p("signed.json")).unwrap()).unwrap();
    let stamped: serde_json::Value =
        serde_json::from_slice(&std::fs::read(fx.p("stamped.json")).unwrap()).unwrap();
    assert_eq!(signed["certificate"], stamped["certificate"]);
    assert_ne!(signed["signature"], stamped["signature"]);
    let stamped_text = std::fs::read_to_string(fx.p("stamped.json")).unwrap();
    let tampered = stamped_text.replace("bodhi.update", "bodhi.updatf");
    let archive = format!(
        "{}\n{}\n{}\n",
        stamped_text.trim(),
        std::fs::read_to_string(fx.p("unstamped.json"))
            .unwrap()
            .trim(),
        tampered.trim()
    );
    std::fs::write(fx.p("archive.jsonl"), archive).unwrap();
    let later = rfc3339(fx.pki.now + 3 * YEAR);
    let validate = |extra: &[&str]| {
        let mut args = vec![
            "msg",
            "validate",
            "--config",
            "archive.json",
            "--lines",
            "--json",
            "--in",
            "archive.jsonl",
            "--at",
            &later,
        ];
        args.extend(extra);
        fx.run(&args)
    };
    let reports = |o: &std::process::Output| -> Vec<serde_json::Value> {
        stdout(o)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    // Three years on, at the time-stamps: the stamped message is good; the unstamped one
    // has nothing to prove its time; the tampered one is not what was signed.
    let o = validate(&["--at-timestamp", "--tsa-trust", "tsa/root.pem"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let r = reports(&o);
    assert_eq!(r.len(), 3, "{}", stdout(&o));
    assert_eq!(r[0]["valid"], true, "{}", r[0]);
    assert_eq!(r[1]["reason"], "timestamp-missing");
    assert_eq!(r[2]["valid"], false);
    assert_ne!(r[2]["reason"], "timestamp-missing");
    // Twin: at the verifier's clock, bodhi's certificate has expired.
    let o = validate(&["--tsa-trust", "tsa/root.pem"]);
    assert_eq!(reports(&o)[0]["reason"], "certificate-expired");
    // Twin: --at-timestamp without TSA anchors refuses the token.
    let o = validate(&["--at-timestamp"]);
    assert_eq!(reports(&o)[0]["reason"], "timestamp-no-trust");
    // Twin: another TSA's anchors do not vouch for it.
    let other = TestPki::named(KeyAlgorithm::P256, "stranger").unwrap();
    std::fs::write(fx.p("stranger.pem"), other.root.cert.to_pem()).unwrap();
    let o = validate(&["--at-timestamp", "--tsa-trust", "stranger.pem"]);
    assert_eq!(reports(&o)[0]["reason"], "timestamp-untrusted");
    // One message alone, as before, at its time-stamp.
    ok(&fx.run(&[
        "msg",
        "validate",
        "--config",
        "archive.json",
        "--in",
        "stamped.json",
        "--at",
        &later,
        "--at-timestamp",
        "--tsa-trust",
        "tsa/root.pem",
    ]));
}
