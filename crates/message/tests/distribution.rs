//! CRLs from an http URL (a local server on 127.0.0.1): fetched, cached on disk, refreshed
//! at cache expiry and at nextUpdate, kept while current when the server is down, and
//! failing closed (`crl-unavailable`) once nothing current can be had.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use waxseal_envelope::Signer;
use waxseal_message::{Bus, BusConfig, Stage, sign};
use waxseal_pki::{Lifetimes, PkiDir, Seed, ServiceHost};
use waxseal_trust::{KeyAlgorithm, KeyFileCheck};

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
        waxseal_trust::Crl::load_all(&pem)
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

/// The cached copies in `dir` (not a copy being written by a background refresh, which
/// is renamed into place once whole).
fn cached_files(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| {
                    // A copy being written is a hidden temporary file (`fsutil`'s
                    // `.waxseal-tmp-*`), or an older `*.tmp*` one.
                    let name = e.file_name().to_string_lossy().into_owned();
                    !name.starts_with('.')
                        && !name
                            .rsplit('.')
                            .next()
                            .is_some_and(|ext| ext.starts_with("tmp"))
                })
                .count()
        })
        .unwrap_or(0)
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
fn a_crl_file_renamed_into_place_is_picked_up_even_with_the_same_size_and_time() {
    let mut f = fx();
    let empty = std::fs::read(f.dir.join("crl.pem")).unwrap();
    f.pki.revoke(BODHI, "keyCompromise").unwrap();
    let revoking = std::fs::read(f.dir.join("crl.pem")).unwrap();
    assert!(revoking.len() > empty.len());
    // The CRL the bus reads first: the empty one, padded (text after the PEM block is
    // ignored) to the revoking one's size, with a fixed modification time.
    let when = std::time::SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let write = |path: &Path, bytes: &[u8]| {
        let file = std::fs::File::create(path).unwrap();
        (&file).write_all(bytes).unwrap();
        file.set_modified(when).unwrap();
    };
    let active = f.tmp.path().join("crl-active.pem");
    let mut padded = empty.clone();
    padded.resize(revoking.len(), b'\n');
    write(&active, &padded);
    let bus = Bus::new(f.config(active.to_str().unwrap(), json!({}))).unwrap();
    bus.validate(&f.message()).unwrap();
    // Published as CRLs are: written beside, then renamed into place. Same size, same
    // modification time: only the inode tells it apart.
    let next = f.tmp.path().join("crl-active.pem.new");
    write(&next, &revoking);
    std::fs::rename(&next, &active).unwrap();
    let meta = std::fs::metadata(&active).unwrap();
    assert_eq!(
        (meta.len(), meta.modified().unwrap()),
        (padded.len() as u64, when)
    );
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

/// An https server on 127.0.0.1 (name `localhost`) with a certificate from its own
/// internal web CA, serving the files of the PKI directory by name (503 while `down`).
#[cfg(feature = "https")]
struct HttpsServer {
    port: u16,
    /// The web CA (what `fetch.https_roots` names).
    roots: PathBuf,
    /// Roots that do not vouch for the server (the bus PKI's root).
    other: PathBuf,
    down: Arc<AtomicBool>,
}

#[cfg(feature = "https")]
fn serve_https(f: &Fx) -> HttpsServer {
    use waxseal_pki::{CertParams, Issuer, issue::parse_name};
    use waxseal_trust::PrivateKey;

    let now = waxseal_trust::time::now();
    let web_ca = Issuer::self_signed(
        &CertParams::ca(parse_name("CN=web CA").unwrap(), now, 30, Some(0)),
        PrivateKey::generate(KeyAlgorithm::P256).unwrap(),
    )
    .unwrap();
    let key = PrivateKey::generate(KeyAlgorithm::P256).unwrap();
    let mut params = CertParams::end_entity(parse_name("CN=localhost").unwrap(), now, 30);
    params.ext_key_usage = vec![waxseal_trust::oid::KP_SERVER_AUTH];
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
    let down = Arc::new(AtomicBool::new(false));
    let d = down.clone();
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
            let text = String::from_utf8_lossy(&req).to_string();
            let name = text
                .split(' ')
                .nth(1)
                .unwrap_or("/")
                .trim_start_matches('/');
            let body = (!name.contains('/') && !name.contains(".."))
                .then(|| std::fs::read(dir.join(name)).ok())
                .flatten();
            let status = match (&body, d.load(Ordering::SeqCst)) {
                (_, true) => "503 Service Unavailable",
                (None, _) => "404 Not Found",
                (Some(_), false) => "200 OK",
            };
            let body = if d.load(Ordering::SeqCst) {
                Vec::new()
            } else {
                body.unwrap_or_default()
            };
            let _ = write!(
                tls,
                "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = tls.write_all(&body);
            let _ = tls.flush();
            tls.conn.send_close_notify();
            let _ = tls.flush();
        }
    });
    HttpsServer {
        port,
        roots,
        other,
        down,
    }
}

/// https with the internal CA of the web server (`fetch.https_roots`): rustls with graviola
/// on both sides; a server whose certificate the roots do not vouch for is refused.
#[cfg(feature = "https")]
#[test]
fn https_with_internal_roots() {
    let mut f = fx();
    let HttpsServer {
        port, roots, other, ..
    } = serve_https(&f);
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

// ---- Fetched CRLs never go backwards; fetching never blocks validation (issue 19, item 6).

/// A response of [`serve_with`]'s handler.
enum Reply {
    /// 200 with this body.
    Body(Vec<u8>),
    /// A 302 to this location.
    Redirect(String),
    /// Hold the connection open without answering until the receiver yields, then answer
    /// with the body it gives.
    Hang(std::sync::mpsc::Receiver<Vec<u8>>),
}

/// An HTTP server on 127.0.0.1 whose answers `handler` chooses by path; counts requests.
fn serve_with(
    handler: impl Fn(&str) -> Reply + Send + Sync + 'static,
) -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let hits = Arc::new(AtomicUsize::new(0));
    let h = hits.clone();
    let handler = Arc::new(handler);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let handler = handler.clone();
            let h = h.clone();
            // One thread per connection: a held connection does not hold the others.
            std::thread::spawn(move || {
                let mut req = Vec::new();
                let mut buf = [0u8; 1024];
                while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => req.extend_from_slice(&buf[..n]),
                    }
                }
                h.fetch_add(1, Ordering::SeqCst);
                let text = String::from_utf8_lossy(&req).to_string();
                let path = text.split(' ').nth(1).unwrap_or("/").to_string();
                let body = match handler(&path) {
                    Reply::Body(b) => b,
                    Reply::Redirect(to) => {
                        let _ = write!(
                            s,
                            "HTTP/1.1 302 Found\r\nLocation: {to}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                        );
                        return;
                    }
                    Reply::Hang(rx) => match rx.recv() {
                        Ok(b) => b,
                        Err(_) => return,
                    },
                };
                let _ = write!(
                    s,
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = s.write_all(&body);
            });
        }
    });
    (addr, hits)
}

/// The PKI's CAs, to sign CRLs of our choosing (numbers, times, entries).
struct Cas {
    signing: waxseal_pki::Issuer,
    root: waxseal_pki::Issuer,
}

fn cas(dir: &Path) -> Cas {
    let load = |cert: &str, key: &str| waxseal_pki::Issuer {
        cert: waxseal_trust::Certificate::load_all(&std::fs::read(dir.join(cert)).unwrap())
            .unwrap()
            .remove(0),
        key: waxseal_trust::PrivateKey::load(&dir.join(key), KeyFileCheck::OwnerOnly).unwrap(),
    };
    Cas {
        signing: load("signing-ca.crt", "signing-ca.key"),
        root: load("root-ca.crt", "root-ca.key"),
    }
}

impl Cas {
    /// The signing CA's CRL (revoking `revoked` serials) and the root's, both numbered
    /// `number`, current from `this` to `next`: what the PKI's crl.pem holds.
    fn crls(&self, number: u64, this: u64, next: u64, revoked: &[&[u8]]) -> String {
        let revoked: Vec<waxseal_pki::Revocation> = revoked
            .iter()
            .map(|s| waxseal_pki::Revocation {
                serial: s.to_vec(),
                date: this,
                reason: None,
            })
            .collect();
        let ca = self
            .signing
            .issue_crl(number, this, next, &revoked)
            .unwrap();
        let root = self.root.issue_crl(number, this, next, &[]).unwrap();
        format!("{}{}", ca.to_pem(), root.to_pem())
    }
}

impl Fx {
    /// The signer's serial.
    fn serial(&self) -> Vec<u8> {
        self.signer.certificate().serial().to_vec()
    }

    /// Publishes `pem` as `name` on the server (served from the PKI directory).
    fn publish(&self, name: &str, pem: &str) -> String {
        // Whole, never half-written, for a fetch that may run meanwhile.
        let tmp = self.dir.join(format!("{name}.tmp"));
        std::fs::write(&tmp, pem).unwrap();
        std::fs::rename(&tmp, self.dir.join(name)).unwrap();
        format!("http://{}/{name}", self.server.addr)
    }
}

#[test]
fn an_older_crl_never_replaces_a_newer_one() {
    let f = fx();
    let t0 = waxseal_trust::time::now();
    let ca = cas(&f.dir);
    let serial = f.serial();
    // Fetched only when asked (`refresh_trust`), so that the counts are exact.
    let fetch = json!({"timeout_ms": 5000});
    // CRL 1 revokes nothing.
    let url = f.publish("pub.pem", &ca.crls(1, t0 - 3600, t0 + 30 * DAY, &[]));
    let bus = Bus::new(f.config(&url, fetch)).unwrap().at_time(t0);
    bus.validate(&f.message()).unwrap();
    // Positive twin: a newer CRL (2) revoking the signer replaces it.
    f.publish("pub.pem", &ca.crls(2, t0 - 1800, t0 + 30 * DAY, &[&serial]));
    assert!(bus.refresh_trust(), "the newer CRL is taken");
    assert_eq!(
        code(bus.validate(&f.message())),
        (Stage::Certificate, "revoked".into())
    );
    assert_eq!(bus.distribution_stats().refused_older, 0);
    // A stale mirror (or a man in the middle on plain http) serves CRL 1 again, still
    // within its validity: refused, CRL 2 stays, the signer stays revoked.
    f.publish("pub.pem", &ca.crls(1, t0 - 3600, t0 + 30 * DAY, &[]));
    assert!(!bus.refresh_trust(), "the older CRL is not taken");
    assert_eq!(
        code(bus.validate(&f.message())),
        (Stage::Certificate, "revoked".into())
    );
    // The same number with an earlier thisUpdate is older too; a later one is newer.
    f.publish("pub.pem", &ca.crls(2, t0 - 2400, t0 + 30 * DAY, &[]));
    assert!(!bus.refresh_trust());
    assert_eq!(code(bus.validate(&f.message())).1, "revoked");
    let s = bus.distribution_stats();
    assert_eq!(s.refused_older, 2, "{s:?}");
    assert!(s.last_problem.unwrap().contains("older"));
    // A copy lacking one of the held CRLs (the root's) is refused as well.
    let only_ca = ca.crls(3, t0 - 600, t0 + 30 * DAY, &[]);
    let first = only_ca.find("-----END X509 CRL-----").unwrap() + "-----END X509 CRL-----\n".len();
    f.publish("pub.pem", &only_ca[..first]);
    assert!(!bus.refresh_trust());
    assert_eq!(code(bus.validate(&f.message())).1, "revoked");
    assert_eq!(bus.distribution_stats().refused_older, 3);
    // A restart reads CRL 2 back from the cache, and the stale CRL 1 is refused then too.
    f.publish("pub.pem", &ca.crls(1, t0 - 3600, t0 + 30 * DAY, &[]));
    let restarted = Bus::new(f.config(&url, json!({}))).unwrap().at_time(t0);
    assert!(!restarted.refresh_trust());
    assert_eq!(code(restarted.validate(&f.message())).1, "revoked");
}

#[test]
fn forged_foreign_expired_and_future_crls_are_refused_and_the_last_good_copy_serves() {
    let f = fx();
    let t0 = waxseal_trust::time::now();
    let ca = cas(&f.dir);
    let serial = f.serial();
    let url = f.publish("pub.pem", &ca.crls(1, t0 - 3600, t0 + 30 * DAY, &[]));
    let bus = Bus::new(f.config(&url, json!({}))).unwrap().at_time(t0);
    bus.validate(&f.message()).unwrap();

    // Every bad copy revokes the signer: had it been taken, the signer would be refused.
    // A bad signature (one bit of the signature flipped).
    let good = ca.crls(5, t0 - 60, t0 + 30 * DAY, &[&serial]);
    let mut crls = waxseal_trust::Crl::load_all(good.as_bytes()).unwrap();
    let mut der = crls.remove(0).der().to_vec();
    let last = der.len() - 1;
    der[last] ^= 1;
    let forged = format!(
        "{}{}",
        waxseal_trust::Crl::from_der(&der).unwrap().to_pem(),
        crls[0].to_pem()
    );
    // From another CA with the same names (another PKI from the same seed).
    let other_dir = f.tmp.path().join("other");
    PkiDir::init(
        &other_dir,
        Seed::default(),
        KeyAlgorithm::P256,
        Lifetimes::default(),
    )
    .unwrap();
    let foreign = cas(&other_dir).crls(6, t0 - 60, t0 + 30 * DAY, &[&serial]);
    // Expired (past nextUpdate at the verification time) and not yet valid.
    let expired = ca.crls(7, t0 - 20 * DAY, t0 - DAY, &[&serial]);
    let future = ca.crls(8, t0 + DAY, t0 + 30 * DAY, &[&serial]);
    for (pem, what) in [
        (&forged, "signature"),
        (&foreign, "signature"),
        (&expired, "current"),
        (&future, "current"),
    ] {
        f.publish("pub.pem", pem);
        assert!(!bus.refresh_trust(), "{what}: not taken");
        // The last good copy serves: no crl-unavailable, the signer is not revoked.
        bus.validate(&f.message()).unwrap();
    }
    let s = bus.distribution_stats();
    assert_eq!(
        (s.refused_signature, s.refused_not_current),
        (2, 2),
        "{s:?}"
    );
    // Twin: the good CRL 5 is taken.
    f.publish("pub.pem", &good);
    assert!(bus.refresh_trust());
    assert_eq!(code(bus.validate(&f.message())).1, "revoked");

    // With nothing held yet, a forged copy is not taken either: crl-unavailable.
    f.publish("fresh.pem", &forged);
    let url = format!("http://{}/fresh.pem", f.server.addr);
    let mut fetch = json!({});
    fetch["cache_dir"] = json!(f.tmp.path().join("cache2"));
    let bus = Bus::new(f.config(&url, fetch)).unwrap().at_time(t0);
    assert_eq!(code(bus.validate(&f.message())).1, "crl-unavailable");
    assert_eq!(bus.distribution_stats().refused_signature, 1);
}

#[cfg(unix)]
#[test]
fn the_cache_is_private_not_followed_through_symlinks_and_checked_when_read_back() {
    use std::os::unix::fs::PermissionsExt;
    let f = fx();
    let t0 = waxseal_trust::time::now();
    let ca = cas(&f.dir);
    let url = f.publish("pub.pem", &ca.crls(1, t0 - 3600, t0 + 30 * DAY, &[]));
    let fetch = json!({"timeout_ms": 3000});
    let bus = Bus::new(f.config(&url, fetch.clone())).unwrap().at_time(t0);
    bus.validate(&f.message()).unwrap();
    let cache = f.cache();
    let file = std::fs::read_dir(&cache)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "cache"))
        .unwrap();
    // Written 0600 in a 0700 directory.
    let mode = |p: &Path| std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&file), 0o600);
    assert_eq!(mode(&cache), 0o700);
    let good = std::fs::read(&file).unwrap();

    // Server down from here on: a new bus has only the cache.
    f.server.down.store(true, Ordering::SeqCst);
    let restart = || Bus::new(f.config(&url, fetch.clone())).unwrap().at_time(t0);
    // Twin: the cache as written serves.
    restart().validate(&f.message()).unwrap();

    // A symlink in place of the cache file (to a copy of the good file) is not followed.
    let elsewhere = f.tmp.path().join("elsewhere.cache");
    std::fs::write(&elsewhere, &good).unwrap();
    std::fs::set_permissions(&elsewhere, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::remove_file(&file).unwrap();
    std::os::unix::fs::symlink(&elsewhere, &file).unwrap();
    let bus = restart();
    assert_eq!(code(bus.validate(&f.message())).1, "crl-unavailable");
    let s = bus.distribution_stats();
    assert_eq!((s.refused_cache, s.fetch_failed), (1, 1), "{s:?}");
    // Writing replaces the symlink, never writes through it.
    f.server.down.store(false, Ordering::SeqCst);
    restart();
    assert_eq!(std::fs::read(&elsewhere).unwrap(), good);
    assert!(std::fs::symlink_metadata(&file).unwrap().is_file());
    f.server.down.store(true, Ordering::SeqCst);

    // A tampered cached CRL (another CA's, same names, under the right header) is refused.
    let other_dir = f.tmp.path().join("other");
    PkiDir::init(
        &other_dir,
        Seed::default(),
        KeyAlgorithm::P256,
        Lifetimes::default(),
    )
    .unwrap();
    let header_end = good.iter().position(|b| *b == b'\n').unwrap() + 1;
    let mut tampered = good[..header_end].to_vec();
    tampered.extend(
        cas(&other_dir)
            .crls(9, t0 - 60, t0 + 30 * DAY, &[])
            .as_bytes(),
    );
    std::fs::write(&file, &tampered).unwrap();
    let bus = restart();
    assert_eq!(code(bus.validate(&f.message())).1, "crl-unavailable");
    assert_eq!(bus.distribution_stats().refused_cache, 1);
    // A cache file without our header (another program's, an older format) is not used.
    std::fs::write(&file, &good[header_end..]).unwrap();
    assert_eq!(code(restart().validate(&f.message())).1, "crl-unavailable");
    // A cache file writable by others is not used.
    std::fs::write(&file, &good).unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o666)).unwrap();
    assert_eq!(code(restart().validate(&f.message())).1, "crl-unavailable");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    restart().validate(&f.message()).unwrap();

    // A cache directory others may write is a configuration error (and so is one owned by
    // another user).
    std::fs::set_permissions(&cache, std::fs::Permissions::from_mode(0o777)).unwrap();
    let e = Bus::new(f.config(&url, fetch.clone())).unwrap_err();
    assert!(e.0.contains("writable by its group or others"), "{e}");
    std::fs::set_permissions(&cache, std::fs::Permissions::from_mode(0o700)).unwrap();
    let foreign = f.tmp.path().join("foreign");
    std::fs::create_dir(&foreign).unwrap();
    std::fs::set_permissions(&foreign, std::fs::Permissions::from_mode(0o700)).unwrap();
    // As root, give it away; otherwise "/" is someone else's.
    let foreign = if std::os::unix::fs::chown(&foreign, Some(65534), Some(65534)).is_ok() {
        foreign
    } else {
        PathBuf::from("/")
    };
    let mut other = fetch.clone();
    other["cache_dir"] = json!(foreign);
    let e = Bus::new(f.config(&url, other)).unwrap_err();
    assert!(e.0.contains("not by this process"), "{e}");
}

#[test]
fn validation_goes_on_while_a_fetch_hangs() {
    let f = fx();
    let t0 = waxseal_trust::time::now();
    let ca = cas(&f.dir);
    let crl = ca.crls(1, t0 - 3600, t0 + 30 * DAY, &[]);
    let newer = ca.crls(2, t0 - 60, t0 + 30 * DAY, &[&f.serial()]);
    // The first request is answered; the second is held until `release` sends the body.
    let (release, held) = std::sync::mpsc::channel::<Vec<u8>>();
    let held = Mutex::new(Some(held));
    let (hanging, fetch_started) = std::sync::mpsc::channel::<()>();
    let hanging = Mutex::new(hanging);
    let served = AtomicUsize::new(0);
    let first = crl.clone().into_bytes();
    let (addr, hits) = serve_with(move |_| {
        if served.fetch_add(1, Ordering::SeqCst) == 0 {
            return Reply::Body(first.clone());
        }
        match held.lock().unwrap().take() {
            Some(rx) => {
                hanging.lock().unwrap().send(()).unwrap();
                Reply::Hang(rx)
            }
            None => Reply::Body(first.clone()),
        }
    });
    let url = format!("http://{addr}/crl.pem");
    // Due before every validation; a fetch may take a minute.
    let fetch = json!({"crl_cache_expiry_secs": 0, "timeout_ms": 60_000});
    let bus = Arc::new(Bus::new(f.config(&url, fetch)).unwrap().at_time(t0));
    // This validation starts the refresh; it returns with the held copy.
    bus.validate(&f.message()).unwrap();
    fetch_started.recv().unwrap();
    // While the fetch hangs, other threads validate with the held copy, and no second
    // refresh starts.
    let (done_tx, done) = std::sync::mpsc::channel();
    for _ in 0..3 {
        let (bus, msg, done_tx) = (bus.clone(), f.message(), done_tx.clone());
        std::thread::spawn(move || done_tx.send(bus.validate(&msg).map(|_| ())).unwrap());
    }
    for _ in 0..3 {
        // A deadlock guard only: the fetch is released only after these arrive.
        let r = done
            .recv_timeout(Duration::from_secs(120))
            .expect("validation waited for the hanging fetch");
        r.unwrap();
    }
    assert_eq!(hits.load(Ordering::SeqCst), 2, "one refresh at a time");
    // The fetch completes with a newer CRL: taken at the next validation.
    release.send(newer.into_bytes()).unwrap();
    // refresh_trust waits for the running refresh (then fetches again: due every time).
    bus.refresh_trust();
    assert_eq!(code(bus.validate(&f.message())).1, "revoked");
}

#[test]
fn redirects_are_followed_only_to_the_same_scheme_and_host() {
    let f = fx();
    let t0 = waxseal_trust::time::now();
    let port = f.server.addr.port();
    let crl = std::fs::read(f.dir.join("crl.pem")).unwrap();
    let (addr, _) = serve_with(move |path| match path {
        "/same" => Reply::Redirect("/crl.pem".into()),
        "/relative" => Reply::Redirect("crl.pem".into()),
        // The file server, under another host name (same address) and another port.
        "/host" => Reply::Redirect(format!("http://localhost:{port}/crl.pem")),
        "/port" => Reply::Redirect(format!("http://127.0.0.1:{port}/crl.pem")),
        "/scheme" => Reply::Redirect("https://127.0.0.1/crl.pem".into()),
        _ => Reply::Body(crl.clone()),
    });
    let bus = |path: &str| {
        let mut fetch = json!({});
        fetch["cache_dir"] = json!(f.tmp.path().join(format!("cache-{}", &path[1..])));
        Bus::new(f.config(&format!("http://{addr}{path}"), fetch))
            .unwrap()
            .at_time(t0)
    };
    for ok in ["/same", "/relative"] {
        bus(ok).validate(&f.message()).unwrap();
    }
    for refused in ["/host", "/port", "/scheme"] {
        let b = bus(refused);
        let e = b.validate(&f.message()).unwrap_err();
        assert_eq!(e.code, "crl-unavailable", "{refused}");
        assert!(e.reason.contains("another scheme or host"), "{}", e.reason);
        assert_eq!(b.distribution_stats().fetch_failed, 1);
    }
}

/// A trust anchor read back from the cache is used only if it was fetched over https by
/// the same configuration (same URL and https roots).
#[cfg(all(feature = "https", unix))]
#[test]
fn a_cached_anchor_is_used_only_if_fetched_over_https_by_the_same_configuration() {
    let f = fx();
    let https = serve_https(&f);
    let url = format!("https://localhost:{}/root-ca.crt", https.port);
    let cache = f.tmp.path().join("anchor-cache");
    let config = |roots: &Path| {
        let c = json!({
            "trust": [url],
            "certs": ["signing-ca.crt"],
            "fetch": {"https_roots": roots, "cache_dir": cache, "timeout_ms": 3000},
            "routing_policy": {"org.example.prod.bodhi.#": ["bodhi-*"]},
        });
        BusConfig::from_json(&c.to_string(), &f.dir).unwrap()
    };
    // Fetched over https and cached.
    Bus::new(config(&https.roots))
        .unwrap()
        .validate(&f.message())
        .unwrap();
    let file = std::fs::read_dir(&cache)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "cache"))
        .unwrap();
    let good = std::fs::read(&file).unwrap();
    // The server down from here on: only the cache can supply the anchor.
    https.down.store(true, Ordering::SeqCst);
    // Twin: the same configuration uses its cached anchor.
    Bus::new(config(&https.roots))
        .unwrap()
        .validate(&f.message())
        .unwrap();
    // Another configuration (other https roots) sharing the directory does not.
    let e = Bus::new(config(&https.other)).unwrap_err();
    assert!(e.0.contains("trust"), "{e}");
    // A cached anchor marked as fetched over plain http is not used.
    let text = String::from_utf8(good.clone()).unwrap();
    let (header, body) = text.split_once('\n').unwrap();
    assert!(header.contains(" https "), "{header}");
    std::fs::write(
        &file,
        format!("{}\n{body}", header.replace(" https ", " http ")),
    )
    .unwrap();
    let e = Bus::new(config(&https.roots)).unwrap_err();
    assert!(e.0.contains("trust"), "{e}");
    // Twin: the file as written is used again.
    std::fs::write(&file, &good).unwrap();
    Bus::new(config(&https.roots))
        .unwrap()
        .validate(&f.message())
        .unwrap();
}
