//! The Redis replay store over TLS (`rediss://`) against a real `redis-server` (Debian's
//! package, built with TLS) that each test starts on loopback with certificates the real
//! `openssl` makes when the test runs, and stops by PID. The server must chain to the CA
//! given (`?ca=`), carry the address connected to, and see a client certificate when it
//! asks for one; nothing switches the check off. Run by `scripts/test-all` (`--ignored`);
//! they fail, never skip, without `redis-server` or `openssl`.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use waxseal_message::replay::redis::RedisStore;
use waxseal_message::{Admission, ReplayError, ReplayStore};

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("openssl must be installed");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `openssl req` with a new P-256 key `name.key` and the subject `CN=name`, then `rest`.
fn request(dir: &Path, name: &str, rest: &[&str]) {
    let key = format!("{name}.key");
    let subject = format!("/CN={name}");
    let mut args = vec![
        "req",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
    ];
    args.extend(["-nodes", "-keyout", &key, "-subj", &subject]);
    args.extend(rest);
    openssl(dir, &args);
}

/// A CA `name` (name.crt, name.key) in `dir`, valid from now for a day.
fn ca(dir: &Path, name: &str) {
    let crt = format!("{name}.crt");
    let mut rest = vec!["-x509", "-out", &crt, "-days", "1"];
    rest.extend(["-addext", "basicConstraints=critical,CA:TRUE"]);
    rest.extend(["-addext", "keyUsage=critical,keyCertSign,cRLSign"]);
    request(dir, name, &rest);
}

/// A certificate `name` (name.crt, name.key) issued by the CA `issuer`, with `extensions`
/// (lines of an openssl extension file).
fn leaf(dir: &Path, name: &str, issuer: &str, extensions: &str) {
    std::fs::write(dir.join(format!("{name}.ext")), extensions).unwrap();
    request(dir, name, &["-out", &format!("{name}.csr")]);
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &format!("{name}.csr"),
            "-CA",
            &format!("{issuer}.crt"),
            "-CAkey",
            &format!("{issuer}.key"),
            "-CAcreateserial",
            "-days",
            "1",
            "-out",
            &format!("{name}.crt"),
            "-extfile",
            &format!("{name}.ext"),
        ],
    );
}

/// The PKI of one test: `ca` (the server's and the client's CA), `other-ca` (unrelated),
/// `server` (for 127.0.0.1 only), `client` (client authentication).
fn pki(dir: &Path) {
    ca(dir, "ca");
    ca(dir, "other-ca");
    leaf(
        dir,
        "server",
        "ca",
        "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
    );
    leaf(
        dir,
        "client",
        "ca",
        "subjectAltName=DNS:waxseal-gateway.example\nextendedKeyUsage=clientAuth\n",
    );
}

/// A TLS-only redis-server on 127.0.0.1, killed when dropped.
struct Server {
    child: Child,
    port: u16,
}

impl Server {
    /// Starts it with the certificates in `dir`; `client_certificates`: it asks for a
    /// client certificate (`tls-auth-clients yes`).
    fn start(dir: &Path, client_certificates: bool) -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let file = |n: &str| dir.join(n).display().to_string();
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", "0"])
            .args(["--tls-port", &port.to_string()])
            .args(["--tls-cert-file", &file("server.crt")])
            .args(["--tls-key-file", &file("server.key")])
            .args(["--tls-ca-cert-file", &file("ca.crt")])
            .args([
                "--tls-auth-clients",
                if client_certificates { "yes" } else { "no" },
            ])
            .arg("--dir")
            .arg(dir)
            .args(["--save", "", "--appendonly", "no"])
            .args(["--daemonize", "no", "--protected-mode", "yes"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server (Debian's redis-server package) must be installed");
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not listen");
            std::thread::sleep(Duration::from_millis(50));
        }
        Self { child, port }
    }

    /// `rediss://HOST:PORT/0` plus `query`.
    fn url(&self, host: &str, query: &str) -> String {
        format!("rediss://{host}:{}/0{query}", self.port)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn key(i: u8) -> [u8; 32] {
    [i; 32]
}

fn now() -> u64 {
    waxseal_trust::time::now()
}

fn query(dir: &Path, pairs: &[(&str, &str)]) -> String {
    let pairs: Vec<String> = pairs
        .iter()
        .map(|(k, f)| format!("{k}={}", path(dir, f).display()))
        .collect();
    format!("?{}", pairs.join("&"))
}

fn path(dir: &Path, file: &str) -> PathBuf {
    dir.join(file)
}

#[test]
#[ignore = "needs redis-server and openssl; run by scripts/test-all"]
fn rediss_with_the_servers_ca_admits_settles_and_refuses_replays() {
    let dir = tempfile::tempdir().unwrap();
    pki(dir.path());
    let server = Server::start(dir.path(), false);
    let store =
        RedisStore::new(&server.url("127.0.0.1", &query(dir.path(), &[("ca", "ca.crt")]))).unwrap();
    let t = now();
    assert_eq!(store.admit(key(1), t + 600, t, false), Ok(Admission::New));
    assert_eq!(
        store.admit(key(1), t + 600, t, true),
        Ok(Admission::Duplicate)
    );
    assert_eq!(
        store.admit(key(1), t + 600, t, false),
        Err(ReplayError::Replayed)
    );
    store.settle(key(1), t).unwrap();
    assert_eq!(
        store.admit(key(1), t + 600, t, true),
        Err(ReplayError::Replayed)
    );
    assert_eq!(store.last_error(), None);

    // Twins: the same server without TLS, or checked against the system's roots only or
    // against another CA, or under a name its certificate does not carry: unavailable
    // (the receiver requeues), never admitted.
    let unchecked = [
        format!("redis://127.0.0.1:{}/0", server.port),
        server.url("127.0.0.1", ""),
        server.url("127.0.0.1", &query(dir.path(), &[("ca", "other-ca.crt")])),
        server.url("localhost", &query(dir.path(), &[("ca", "ca.crt")])),
    ];
    for url in unchecked {
        let store = RedisStore::new(&url).unwrap();
        assert_eq!(
            store.admit(key(2), t + 600, t, false),
            Err(ReplayError::Unavailable),
            "{url}"
        );
        assert!(store.last_error().is_some(), "{url}");
    }
    // Nothing was recorded by them.
    let store =
        RedisStore::new(&server.url("127.0.0.1", &query(dir.path(), &[("ca", "ca.crt")]))).unwrap();
    assert_eq!(store.admit(key(2), t + 600, t, false), Ok(Admission::New));
}

#[test]
#[ignore = "needs redis-server and openssl; run by scripts/test-all"]
fn a_server_that_asks_for_a_client_certificate_gets_the_one_given() {
    let dir = tempfile::tempdir().unwrap();
    pki(dir.path());
    let server = Server::start(dir.path(), true);
    let t = now();
    let with = server.url(
        "127.0.0.1",
        &query(
            dir.path(),
            &[
                ("ca", "ca.crt"),
                ("cert", "client.crt"),
                ("key", "client.key"),
            ],
        ),
    );
    let store = RedisStore::new(&with).unwrap();
    assert_eq!(store.admit(key(1), t + 600, t, false), Ok(Admission::New));
    assert_eq!(
        store.admit(key(1), t + 600, t, false),
        Err(ReplayError::Replayed)
    );
    // Twin: without the client certificate the server hangs up: unavailable.
    let without = server.url("127.0.0.1", &query(dir.path(), &[("ca", "ca.crt")]));
    let store = RedisStore::new(&without).unwrap();
    assert_eq!(
        store.admit(key(2), t + 600, t, false),
        Err(ReplayError::Unavailable)
    );
}

#[test]
fn a_store_that_would_not_check_the_server_is_refused_at_configuration() {
    let dir = Path::new("/nonexistent");
    for (url, why) in [
        ("rediss://127.0.0.1:6380/0#insecure", "#insecure"),
        (
            "redis://127.0.0.1:6379/0?ca=/etc/ssl/ca.pem",
            "for rediss://",
        ),
        (
            "rediss://127.0.0.1:6380/0?cert=/etc/client.crt",
            "go together",
        ),
    ] {
        let e = RedisStore::new(url).unwrap_err().to_string();
        assert!(e.contains(why), "{url}: {e}");
    }
    // A CA file that cannot be read is a configuration error too, named.
    let e = RedisStore::new(&format!(
        "rediss://127.0.0.1:6380/0?ca={}/ca.crt",
        dir.display()
    ))
    .unwrap_err()
    .to_string();
    assert!(e.contains("/nonexistent/ca.crt"), "{e}");
    // Twin: a rediss:// URL with its CA given is a store (it connects on first use).
    let ca = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(ca.path(), b"").unwrap();
    assert!(
        RedisStore::new(&format!(
            "rediss://127.0.0.1:6380/0?ca={}",
            ca.path().display()
        ))
        .is_ok()
    );
}
