//! Interop both ways with the real `openssl` command (an oracle only; waxseal never links
//! OpenSSL). Every signing option waxseal offers is verified by `openssl cms -verify`,
//! and envelopes OpenSSL makes with each of its options are verified by waxseal.
//! OpenSSL 3.0 has no Ed25519 CMS, so Ed25519 is cross-checked with `openssl pkeyutl`.

use std::path::{Path, PathBuf};
use std::process::Command;

use waxseal_envelope::*;
use waxseal_pki::{Issued, TestPki};
use waxseal_trust::oid;
use waxseal_trust::*;

const CONTENT: &[u8] =
    b"{\"topic\": \"org.example.prod.bodhi.update.comment\", \"msg\": {\"text\": \"LGTM\"}}\n";

/// Runs `openssl`; panics (failing the test loudly) if the binary is missing.
fn openssl(args: &[&str]) -> std::process::Output {
    Command::new("openssl")
        .args(args)
        .output()
        .expect("the openssl command is required for interop tests (apt-get install openssl)")
}

fn ok(out: &std::process::Output, what: &str) {
    assert!(
        out.status.success(),
        "{what} failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
}

struct Fixture {
    dir: tempfile::TempDir,
    pki: TestPki,
    leaves: Vec<(KeyAlgorithm, Issued)>,
}

impl Fixture {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let pki = TestPki::new(KeyAlgorithm::Rsa2048).unwrap();
        std::fs::write(dir.path().join("root.pem"), pki.root.cert.to_pem()).unwrap();
        std::fs::write(dir.path().join("ca.pem"), pki.ca.cert.to_pem()).unwrap();
        std::fs::write(dir.path().join("content.bin"), CONTENT).unwrap();
        std::fs::write(
            dir.path().join("anchors.pem"),
            format!("{}{}", pki.root.cert.to_pem(), pki.ca.cert.to_pem()),
        )
        .unwrap();
        let mut leaves = Vec::new();
        for alg in [
            KeyAlgorithm::Rsa2048,
            KeyAlgorithm::Rsa3072,
            KeyAlgorithm::P256,
            KeyAlgorithm::P384,
            KeyAlgorithm::Ed25519,
        ] {
            let leaf = pki.leaf(&format!("{alg}-app01.example.org"), alg).unwrap();
            std::fs::write(dir.path().join(format!("{alg}.pem")), leaf.cert.to_pem()).unwrap();
            std::fs::write(
                dir.path().join(format!("{alg}.key")),
                leaf.key.to_pkcs8_pem().as_bytes(),
            )
            .unwrap();
            leaves.push((alg, leaf));
        }
        Self { dir, pki, leaves }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn p(&self, name: &str) -> String {
        self.path(name).display().to_string()
    }

    fn leaf(&self, alg: KeyAlgorithm) -> &Issued {
        &self.leaves.iter().find(|(a, _)| *a == alg).unwrap().1
    }

    fn signer(&self, alg: KeyAlgorithm) -> Signer {
        let leaf = self.leaf(alg);
        let key = PrivateKey::from_bytes(leaf.key.to_pkcs8_pem().as_bytes()).unwrap();
        Signer::new(leaf.cert.clone(), key).unwrap()
    }

    fn verifier(&self) -> Verifier {
        Verifier::new(TrustAnchors::new([self.pki.root.cert.clone()]).unwrap())
            .with_store(CertStore::from_certificates([self.pki.ca.cert.clone()]))
    }

    /// `openssl cms -verify` of the DER envelope `file` under OpenSSL's default (S/MIME
    /// signer) purpose, its content discarded.
    fn openssl_verify_default_purpose(&self, file: &str) -> std::process::Output {
        let (root, ca) = (self.p("root.pem"), self.p("ca.pem"));
        openssl(&[
            "cms",
            "-verify",
            "-binary",
            "-CAfile",
            &root,
            "-certfile",
            &ca,
            "-inform",
            "DER",
            "-in",
            file,
            "-out",
            "/dev/null",
        ])
    }

    /// `openssl cms -sign` of `content.bin`, attached, in DER, with the signing CA, into
    /// `out`; `signers` names the signers (`-signer CERT -inkey KEY`, and their options).
    fn openssl_sign(&self, signers: &[&str], out: &str) -> std::process::Output {
        let (ca, content) = (self.p("ca.pem"), self.p("content.bin"));
        let mut args = vec!["cms", "-sign", "-binary", "-nodetach"];
        args.extend(signers);
        args.extend([
            "-certfile",
            &ca,
            "-in",
            &content,
            "-outform",
            "DER",
            "-out",
            out,
        ]);
        openssl(&args)
    }

    /// `openssl cms -verify` of `file`; returns the content it outputs.
    fn openssl_verify(&self, file: &Path, inform: &str, extra: &[&str]) -> Vec<u8> {
        self.openssl_verify_with(file, inform, "ca.pem", extra)
    }

    /// As `openssl_verify`, with `certfile` as the extra certificates. OpenSSL looks the
    /// signer up in them but builds the chain only from the envelope and the trust store,
    /// so for envelopes without certificates the signing CA goes into `-CAfile` too.
    fn openssl_verify_with(
        &self,
        file: &Path,
        inform: &str,
        certfile: &str,
        extra: &[&str],
    ) -> Vec<u8> {
        let out = self.path("openssl-out.bin");
        let _ = std::fs::remove_file(&out);
        // S/MIME is verified in text mode: OpenSSL's multipart reader turns CRLF into LF
        // before a -binary verification, so -binary cannot verify canonical S/MIME.
        let mut args = vec!["cms", "-verify"];
        if inform != "SMIME" {
            args.push("-binary");
        }
        args.extend(["-purpose", "any", "-CAfile"]);
        let root = if certfile == "ca.pem" {
            self.p("root.pem")
        } else {
            self.p("anchors.pem")
        };
        let ca = self.p(certfile);
        let input = file.display().to_string();
        let outs = out.display().to_string();
        args.extend([
            root.as_str(),
            "-certfile",
            ca.as_str(),
            "-inform",
            inform,
            "-in",
            input.as_str(),
            "-out",
            outs.as_str(),
        ]);
        args.extend(extra);
        ok(
            &openssl(&args),
            &format!("openssl cms -verify {}", file.display()),
        );
        std::fs::read(out).unwrap()
    }
}

/// A change to the base configuration.
type Variant = Box<dyn Fn(&mut Case)>;

/// One waxseal signing configuration.
struct Case {
    name: String,
    alg: KeyAlgorithm,
    digest: Option<DigestAlgorithm>,
    pss: bool,
    detached: bool,
    certs: bool,
    attrs: bool,
    ski: bool,
    form: &'static str,
}

#[test]
fn waxseal_signed_envelopes_verify_with_openssl() {
    let fx = Fixture::new();
    let mut cases = Vec::new();
    for alg in [
        KeyAlgorithm::Rsa2048,
        KeyAlgorithm::Rsa3072,
        KeyAlgorithm::P256,
        KeyAlgorithm::P384,
    ] {
        let base = Case {
            name: String::new(),
            alg,
            digest: None,
            pss: false,
            detached: false,
            certs: true,
            attrs: true,
            ski: false,
            form: "DER",
        };
        let variants: Vec<(&str, Variant)> = vec![
            ("attached", Box::new(|_| {})),
            ("detached", Box::new(|c| c.detached = true)),
            ("no-certs", Box::new(|c| c.certs = false)),
            ("no-attrs", Box::new(|c| c.attrs = false)),
            ("ski", Box::new(|c| c.ski = true)),
            (
                "sha384",
                Box::new(|c| c.digest = Some(DigestAlgorithm::Sha384)),
            ),
            (
                "sha512",
                Box::new(|c| c.digest = Some(DigestAlgorithm::Sha512)),
            ),
            ("pem", Box::new(|c| c.form = "PEM")),
            ("smime", Box::new(|c| c.form = "SMIME")),
            (
                "smime-detached",
                Box::new(|c| {
                    c.form = "SMIME";
                    c.detached = true;
                }),
            ),
        ];
        for (vname, f) in variants {
            let mut c = Case {
                name: format!("{alg}/{vname}"),
                ..base
            };
            f(&mut c);
            cases.push(c);
        }
        if matches!(alg, KeyAlgorithm::Rsa2048 | KeyAlgorithm::Rsa3072) {
            for d in [
                DigestAlgorithm::Sha256,
                DigestAlgorithm::Sha384,
                DigestAlgorithm::Sha512,
            ] {
                cases.push(Case {
                    name: format!("{alg}/pss-{d}"),
                    digest: Some(d),
                    pss: true,
                    ..base
                });
            }
        }
    }

    let mut passed = Vec::new();
    for c in &cases {
        let mut signer = fx.signer(c.alg).with_chain(vec![fx.pki.ca.cert.clone()]);
        if let Some(d) = c.digest {
            signer = signer.with_digest(d).unwrap();
        }
        signer = signer.with_rsa_pss(c.pss).unwrap();
        if !c.attrs {
            signer = signer.without_signed_attributes();
        }
        if c.ski {
            signer = signer
                .with_signer_id(SignerIdKind::SubjectKeyIdentifier)
                .unwrap();
        }
        let content = if c.form == "SMIME" && c.detached {
            format::canonical_crlf(b"Content-Type: text/plain\n\nhello bus\n")
        } else {
            CONTENT.to_vec()
        };
        let env = EnvelopeBuilder::new(&content)
            .detached(c.detached)
            .include_certificates(c.certs)
            .add_signer(&signer)
            .build()
            .unwrap();
        let bytes = match c.form {
            "DER" => env.to_der(),
            "PEM" => env.to_pem().into_bytes(),
            _ => env.to_smime(c.detached.then_some(&content[..])).unwrap(),
        };
        let file = fx.path("waxseal.sig");
        std::fs::write(&file, &bytes).unwrap();
        std::fs::write(fx.path("content-case.bin"), &content).unwrap();
        // Without embedded certificates OpenSSL must be given the signer's.
        let pool = format!("pool-{}.pem", c.alg);
        std::fs::write(
            fx.path(&pool),
            format!(
                "{}{}",
                fx.leaf(c.alg).cert.to_pem(),
                fx.pki.ca.cert.to_pem()
            ),
        )
        .unwrap();
        let content_path = fx.p("content-case.bin");
        let mut extra: Vec<&str> = Vec::new();
        if c.detached && c.form != "SMIME" {
            extra.extend(["-content", content_path.as_str()]);
        }
        let out = fx.openssl_verify_with(
            &file,
            c.form,
            if c.certs { "ca.pem" } else { &pool },
            &extra,
        );
        assert_eq!(out, content, "{}: openssl output differs", c.name);
        // And waxseal accepts its own output in the same form.
        let verified = fx
            .verifier()
            .with_store(CertStore::from_certificates([
                fx.pki.ca.cert.clone(),
                fx.leaf(c.alg).cert.clone(),
            ]))
            .verify_bytes(
                &bytes,
                (c.detached && c.form != "SMIME").then_some(&content[..]),
            )
            .unwrap_or_else(|e| panic!("{}: waxseal rejects its own envelope: {e}", c.name));
        assert_eq!(verified.content(), &content[..]);
        passed.push(c.name.clone());
    }
    println!(
        "waxseal -> openssl cms -verify: {} cases passed: {}",
        passed.len(),
        passed.join(", ")
    );
    assert_eq!(passed.len(), cases.len());
}

#[test]
fn ed25519_signatures_cross_check_with_openssl_pkeyutl() {
    let fx = Fixture::new();
    let leaf = fx.leaf(KeyAlgorithm::Ed25519);
    std::fs::write(
        fx.path("ed.pub"),
        pem::encode(&pem::Pem::new(
            "PUBLIC KEY",
            leaf.key.public_key().to_spki_der().unwrap(),
        )),
    )
    .unwrap();
    for attrs in [true, false] {
        let mut signer = fx.signer(KeyAlgorithm::Ed25519);
        if !attrs {
            signer = signer.without_signed_attributes();
        }
        let env = EnvelopeBuilder::new(CONTENT)
            .add_signer(&signer)
            .build()
            .unwrap();
        let si = &env.signed_data().signer_infos[0];
        assert_eq!(
            si.digest_algorithm.oid,
            const_oid::db::rfc5912::ID_SHA_512,
            "RFC 8419: Ed25519 uses SHA-512"
        );
        let message = match &si.signed_attrs {
            Some(a) => a.signed_bytes(),
            None => CONTENT.to_vec(),
        };
        std::fs::write(fx.path("ed.msg"), &message).unwrap();
        std::fs::write(fx.path("ed.sig"), &si.signature).unwrap();
        let (m, k, s) = (fx.p("ed.msg"), fx.p("ed.pub"), fx.p("ed.sig"));
        let out = openssl(&[
            "pkeyutl", "-verify", "-pubin", "-inkey", &k, "-rawin", "-in", &m, "-sigfile", &s,
        ]);
        ok(&out, "openssl pkeyutl -verify (Ed25519)");
        assert!(String::from_utf8_lossy(&out.stdout).contains("Signature Verified Successfully"));
        if attrs {
            // The message-digest attribute is SHA-512 of the content, per openssl dgst.
            let c = fx.p("content.bin");
            let dg = openssl(&["dgst", "-sha512", "-binary", &c]);
            ok(&dg, "openssl dgst");
            let md = si
                .signed_attrs
                .as_ref()
                .unwrap()
                .get(waxseal_envelope::oid::ID_MESSAGE_DIGEST)
                .next()
                .unwrap()
                .values[0]
                .clone();
            assert_eq!(&md[2..], &dg.stdout[..]);
        }
        // A flipped bit is refused by OpenSSL too.
        let mut bad = si.signature.clone();
        bad[10] ^= 1;
        std::fs::write(fx.path("ed.sig"), &bad).unwrap();
        let out = openssl(&[
            "pkeyutl", "-verify", "-pubin", "-inkey", &k, "-rawin", "-in", &m, "-sigfile", &s,
        ]);
        assert!(
            !out.status.success(),
            "openssl accepted a corrupted Ed25519 signature"
        );
        // And waxseal verifies the envelope.
        fx.verifier().verify_bytes(&env.to_der(), None).unwrap();
    }
}

#[test]
fn openssl_signed_envelopes_verify_with_waxseal() {
    let fx = Fixture::new();
    let mut passed = Vec::new();
    for alg in [
        KeyAlgorithm::Rsa2048,
        KeyAlgorithm::P256,
        KeyAlgorithm::P384,
    ] {
        let (cert, key) = (fx.p(&format!("{alg}.pem")), fx.p(&format!("{alg}.key")));
        let ca = fx.p("ca.pem");
        let content = fx.p("content.bin");
        let mut variants: Vec<(&str, Vec<&str>, &str, bool)> = vec![
            // (name, extra sign args, outform, detached)
            ("nodetach", vec!["-nodetach"], "DER", false),
            ("detached", vec![], "DER", true),
            ("nocerts", vec!["-nodetach", "-nocerts"], "DER", false),
            ("keyid", vec!["-nodetach", "-keyid"], "DER", false),
            ("noattr", vec!["-nodetach", "-noattr"], "DER", false),
            (
                "keystone-token",
                vec![
                    "-nodetach",
                    "-nosmimecap",
                    "-nocerts",
                    "-noattr",
                    "-md",
                    "sha256",
                ],
                "DER",
                false,
            ),
            ("stream", vec!["-nodetach", "-stream"], "DER", false),
            ("stream-pem", vec!["-nodetach", "-stream"], "PEM", false),
            ("pem", vec!["-nodetach"], "PEM", false),
            ("smime-opaque", vec!["-nodetach"], "SMIME", false),
            ("smime-multipart", vec![], "SMIME", true),
            // Text mode: OpenSSL signs the canonical (CRLF) form of the content.
            ("smime-multipart-text", vec![], "SMIME", true),
            ("sha384", vec!["-nodetach", "-md", "sha384"], "DER", false),
            ("sha512", vec!["-nodetach", "-md", "sha512"], "DER", false),
        ];
        if alg == KeyAlgorithm::Rsa2048 {
            variants.push((
                "pss",
                vec!["-nodetach", "-keyopt", "rsa_padding_mode:pss"],
                "DER",
                false,
            ));
        }
        for (name, extra, form, detached) in variants {
            let out = fx.p("openssl.sig");
            let text_mode = name.ends_with("-text");
            let mut args = vec![
                "cms",
                "-sign",
                "-signer",
                &cert,
                "-inkey",
                &key,
                "-certfile",
                &ca,
                "-in",
                &content,
                "-outform",
                form,
                "-out",
                &out,
            ];
            if !text_mode {
                args.push("-binary");
            }
            args.extend(extra.iter());
            ok(&openssl(&args), &format!("openssl cms -sign {name}"));
            let bytes = std::fs::read(&out).unwrap();
            let verifier = fx.verifier().with_store(CertStore::from_certificates([
                fx.pki.ca.cert.clone(),
                fx.leaf(alg).cert.clone(),
            ]));
            let detached_content = (detached && form != "SMIME").then_some(CONTENT);
            let v = verifier
                .verify_bytes(&bytes, detached_content)
                .unwrap_or_else(|e| {
                    panic!("{alg}/{name}: waxseal rejects OpenSSL's envelope: {e}")
                });
            // With -binary OpenSSL signs (and sends) the content as is, bare LFs included;
            // in text mode it signs the canonical CRLF form.
            let expected = if text_mode {
                format::canonical_crlf(CONTENT)
            } else {
                CONTENT.to_vec()
            };
            assert_eq!(v.content(), &expected[..], "{alg}/{name}");
            assert_eq!(v.signers()[0].certificate, fx.leaf(alg).cert);
            if name == "stream" {
                assert_eq!(
                    Envelope::parse(&bytes).unwrap().format(),
                    Format::Ber,
                    "openssl -stream writes BER"
                );
            }
            // Tampering is caught on OpenSSL-made envelopes too.
            if form == "DER" && !detached && name != "stream" {
                let mut tampered = bytes.clone();
                let pos = tampered.windows(5).position(|w| w == b"topic").unwrap();
                tampered[pos] = b'T';
                let err = verifier.verify_bytes(&tampered, None).unwrap_err();
                let expected = if extra.contains(&"-noattr") {
                    "bad-signature"
                } else {
                    "message-digest-mismatch"
                };
                assert_eq!(err.code(), expected, "{alg}/{name}");
            }
            passed.push(format!("{alg}/{name}"));
        }
    }

    // Several signers in one OpenSSL envelope.
    let out = fx.p("multi.sig");
    let (c1, k1, c2, k2) = (
        fx.p("rsa2048.pem"),
        fx.p("rsa2048.key"),
        fx.p("p256.pem"),
        fx.p("p256.key"),
    );
    ok(
        &fx.openssl_sign(
            &["-signer", &c1, "-inkey", &k1, "-signer", &c2, "-inkey", &k2],
            &out,
        ),
        "openssl cms -sign with two signers",
    );
    let v = fx
        .verifier()
        .verify_bytes(&std::fs::read(&out).unwrap(), None)
        .unwrap();
    assert_eq!(v.signers().len(), 2);
    passed.push("two-signers".into());
    println!(
        "openssl cms -sign -> waxseal: {} cases passed: {}",
        passed.len(),
        passed.join(", ")
    );
}

#[test]
fn signer_added_by_waxseal_to_an_openssl_envelope_verifies_in_openssl() {
    let fx = Fixture::new();
    let out = fx.p("one.sig");
    let (c1, k1) = (fx.p("rsa2048.pem"), fx.p("rsa2048.key"));
    ok(
        &fx.openssl_sign(&["-signer", &c1, "-inkey", &k1], &out),
        "openssl cms -sign",
    );
    let mut env = Envelope::parse(&std::fs::read(&out).unwrap()).unwrap();
    let original = env.signed_data().signer_infos[0].to_der();
    env.add_signer(&fx.signer(KeyAlgorithm::P384), None, true)
        .unwrap();
    assert_eq!(
        env.signed_data().signer_infos[0].to_der(),
        original,
        "existing signer kept byte for byte"
    );
    let file = fx.path("two.sig");
    std::fs::write(&file, env.to_der()).unwrap();
    assert_eq!(fx.openssl_verify(&file, "DER", &[]), CONTENT);
    assert_eq!(
        fx.verifier()
            .verify_bytes(&env.to_der(), None)
            .unwrap()
            .signers()
            .len(),
        2
    );
}

#[test]
fn private_keys_in_every_openssl_format_sign() {
    let fx = Fixture::new();
    let mut loaded = Vec::new();
    for (alg, conversions) in [
        (
            KeyAlgorithm::Rsa2048,
            vec![
                ("pkcs8-der", vec!["pkey", "-outform", "DER"]),
                ("pkcs1-pem", vec!["rsa", "-traditional"]),
                ("pkcs1-der", vec!["rsa", "-traditional", "-outform", "DER"]),
            ],
        ),
        (
            KeyAlgorithm::P256,
            vec![
                ("pkcs8-der", vec!["pkey", "-outform", "DER"]),
                ("sec1-pem", vec!["ec"]),
                ("sec1-der", vec!["ec", "-outform", "DER"]),
            ],
        ),
        (KeyAlgorithm::P384, vec![("sec1-pem", vec!["ec"])]),
        (
            KeyAlgorithm::Ed25519,
            vec![("pkcs8-der", vec!["pkey", "-outform", "DER"])],
        ),
    ] {
        for (name, args) in conversions {
            let (input, output) = (
                fx.p(&format!("{alg}.key")),
                fx.p(&format!("{alg}-{name}.key")),
            );
            let mut full: Vec<&str> = args.clone();
            full.extend(["-in", &input, "-out", &output]);
            ok(&openssl(&full), &format!("openssl {name}"));
            let key = PrivateKey::load(Path::new(&output), KeyFileCheck::AllowInsecure)
                .unwrap_or_else(|e| panic!("{alg} {name}: {e}"));
            let signer = Signer::new(fx.leaf(alg).cert.clone(), key).unwrap();
            let env = EnvelopeBuilder::new(CONTENT)
                .add_signer(&signer)
                .build()
                .unwrap();
            fx.verifier().verify_bytes(&env.to_der(), None).unwrap();
            loaded.push(format!("{alg}/{name}"));
        }
    }
    // `openssl ecparam -genkey` style: an EC PARAMETERS block before the SEC1 key.
    let (input, params) = (fx.p("p256.key"), fx.p("p256.params"));
    ok(
        &openssl(&["ec", "-param_out", "-in", &input, "-out", &params]),
        "openssl ec -param_out",
    );
    let both = format!(
        "{}{}",
        std::fs::read_to_string(&params).unwrap(),
        std::fs::read_to_string(fx.p("p256-sec1-pem.key")).unwrap()
    );
    let key = PrivateKey::from_bytes(both.as_bytes()).unwrap();
    Signer::new(fx.leaf(KeyAlgorithm::P256).cert.clone(), key).unwrap();
    loaded.push("p256/ec-parameters+sec1".into());

    // Encrypted keys are refused with a hint rather than a parse error.
    let (input, output) = (fx.p("p256.key"), fx.p("p256-enc.key"));
    ok(
        &openssl(&[
            "pkcs8",
            "-topk8",
            "-v2",
            "aes-256-cbc",
            "-passout",
            "pass:x",
            "-in",
            &input,
            "-out",
            &output,
        ]),
        "openssl pkcs8 -topk8",
    );
    let err = PrivateKey::load(Path::new(&output), KeyFileCheck::AllowInsecure).unwrap_err();
    assert!(matches!(err, KeyError::Encrypted), "{err}");
    println!("keys loaded: {}", loaded.join(", "));
}

#[test]
fn legacy_digests_from_openssl_need_the_opt_in() {
    let fx = Fixture::new();
    let (cert, key) = (fx.p("rsa2048.pem"), fx.p("rsa2048.key"));
    for (md, policy) in [
        ("sha1", AlgorithmPolicy::LEGACY_SHA1),
        (
            "md5",
            AlgorithmPolicy {
                allow_sha1: false,
                allow_md5: true,
            },
        ),
    ] {
        let out = fx.p(&format!("{md}.sig"));
        ok(
            &fx.openssl_sign(&["-md", md, "-signer", &cert, "-inkey", &key], &out),
            &format!("openssl cms -sign -md {md}"),
        );
        let bytes = std::fs::read(&out).unwrap();
        let err = fx.verifier().verify_bytes(&bytes, None).unwrap_err();
        assert_eq!(err.code(), "legacy-algorithm", "{md}: {err}");
        let v = fx
            .verifier()
            .with_algorithms(policy)
            .verify_bytes(&bytes, None)
            .unwrap();
        assert_eq!(v.signers()[0].digest.name(), md);
    }
}

/// RSASSA-PSS keys made by `openssl genpkey -algorithm RSA-PSS`: waxseal loads them
/// (PKCS #8 and the certificate's id-RSASSA-PSS SubjectPublicKeyInfo), signs with their
/// parameters for `openssl cms -verify`, and verifies what `openssl cms -sign` makes.
#[test]
fn rsa_pss_keys_interoperate_with_openssl() {
    use der::Decode;
    use waxseal_pki::{CertParams, issue::parse_name};
    let fx = Fixture::new();
    let mut checked = Vec::new();
    for (name, opts, expected) in [
        ("pss-any", vec![], "rsa-pss-sha256"),
        // OpenSSL signs with the largest salt: 350 bytes for a 3072-bit key.
        (
            "pss-any-3072",
            vec!["rsa_keygen_bits:3072"],
            "rsa-pss-sha256",
        ),
        (
            "pss-sha256",
            vec![
                "rsa_pss_keygen_md:sha256",
                "rsa_pss_keygen_mgf1_md:sha256",
                "rsa_pss_keygen_saltlen:32",
            ],
            "rsa-pss-sha256",
        ),
        (
            "pss-sha384",
            vec![
                "rsa_pss_keygen_md:sha384",
                "rsa_pss_keygen_mgf1_md:sha384",
                "rsa_pss_keygen_saltlen:48",
            ],
            "rsa-pss-sha384",
        ),
    ] {
        let key_file = fx.p(&format!("{name}.key"));
        let mut args = vec!["genpkey", "-algorithm", "RSA-PSS"];
        if !opts.iter().any(|o| o.starts_with("rsa_keygen_bits")) {
            args.extend(["-pkeyopt", "rsa_keygen_bits:2048"]);
        }
        for o in &opts {
            args.extend(["-pkeyopt", o]);
        }
        args.extend(["-out", &key_file]);
        ok(&openssl(&args), &format!("openssl genpkey {name}"));
        // The certificate carries OpenSSL's own SubjectPublicKeyInfo encoding.
        let spki_file = fx.p(&format!("{name}.spki"));
        ok(
            &openssl(&[
                "pkey", "-in", &key_file, "-pubout", "-outform", "DER", "-out", &spki_file,
            ]),
            "openssl pkey -pubout",
        );
        let spki =
            spki::SubjectPublicKeyInfoOwned::from_der(&std::fs::read(&spki_file).unwrap()).unwrap();
        assert_eq!(spki.algorithm.oid, const_oid::db::rfc5912::ID_RSASSA_PSS);
        let cert = fx
            .pki
            .ca
            .issue(
                &CertParams::end_entity(
                    parse_name(&format!("CN={name}.example.org")).unwrap(),
                    fx.pki.now,
                    30,
                ),
                &spki,
            )
            .unwrap();
        let cert_file = fx.p(&format!("{name}.pem"));
        std::fs::write(&cert_file, cert.to_pem()).unwrap();
        let key = PrivateKey::load(Path::new(&key_file), KeyFileCheck::AllowInsecure)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(key.pss_restriction().is_some(), "{name}");
        assert_eq!(
            PublicKey::from_spki(&key.subject_public_key_info()).unwrap(),
            PublicKey::from_spki(&spki).unwrap(),
            "{name}: waxseal's SubjectPublicKeyInfo"
        );

        // waxseal signs (PSS, with the key's parameters) -> openssl cms -verify.
        let signer = Signer::new(cert.clone(), key)
            .unwrap()
            .with_chain(vec![fx.pki.ca.cert.clone()]);
        let env = EnvelopeBuilder::new(CONTENT)
            .add_signer(&signer)
            .build()
            .unwrap();
        let v = fx.verifier().verify_bytes(&env.to_der(), None).unwrap();
        assert_eq!(v.signers()[0].signature_algorithm, expected, "{name}");
        let file = fx.path(&format!("{name}-waxseal.der"));
        std::fs::write(&file, env.to_der()).unwrap();
        assert_eq!(fx.openssl_verify(&file, "DER", &[]), CONTENT, "{name}");
        // ...also with OpenSSL's S/MIME signer purpose (waxseal pki's leaves carry
        // emailProtection as well as the bus-signing purpose).
        ok(
            &fx.openssl_verify_default_purpose(&file.display().to_string()),
            "openssl cms -verify (default purpose)",
        );
        if name == "pss-sha256" {
            // A digest the key does not allow is refused before signing.
            assert!(
                signer.with_digest(DigestAlgorithm::Sha384).is_err(),
                "{name}"
            );
        }

        let signer = ["-signer", &cert_file, "-inkey", &key_file];
        // openssl cms -sign (PSS padding, as OpenSSL needs to be told) -> waxseal.
        let out = fx.p(&format!("{name}-openssl.der"));
        ok(
            &fx.openssl_sign(
                &[&signer[..], &["-keyopt", "rsa_padding_mode:pss"]].concat(),
                &out,
            ),
            &format!("openssl cms -sign {name}"),
        );
        let v = fx
            .verifier()
            .verify_bytes(&std::fs::read(&out).unwrap(), None)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(v.content(), CONTENT);
        assert_eq!(v.signers()[0].signature_algorithm, expected, "{name}");

        // Without -keyopt, OpenSSL 3.0 labels the signature rsaEncryption, which a PSS
        // key may not make (RFC 4055 §1.2): OpenSSL's own verify refuses it, so does
        // waxseal.
        let out = fx.p(&format!("{name}-openssl-pkcs1.der"));
        ok(
            &fx.openssl_sign(&signer, &out),
            &format!("openssl cms -sign {name} (no -keyopt)"),
        );
        let e = fx
            .verifier()
            .verify_bytes(&std::fs::read(&out).unwrap(), None)
            .unwrap_err();
        assert_eq!(e.code(), "algorithm-mismatch", "{name}: {e}");
        checked.push(name);
    }
    println!("RSA-PSS keys checked both ways: {}", checked.join(", "));
}

/// OpenSSL's S/MIME signer purpose refuses a TLS-server-only signer; so does waxseal
/// (`ext-key-usage`), and both accept waxseal pki's leaves.
#[test]
fn tls_server_signer_is_refused_like_openssl_does() {
    let fx = Fixture::new();
    let server = fx
        .pki
        .leaf_with("www.example.org", KeyAlgorithm::P256, |p| {
            p.ext_key_usage = vec![oid::KP_SERVER_AUTH];
        })
        .unwrap();
    for (name, signer, accepted) in [
        (
            "server",
            Signer::new(
                server.cert.clone(),
                PrivateKey::from_bytes(server.key.to_pkcs8_pem().as_bytes()).unwrap(),
            )
            .unwrap(),
            false,
        ),
        ("pki-leaf", fx.signer(KeyAlgorithm::P256), true),
    ] {
        let signer = signer.with_chain(vec![fx.pki.ca.cert.clone()]);
        let der = EnvelopeBuilder::new(CONTENT)
            .add_signer(&signer)
            .build()
            .unwrap()
            .to_der();
        let file = fx.p(&format!("{name}.der"));
        std::fs::write(&file, &der).unwrap();
        let o = fx.openssl_verify_default_purpose(&file);
        assert_eq!(o.status.success(), accepted, "openssl, {name}");
        let r = fx.verifier().verify_bytes(&der, None);
        assert_eq!(r.is_ok(), accepted, "waxseal, {name}");
        if let Err(e) = r {
            assert_eq!(e.code(), "ext-key-usage");
        }
    }
}
