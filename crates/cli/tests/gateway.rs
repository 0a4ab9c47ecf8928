//! `waxseal gateway` against a real RabbitMQ broker. The tests need `AMQP_ADDR` (they fail
//! without it), so plain `cargo test` reports them as ignored; `scripts/test-all` starts a
//! throwaway broker and runs them with `--ignored`. Every test uses exchange and queue
//! names of its own, so they run side by side on one broker.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::ok;
use futures_lite::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, ConfirmSelectOptions,
    ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties, ExchangeKind};
use serde_json::{Value, json};
use waxseal_envelope::Signer;
use waxseal_trust::{Certificate, KeyFileCheck, PrivateKey};

const TOPIC: &str = "org.example.prod.bodhi.update.comment";

fn amqp_addr() -> String {
    std::env::var("AMQP_ADDR")
        .expect("AMQP_ADDR must name the test broker (scripts/test-all sets it)")
}

/// A PKI (`waxseal pki`), a bus configuration, and names of its own on the broker.
struct Fx {
    dir: tempfile::TempDir,
    name: String,
}

impl Fx {
    fn new(name: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let t = dir.path();
        ok(&common::run(t, &["pki", "init", "--dir", "pki"]));
        ok(&common::run(
            t,
            &[
                "pki",
                "issue",
                "--dir",
                "pki",
                "bodhi-app01.example.org",
                "fas-app02.example.org",
            ],
        ));
        // A second PKI nobody trusts, with CAs and a certificate of the same names:
        // forgeries (their certificates claim the trusted CA as issuer).
        ok(&common::run(t, &["pki", "init", "--dir", "rogue"]));
        ok(&common::run(
            t,
            &["pki", "issue", "--dir", "rogue", "bodhi-app01.example.org"],
        ));
        let fx = Self {
            dir,
            name: format!("gwtest.{name}.{}", std::process::id()),
        };
        fx.write_bus(&["bodhi-*"]);
        fx
    }

    fn p(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// bus.json letting `allowed` publish on the bodhi topics.
    fn write_bus(&self, allowed: &[&str]) {
        let bus = json!({
            "trust": ["pki/root-ca.crt"], "certs": ["pki/signing-ca.crt"], "crls": ["pki/crl.pem"],
            "routing_policy": {"org.example.prod.bodhi.#": allowed},
            "freshness": {"max_age_secs": 3600}
        });
        // Written aside and renamed: a reload never sees half a file.
        std::fs::write(self.p("bus.json.new"), bus.to_string()).unwrap();
        std::fs::rename(self.p("bus.json.new"), self.p("bus.json")).unwrap();
    }

    fn signer(&self, pki: &str, name: &str) -> Signer {
        let cert = std::fs::read(self.p(&format!("{pki}/{name}.crt"))).unwrap();
        let cert = Certificate::load_all(&cert).unwrap().remove(0);
        let key = PrivateKey::load(
            &self.p(&format!("{pki}/{name}.key")),
            KeyFileCheck::OwnerOnly,
        )
        .unwrap();
        Signer::new(cert, key).unwrap()
    }

    /// A fedmsg-style message on TOPIC signed by `pki`/`name`.
    fn signed(&self, pki: &str, name: &str, n: usize) -> Vec<u8> {
        let m = json!({"topic": TOPIC, "msg": {"n": n}});
        let signed = waxseal_message::sign(&m, &self.signer(pki, name)).unwrap();
        serde_json::to_vec(&signed).unwrap()
    }

    fn good(&self, n: usize) -> Vec<u8> {
        self.signed("pki", "bodhi-app01.example.org", n)
    }

    fn exchange(&self, what: &str) -> String {
        format!("{}.{what}", self.name)
    }

    /// Starts a gateway on this fixture's names, with `extra` options.
    fn gateway(&self, extra: &[&str]) -> Gateway {
        Gateway::start(self, extra)
    }
}

/// A running `waxseal gateway`; killed when dropped. Its JSON log lines are collected.
struct Gateway {
    child: Child,
    log: Arc<std::sync::Mutex<Vec<Value>>>,
}

impl Gateway {
    fn start(fx: &Fx, extra: &[&str]) -> Self {
        let amqp = match extra.iter().position(|a| *a == "--amqp") {
            Some(i) => extra[i + 1].to_string(),
            None => amqp_addr(),
        };
        let mut args: Vec<String> = [
            "gateway",
            "--amqp",
            &amqp,
            "--queue",
            &fx.exchange("in"),
            "--bus",
            "bus.json",
            "--input-exchange",
            &fx.exchange("pub"),
            "--verified-exchange",
            &fx.exchange("ok"),
            "--rejected-exchange",
            &fx.exchange("no"),
            "--metrics",
            "127.0.0.1:0",
            "--prefetch",
            "16",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        // By default the fixture's state directory, shared by its gateways (and their
        // default replay store, a journal in it).
        if !extra
            .iter()
            .any(|a| matches!(*a, "--state-dir" | "--replay-store" | "--replay-cache"))
        {
            args.extend(["--state-dir".to_string(), "state".to_string()]);
        }
        let mut rest = extra.iter();
        while let Some(a) = rest.next() {
            if *a == "--amqp" {
                rest.next();
            } else {
                args.push(a.to_string());
            }
        }
        let mut child = Command::new(env!("CARGO_BIN_EXE_waxseal"))
            .args(&args)
            .current_dir(fx.dir.path())
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let log = Arc::new(std::sync::Mutex::new(Vec::new()));
        let stderr = child.stderr.take().unwrap();
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if std::env::var_os("GW_DEBUG").is_some() {
                    eprintln!("GW: {line}");
                }
                let v: Value = serde_json::from_str(&line)
                    .unwrap_or_else(|_| panic!("a log line that is not JSON: {line}"));
                sink.lock().unwrap().push(v);
            }
        });
        let g = Self { child, log };
        g.wait_event("connected", 1);
        g
    }

    fn events(&self, event: &str) -> Vec<Value> {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|v| v["event"] == event)
            .cloned()
            .collect()
    }

    fn wait_event(&self, event: &str, n: usize) -> Vec<Value> {
        let start = Instant::now();
        loop {
            let e = self.events(event);
            if e.len() >= n {
                return e;
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "no {event} event; log: {:?}",
                self.log.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `/metrics` once it contains `line` (the gateway counts a verified message once the
    /// broker confirmed its copy, which may come after a consumer already got the copy),
    /// waiting up to 10 s; the last text seen otherwise.
    fn metrics_with(&self, line: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let m = self.metrics();
            if m.contains(line) || Instant::now() > deadline {
                return m;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `/metrics` as text.
    fn metrics(&self) -> String {
        use std::io::{Read, Write};
        let addr = self.wait_event("metrics", 1)[0]["address"]
            .as_str()
            .unwrap()
            .to_string();
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        assert!(out.starts_with("HTTP/1.1 200"), "{out}");
        out
    }

    fn signal(&self, sig: &str) {
        let st = Command::new("kill")
            .args([&format!("-{sig}"), &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(st.success());
    }

    /// Waits for the process to exit; its status code.
    fn wait_exit(&mut self, within: Duration) -> Option<i32> {
        let start = Instant::now();
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                return st.code();
            }
            assert!(start.elapsed() < within, "the gateway did not exit");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A message as it came out of the gateway.
#[derive(Debug, Clone)]
struct Out {
    verified: bool,
    message_id: String,
    headers: BTreeMap<String, String>,
    body: Vec<u8>,
}

/// The test's side of the broker: publishes to the input exchange, and collects what the
/// gateway republishes (queues bound to both exchanges, declared before anything is
/// published).
struct Client {
    _conn: Connection,
    channel: Channel,
    input: String,
    received: Arc<std::sync::Mutex<Vec<Out>>>,
}

impl Client {
    async fn new(fx: &Fx) -> Self {
        Self::on(fx, &amqp_addr()).await
    }

    /// A client on the broker at `url`.
    async fn on(fx: &Fx, url: &str) -> Self {
        let conn = Connection::connect(url, ConnectionProperties::default())
            .await
            .unwrap();
        let channel = conn.create_channel().await.unwrap();
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await
            .unwrap();
        let durable = ExchangeDeclareOptions {
            durable: true,
            ..Default::default()
        };
        for e in ["pub", "ok", "no"] {
            channel
                .exchange_declare(
                    fx.exchange(e).as_str().into(),
                    ExchangeKind::Topic,
                    durable,
                    FieldTable::default(),
                )
                .await
                .unwrap();
        }
        // The gateway's input queue, as the gateway declares it, so that messages
        // published before the gateway starts wait for it.
        let mut args = FieldTable::default();
        args.insert(
            "x-queue-type".into(),
            AMQPValue::LongString("quorum".into()),
        );
        channel
            .queue_declare(
                fx.exchange("in").as_str().into(),
                QueueDeclareOptions {
                    durable: true,
                    ..Default::default()
                },
                args,
            )
            .await
            .unwrap();
        channel
            .queue_bind(
                fx.exchange("in").as_str().into(),
                fx.exchange("pub").as_str().into(),
                "#".into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await
            .unwrap();
        let received = Arc::new(std::sync::Mutex::new(Vec::new()));
        for (e, verified) in [("ok", true), ("no", false)] {
            let q = fx.exchange(&format!("{e}.watch"));
            channel
                .queue_declare(
                    q.as_str().into(),
                    QueueDeclareOptions {
                        exclusive: true,
                        ..Default::default()
                    },
                    FieldTable::default(),
                )
                .await
                .unwrap();
            channel
                .queue_bind(
                    q.as_str().into(),
                    fx.exchange(e).as_str().into(),
                    "#".into(),
                    QueueBindOptions::default(),
                    FieldTable::default(),
                )
                .await
                .unwrap();
            let ch = conn.create_channel().await.unwrap();
            let mut consumer = ch
                .basic_consume(
                    q.as_str().into(),
                    "".into(),
                    BasicConsumeOptions::default(),
                    FieldTable::default(),
                )
                .await
                .unwrap();
            let sink = received.clone();
            tokio::spawn(async move {
                let _ch = ch;
                while let Some(Ok(d)) = consumer.next().await {
                    let mut headers = BTreeMap::new();
                    if let Some(h) = d.properties.headers() {
                        for (k, v) in h.inner() {
                            if let AMQPValue::LongString(s) = v {
                                headers.insert(
                                    k.as_str().to_string(),
                                    String::from_utf8_lossy(s.as_bytes()).into_owned(),
                                );
                            }
                        }
                    }
                    sink.lock().unwrap().push(Out {
                        verified,
                        message_id: d
                            .properties
                            .message_id()
                            .as_ref()
                            .map(|m| m.as_str().to_string())
                            .unwrap_or_default(),
                        headers,
                        body: d.data.clone(),
                    });
                    d.ack(BasicAckOptions::default()).await.unwrap();
                }
            });
        }
        Self {
            _conn: conn,
            channel,
            input: fx.exchange("pub"),
            received,
        }
    }

    /// Publishes `body` on `routing_key` with message id `id` and `headers`.
    async fn publish_with(&self, routing_key: &str, id: &str, body: &[u8], headers: FieldTable) {
        let props = BasicProperties::default()
            .with_message_id(id.into())
            .with_delivery_mode(2)
            .with_headers(headers);
        let c = self
            .channel
            .basic_publish(
                self.input.as_str().into(),
                routing_key.into(),
                BasicPublishOptions::default(),
                body,
                props,
            )
            .await
            .unwrap()
            .await
            .unwrap();
        assert!(c.is_ack());
    }

    async fn publish(&self, id: &str, body: &[u8]) {
        self.publish_with(TOPIC, id, body, FieldTable::default())
            .await
    }

    /// Waits until `n` messages came out (and a little longer, to see extra ones).
    async fn wait_for(&self, n: usize, within: Duration) -> Vec<Out> {
        let start = Instant::now();
        while self.received.lock().unwrap().len() < n {
            assert!(
                start.elapsed() < within,
                "{} of {n} messages came out: {:?}",
                self.received.lock().unwrap().len(),
                self.received
                    .lock()
                    .unwrap()
                    .iter()
                    .map(|o| (&o.message_id, o.verified, o.headers.get("x-waxseal-reason")))
                    .collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        self.received.lock().unwrap().clone()
    }

    fn count(&self) -> usize {
        self.received.lock().unwrap().len()
    }
}

/// Message id → what came out with it.
fn by_id(out: &[Out]) -> BTreeMap<String, Vec<Out>> {
    let mut m: BTreeMap<String, Vec<Out>> = BTreeMap::new();
    for o in out {
        m.entry(o.message_id.clone()).or_default().push(o.clone());
    }
    m
}

/// Waits until each of `m0`..`m{n-1}` came out verified at least once (failing after
/// `within`), then checks the extras: at most one verified copy of each is not flagged as a
/// redelivery, and every refused copy is a replay (a copy whose acknowledgement died with a
/// connection comes again: flagged, or refused as `replayed` once its first copy was
/// settled). None is lost.
async fn all_verified_extras_flagged_or_replayed(client: &Client, n: usize, within: Duration) {
    let start = Instant::now();
    loop {
        let ids = by_id(&client.received.lock().unwrap());
        let verified = (0..n)
            .filter(|i| {
                ids.get(&format!("m{i}"))
                    .is_some_and(|o| o.iter().any(|o| o.verified))
            })
            .count();
        if verified == n {
            break;
        }
        assert!(start.elapsed() < within, "{verified} of {n} verified");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let ids = by_id(&client.received.lock().unwrap());
    assert_eq!(ids.len(), n);
    for (id, o) in &ids {
        let plain = o
            .iter()
            .filter(|o| o.verified && !o.headers.contains_key("x-waxseal-redelivered"))
            .count();
        assert!(plain <= 1, "{id}: {o:?}");
        for extra in o.iter().filter(|o| !o.verified) {
            assert_eq!(reason(extra), "replayed", "{id}: {o:?}");
        }
    }
}

fn reason(o: &Out) -> &str {
    o.headers.get("x-waxseal-reason").map_or("", String::as_str)
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a RabbitMQ broker (AMQP_ADDR); run by scripts/test-all"]
async fn mixed_messages_each_on_the_right_exchange_with_the_right_reason() {
    let fx = Fx::new("mixed");
    let client = Client::new(&fx).await;
    let gw = fx.gateway(&["--verbose"]);
    let good = fx.good(1);
    let mut tampered: Value = serde_json::from_slice(&fx.good(2)).unwrap();
    tampered["msg"]["n"] = json!(3);
    let forged = fx.signed("rogue", "bodhi-app01.example.org", 4);
    let unauthorized = fx.signed("pki", "fas-app02.example.org", 5);
    // A publisher's own x-waxseal-* headers never come out.
    let mut lying = FieldTable::default();
    lying.insert(
        "x-waxseal-entity".into(),
        AMQPValue::LongString("bodhi-app01.example.org".into()),
    );
    client.publish_with(TOPIC, "good", &good, lying).await;
    client.publish("replayed", &good).await;
    client
        .publish("tampered", &serde_json::to_vec(&tampered).unwrap())
        .await;
    client.publish("forged", &forged).await;
    client.publish("unauthorized", &unauthorized).await;
    client
        .publish("malformed", b"{\"topic\": \"x\", \"topic\": 1")
        .await;
    client
        .publish_with(
            "org.example.prod.other",
            "misrouted",
            &fx.good(6),
            FieldTable::default(),
        )
        .await;
    let out = by_id(&client.wait_for(7, Duration::from_secs(60)).await);
    assert_eq!(out.len(), 7, "{out:?}");
    let g = &out["good"];
    assert_eq!(g.len(), 1);
    assert!(g[0].verified);
    assert_eq!(g[0].body, good, "the body is republished unchanged");
    assert_eq!(g[0].headers["x-waxseal-entity"], "bodhi-app01.example.org");
    assert_eq!(g[0].headers["x-waxseal-id"].len(), 64);
    assert!(!g[0].headers.contains_key("x-waxseal-reason"));
    for (id, code) in [
        ("replayed", "replayed"),
        ("tampered", "message-digest-mismatch"),
        ("forged", "bad-certificate-signature"),
        ("unauthorized", "routing-policy-denied"),
        ("malformed", "malformed-json"),
        ("misrouted", "topic-mismatch"),
    ] {
        let o = &out[id];
        assert_eq!(o.len(), 1, "{id}: {o:?}");
        assert!(!o[0].verified, "{id} was verified");
        assert_eq!(reason(&o[0]), code, "{id}");
        assert!(!o[0].headers.contains_key("x-waxseal-entity"), "{id}");
    }
    // Refusals are logged with --verbose, escaped; metrics count them by reason.
    assert_eq!(gw.events("refused").len(), 6);
    let m = gw.metrics();
    assert!(
        m.contains("waxseal_gateway_messages_received_total 7"),
        "{m}"
    );
    assert!(
        m.contains("waxseal_gateway_messages_verified_total 1"),
        "{m}"
    );
    assert!(
        m.contains("waxseal_gateway_messages_refused_total{reason=\"replayed\"} 1"),
        "{m}"
    );
    assert!(
        m.contains("waxseal_gateway_republish_latency_seconds_count 7"),
        "{m}"
    );
    // The bus's verification cache: the good message's path was built (a miss) and kept.
    let gauge = |name: &str| -> i64 {
        m.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or_else(|| panic!("{name} missing from {m}"))
    };
    assert!(gauge("waxseal_gateway_cache_path_misses") >= 1, "{m}");
    assert!(gauge("waxseal_gateway_cache_entries") >= 1, "{m}");
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a RabbitMQ broker (AMQP_ADDR); run by scripts/test-all"]
async fn sigkill_mid_stream_loses_nothing_and_sigterm_drains() {
    const N: usize = 300;
    let fx = Fx::new("kill");
    let client = Client::new(&fx).await;
    let bodies: Vec<Vec<u8>> = (0..N).map(|n| fx.good(n)).collect();
    for (n, b) in bodies.iter().enumerate() {
        client.publish(&format!("m{n}"), b).await;
    }
    // SIGKILL twice mid-stream, then a gateway that is left to finish.
    for _ in 0..2 {
        let gw = fx.gateway(&[]);
        let before = client.count();
        let start = Instant::now();
        while client.count() < before + 20 {
            assert!(start.elapsed() < Duration::from_secs(60), "no progress");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        gw.signal("KILL");
        drop(gw);
    }
    let mut gw = fx.gateway(&[]);
    let out = client.wait_for(N, Duration::from_secs(120)).await;
    let ids = by_id(&out);
    for n in 0..N {
        let o = ids
            .get(&format!("m{n}"))
            .unwrap_or_else(|| panic!("m{n} was lost"));
        // Every copy out is verified: a redelivery is not taken for a replay.
        assert!(o.iter().all(|o| o.verified), "m{n}: {o:?}");
        // Duplicates carry one deduplication id.
        assert!(
            o.iter()
                .all(|x| x.headers["x-waxseal-id"] == o[0].headers["x-waxseal-id"])
        );
    }
    assert_eq!(ids.len(), N);

    // SIGTERM drains: what was delivered is finished, the process exits 0, and nothing is
    // lost or duplicated across the stop.
    let before = client.count();
    for n in N..N + 200 {
        client.publish(&format!("m{n}"), &fx.good(n)).await;
    }
    while client.count() < before + 10 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    gw.signal("TERM");
    assert_eq!(gw.wait_exit(Duration::from_secs(30)), Some(0));
    assert_eq!(gw.events("draining").len(), 1);
    assert_eq!(gw.events("stopped").len(), 1);
    let drained = client.count();
    // What remains is handled by the next gateway, once.
    let _gw = fx.gateway(&[]);
    let out = client
        .wait_for(before + 200, Duration::from_secs(120))
        .await;
    let ids = by_id(&out[before..]);
    assert_eq!(ids.len(), 200, "every message after the stop came out");
    assert!(
        ids.values().all(|o| o.len() == 1),
        "a drained stop duplicates nothing ({} before the stop)",
        drained - before
    );
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a RabbitMQ broker (AMQP_ADDR); run by scripts/test-all"]
async fn two_gateways_share_a_queue_and_a_split_replay_is_refused_once() {
    const N: usize = 150;
    let fx = Fx::new("share");
    let client = Client::new(&fx).await;
    let a = fx.gateway(&[]);
    let b = fx.gateway(&[]);
    // Each message twice, the copies back to back: with two consumers on one queue they
    // mostly reach different processes.
    for n in 0..N {
        let body = fx.good(n);
        client.publish(&format!("m{n}"), &body).await;
        client.publish(&format!("m{n}"), &body).await;
    }
    let out = client.wait_for(2 * N, Duration::from_secs(120)).await;
    assert_eq!(out.len(), 2 * N);
    for (id, o) in by_id(&out) {
        let verified = o.iter().filter(|o| o.verified).count();
        let replayed = o.iter().filter(|o| reason(o) == "replayed").count();
        assert_eq!((verified, replayed), (1, 1), "{id}: {o:?}");
    }
    // Both processes did part of the work.
    for gw in [&a, &b] {
        let m = gw.metrics();
        let received: usize = m
            .lines()
            .find_map(|l| l.strip_prefix("waxseal_gateway_messages_received_total "))
            .unwrap()
            .parse()
            .unwrap();
        assert!(received > 0 && received < 2 * N, "{received}");
    }
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a RabbitMQ broker (AMQP_ADDR); run by scripts/test-all"]
async fn sighup_and_file_changes_reload_the_bus() {
    let fx = Fx::new("reload");
    let client = Client::new(&fx).await;
    let gw = fx.gateway(&["--watch-ms", "0"]);
    client.publish("before", &fx.good(1)).await;
    let after_revocation = fx.good(2);
    // A revocation: a new CRL, picked up by SIGHUP at the latest.
    ok(&common::run(
        fx.dir.path(),
        &["pki", "revoke", "--dir", "pki", "bodhi-app01.example.org"],
    ));
    gw.signal("HUP");
    gw.wait_event("reloaded", 1);
    client.publish("revoked", &after_revocation).await;
    let out = by_id(&client.wait_for(2, Duration::from_secs(60)).await);
    assert!(out["before"][0].verified);
    assert_eq!(reason(&out["revoked"][0]), "revoked");
    // fas may publish once bus.json says so: not before SIGHUP (--watch-ms 0), then yes.
    fx.write_bus(&["fas-*"]);
    client
        .publish("fas-before", &fx.signed("pki", "fas-app02.example.org", 3))
        .await;
    client.wait_for(3, Duration::from_secs(60)).await;
    gw.signal("HUP");
    gw.wait_event("reloaded", 2);
    client
        .publish("fas-after", &fx.signed("pki", "fas-app02.example.org", 4))
        .await;
    let out = by_id(&client.wait_for(4, Duration::from_secs(60)).await);
    assert_eq!(reason(&out["fas-before"][0]), "routing-policy-denied");
    assert!(out["fas-after"][0].verified);
    drop(gw);

    // With --watch-ms, a changed file reloads on its own.
    let gw = fx.gateway(&["--watch-ms", "100"]);
    fx.write_bus(&["nobody-*"]);
    gw.wait_event("reloaded", 1);
    assert_eq!(gw.events("reloaded")[0]["trigger"], "file-changed");
    client
        .publish("fas-denied", &fx.signed("pki", "fas-app02.example.org", 5))
        .await;
    let out = by_id(&client.wait_for(5, Duration::from_secs(60)).await);
    assert_eq!(reason(&out["fas-denied"][0]), "routing-policy-denied");
    // A configuration that does not load keeps the previous bus.
    std::fs::write(fx.p("bus.json"), "{not json").unwrap();
    let start = Instant::now();
    while gw.events("reload-failed").is_empty() {
        assert!(start.elapsed() < Duration::from_secs(30));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    client
        .publish("still", &fx.signed("pki", "fas-app02.example.org", 6))
        .await;
    let out = by_id(&client.wait_for(6, Duration::from_secs(60)).await);
    assert_eq!(reason(&out["still"][0]), "routing-policy-denied");
}

/// A TCP proxy in front of the broker that can drop every connection and refuse new ones
/// for a while: a broker restart as the gateway sees it, without restarting the broker
/// the other tests use.
struct Proxy {
    port: u16,
    down: Arc<AtomicBool>,
    generation: Arc<std::sync::atomic::AtomicUsize>,
}

impl Proxy {
    async fn start() -> Self {
        let upstream = amqp_addr()
            .split('@')
            .nth(1)
            .unwrap()
            .split('/')
            .next()
            .unwrap()
            .to_string();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let down = Arc::new(AtomicBool::new(false));
        let generation = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (d, g) = (down.clone(), generation.clone());
        tokio::spawn(async move {
            loop {
                let (mut inbound, _) = listener.accept().await.unwrap();
                if d.load(Ordering::SeqCst) {
                    continue; // dropped: connection refused, as it were
                }
                let upstream = upstream.clone();
                let g = g.clone();
                let mine = g.load(Ordering::SeqCst);
                tokio::spawn(async move {
                    let mut out = tokio::net::TcpStream::connect(upstream).await.unwrap();
                    let copy = tokio::io::copy_bidirectional(&mut inbound, &mut out);
                    let cut = async {
                        while g.load(Ordering::SeqCst) == mine {
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                    };
                    tokio::select! { _ = copy => {}, _ = cut => {} }
                });
            }
        });
        Self {
            port,
            down,
            generation,
        }
    }

    fn url(&self) -> String {
        let a = amqp_addr();
        let (creds, rest) = a.split_once('@').unwrap();
        let vhost = rest.split_once('/').map_or("", |(_, v)| v);
        format!("{creds}@127.0.0.1:{}/{vhost}", self.port)
    }

    /// Drops every connection and refuses new ones for `for_`.
    async fn outage(&self, for_: Duration) {
        self.down.store(true, Ordering::SeqCst);
        self.generation.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(for_).await;
        self.down.store(false, Ordering::SeqCst);
    }
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a RabbitMQ broker (AMQP_ADDR); run by scripts/test-all"]
async fn a_dropped_connection_and_a_broker_outage_are_survived() {
    const N: usize = 100;
    let fx = Fx::new("outage");
    let client = Client::new(&fx).await;
    let proxy = Proxy::start().await;
    let url = proxy.url();
    let gw = fx.gateway(&["--amqp", &url]);
    for n in 0..N {
        client.publish(&format!("m{n}"), &fx.good(n)).await;
        if n == 30 {
            // A dropped connection: reconnects at once.
            proxy.outage(Duration::from_millis(0)).await;
        }
        if n == 60 {
            // The broker unreachable for 2 s: retried with backoff until it is back.
            proxy.outage(Duration::from_secs(2)).await;
        }
    }
    all_verified_extras_flagged_or_replayed(&client, N, Duration::from_secs(120)).await;
    // At least one disconnection noticed and survived (the two outages may fall into one:
    // a connection that died without a word is noticed by a probe or a bounded
    // acknowledgement, a few seconds later).
    assert!(
        !gw.events("disconnected").is_empty(),
        "{:?}",
        gw.events("disconnected")
    );
    assert!(gw.events("connected").len() >= 2);
    let m = gw.metrics();
    assert!(!m.contains("waxseal_gateway_reconnects_total 0"), "{m}");
    assert!(m.contains("waxseal_gateway_connected 1"), "{m}");
}

#[test]
fn options_are_checked_before_connecting() {
    let fx = tempfile::tempdir().unwrap();
    let o = common::run(
        fx.path(),
        &[
            "gateway",
            "--amqp",
            "amqp://127.0.0.1:1",
            "--queue",
            "q",
            "--verified-exchange",
            "v",
            "--rejected-exchange",
            "r",
        ],
    );
    assert_eq!(common::code(&o), 2);
    assert!(
        common::stderr(&o).contains("--bus is required"),
        "{}",
        common::stderr(&o)
    );
    // The replay store: a setting that is not one, two names for it, a state directory
    // that cannot be made; each refused before connecting.
    std::fs::write(fx.path().join("bus.json"), "{}").unwrap();
    std::fs::write(fx.path().join("not-a-dir"), "").unwrap();
    let base = [
        "gateway",
        "--amqp",
        "amqp://127.0.0.1:1",
        "--queue",
        "q",
        "--bus",
        "bus.json",
        "--verified-exchange",
        "v",
        "--rejected-exchange",
        "r",
    ];
    for (extra, want) in [
        (&["--replay-store", "memcached://x"][..], "--replay-store"),
        (
            &["--replay-store", "memory", "--replay-cache", "x"][..],
            "--replay-cache",
        ),
        (&["--state-dir", "not-a-dir/sub"][..], "--state-dir"),
    ] {
        let args: Vec<&str> = base.iter().chain(extra).copied().collect();
        let o = common::run(fx.path(), &args);
        assert_eq!(common::code(&o), 2, "{extra:?}");
        assert!(common::stderr(&o).contains(want), "{}", common::stderr(&o));
    }
    std::fs::write(fx.path().join("gw.json"), r#"{"queue": "q", "prefech": 1}"#).unwrap();
    let o = common::run(fx.path(), &["gateway", "--config", "gw.json"]);
    assert_eq!(common::code(&o), 2);
    assert!(
        common::stderr(&o).contains("prefech"),
        "{}",
        common::stderr(&o)
    );
}

/// `rabbitmqctl` for the test broker (`scripts/broker.sh` names it in WAXSEAL_RABBITMQCTL).
fn rabbitmqctl(args: &[&str]) -> String {
    let ctl = std::env::var("WAXSEAL_RABBITMQCTL").expect(
        "WAXSEAL_RABBITMQCTL must name rabbitmqctl for the test broker (scripts/broker.sh sets it)",
    );
    let o = Command::new(ctl).args(args).output().unwrap();
    assert!(o.status.success(), "rabbitmqctl {args:?}: {o:?}");
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A broker user of its own with every permission on the default vhost; its AMQP URL.
fn broker_user(name: &str) -> String {
    let user = format!("{name}-{}", std::process::id());
    let _ = Command::new(std::env::var("WAXSEAL_RABBITMQCTL").unwrap_or_default())
        .args(["delete_user", &user])
        .output();
    rabbitmqctl(&["add_user", &user, "secret"]);
    rabbitmqctl(&["set_permissions", "-p", "/", &user, ".*", ".*", ".*"]);
    let a = amqp_addr();
    let rest = a.split_once('@').unwrap().1;
    format!("amqp://{user}:secret@{rest}")
}

/// Declares a queue bound to `exchange` with `key`, emptied by the test with basic.get.
async fn bound_queue(channel: &Channel, queue: &str, exchange: &str, key: &str) {
    channel
        .queue_declare(
            queue.into(),
            QueueDeclareOptions {
                exclusive: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .unwrap();
    channel
        .queue_bind(
            queue.into(),
            exchange.into(),
            key.into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
}

/// Waits for one message on `queue` (basic.get); its properties and body.
async fn get_one(channel: &Channel, queue: &str) -> (BasicProperties, Vec<u8>) {
    let start = Instant::now();
    loop {
        if let Some(m) = channel
            .basic_get(
                queue.into(),
                lapin::options::BasicGetOptions { no_ack: true },
            )
            .await
            .unwrap()
        {
            return (m.delivery.properties.clone(), m.delivery.data.clone());
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "nothing on {queue}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn is_empty(channel: &Channel, queue: &str) -> bool {
    channel
        .basic_get(
            queue.into(),
            lapin::options::BasicGetOptions { no_ack: true },
        )
        .await
        .unwrap()
        .is_none()
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a RabbitMQ broker (AMQP_ADDR) and WAXSEAL_RABBITMQCTL; run by scripts/test-all"]
async fn cc_bcc_user_id_and_publisher_headers_are_not_passed_on() {
    let fx = Fx::new("cc");
    let client = Client::new(&fx).await;
    let ch = &client.channel;
    let own = fx.exchange("own");
    let cc = fx.exchange("cc");
    let bcc = fx.exchange("bcc");
    let ok = fx.exchange("ok");
    bound_queue(ch, &own, &ok, TOPIC).await;
    bound_queue(ch, &cc, &ok, "org.example.prod.bodhi.cc").await;
    bound_queue(ch, &bcc, &ok, "org.example.prod.bodhi.bcc").await;
    let gw = fx.gateway(&[]);

    // A publisher with a broker user of its own sets user_id to it (the broker checks
    // that on the way in), CC and BCC, and properties the gateway does not pass on.
    let url = broker_user("gwtest-publisher");
    let user = url
        .strip_prefix("amqp://")
        .unwrap()
        .split(':')
        .next()
        .unwrap()
        .to_string();
    let conn = Connection::connect(&url, ConnectionProperties::default())
        .await
        .unwrap();
    let publisher = conn.create_channel().await.unwrap();
    publisher
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .unwrap();
    let mut headers = FieldTable::default();
    headers.insert(
        "CC".into(),
        AMQPValue::FieldArray(
            vec![AMQPValue::LongString("org.example.prod.bodhi.cc".into())].into(),
        ),
    );
    headers.insert(
        "BCC".into(),
        AMQPValue::FieldArray(
            vec![AMQPValue::LongString("org.example.prod.bodhi.bcc".into())].into(),
        ),
    );
    headers.insert("x-app".into(), AMQPValue::LongString("believe me".into()));
    let props = BasicProperties::default()
        .with_message_id("sneaky".into())
        .with_user_id(user.as_str().into())
        .with_expiration("600000".into())
        .with_reply_to("attacker.replies".into())
        .with_priority(9)
        .with_headers(headers);
    let publish = |body: Vec<u8>, props: BasicProperties| {
        let publisher = publisher.clone();
        let exchange = fx.exchange("pub");
        async move {
            publisher
                .basic_publish(
                    exchange.as_str().into(),
                    TOPIC.into(),
                    BasicPublishOptions::default(),
                    &body,
                    props,
                )
                .await
                .unwrap()
                .await
                .unwrap()
        }
    };
    let refused = fx.exchange("refused");
    bound_queue(ch, &refused, &fx.exchange("no"), "#").await;
    let c = publish(fx.good(1), props.clone()).await;
    assert!(c.is_ack(), "the broker took the publisher's own user_id");
    // Sender-selected routing: its routing key does not say which binding brought it, so
    // it is refused (to the rejected exchange), and that copy is routed once too.
    let (p, _) = get_one(ch, &refused).await;
    assert_eq!(p.message_id().as_ref().unwrap().as_str(), "sneaky");
    let h = p.headers().as_ref().unwrap().inner();
    assert_eq!(
        h.get("x-waxseal-reason"),
        Some(&AMQPValue::LongString("sender-routed".into()))
    );
    assert!(!h.contains_key("CC") && !h.contains_key("BCC"), "{h:?}");
    assert!(is_empty(ch, &own).await, "a CC'd message verified");
    assert!(is_empty(ch, &cc).await, "CC routed a copy");
    assert!(is_empty(ch, &bcc).await, "BCC routed a copy");

    // Without CC and BCC it is verified; nothing else the publisher set is passed on.
    let mut headers = FieldTable::default();
    headers.insert("x-app".into(), AMQPValue::LongString("believe me".into()));
    let c = publish(fx.good(2), props.with_headers(headers)).await;
    assert!(c.is_ack());
    let (p, _) = get_one(ch, &own).await;
    assert_eq!(p.message_id().as_ref().unwrap().as_str(), "sneaky");
    assert_eq!(*p.user_id(), None);
    assert_eq!(*p.expiration(), None);
    assert_eq!(*p.reply_to(), None);
    assert_eq!(*p.priority(), None);
    let h = p.headers().as_ref().unwrap().inner();
    let mut keys: Vec<&str> = h.keys().map(|k| k.as_str()).collect();
    keys.sort();
    assert_eq!(keys, ["x-waxseal-entity", "x-waxseal-id"]);

    // The positive twin: the allowed properties come through intact.
    let props = BasicProperties::default()
        .with_message_id("plain".into())
        .with_content_type("application/json".into())
        .with_content_encoding("utf-8".into())
        .with_correlation_id("corr-1".into())
        .with_timestamp(1_700_000_000)
        .with_type("bodhi.update".into())
        .with_app_id("bodhi".into());
    let c = publish(fx.good(3), props).await;
    assert!(c.is_ack());
    let (p, _) = get_one(ch, &own).await;
    assert_eq!(p.message_id().as_ref().unwrap().as_str(), "plain");
    assert_eq!(
        p.content_type().as_ref().unwrap().as_str(),
        "application/json"
    );
    assert_eq!(p.content_encoding().as_ref().unwrap().as_str(), "utf-8");
    assert_eq!(p.correlation_id().as_ref().unwrap().as_str(), "corr-1");
    assert_eq!(*p.timestamp(), Some(1_700_000_000));
    assert_eq!(p.kind().as_ref().unwrap().as_str(), "bodhi.update");
    assert_eq!(p.app_id().as_ref().unwrap().as_str(), "bodhi");
    assert_eq!(*p.delivery_mode(), Some(2));
    // Neither message tore the session down (user_id used to close the channel).
    assert!(
        gw.events("disconnected").is_empty(),
        "{:?}",
        gw.events("disconnected")
    );
    let m = gw.metrics();
    assert!(
        m.contains("waxseal_gateway_messages_verified_total 2"),
        "{m}"
    );
    let _ = rabbitmqctl(&["delete_user", &user]);
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a RabbitMQ broker (AMQP_ADDR); run by scripts/test-all"]
async fn an_unroutable_verified_message_is_counted_and_refused_as_unroutable() {
    let fx = Fx::new("unroutable");
    let client = Client::new(&fx).await;
    let ch = &client.channel;
    // The test's own watch queue on the verified exchange takes every key; unbind it so
    // that no queue is bound for the first message's key, then bind one for the second.
    ch.queue_unbind(
        fx.exchange("ok.watch").as_str().into(),
        fx.exchange("ok").as_str().into(),
        "#".into(),
        FieldTable::default(),
    )
    .await
    .unwrap();
    let gw = fx.gateway(&[]);
    client.publish("nobody", &fx.good(1)).await;
    let out = by_id(&client.wait_for(1, Duration::from_secs(60)).await);
    let o = &out["nobody"];
    assert_eq!(o.len(), 1);
    assert!(!o[0].verified, "{o:?}");
    assert_eq!(reason(&o[0]), "unroutable");
    assert_eq!(o[0].headers["x-waxseal-id"].len(), 64);
    assert_eq!(gw.events("unroutable").len(), 1);
    let m = gw.metrics();
    assert!(
        m.contains("waxseal_gateway_messages_unroutable_total 1"),
        "{m}"
    );
    assert!(
        m.contains("waxseal_gateway_messages_verified_total 0"),
        "{m}"
    );
    // The twin: with a queue bound for its key, a verified message is verified.
    let own = fx.exchange("own");
    bound_queue(ch, &own, &fx.exchange("ok"), TOPIC).await;
    client.publish("somebody", &fx.good(2)).await;
    let (p, _) = get_one(ch, &own).await;
    assert_eq!(p.message_id().as_ref().unwrap().as_str(), "somebody");
    let m = gw.metrics_with("waxseal_gateway_messages_verified_total 1");
    assert!(
        m.contains("waxseal_gateway_messages_unroutable_total 1"),
        "{m}"
    );
    assert!(
        m.contains("waxseal_gateway_messages_verified_total 1"),
        "{m}"
    );
}

#[test]
fn a_bus_without_validation_is_refused_at_start() {
    let fx = tempfile::tempdir().unwrap();
    std::fs::write(
        fx.path().join("bus.json"),
        r#"{"validate_signatures": false}"#,
    )
    .unwrap();
    let args = [
        "gateway",
        "--amqp",
        "amqp://127.0.0.1:1",
        "--queue",
        "q",
        "--bus",
        "bus.json",
        "--verified-exchange",
        "v",
        "--rejected-exchange",
        "r",
    ];
    let o = common::run(fx.path(), &args);
    assert_eq!(common::code(&o), 2);
    let err = common::stderr(&o);
    assert!(err.contains("validate_signatures"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a RabbitMQ broker (AMQP_ADDR); run by scripts/test-all"]
async fn a_reload_to_a_bus_without_validation_keeps_the_old_bus() {
    let fx = Fx::new("novalidate");
    let client = Client::new(&fx).await;
    let gw = fx.gateway(&["--watch-ms", "0"]);
    std::fs::write(fx.p("bus.json"), r#"{"validate_signatures": false}"#).unwrap();
    gw.signal("HUP");
    let failed = gw.wait_event("reload-failed", 1);
    assert!(
        failed[0]["error"]
            .as_str()
            .unwrap()
            .contains("validate_signatures"),
        "{failed:?}"
    );
    assert!(gw.events("reloaded").is_empty());
    // The old bus still validates: a forgery is refused, a good message verified.
    client
        .publish("forged", &fx.signed("rogue", "bodhi-app01.example.org", 1))
        .await;
    client.publish("good", &fx.good(2)).await;
    let out = by_id(&client.wait_for(2, Duration::from_secs(60)).await);
    assert_eq!(reason(&out["forged"][0]), "bad-certificate-signature");
    assert!(out["good"][0].verified);
    assert!(
        gw.metrics()
            .contains("waxseal_gateway_reloads_total{result=\"error\"} 1")
    );
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a RabbitMQ broker (AMQP_ADDR); run by scripts/test-all"]
async fn the_metrics_server_closes_slow_and_excess_connections_and_keeps_answering() {
    use std::io::{Read, Write};
    let fx = Fx::new("http");
    let _client = Client::new(&fx).await;
    let gw = fx.gateway(&[]);
    let addr = gw.wait_event("metrics", 1)[0]["address"]
        .as_str()
        .unwrap()
        .to_string();
    let get = |path: &str| -> Option<String> {
        let mut s = std::net::TcpStream::connect(&addr).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        s.write_all(
            format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .ok()?;
        let mut out = String::new();
        s.read_to_string(&mut out).ok()?;
        (!out.is_empty()).then_some(out)
    };
    // A slowloris: headers begun, never finished.
    let mut slow = std::net::TcpStream::connect(&addr).unwrap();
    slow.set_read_timeout(Some(Duration::from_secs(120)))
        .unwrap();
    slow.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    // Meanwhile /metrics answers.
    assert!(get("/metrics").unwrap().starts_with("HTTP/1.1 200"));
    // The server closes the slow connection (end of stream, or an error answer).
    let mut buf = Vec::new();
    let r = slow.read_to_end(&mut buf);
    assert!(r.is_ok(), "the slow connection was not closed: {r:?}");
    assert!(!String::from_utf8_lossy(&buf).contains("200 OK"));

    // More idle connections than the limit: the excess is closed unanswered at once, and
    // once the idle ones are closed too, /healthz answers again.
    let idle: Vec<std::net::TcpStream> = (0..80)
        .map(|_| std::net::TcpStream::connect(&addr).unwrap())
        .collect();
    // (`idle` stays open until the end of the test: the first ones hold every slot.)
    let mut excess = idle.last().unwrap().try_clone().unwrap();
    excess
        .set_read_timeout(Some(Duration::from_secs(120)))
        .unwrap();
    let mut buf = Vec::new();
    assert!(excess.read_to_end(&mut buf).is_ok() && buf.is_empty());
    let start = Instant::now();
    loop {
        if let Some(out) = get("/healthz") {
            assert!(out.starts_with("HTTP/1.1 200"), "{out}");
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "/healthz never answered"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    drop(idle);
}

/// Sets the broker's `max_message_size` (read by each channel as it opens) and puts the
/// default back when dropped.
struct MaxMessageSize;

impl MaxMessageSize {
    fn set(bytes: usize) -> Self {
        rabbitmqctl(&[
            "eval",
            &format!("application:set_env(rabbit, max_message_size, {bytes})."),
        ]);
        Self
    }
}

impl Drop for MaxMessageSize {
    fn drop(&mut self) {
        let _ = Command::new(std::env::var("WAXSEAL_RABBITMQCTL").unwrap_or_default())
            .args([
                "eval",
                "application:set_env(rabbit, max_message_size, 134217728).",
            ])
            .output();
    }
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a RabbitMQ broker (AMQP_ADDR) and WAXSEAL_RABBITMQCTL; run by scripts/test-all"]
async fn a_copy_the_broker_refuses_is_republish_refused_and_the_stream_goes_on() {
    const N: usize = 30;
    let fx = Fx::new("refused");
    let client = Client::new(&fx).await;
    // A large oslo envelope: countersigned by the gateway it grows past the broker's
    // limit for the gateway's channels, while it fits as it came.
    let route = waxseal_message::Route::topic(TOPIC);
    let origin =
        waxseal_message::oslo::route_signer(fx.signer("pki", "bodhi-app01.example.org"), &route)
            .unwrap();
    let pad = "x".repeat(20_000);
    let env = waxseal_message::oslo::wrap(&json!({"method": "big", "args": {"pad": pad}})).unwrap();
    let big = serde_json::to_vec(&waxseal_message::oslo::sign(&env, &origin).unwrap()).unwrap();
    // Published before the limit (the test's channel opened before it), among others.
    for n in 0..N {
        if n == N / 2 {
            client.publish("big", &big).await;
        }
        client.publish(&format!("m{n}"), &fx.good(n)).await;
    }
    let _limit = MaxMessageSize::set(big.len() + 200);
    let gw = fx.gateway(&[
        "--countersign",
        "--cert",
        "pki/fas-app02.example.org.crt",
        "--key",
        "pki/fas-app02.example.org.key",
    ]);
    let out = by_id(&client.wait_for(N + 1, Duration::from_secs(120)).await);
    // Nothing lost: every other message verified.
    for n in 0..N {
        let o = &out[&format!("m{n}")];
        assert!(o.iter().all(|o| o.verified), "m{n}: {o:?}");
    }
    let b = &out["big"];
    assert!(b.iter().all(|o| !o.verified), "{b:?}");
    assert_eq!(reason(&b[0]), "republish-refused");
    assert_eq!(b[0].body, big, "the body as it came");
    assert_eq!(b[0].headers.len(), 2, "{:?}", b[0].headers);
    assert!(!gw.events("republish-refused").is_empty());
    // The session was not torn down for it.
    assert!(
        gw.events("disconnected").is_empty(),
        "{:?}",
        gw.events("disconnected")
    );
    let m = gw.metrics();
    assert!(m.contains("waxseal_gateway_reconnects_total 0"), "{m}");
    assert!(
        m.contains("waxseal_gateway_messages_refused_total{reason=\"republish-refused\"} 1"),
        "{m}"
    );
}

/// A CRL distribution point on 127.0.0.1: `503` until `up` is set, then `crl`.
async fn crl_server(crl: Vec<u8>, up: Arc<AtomicBool>) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = listener.accept().await else {
                continue;
            };
            let crl = crl.clone();
            let up = up.load(Ordering::SeqCst);
            tokio::spawn(async move {
                let mut req = Vec::new();
                let mut buf = [0u8; 1024];
                while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => req.extend_from_slice(&buf[..n]),
                    }
                }
                let (status, body) = if up {
                    ("200 OK", crl)
                } else {
                    ("503 Service Unavailable", Vec::new())
                };
                let head = format!(
                    "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = s.write_all(head.as_bytes()).await;
                let _ = s.write_all(&body).await;
            });
        }
    });
    port
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a RabbitMQ broker (AMQP_ADDR); run by scripts/test-all"]
async fn a_message_that_cannot_be_decided_yet_is_requeued_then_verified() {
    let fx = Fx::new("transient");
    let client = Client::new(&fx).await;
    let up = Arc::new(AtomicBool::new(false));
    let port = crl_server(std::fs::read(fx.p("pki/crl.pem")).unwrap(), up.clone()).await;
    let bus = json!({
        "trust": ["pki/root-ca.crt"], "certs": ["pki/signing-ca.crt"],
        "crls": [format!("http://127.0.0.1:{port}/crl.pem")],
        "fetch": {"crl_cache_expiry_secs": 0, "timeout_ms": 2000},
        "routing_policy": {"org.example.prod.bodhi.#": ["bodhi-*"]},
        "freshness": {"max_age_secs": 3600}
    });
    std::fs::write(fx.p("bus.json"), bus.to_string()).unwrap();
    let gw = fx.gateway(&["--watch-ms", "100"]);
    client.publish("later", &fx.good(1)).await;
    // The CRL server is down: not refused, requeued (again and again, with a delay).
    let requeued = gw.wait_event("requeued", 3);
    assert!(
        requeued.iter().all(|e| e["reason"] == "crl-unavailable"),
        "{requeued:?}"
    );
    assert_eq!(client.count(), 0, "nothing published while undecided");
    let m = gw.metrics();
    assert!(
        m.contains("waxseal_gateway_messages_requeued_total{reason=\"crl-unavailable\"}"),
        "{m}"
    );
    assert!(
        !m.contains("waxseal_gateway_messages_refused_total{reason=\"crl-unavailable\"}"),
        "{m}"
    );
    // The server is back: the message is verified, once.
    up.store(true, Ordering::SeqCst);
    let out = by_id(&client.wait_for(1, Duration::from_secs(60)).await);
    assert_eq!(out["later"].len(), 1);
    assert!(out["later"][0].verified, "{:?}", out["later"]);
}

/// The value of the metric line starting with `name` (a counter with its labels), 0 if
/// absent.
fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0.0)
}

/// A redis-server (Debian's package) on 127.0.0.1 with a throwaway directory and
/// append-only persistence; stopped by PID (SIGTERM) when dropped.
struct Redis {
    child: Option<Child>,
    port: u16,
    dir: tempfile::TempDir,
}

impl Redis {
    fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut r = Self {
            child: None,
            port,
            dir: tempfile::tempdir().unwrap(),
        };
        r.run();
        r
    }

    /// Starts the server (again, on the same port and directory).
    fn run(&mut self) {
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &self.port.to_string()])
            .arg("--dir")
            .arg(self.dir.path())
            .args(["--appendonly", "yes", "--appendfsync", "always"])
            .args(["--save", "", "--daemonize", "no", "--protected-mode", "yes"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server (Debian's redis-server package) must be installed");
        self.child = Some(child);
        let start = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "redis-server did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops it by PID (SIGTERM: it writes its append-only file and exits).
    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill").arg(c.id().to_string()).status();
            let _ = c.wait();
        }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.stop();
    }
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a RabbitMQ broker (AMQP_ADDR) and redis-server; run by scripts/test-all"]
async fn two_gateways_sharing_only_redis_refuse_a_split_replay_once() {
    const N: usize = 60;
    let redis = Redis::start();
    let url = redis.url();
    let fx = Fx::new("redis-split");
    let client = Client::new(&fx).await;
    // Different state directories: the two share nothing but Redis (as two hosts would).
    let a = fx.gateway(&["--state-dir", "a", "--replay-store", &url]);
    let b = fx.gateway(&["--state-dir", "b", "--replay-store", &url]);
    assert!(
        a.events("replay-store")[0]["store"]
            .as_str()
            .unwrap()
            .contains(&redis.port.to_string())
    );
    for n in 0..N {
        let body = fx.good(n);
        client.publish(&format!("m{n}"), &body).await;
        client.publish(&format!("m{n}"), &body).await;
        // The twin: distinct messages, each verified.
        client.publish(&format!("d{n}"), &fx.good(1000 + n)).await;
    }
    let out = client.wait_for(3 * N, Duration::from_secs(120)).await;
    assert_eq!(out.len(), 3 * N);
    for (id, o) in by_id(&out) {
        let verified = o.iter().filter(|o| o.verified).count();
        let replayed = o.iter().filter(|o| reason(o) == "replayed").count();
        let want = if id.starts_with('m') { (1, 1) } else { (1, 0) };
        assert_eq!((verified, replayed), want, "{id}: {o:?}");
    }
    let (ma, mb) = (a.metrics(), b.metrics());
    for m in [&ma, &mb] {
        let received = metric(m, "waxseal_gateway_messages_received_total");
        assert!(received > 0.0 && received < (3 * N) as f64, "{m}");
    }
    // Every verified key is settled after its acknowledgement (which may follow the
    // copy's arrival by a little), and only those.
    let start = Instant::now();
    loop {
        let settled = metric(&a.metrics(), "waxseal_gateway_replay_settled_total")
            + metric(&b.metrics(), "waxseal_gateway_replay_settled_total");
        if settled >= (2 * N) as f64 {
            assert_eq!(settled, (2 * N) as f64);
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{settled} settled"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Neither state directory holds a journal: the store was Redis.
    assert!(!fx.p("a/replay.journal").exists() && !fx.p("b/replay.journal").exists());
}

/// Publishes `good(0)` as `first`, restarts the gateway started by `start` (SIGTERM,
/// then again) with `between` run in between, and publishes the same message again as
/// `again` and a new one as `new`. What came out.
async fn replay_across_a_restart(
    fx: &Fx,
    client: &Client,
    start: &dyn Fn() -> Gateway,
    between: &mut dyn FnMut(),
) -> BTreeMap<String, Vec<Out>> {
    let body = fx.good(0);
    let mut gw = start();
    client.publish("first", &body).await;
    client.wait_for(1, Duration::from_secs(60)).await;
    gw.signal("TERM");
    assert_eq!(gw.wait_exit(Duration::from_secs(30)), Some(0));
    between();
    let _gw = start();
    client.publish("again", &body).await;
    client.publish("new", &fx.good(1)).await;
    by_id(&client.wait_for(3, Duration::from_secs(60)).await)
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a RabbitMQ broker (AMQP_ADDR) and redis-server; run by scripts/test-all"]
async fn a_replay_after_a_gateway_restart_is_refused_with_each_persistent_store() {
    // The default store: a journal in the state directory.
    let fx = Fx::new("restart-file");
    let client = Client::new(&fx).await;
    let out = replay_across_a_restart(&fx, &client, &|| fx.gateway(&[]), &mut || {}).await;
    assert!(
        out["first"][0].verified && out["new"][0].verified,
        "{out:?}"
    );
    assert_eq!(reason(&out["again"][0]), "replayed", "{out:?}");
    assert!(fx.p("state/replay.journal").exists());

    // Redis, itself restarted too (append-only file: the window survives).
    let mut redis = Redis::start();
    let url = redis.url();
    let fx = Fx::new("restart-redis");
    let client = Client::new(&fx).await;
    let start = || fx.gateway(&["--replay-store", &url]);
    let out = replay_across_a_restart(&fx, &client, &start, &mut || {
        redis.stop();
        redis.run();
    })
    .await;
    assert!(
        out["first"][0].verified && out["new"][0].verified,
        "{out:?}"
    );
    assert_eq!(reason(&out["again"][0]), "replayed", "{out:?}");

    // The twin: `memory`, only when asked for, is said at start and forgets on restart.
    let fx = Fx::new("restart-memory");
    let client = Client::new(&fx).await;
    let start = || {
        let g = fx.gateway(&["--replay-store", "memory"]);
        assert_eq!(g.events("replay-store-memory").len(), 1);
        g
    };
    let out = replay_across_a_restart(&fx, &client, &start, &mut || {}).await;
    assert!(out["again"][0].verified, "memory forgets: {out:?}");
}

/// Takes one message off `queue` and lets it go unacknowledged (the channel closes): the
/// broker puts it back, flagged redelivered. As a consumer other than the gateway would.
async fn take_and_let_go(fx: &Fx, queue: &str) {
    let conn = Connection::connect(&amqp_addr(), ConnectionProperties::default())
        .await
        .unwrap();
    let ch = conn.create_channel().await.unwrap();
    let start = Instant::now();
    let got = loop {
        if let Some(m) = ch
            .basic_get(
                queue.into(),
                lapin::options::BasicGetOptions { no_ack: false },
            )
            .await
            .unwrap()
        {
            break m;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "nothing on {queue}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(!got.delivery.redelivered);
    let _ = fx;
    ch.close(200, "let go".into()).await.unwrap();
    conn.close(200, "done".into()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a RabbitMQ broker (AMQP_ADDR); run by scripts/test-all"]
async fn a_broker_redelivery_is_verified_unless_its_key_was_settled() {
    let fx = Fx::new("redeliver");
    let client = Client::new(&fx).await;
    let queue = fx.exchange("in");
    // Another consumer took the message and let it go before the gateway saw it: the
    // key was never admitted, so the redelivery is simply verified (not a duplicate).
    let body = fx.good(0);
    client.publish("taken", &body).await;
    take_and_let_go(&fx, &queue).await;
    let mut gw = fx.gateway(&[]);
    let out = by_id(&client.wait_for(1, Duration::from_secs(60)).await);
    assert!(out["taken"][0].verified, "{out:?}");
    assert!(
        !out["taken"][0]
            .headers
            .contains_key("x-waxseal-redelivered")
    );
    // Settled once its acknowledgement went out.
    let start = Instant::now();
    while metric(&gw.metrics(), "waxseal_gateway_replay_settled_total") < 1.0 {
        assert!(start.elapsed() < Duration::from_secs(30), "never settled");
        std::thread::sleep(Duration::from_millis(50));
    }
    gw.signal("TERM");
    assert_eq!(gw.wait_exit(Duration::from_secs(30)), Some(0));
    // A copy of that settled message, republished and redelivered by the broker: a replay.
    client.publish("copy", &body).await;
    take_and_let_go(&fx, &queue).await;
    let _gw = fx.gateway(&[]);
    let out = by_id(&client.wait_for(2, Duration::from_secs(60)).await);
    assert_eq!(out["copy"].len(), 1, "{out:?}");
    assert_eq!(reason(&out["copy"][0]), "replayed", "{out:?}");
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a RabbitMQ broker (AMQP_ADDR) and redis-server; run by scripts/test-all"]
async fn redis_stopped_mid_stream_then_started_loses_nothing_and_accepts_nothing_unchecked() {
    const N: usize = 60;
    let mut redis = Redis::start();
    let fx = Fx::new("redis-outage");
    let client = Client::new(&fx).await;
    let gw = fx.gateway(&["--replay-store", &redis.url()]);
    let bodies: Vec<Vec<u8>> = (0..N).map(|n| fx.good(n)).collect();
    for (n, body) in bodies.iter().enumerate().take(N / 2) {
        client.publish(&format!("m{n}"), body).await;
    }
    client.wait_for(N / 2, Duration::from_secs(60)).await;
    // Redis goes away mid-stream: the rest waits, requeued, neither accepted nor refused.
    redis.stop();
    for (n, body) in bodies.iter().enumerate().skip(N / 2) {
        client.publish(&format!("m{n}"), body).await;
    }
    let requeued = gw.wait_event("requeued", 3);
    assert!(
        requeued
            .iter()
            .all(|e| e["reason"] == "replay-store-unavailable"),
        "{requeued:?}"
    );
    assert_eq!(
        client.count(),
        N / 2,
        "nothing decided while the store is away"
    );
    let m = gw.metrics();
    assert!(
        metric(
            &m,
            "waxseal_gateway_messages_requeued_total{reason=\"replay-store-unavailable\"}"
        ) > 0.0,
        "{m}"
    );
    // It comes back: the work resumes by itself.
    redis.run();
    let out = client.wait_for(N, Duration::from_secs(120)).await;
    let ids = by_id(&out);
    assert_eq!(ids.len(), N);
    for (id, o) in &ids {
        assert_eq!(o.len(), 1, "{id}: {o:?}");
        assert!(o[0].verified, "{id}: {o:?}");
    }
    // And a replay is still caught after the outage (the window was kept).
    client.publish("m0-again", &bodies[0]).await;
    let out = by_id(&client.wait_for(N + 1, Duration::from_secs(60)).await);
    assert_eq!(reason(&out["m0-again"][0]), "replayed");
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a 3-node RabbitMQ cluster (AMQP_CLUSTER, AMQP_CLUSTER_PIDS); run by scripts/test-all"]
async fn a_cluster_node_killed_mid_stream_loses_nothing() {
    const N: usize = 200;
    let urls: Vec<String> = std::env::var("AMQP_CLUSTER")
        .expect("AMQP_CLUSTER must name the three cluster nodes (scripts/test-all sets it)")
        .split(',')
        .map(String::from)
        .collect();
    let pids: Vec<String> = std::env::var("AMQP_CLUSTER_PIDS")
        .expect("AMQP_CLUSTER_PIDS must name the cluster nodes' PIDs (scripts/test-all)")
        .split(',')
        .map(String::from)
        .collect();
    assert_eq!((urls.len(), pids.len()), (3, 3));
    let fx = Fx::new("cluster");
    // The test's client on the third node; the gateway given all three, in order, so it
    // starts on the first: the node killed.
    let client = Client::on(&fx, &urls[2]).await;
    let gw = fx.gateway(&["--amqp", &urls.join(",")]);
    let host = |u: &str| {
        u.rsplit_once('@')
            .unwrap()
            .1
            .split('/')
            .next()
            .unwrap()
            .to_string()
    };
    assert_eq!(gw.events("connected")[0]["broker"], host(&urls[0]));
    let bodies: Vec<Vec<u8>> = (0..N).map(|n| fx.good(n)).collect();
    for (n, body) in bodies.iter().enumerate().take(N / 2) {
        client.publish(&format!("m{n}"), body).await;
    }
    while client.count() < 20 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let st = Command::new("kill")
        .args(["-KILL", &pids[0]])
        .status()
        .unwrap();
    assert!(st.success());
    for (n, body) in bodies.iter().enumerate().skip(N / 2) {
        client.publish(&format!("m{n}"), body).await;
    }
    // Every message comes out verified, once or more (a copy whose acknowledgement died
    // with the node comes again, flagged; or refused as a replay once its first copy
    // was settled); none is lost.
    all_verified_extras_flagged_or_replayed(&client, N, Duration::from_secs(180)).await;
    // It went on through another node.
    let connected = gw.wait_event("connected", 2);
    assert_ne!(connected.last().unwrap()["broker"], host(&urls[0]));
}
