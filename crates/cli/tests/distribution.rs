//! `waxseal verify --crl URL` and `waxseal msg validate` with a configuration whose `crls`
//! is a URL, against a local HTTP server publishing the PKI's crl.pem.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

fn run(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_waxseal"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn ok(o: &Output) {
    assert!(o.status.success(), "{}", text(o));
}

fn refused(o: &Output, code: &str) {
    assert_eq!(o.status.code(), Some(1), "{}", text(o));
    assert!(text(o).contains(code), "expected {code}: {}", text(o));
}

/// Serves a directory's files, one request per connection.
fn serve(dir: PathBuf) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let mut req = Vec::new();
            let mut buf = [0u8; 1024];
            while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                match s.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => req.extend_from_slice(&buf[..n]),
                }
            }
            let line = String::from_utf8_lossy(&req)
                .lines()
                .next()
                .unwrap_or("")
                .to_string();
            let name = line
                .split(' ')
                .nth(1)
                .unwrap_or("/")
                .trim_start_matches('/');
            let body = if name.contains('/') || name.contains("..") {
                None
            } else {
                std::fs::read(dir.join(name)).ok()
            };
            let (status, body) = match body {
                Some(b) => ("200 OK", b),
                None => ("404 Not Found", Vec::new()),
            };
            let _ = write!(
                s,
                "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = s.write_all(&body);
        }
    });
    addr
}

#[test]
fn verify_and_msg_validate_with_a_crl_url() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    ok(&run(t, &["pki", "init", "--dir", "pki"]));
    ok(&run(
        t,
        &["pki", "issue", "--dir", "pki", "bodhi-app01.example.org"],
    ));
    let addr = serve(t.join("pki"));
    let url = format!("http://{addr}/crl.pem");
    std::fs::write(t.join("content.txt"), b"hello").unwrap();
    std::fs::write(
        t.join("msg.json"),
        r#"{"topic": "org.example.prod.bodhi.update.comment", "msg": {"text": "LGTM"}}"#,
    )
    .unwrap();
    std::fs::write(
        t.join("bus.json"),
        format!(
            r#"{{"trust": ["pki/root-ca.crt"], "certs": ["pki/signing-ca.crt"], "crls": ["{url}"],
  "fetch": {{"cache_dir": "cache", "crl_cache_expiry_secs": 0, "timeout_ms": 2000}},
  "routing_policy": {{"org.example.prod.bodhi.#": ["bodhi-*"]}}}}"#
        ),
    )
    .unwrap();
    let key = [
        "--cert",
        "pki/bodhi-app01.example.org.crt",
        "--key",
        "pki/bodhi-app01.example.org.key",
    ];
    let mut sign = vec!["sign", "--chain", "pki/signing-ca.crt"];
    sign.extend(key);
    sign.extend(["--in", "content.txt", "--out", "env.p7s"]);
    ok(&run(t, &sign));
    let mut msign = vec!["msg", "sign", "--in", "msg.json", "--out", "signed.json"];
    msign.extend(key);
    ok(&run(t, &msign));
    let verify = |crl: &str, extra: &[&str]| {
        let mut a = vec![
            "verify",
            "--json",
            "--trust",
            "pki/root-ca.crt",
            "--crl",
            crl,
        ];
        a.extend(extra);
        a.extend(["--in", "env.p7s"]);
        run(t, &a)
    };
    let validate = || {
        run(
            t,
            &[
                "msg",
                "validate",
                "--config",
                "bus.json",
                "--in",
                "signed.json",
            ],
        )
    };
    std::fs::copy(
        t.join("pki/bodhi-app01.example.org.crt"),
        t.join("bodhi.crt"),
    )
    .unwrap();
    let cert_verify = || {
        run(
            t,
            &[
                "cert",
                "verify",
                "--json",
                "--trust",
                "pki/root-ca.crt",
                "--untrusted",
                "pki/signing-ca.crt",
                "--crl",
                &url,
                "bodhi.crt",
            ],
        )
    };
    ok(&verify(&url, &[]));
    ok(&cert_verify());
    ok(&validate());
    assert!(
        std::fs::read_dir(t.join("cache")).unwrap().count() == 1,
        "msg validate cached the CRL"
    );

    // Revoke and republish: the next fetch refuses the signer.
    ok(&run(
        t,
        &["pki", "revoke", "--dir", "pki", "bodhi-app01.example.org"],
    ));
    refused(&verify(&url, &[]), "revoked");
    refused(&cert_verify(), "revoked");
    refused(&validate(), "revoked");

    // No server: nothing current, refused (not accepted without revocation checking).
    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    refused(
        &verify(&format!("http://{closed}/crl.pem"), &[]),
        "crl-unavailable",
    );
    // A server that never answers: bounded by --fetch-timeout.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_addr = silent.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in silent.incoming() {
            held.push(s);
        }
    });
    let start = Instant::now();
    refused(
        &verify(
            &format!("http://{silent_addr}/crl.pem"),
            &["--fetch-timeout", "0.3"],
        ),
        "crl-unavailable",
    );
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "{:?}",
        start.elapsed()
    );
    // Trust anchors are never fetched over plain http: a usage error.
    let o = run(
        t,
        &[
            "verify",
            "--trust",
            &format!("http://{addr}/root-ca.crt"),
            "--in",
            "env.p7s",
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("plain http"), "{}", text(&o));
}
