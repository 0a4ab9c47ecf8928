//! What the command writes and prints: `--out` never replaces anything but a regular file
//! (and that only with `--force`), attacker-controlled text is escaped on every line, and
//! exit statuses mean one thing (1 rejected or invalid input, 2 usage, configuration or
//! I/O).

mod common;

use std::os::unix::fs::FileTypeExt;
use std::process::{Command, Output};

use common::{Fx, code, stderr as err};
use waxseal_pki::TestPki;
use waxseal_trust::KeyAlgorithm;

impl Fx {
    fn new() -> Self {
        let fx = Fx::with_topic("org.example.bodhi");
        fx.leaf("leaf", "bodhi-app01.example.org", KeyAlgorithm::P256);
        fx
    }

    /// An envelope `env` of `msg.json`, signed by the leaf, with (or without) the
    /// intermediate.
    fn envelope(&self, chain: bool) {
        let mut args = vec![
            "sign", "--cert", "leaf.crt", "--key", "leaf.key", "--in", "msg.json", "--out", "env",
            "--force",
        ];
        if chain {
            args.extend(["--chain", "ca.pem"]);
        }
        let o = self.run(&args);
        assert_eq!(code(&o), 0, "{}", err(&o));
    }

    fn verify_to(&self, out: &str, extra: &[&str]) -> Output {
        let mut args = vec!["verify", "--trust", "root.pem", "--in", "env", "--out", out];
        args.extend(extra);
        self.run(&args)
    }
}

/// One line, no raw control or bidi character, no temporary file name.
fn assert_clean_line(s: &str) {
    assert_eq!(s.lines().count(), 1, "not one line: {s:?}");
    assert!(
        !s.trim_end_matches('\n')
            .chars()
            .any(waxseal_trust::display::needs_escape),
        "raw control character in {s:?}"
    );
    assert!(!s.contains("waxseal-tmp"), "temporary file name shown: {s}");
}

// ---- item 13: --out ----

#[test]
fn out_to_a_fifo_writes_into_it_and_leaves_it_a_fifo() {
    let fx = Fx::new();
    fx.envelope(true);
    let fifo = fx.p("fifo");
    let st = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(st.success());
    for extra in [&[][..], &["--force"][..]] {
        let reader = {
            let fifo = fifo.clone();
            std::thread::spawn(move || std::fs::read(fifo).unwrap())
        };
        let o = fx.verify_to("fifo", extra);
        assert_eq!(code(&o), 0, "{extra:?}: {}", err(&o));
        assert_eq!(
            reader.join().unwrap(),
            std::fs::read(fx.p("msg.json")).unwrap()
        );
        assert!(
            std::fs::symlink_metadata(&fifo)
                .unwrap()
                .file_type()
                .is_fifo(),
            "{extra:?}: the FIFO was replaced"
        );
    }
}

#[test]
fn out_to_dev_null_with_force_leaves_it_a_device() {
    let fx = Fx::new();
    fx.envelope(true);
    for extra in [&["--force"][..], &[][..]] {
        let o = fx.verify_to("/dev/null", extra);
        assert_eq!(code(&o), 0, "{extra:?}: {}", err(&o));
        let m = std::fs::symlink_metadata("/dev/null").unwrap();
        assert!(m.file_type().is_char_device(), "/dev/null was replaced");
    }
}

#[test]
fn out_through_a_link_to_a_pipe_writes_into_the_pipe() {
    // /proc/self/fd/1 is a link to the pipe the test reads the command's stdout from: a
    // link, so refused without --follow-symlinks; with it, the content goes down the pipe.
    let fx = Fx::new();
    fx.envelope(true);
    let o = fx.verify_to("/proc/self/fd/1", &[]);
    assert_eq!(code(&o), 2, "{}", err(&o));
    assert!(o.stdout.is_empty());
    let o = fx.verify_to("/proc/self/fd/1", &["--follow-symlinks"]);
    assert_eq!(code(&o), 0, "{}", err(&o));
    assert_eq!(o.stdout, std::fs::read(fx.p("msg.json")).unwrap());
}

#[test]
fn out_to_a_symlink_is_refused_unless_asked() {
    let fx = Fx::new();
    fx.envelope(true);
    std::fs::write(fx.p("target"), b"precious").unwrap();
    std::os::unix::fs::symlink("target", fx.p("link")).unwrap();
    for extra in [&[][..], &["--force"][..]] {
        let o = fx.verify_to("link", extra);
        assert_eq!(code(&o), 2, "{extra:?}");
        assert!(err(&o).contains("symbolic link"), "{}", err(&o));
        assert!(err(&o).contains("--follow-symlinks"), "{}", err(&o));
        assert_clean_line(&err(&o));
        assert_eq!(std::fs::read(fx.p("target")).unwrap(), b"precious");
        assert!(
            std::fs::symlink_metadata(fx.p("link"))
                .unwrap()
                .file_type()
                .is_symlink()
        );
    }
    // Asked for (and forced, the target being a file): the link stays, its target is
    // replaced.
    let o = fx.verify_to("link", &["--force", "--follow-symlinks"]);
    assert_eq!(code(&o), 0, "{}", err(&o));
    assert!(
        std::fs::symlink_metadata(fx.p("link"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(
        std::fs::read(fx.p("target")).unwrap(),
        std::fs::read(fx.p("msg.json")).unwrap()
    );
}

#[test]
fn out_to_a_directory_is_refused() {
    let fx = Fx::new();
    fx.envelope(true);
    std::fs::create_dir(fx.p("d")).unwrap();
    for out in ["d", "d/", "."] {
        let o = fx.verify_to(out, &["--force"]);
        assert_eq!(code(&o), 2, "{out}");
        assert!(err(&o).contains("is a directory"), "{}", err(&o));
        assert_clean_line(&err(&o));
    }
    assert!(std::fs::metadata(fx.p("d")).unwrap().is_dir());
    assert_eq!(std::fs::read_dir(fx.p("d")).unwrap().count(), 0);
    // The positive twin: a file inside it is written.
    let o = fx.verify_to("d/content", &[]);
    assert_eq!(code(&o), 0, "{}", err(&o));
}

#[test]
fn an_existing_file_needs_force_and_is_replaced_whole() {
    let fx = Fx::new();
    fx.envelope(true);
    std::fs::write(fx.p("content"), b"old").unwrap();
    let o = fx.verify_to("content", &[]);
    assert_eq!(code(&o), 2);
    assert!(err(&o).contains("--force"), "{}", err(&o));
    assert_eq!(std::fs::read(fx.p("content")).unwrap(), b"old");
    let o = fx.verify_to("content", &["--force"]);
    assert_eq!(code(&o), 0, "{}", err(&o));
    assert_eq!(
        std::fs::read(fx.p("content")).unwrap(),
        std::fs::read(fx.p("msg.json")).unwrap()
    );
    fx.assert_no_temporary_file();
}

#[test]
fn a_failed_write_never_shows_the_temporary_file() {
    // Root ignores permissions, so make the write itself fail: a file size limit (the
    // signal it raises ignored, so write(2) returns EFBIG).
    let fx = Fx::new();
    std::fs::write(fx.p("big"), vec![b'x'; 64 << 10]).unwrap();
    let o = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "trap '' XFSZ; ulimit -f 8; exec '{}' sign --cert leaf.crt --key leaf.key --in big --out out",
            env!("CARGO_BIN_EXE_waxseal")
        ))
        .current_dir(fx.dir.path())
        .output()
        .unwrap();
    assert_eq!(code(&o), 2, "{}", err(&o));
    assert!(err(&o).starts_with("waxseal: error: out: "), "{}", err(&o));
    assert_clean_line(&err(&o));
    assert!(!fx.p("out").exists());
    fx.assert_no_temporary_file();
    // The positive twin: without the limit, the same command writes `out`.
    let o = fx.run(&[
        "sign", "--cert", "leaf.crt", "--key", "leaf.key", "--in", "big", "--out", "out",
    ]);
    assert_eq!(code(&o), 0, "{}", err(&o));
    assert!(fx.p("out").exists());
}

// ---- item 14: escaping ----

#[test]
fn a_hostile_subject_name_prints_as_one_escaped_line() {
    let fx = Fx::new();
    // A newline and an ESC (RFC 4514 hex escapes), a NEL and a bidi override.
    let evil = "CN=evil\\0Awaxseal: verified: signer 1 CN=root\\1B[2K\u{85}\u{202e},O=t";
    let leaf = fx
        .pki
        .leaf_with("evil", KeyAlgorithm::P256, |p| {
            p.subject = waxseal_pki::issue::parse_name(evil).unwrap();
        })
        .unwrap();
    fx.save_leaf("evil", &leaf.cert, &leaf.key);
    let o = fx.sign_as("evil", "msg.json", "env", &[]);
    assert_eq!(code(&o), 0, "{}", err(&o));
    // Accepted: the "verified" line shows the subject escaped.
    let o = fx.verify_to("content", &[]);
    assert_eq!(code(&o), 0, "{}", err(&o));
    let e = err(&o);
    assert_clean_line(&e);
    assert!(e.contains("CN=evil\\0awaxseal: verified"), "{e}");
    assert!(e.contains("\\u{85}\\u{202e}"), "{e}");
    // Rejected (untrusted: another root): the reason names the subject, escaped.
    let other = TestPki::named(KeyAlgorithm::P256, "other").unwrap();
    std::fs::write(fx.p("other.pem"), other.root.cert.to_pem()).unwrap();
    let o = fx.run(&["cert", "verify", "--trust", "other.pem", "evil.crt"]);
    assert_eq!(code(&o), 1);
    let e = err(&o);
    assert_clean_line(&e);
    assert!(e.starts_with("waxseal: rejected: "), "{e}");
    assert!(e.contains("\\u{85}\\u{202e}"), "{e}");
    // `inspect` keeps one line per field.
    let o = fx.run(&["inspect", "--in", "env"]);
    assert_eq!(code(&o), 0);
    let text = String::from_utf8(o.stdout).unwrap();
    for line in text.lines() {
        assert!(
            !line.chars().any(waxseal_trust::display::needs_escape),
            "{line:?}"
        );
    }
    assert!(text.contains("\\u{85}\\u{202e}"), "{text}");
}

#[test]
fn a_hostile_topic_prints_as_one_escaped_line() {
    let fx = Fx::new();
    std::fs::write(
        fx.p("bus.json"),
        r#"{"trust": ["root.pem"], "certs": ["ca.pem"],
            "routing_policy": {"org.example.*": ["bodhi-*"]}, "nitpicky": true}"#,
    )
    .unwrap();
    // Outside the policy whatever the matching rules: denied, and the topic shown.
    let topic = "other.x\nwaxseal: allow: everything\x1b[2K\u{202e}";
    let authorize = |topic: &str| {
        fx.run(&[
            "authorize",
            "--config",
            "bus.json",
            "--topic",
            topic,
            "--in",
            "leaf.crt",
        ])
    };
    let o = authorize(topic);
    assert_eq!(code(&o), 1, "{}", err(&o));
    assert_clean_line(&err(&o));
    assert!(err(&o).starts_with("waxseal: rejected: "), "{}", err(&o));
    let out = String::from_utf8(o.stdout).unwrap();
    assert!(
        !out.contains('\x1b') && !out.contains('\u{202e}'),
        "{out:?}"
    );
    // The positive twin: a plain topic the policy allows.
    let o = authorize("org.example.x");
    assert_eq!(code(&o), 0, "{}", err(&o));
}

// ---- item 16: no panics ----

#[test]
fn a_non_ascii_time_is_a_usage_error_not_a_panic() {
    let fx = Fx::new();
    fx.envelope(true);
    for at in ["Æ00000", "2026-11-22T10:00:00+0Æ:00"] {
        let o = fx.verify_to("content", &["--at", at]);
        assert_eq!(code(&o), 2, "{at}: {}", err(&o));
        assert!(
            err(&o).starts_with("waxseal: error: not an RFC 3339 time"),
            "{}",
            err(&o)
        );
        assert_clean_line(&err(&o));
        assert!(!fx.p("content").exists());
    }
    let o = fx.verify_to("content", &["--at", "2026-11-22T10:00:00+01:00"]);
    assert_ne!(code(&o), 101, "{}", err(&o));
    assert_ne!(code(&o), 2, "{}", err(&o));
}

// ---- item 15: exit statuses and messages ----

#[test]
fn msg_sign_of_non_json_or_empty_input_is_invalid_input() {
    let fx = Fx::new();
    std::fs::write(fx.p("text"), b"this is not JSON").unwrap();
    std::fs::write(fx.p("empty"), b"").unwrap();
    std::fs::write(fx.p("array"), b"[1, 2]").unwrap();
    let msg_sign = |input: &str| {
        fx.run(&[
            "msg",
            "sign",
            "--cert",
            "leaf.crt",
            "--key",
            "leaf.key",
            "--in",
            input,
            "--out",
            "signed.json",
        ])
    };
    for input in ["text", "empty", "array"] {
        let o = msg_sign(input);
        assert_eq!(code(&o), 1, "{input}: {}", err(&o));
        assert!(err(&o).starts_with("waxseal: rejected: "), "{}", err(&o));
        assert_clean_line(&err(&o));
        assert!(!fx.p("signed.json").exists(), "{input}: output written");
    }
    let o = msg_sign("msg.json");
    assert_eq!(code(&o), 0, "{}", err(&o));
}

#[test]
fn a_certificate_given_as_the_key_says_so() {
    let fx = Fx::new();
    let sign = |cert: &str, key: &str| {
        fx.run(&[
            "sign", "--cert", cert, "--key", key, "--in", "msg.json", "--out", "env",
        ])
    };
    std::fs::set_permissions(
        fx.p("leaf.crt"),
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    let o = sign("leaf.crt", "leaf.crt");
    assert_eq!(code(&o), 2);
    assert!(
        err(&o).contains("is a certificate, not a private key"),
        "{}",
        err(&o)
    );
    assert_clean_line(&err(&o));
    let o = sign("leaf.key", "leaf.key");
    assert_eq!(code(&o), 2);
    assert!(
        err(&o).contains("is a private key, not a certificate"),
        "{}",
        err(&o)
    );
    assert!(!fx.p("env").exists());
    assert_eq!(code(&sign("leaf.crt", "leaf.key")), 0);
}

#[test]
fn a_missing_intermediate_suggests_certs_and_chain() {
    let fx = Fx::new();
    fx.envelope(false);
    let o = fx.run(&[
        "verify", "--trust", "root.pem", "--in", "env", "--out", "content",
    ]);
    assert_eq!(code(&o), 1);
    let e = err(&o);
    assert!(e.contains("--certs") && e.contains("--chain"), "{e}");
    assert_clean_line(&e);
    assert!(!fx.p("content").exists());
    let o = fx.run(&[
        "verify", "--trust", "root.pem", "--certs", "ca.pem", "--in", "env", "--out", "content",
    ]);
    assert_eq!(code(&o), 0, "{}", err(&o));
    // The certificate `cert verify` checks is its input: garbage or an empty file is an
    // invalid input (exit 1), a missing file an I/O error (exit 2).
    std::fs::write(fx.p("empty.crt"), b"").unwrap();
    std::fs::write(
        fx.p("garbage.crt"),
        b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    for bad in ["empty.crt", "garbage.crt"] {
        let o = fx.run(&["cert", "verify", "--trust", "root.pem", "--json", bad]);
        assert_eq!(code(&o), 1, "{bad}: {}", err(&o));
        let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(report["reason"], "malformed", "{bad}");
    }
    let o = fx.run(&["cert", "verify", "--trust", "root.pem", "missing.crt"]);
    assert_eq!(code(&o), 2, "{}", err(&o));
    // `cert verify` names its own option.
    let o = fx.run(&["cert", "verify", "--trust", "root.pem", "leaf.crt"]);
    assert_eq!(code(&o), 1);
    assert!(err(&o).contains("--untrusted"), "{}", err(&o));
}

#[test]
fn configuration_errors_name_the_file_and_the_key() {
    let fx = Fx::new();
    let validate =
        |config: &str| fx.run(&["msg", "validate", "--config", config, "--in", "msg.json"]);
    // No trust anchors at all.
    std::fs::write(fx.p("no-trust.json"), r#"{"routing_policy": {}}"#).unwrap();
    let o = validate("no-trust.json");
    assert_eq!(code(&o), 2);
    assert!(
        err(&o).contains("no-trust.json") && err(&o).contains("trust"),
        "{}",
        err(&o)
    );
    // A file a key names is missing.
    std::fs::write(
        fx.p("missing.json"),
        r#"{"trust": ["root.pem"], "certs": ["nope.pem"]}"#,
    )
    .unwrap();
    let o = validate("missing.json");
    assert_eq!(code(&o), 2);
    let e = err(&o);
    assert!(
        e.contains("missing.json") && e.contains("certs") && e.contains("nope.pem"),
        "{e}"
    );
    assert_clean_line(&e);
    // The positive twin: a usable configuration gets as far as the message (unsigned:
    // rejected, exit 1).
    std::fs::write(
        fx.p("good.json"),
        r#"{"trust": ["root.pem"], "certs": ["ca.pem"]}"#,
    )
    .unwrap();
    let o = validate("good.json");
    assert_eq!(code(&o), 1, "{}", err(&o));
}
