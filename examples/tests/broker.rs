//! Tests against a real RabbitMQ broker and real oslo.messaging peers. They need
//! `AMQP_ADDR` (and, for the oslo.messaging ones, `WAXSEAL_OSLO_PYTHON`: a Python with
//! oslo.messaging installed), so plain `cargo test` reports them as ignored;
//! `scripts/test-all` starts a broker, makes the venv and runs them with `--ignored`.

#[path = "../oslo_rpc/flow.rs"]
#[allow(dead_code)]
mod flow;

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use futures_lite::StreamExt;
use lapin::options::{BasicAckOptions, BasicConsumeOptions};
use lapin::types::FieldTable;
use serde_json::{Value, json};
use waxseal_message::oslo;

fn amqp_addr() -> String {
    std::env::var("AMQP_ADDR")
        .expect("AMQP_ADDR must name the test broker (scripts/test-all sets it)")
}

fn python() -> String {
    std::env::var("WAXSEAL_OSLO_PYTHON").expect(
        "WAXSEAL_OSLO_PYTHON must name a Python with oslo.messaging (scripts/test-all makes one)",
    )
}

/// oslo.messaging wants `rabbit://` URLs.
fn rabbit_url() -> String {
    amqp_addr()
        .replacen("amqp://", "rabbit://", 1)
        .trim_end_matches("/%2f")
        .trim_end_matches('/')
        .to_string()
        + "/"
}

fn peer() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("oslo_rpc/oslo_peer.py")
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_for(path: &Path, what: &str, lines: usize) -> Vec<String> {
    let start = Instant::now();
    loop {
        if let Ok(text) = std::fs::read_to_string(path) {
            let l: Vec<String> = text.lines().map(str::to_owned).collect();
            if l.len() >= lines {
                return l;
            }
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[tokio::test]
#[ignore = "needs a RabbitMQ broker (AMQP_ADDR); run by scripts/test-all"]
async fn signed_rpc_flow_over_rabbitmq() {
    let dir = tempfile::tempdir().unwrap();
    let verdicts = flow::run(&amqp_addr(), dir.path()).await.unwrap();
    assert_eq!(verdicts[flow::NODE1], Ok(flow::NODE1.to_string()));
    assert_eq!(verdicts[flow::NODE2], Err("claim-mismatch".to_string()));
}

#[tokio::test]
#[ignore = "needs a RabbitMQ broker (AMQP_ADDR) and oslo.messaging (WAXSEAL_OSLO_PYTHON); run by scripts/test-all"]
async fn oslo_messaging_peers_interoperate_with_waxseal() {
    let dir = tempfile::tempdir().unwrap();
    let services = flow::setup(dir.path()).unwrap();
    let (conn, channel) = flow::connect(&amqp_addr()).await.unwrap();
    let inbound = "waxseal_compat_in";
    let outbound = "waxseal_compat_out";
    flow::bind(&channel, inbound, inbound).await.unwrap();

    // A real oslo.messaging RPC server on the outbound topic.
    let out = dir.path().join("dispatched.jsonl");
    let server = Server(
        Command::new(python())
            .arg(peer())
            .args([
                "serve",
                &rabbit_url(),
                outbound,
                out.to_str().unwrap(),
                "2",
                "90",
            ])
            .spawn()
            .unwrap(),
    );
    wait_for(
        &PathBuf::from(format!("{}.ready", out.display())),
        "the oslo.messaging server",
        1,
    );

    // (1) A message cast by a real oslo.messaging client arrives at waxseal...
    let status = Command::new(python())
        .arg(peer())
        .args([
            "cast",
            &rabbit_url(),
            inbound,
            "select_destinations",
            r#"{"host": "compute-node01.example.org", "spec": {"n": 1}}"#,
        ])
        .status()
        .unwrap();
    assert!(status.success(), "oslo.messaging cast failed");
    let mut consumer = channel
        .basic_consume(
            inbound.into(),
            "waxseal".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    let delivery = tokio::time::timeout(Duration::from_secs(30), consumer.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    delivery.ack(BasicAckOptions::default()).await.unwrap();
    let envelope: Value = waxseal_message::json::parse(&delivery.data).unwrap();
    assert_eq!(
        envelope["oslo.version"], "2.0",
        "oslo.messaging sends version 2.0 envelopes"
    );
    let inner: Value = serde_json::from_str(envelope["oslo.message"].as_str().unwrap()).unwrap();
    assert_eq!(inner["method"], "select_destinations");

    // ...which signs it (the exact oslo.message text, bound to the outbound topic on the
    // exchange) and forwards it.
    let signed = oslo::sign(
        &envelope,
        &flow::signer_to(&services.pki_dir, flow::NODE1, outbound).unwrap(),
    )
    .unwrap();
    assert_eq!(signed["oslo.message"], envelope["oslo.message"]);
    // Through the conductor (which re-binds the route) to the scheduler: verified there.
    let forwarded = oslo::countersign(
        &signed,
        &flow::signer_to(&services.pki_dir, flow::CONDUCTOR, flow::SCHEDULER_TOPIC).unwrap(),
        8,
    )
    .unwrap();
    let check = services
        .scheduler
        .verify_oslo_route(&forwarded, &flow::route(flow::SCHEDULER_TOPIC));
    assert!(
        check.is_ok(),
        "waxseal verifies what it forwards: {check:?}"
    );
    // Delivered to any other queue, it is refused.
    assert_eq!(
        services
            .scheduler
            .verify_oslo_route(&forwarded, &flow::route(flow::CONDUCTOR_TOPIC))
            .unwrap_err()
            .code,
        "topic-mismatch"
    );
    flow::publish(&channel, outbound, &signed).await.unwrap();

    // (2) An envelope made and signed by waxseal, oslo.signature included.
    let own = oslo::wrap(&json!({"method": "select_destinations", "args": {"host": "compute-node01.example.org", "origin": "waxseal"}})).unwrap();
    let own = oslo::sign(
        &own,
        &flow::signer_to(&services.pki_dir, flow::NODE1, outbound).unwrap(),
    )
    .unwrap();
    assert!(own.get("oslo.signature").is_some());
    flow::publish(&channel, outbound, &own).await.unwrap();

    // The unmodified oslo.messaging server dispatched both normally.
    let calls: Vec<Value> = wait_for(&out, "the dispatched calls", 2)
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(calls.len(), 2);
    assert!(calls.iter().all(|c| c["method"] == "select_destinations"));
    assert!(
        calls.iter().any(|c| c["args"]["spec"] == json!({"n": 1})),
        "{calls:?}"
    );
    assert!(
        calls.iter().any(|c| c["args"]["origin"] == "waxseal"),
        "{calls:?}"
    );
    drop(server);
    conn.close(200, "done".into()).await.unwrap();
}
