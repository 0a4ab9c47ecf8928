//! The Redis replay store against a real `redis-server` (Debian's package) that each test
//! starts on loopback in a throwaway directory and stops by PID: admitted then settled,
//! shared by two buses as two hosts would, persistence across a restart (AOF), and a
//! server that goes away and comes back (unavailable, never a verdict). Run by
//! `scripts/test-all` (`--ignored`); they fail, never skip, without `redis-server`.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use waxseal_message::replay::redis::RedisStore;
use waxseal_message::{Admission, ReplayError, ReplayStore};

/// A redis-server on 127.0.0.1, killed when dropped.
struct Server {
    child: Option<Child>,
    port: u16,
    dir: std::path::PathBuf,
}

impl Server {
    fn start(dir: &Path) -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut s = Self {
            child: None,
            port,
            dir: dir.to_path_buf(),
        };
        s.run();
        s
    }

    fn run(&mut self) {
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &self.port.to_string()])
            .arg("--dir")
            .arg(&self.dir)
            .args([
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--save",
                "",
            ])
            .args(["--daemonize", "no", "--protected-mode", "yes"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server (Debian's redis-server package) must be installed");
        self.child = Some(child);
        // Ready when it answers PING (it accepts connections before it has loaded its
        // append-only file, and answers LOADING meanwhile).
        let deadline = Instant::now() + Duration::from_secs(20);
        let client = redis::Client::open(self.url()).unwrap();
        loop {
            let pong = client
                .get_connection_with_timeout(Duration::from_secs(1))
                .and_then(|mut c| redis::cmd("PING").query::<String>(&mut c));
            if pong.as_deref() == Ok("PONG") {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "redis-server did not start: {pong:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            // SIGTERM: Redis flushes the append-only file and exits.
            let _ = Command::new("kill").arg(c.id().to_string()).status();
            let _ = c.wait();
        }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn key(i: u8) -> [u8; 32] {
    [i; 32]
}

fn now() -> u64 {
    waxseal_trust::time::now()
}

#[test]
#[ignore = "needs redis-server; run by scripts/test-all"]
fn two_hosts_sharing_redis_admit_once_and_settle_for_both() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let a = RedisStore::new(&server.url()).unwrap();
    let b = RedisStore::new(&server.url()).unwrap();
    let t = now();
    assert_eq!(a.admit(key(1), t + 600, t, false), Ok(Admission::New));
    // The copy on the other host: a replay.
    assert_eq!(
        b.admit(key(1), t + 600, t, false),
        Err(ReplayError::Replayed)
    );
    // The broker's redelivery there (a died before acknowledging): a duplicate.
    assert_eq!(b.admit(key(1), t + 600, t, true), Ok(Admission::Duplicate));
    // Settled (acknowledged) by b: from now on even a redelivery is a replay, on a too.
    b.settle(key(1), t).unwrap();
    assert_eq!(
        a.admit(key(1), t + 600, t, true),
        Err(ReplayError::Replayed)
    );
    // Settled together (one acknowledgement covering several deliveries, one round trip).
    for k in [4, 5] {
        assert_eq!(a.admit(key(k), t + 600, t, false), Ok(Admission::New));
    }
    b.settle_all(&[key(4), key(5)], t).unwrap();
    for k in [4, 5] {
        assert_eq!(
            a.admit(key(k), t + 600, t, true),
            Err(ReplayError::Replayed)
        );
    }
    // Another key is new; settling an unknown key is no error and creates nothing.
    assert_eq!(b.admit(key(2), t + 600, t, false), Ok(Admission::New));
    a.settle(key(3), t).unwrap();
    assert_eq!(a.admit(key(3), t + 600, t, true), Ok(Admission::New));
    assert!(
        a.describe().starts_with("redis 127.0.0.1:"),
        "{}",
        a.describe()
    );
}

#[test]
#[ignore = "needs redis-server; run by scripts/test-all"]
fn entries_live_for_the_window_only() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let a = RedisStore::new(&server.url()).unwrap();
    let t = now();
    // Expires one second from now (the smallest TTL): gone after it, so the key is new
    // again (the freshness check refuses such a message as too old by then anyway).
    assert_eq!(a.admit(key(1), t + 1, t, false), Ok(Admission::New));
    assert_eq!(a.admit(key(1), t + 1, t, false), Err(ReplayError::Replayed));
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match a.admit(key(1), t + 600, t, false) {
            Ok(Admission::New) => break,
            Err(ReplayError::Replayed) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(200))
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
#[ignore = "needs redis-server; run by scripts/test-all"]
fn a_restart_with_persistence_keeps_the_window_and_an_outage_is_unavailable() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start(dir.path());
    let store = Arc::new(RedisStore::new(&server.url()).unwrap());
    let t = now();
    assert_eq!(store.admit(key(1), t + 600, t, false), Ok(Admission::New));
    store.settle(key(1), t).unwrap();
    server.stop();
    // Down: neither admitted nor refused as a replay.
    assert_eq!(
        store.admit(key(2), t + 600, t, false),
        Err(ReplayError::Unavailable)
    );
    assert_eq!(
        store.admit(key(1), t + 600, t, false),
        Err(ReplayError::Unavailable)
    );
    assert!(store.last_error().is_some());
    server.run();
    // Back, with its append-only file: the settled key is still a replay, and the store
    // reconnects by itself.
    assert_eq!(
        store.admit(key(1), t + 600, t, true),
        Err(ReplayError::Replayed)
    );
    assert_eq!(store.admit(key(2), t + 600, t, false), Ok(Admission::New));
    assert!(store.last_error().is_none());
}

#[test]
#[ignore = "needs redis-server; run by scripts/test-all"]
fn a_batch_of_admissions_is_decided_as_one_by_one() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start(dir.path());
    let a = RedisStore::new(&server.url()).unwrap();
    let t = now();
    // Known before the batch: 1 admitted, 2 settled.
    assert_eq!(a.admit(key(1), t + 600, t, false), Ok(Admission::New));
    assert_eq!(a.admit(key(2), t + 600, t, false), Ok(Admission::New));
    a.settle(key(2), t).unwrap();
    let batch = [
        (key(1), t + 600, true),   // a redelivery of an admitted key: a duplicate
        (key(11), t + 600, false), // new
        (key(2), t + 600, true),   // a redelivery of a settled key: a replay
        (key(3), t, false),        // expired already: new, and not recorded
        (key(1), t + 600, false),  // a new copy of an admitted key: a replay
    ];
    assert_eq!(
        a.admit_all(&batch, t),
        vec![
            Ok(Admission::Duplicate),
            Ok(Admission::New),
            Err(ReplayError::Replayed),
            Ok(Admission::New),
            Err(ReplayError::Replayed),
        ],
        "a key twice in a batch: decided one by one, in order"
    );
    // Distinct keys: one round trip, the same answers as one by one.
    let batch = [
        (key(1), t + 600, true),
        (key(4), t + 600, false),
        (key(2), t + 600, true),
        (key(5), t, false),
    ];
    assert_eq!(
        a.admit_all(&batch, t),
        vec![
            Ok(Admission::Duplicate),
            Ok(Admission::New),
            Err(ReplayError::Replayed),
            Ok(Admission::New),
        ]
    );
    // What the batch admitted is known afterwards; the expired one was not recorded.
    assert_eq!(
        a.admit(key(4), t + 600, t, false),
        Err(ReplayError::Replayed)
    );
    assert_eq!(a.admit(key(5), t + 600, t, false), Ok(Admission::New));
    // The server gone: every answer is unavailable, none a verdict.
    server.stop();
    assert_eq!(
        a.admit_all(&[(key(6), t + 600, false), (key(7), t + 600, false)], t),
        vec![Err(ReplayError::Unavailable), Err(ReplayError::Unavailable)]
    );
}
