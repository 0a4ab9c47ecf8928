//! CRLs from an http URL (a local server on 127.0.0.1): fetched, cached on disk, refreshed
//! at cache expiry and at nextUpdate, kept while current when the server is down, and
//! failing closed (`crl-unavailable`) once nothing current can be had.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use waxseal_envelope::{KeyAlgorithm, KeyFileCheck, Signer};
use waxseal_message::{Bus, BusConfig, Stage, sign};
use waxseal_pki::{Lifetimes, PkiDir, Seed, ServiceHost};

const DAY: u64 = 86400;
const BODHI: &str = "bodhi-app01.example.org";

/// Serves the files of a directory over HTTP/1.0, one request per connection; answers 503
/// while `down`.
struct Server {
    addr: SocketAddr,
    down: Arc<AtomicBool>,
    hits: Arc<AtomicUsize>,
}

fn serve(dir: PathBuf) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let down = Arc::new(AtomicBool::new(false));
    let hits = Arc::new(AtomicUsize::new(0));
    let (d, h) = (down.clone(), hits.clone());
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
            h.fetch_add(1, Ordering::SeqCst);
            let line = String::from_utf8_lossy(&req)
                .lines()
                .next()
                .unwrap_or("")
                .to_string();
            let path = line
                .split(' ')
                .nth(1)
                .unwrap_or("/")
                .trim_start_matches('/');
            let (status, body) = if d.load(Ordering::SeqCst) {
                ("503 Service Unavailable", Vec::new())
            } else if path.contains("..") || path.contains('/') {
                ("404 Not Found", Vec::new())
            } else {
                match std::fs::read(dir.join(path)) {
                    Ok(b) => ("200 OK", b),
                    Err(_) => ("404 Not Found", Vec::new()),
                }
            };
            let _ = write!(
                s,
                "HTTP/1.1 {status}\r\nContent-Length: {}\r\nContent-Type: application/x-pem-file\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = s.write_all(&body);
        }
    });
    Server { addr, down, hits }
}

struct Fx {
    tmp: tempfile::TempDir,
    dir: PathBuf,
    pki: PkiDir,
    server: Server,
    signer: Signer,
}

fn fx() -> Fx {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("pki");
    let mut pki = PkiDir::init(
        &dir,
        Seed::default(),
        KeyAlgorithm::P256,
        Lifetimes::default(),
    )
    .unwrap();
    pki.issue(&[ServiceHost::parse(BODHI).unwrap()], false, false)
        .unwrap();
    // The operator publishes the PKI's crl.pem on a web server.
    let server = serve(dir.clone());
    // Loaded now: revoking moves the certificate away.
    let signer = waxseal_pki::load_signer(&dir, BODHI, KeyFileCheck::OwnerOnly).unwrap();
    Fx {
        tmp,
        dir,
        pki,
        server,
        signer,
    }
}

impl Fx {
    fn url(&self) -> String {
        format!("http://{}/crl.pem", self.server.addr)
    }

    fn cache(&self) -> PathBuf {
        self.tmp.path().join("cache")
    }

    fn config(&self, crl: &str, fetch: Value) -> BusConfig {
        let mut fetch = fetch;
        if fetch.get("cache_dir").is_none() {
            fetch["cache_dir"] = json!(self.cache());
        }
        let c = json!({
            "trust": ["root-ca.crt"],
            "certs": ["signing-ca.crt"],
            "crls": [crl],
            "fetch": fetch,
            "routing_policy": {"org.example.prod.bodhi.#": ["bodhi-*"]},
        });
        BusConfig::from_json(&c.to_string(), &self.dir).unwrap()
    }

    fn bus(&self, fetch: Value) -> Bus {
        Bus::new(self.config(&self.url(), fetch)).unwrap()
    }

    /// A new signed message each time (the replay cache refuses a second copy).
    fn message(&self) -> Value {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::SeqCst);
        sign(
            &json!({"topic": "org.example.prod.bodhi.update.comment", "msg": {"n": n}}),
            &self.signer,
        )
        .unwrap()
    }

    fn next_update(&self) -> u64 {
        let pem = std::fs::read(self.dir.join("crl.pem")).unwrap();
        waxseal_envelope::Crl::load_all(&pem)
            .unwrap()
            .iter()
            .filter_map(|c| c.next_update())
            .min()
            .unwrap()
    }
}

fn code(r: Result<waxseal_message::Validated, waxseal_message::Rejection>) -> (Stage, String) {
    let e = r.expect_err("expected a rejection");
    (e.stage, e.code)
}

fn cached_files(dir: &Path) -> usize {
    std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0)
}

#[test]
fn revoked_and_republished_is_refused_after_the_cache_expires() {
    let mut f = fx();
    // crl_cache_expiry_secs 0: fetched again before every validation.
    let bus = f.bus(json!({"crl_cache_expiry_secs": 0, "timeout_ms": 2000}));
    bus.validate(&f.message()).unwrap();
    assert_eq!(
        cached_files(&f.cache()),
        1,
        "the fetched CRL is cached on disk"
    );
    f.pki.revoke(BODHI, "keyCompromise").unwrap();
    // The fetch runs beside validation; `refresh_trust` waits for it.
    assert!(bus.refresh_trust(), "the new CRL is taken");
    assert_eq!(
        code(bus.validate(&f.message())),
        (Stage::Certificate, "revoked".into())
    );
}

#[test]
fn a_cached_crl_is_used_until_it_expires_then_refreshed_at_next_update() {
    let mut f = fx();
    let first_next = f.next_update();
    let bus = f.bus(json!({"crl_cache_expiry_secs": 3600}));
    bus.validate(&f.message()).unwrap();
    let hits = f.server.hits.load(Ordering::SeqCst);
    f.pki.revoke(BODHI, "keyCompromise").unwrap();
    f.pki.write_crl(Some(60 * DAY), false).unwrap();
    // The cached copy is current and the cache has not expired: not fetched again, so the
    // revocation is not seen yet (what crl_cache_expiry_secs promises, no more).
    bus.validate(&f.message()).unwrap();
    assert_eq!(f.server.hits.load(Ordering::SeqCst), hits);
    // At the cached CRL's nextUpdate it is fetched again: the new one revokes.
    let later = bus.at_time(first_next + 10);
    assert!(later.refresh_trust());
    assert_eq!(
        code(later.validate(&f.message())),
        (Stage::Certificate, "revoked".into())
    );
    assert_eq!(f.server.hits.load(Ordering::SeqCst), hits + 1);
}

#[test]
fn server_down_keeps_the_current_copy_then_fails_closed() {
    let f = fx();
    let next = f.next_update();
    let fetch = json!({"crl_cache_expiry_secs": 0, "timeout_ms": 2000});
    let bus = f.bus(fetch.clone());
    bus.validate(&f.message()).unwrap();
    f.server.down.store(true, Ordering::SeqCst);
    // The fetch fails; the last good copy is still current.
    bus.validate(&f.message()).unwrap();
    // A restart while the server is down: the disk cache is enough.
    let restarted = f.bus(fetch.clone());
    restarted.validate(&f.message()).unwrap();
    // Past the cached copy's nextUpdate with the server down: nothing current.
    let late = f.bus(fetch.clone()).at_time(next + 1);
    let (stage, c) = code(late.validate(&f.message()));
    assert_eq!((stage, c.as_str()), (Stage::Certificate, "crl-unavailable"));
    // The same for the long-running bus.
    let bus = bus.at_time(next + 1);
    assert_eq!(code(bus.validate(&f.message())).1, "crl-unavailable");
    // The server back (still serving the expired CRL): still nothing current.
    f.server.down.store(false, Ordering::SeqCst);
    assert_eq!(code(bus.validate(&f.message())).1, "crl-unavailable");
}

#[test]
fn never_fetched_is_unavailable_and_the_timeout_is_honoured() {
    let f = fx();
    // A server that accepts connections and never answers.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = silent.local_addr().unwrap();
    let _keep = std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in silent.incoming() {
            held.push(s);
        }
    });
    let start = Instant::now();
    let bus = Bus::new(f.config(
        &format!("http://{addr}/crl.pem"),
        json!({"timeout_ms": 300}),
    ))
    .unwrap();
    assert_eq!(
        code(bus.validate(&f.message())),
        (Stage::Certificate, "crl-unavailable".into())
    );
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "took {:?}",
        start.elapsed()
    );
    // Nothing listening at all.
    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let bus = Bus::new(f.config(&format!("http://{closed}/crl.pem"), json!({}))).unwrap();
    assert_eq!(code(bus.validate(&f.message())).1, "crl-unavailable");
    // A 404 is no CRL either.
    let bus =
        Bus::new(f.config(&format!("http://{}/missing.pem", f.server.addr), json!({}))).unwrap();
    assert_eq!(code(bus.validate(&f.message())).1, "crl-unavailable");
}

#[test]
fn a_changed_crl_file_is_picked_up_by_a_running_bus() {
    let mut f = fx();
    let crl = f.dir.join("crl.pem");
    let bus = Bus::new(f.config(crl.to_str().unwrap(), json!({}))).unwrap();
    bus.validate(&f.message()).unwrap();
    f.pki.revoke(BODHI, "keyCompromise").unwrap();
    assert_eq!(
        code(bus.validate(&f.message())),
        (Stage::Certificate, "revoked".into())
    );
}

#[test]
fn with_a_refresh_interval_a_changed_crl_file_waits_for_the_interval() {
    let mut f = fx();
    let crl = f.dir.join("crl.pem");
    // An hour: it never elapses during the test, so the second check is not due.
    let bus = Bus::new(f.config(crl.to_str().unwrap(), json!({})))
        .unwrap()
        .with_refresh_interval(std::time::Duration::from_secs(3600));
    bus.validate(&f.message()).unwrap();
    f.pki.revoke(BODHI, "keyCompromise").unwrap();
    // Not checked again yet: the signer is still accepted (the gateway, which sets the
    // interval, rebuilds its bus itself when the file changes).
    bus.validate(&f.message()).unwrap();
    // A bus built now sees the revocation (without an interval, a running bus sees it at
    // its next message: `a_changed_crl_file_is_picked_up_by_a_running_bus`).
    let fresh = Bus::new(f.config(crl.to_str().unwrap(), json!({}))).unwrap();
    assert_eq!(
        code(fresh.validate(&f.message())),
        (Stage::Certificate, "revoked".into())
    );
}

#[test]
fn a_running_bus_serves_paths_from_its_cache_until_the_crls_or_anchors_change() {
    let mut f = fx();
    let crl = f.dir.join("crl.pem");
    let bus = Bus::new(f.config(crl.to_str().unwrap(), json!({}))).unwrap();
    for _ in 0..3 {
        bus.validate(&f.message()).unwrap();
    }
    let s = bus.cache_stats();
    assert_eq!((s.path_hits, s.path_misses, s.generation), (2, 1, 0));
    assert_eq!(s.path_entries, 1);
    // The CRL file changes (the signer revoked): the path cached under the old CRLs is
    // dropped, and the signer refused.
    f.pki.revoke(BODHI, "keyCompromise").unwrap();
    assert_eq!(
        code(bus.validate(&f.message())),
        (Stage::Certificate, "revoked".into())
    );
    let s = bus.cache_stats();
    assert_eq!((s.path_hits, s.generation), (2, 1));

    // Anchors: another bus, whose root file is replaced by another PKI's root.
    let f = fx();
    let crl = f.dir.join("crl.pem");
    let bus = Bus::new(f.config(crl.to_str().unwrap(), json!({}))).unwrap();
    bus.validate(&f.message()).unwrap();
    bus.validate(&f.message()).unwrap();
    assert_eq!(bus.cache_stats().path_hits, 1);
    let root = f.dir.join("root-ca.crt");
    let ours = std::fs::read(&root).unwrap();
    let other_dir = f.tmp.path().join("other");
    PkiDir::init(
        &other_dir,
        Seed::default(),
        KeyAlgorithm::P256,
        Lifetimes::default(),
    )
    .unwrap();
    std::fs::copy(other_dir.join("root-ca.crt"), &root).unwrap();
    let (stage, c) = code(bus.validate(&f.message()));
    assert_eq!(stage, Stage::Certificate, "{c}");
    let s = bus.cache_stats();
    assert_eq!((s.path_hits, s.generation), (1, 1), "{s:?}");
    // Twin: our root back, the signer validates again, through a new path.
    std::fs::write(&root, ours).unwrap();
    bus.validate(&f.message()).unwrap();
    let s = bus.cache_stats();
    assert_eq!((s.path_hits, s.generation), (1, 2), "{s:?}");
    assert_eq!(s.path_entries, 1);
}

#[test]
fn urls_in_the_configuration() {
    let f = fx();
    // Trust anchors never over plain http.
    let c = json!({"trust": [format!("http://{}/root-ca.crt", f.server.addr)]});
    let e = Bus::new(BusConfig::from_json(&c.to_string(), &f.dir).unwrap()).unwrap_err();
    assert!(e.0.contains("plain http"), "{e}");
    // Intermediates over http are fine (they are checked against the anchors).
    let c = json!({
        "trust": ["root-ca.crt"],
        "certs": [format!("http://{}/signing-ca.crt", f.server.addr)],
        "routing_policy": {"org.example.prod.bodhi.#": ["bodhi-*"]},
    });
    let bus = Bus::new(BusConfig::from_json(&c.to_string(), &f.dir).unwrap()).unwrap();
    bus.validate(&f.message()).unwrap();
    // Other schemes are refused by name.
    let c = json!({"trust": ["root-ca.crt"], "crls": ["ldap://ca.example.org/crl"]});
    let e = BusConfig::from_json(&c.to_string(), &f.dir).unwrap_err();
    assert!(e.0.contains("ldap://"), "{e}");
    // An unknown fetch key is refused by name.
    let c = json!({"trust": ["root-ca.crt"], "fetch": {"timeout": 3}});
    let e = BusConfig::from_json(&c.to_string(), &f.dir).unwrap_err();
    assert!(e.0.contains("timeout"), "{e}");
}

/// https with the internal CA of the web server (`fetch.https_roots`): rustls with graviola
/// on both sides; a server whose certificate the roots do not vouch for is refused.
#[cfg(feature = "https")]
#[test]
fn https_with_internal_roots() {
    use waxseal_envelope::PrivateKey;
    use waxseal_pki::{CertParams, Issuer, issue::parse_name};

    let mut f = fx();
    let now = waxseal_envelope::time::now();
    let web_ca = Issuer::self_signed(
        &CertParams::ca(parse_name("CN=web CA").unwrap(), now, 30, Some(0)),
        PrivateKey::generate(KeyAlgorithm::P256).unwrap(),
    )
    .unwrap();
    let key = PrivateKey::generate(KeyAlgorithm::P256).unwrap();
    let mut params = CertParams::end_entity(parse_name("CN=localhost").unwrap(), now, 30);
    params.ext_key_usage = vec![waxseal_envelope::oid::KP_SERVER_AUTH];
    params.dns_names = vec!["localhost".into()];
    let cert = web_ca
        .issue(&params, &key.subject_public_key_info())
        .unwrap();
    let roots = f.tmp.path().join("web-ca.pem");
    std::fs::write(&roots, web_ca.cert.to_pem()).unwrap();
    let other = f.tmp.path().join("other-ca.pem");
    std::fs::write(&other, std::fs::read(f.dir.join("root-ca.crt")).unwrap()).unwrap();

    let provider = Arc::new(rustls_graviola::default_provider());
    let config = Arc::new(
        rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                vec![cert.der().to_vec().into()],
                rustls::pki_types::PrivateKeyDer::Pkcs8(key.to_pkcs8_der().to_vec().into()),
            )
            .unwrap(),
    );
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let dir = f.dir.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut tcp) = stream else { continue };
            let Ok(mut conn) = rustls::ServerConnection::new(config.clone()) else {
                continue;
            };
            let mut tls = rustls::Stream::new(&mut conn, &mut tcp);
            let mut req = Vec::new();
            let mut buf = [0u8; 1024];
            while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                match tls.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => req.extend_from_slice(&buf[..n]),
                }
            }
            let body = std::fs::read(dir.join("crl.pem")).unwrap_or_default();
            let _ = write!(
                tls,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = tls.write_all(&body);
            let _ = tls.flush();
            tls.conn.send_close_notify();
            let _ = tls.flush();
        }
    });
    let url = format!("https://localhost:{port}/crl.pem");
    let with = |roots: &Path| json!({"https_roots": roots, "crl_cache_expiry_secs": 0, "timeout_ms": 3000});
    let bus = Bus::new(f.config(&url, with(&roots))).unwrap();
    bus.validate(&f.message()).unwrap();
    f.pki.revoke(BODHI, "keyCompromise").unwrap();
    assert!(bus.refresh_trust());
    assert_eq!(
        code(bus.validate(&f.message())),
        (Stage::Certificate, "revoked".into())
    );
    // Roots that do not vouch for the server: nothing fetched (and nothing cached in a
    // new cache directory), refused.
    let mut fetch = with(&other);
    fetch["cache_dir"] = json!(f.tmp.path().join("empty-cache"));
    let bus = Bus::new(f.config(&url, fetch)).unwrap();
    assert_eq!(code(bus.validate(&f.message())).1, "crl-unavailable");
}
