// The signed RPC flow over a real AMQP broker, shared by the `oslo_rpc` example and the
// broker tests (`tests/broker.rs`).
//
// Three tasks exchange oslo.messaging envelopes through RabbitMQ's `openstack` topic
// exchange (oslo.messaging's default control exchange, declared as it declares it):
// compute nodes cast `select_destinations` to the conductor's topic; the conductor
// consumes, verifies, countersigns (a routing-slip hop) and republishes to the scheduler's
// topic; the scheduler verifies the slip and authorizes the origin by routing policy and
// claim. Every signature binds its route: the compute node signs for the conductor's topic
// on the `openstack` exchange, the conductor's hop re-binds it to the scheduler's, and
// each consumer checks the route against the queue it consumed from.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use futures_lite::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, ExchangeDeclareOptions,
    QueueBindOptions, QueueDeclareOptions, QueuePurgeOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties, ExchangeKind};
use serde_json::{Value, json};
use waxseal_envelope::Signer;
use waxseal_message::{Bus, BusConfig, Route, oslo};
use waxseal_pki::{Lifetimes, PkiDir, Seed, ServiceHost};
use waxseal_trust::{KeyAlgorithm, KeyFileCheck};

/// oslo.messaging's default control exchange.
pub const EXCHANGE: &str = "openstack";
/// The conductor's topic in this flow.
pub const CONDUCTOR_TOPIC: &str = "waxseal_example_conductor";
/// The scheduler's topic in this flow.
pub const SCHEDULER_TOPIC: &str = "waxseal_example_scheduler";

pub const NODE1: &str = "compute-node01.example.org";
pub const NODE2: &str = "compute-node02.example.org";
pub const CONDUCTOR: &str = "conductor-node01.example.org";

type Error = Box<dyn std::error::Error + Send + Sync>;

/// The PKI and the two consumers' configurations, made in `dir`.
pub struct Services {
    pub pki_dir: PathBuf,
    pub conductor: Bus,
    pub scheduler: Bus,
}

/// The signer for service-host `name` (its certificate, key and the signing CA).
pub fn signer(pki_dir: &Path, name: &str) -> Result<Signer, Error> {
    Ok(waxseal_pki::load_signer(
        pki_dir,
        name,
        KeyFileCheck::OwnerOnly,
    )?)
}

/// The route to `topic` on the flow's exchange.
pub fn route(topic: &str) -> Route {
    Route::topic(topic).on_exchange(EXCHANGE)
}

/// The signer for `name`, bound to `topic` on the flow's exchange.
pub fn signer_to(pki_dir: &Path, name: &str, topic: &str) -> Result<Signer, Error> {
    Ok(oslo::route_signer(signer(pki_dir, name)?, &route(topic))?)
}

pub fn setup(dir: &Path) -> Result<Services, Error> {
    let pki_dir = dir.join("pki");
    let mut pki = PkiDir::init(
        &pki_dir,
        Seed::default(),
        KeyAlgorithm::P256,
        Lifetimes::default(),
    )?;
    for (name, alg) in [
        (NODE1, KeyAlgorithm::P256),
        (NODE2, KeyAlgorithm::P256),
        (CONDUCTOR, KeyAlgorithm::Ed25519),
    ] {
        pki.issue_with(&[ServiceHost::parse(name)?], false, false, Some(alg))?;
    }
    let base = json!({"trust": ["pki/root-ca.crt"], "certs": ["pki/signing-ca.crt"], "crls": ["pki/crl.pem"], "nitpicky": true});
    let mut conductor = base.clone();
    conductor["routing_policy"] = json!({ CONDUCTOR_TOPIC: ["compute-*"] });
    let mut scheduler = base;
    scheduler["routing_policy"] = json!({ SCHEDULER_TOPIC: ["compute-*"] });
    scheduler["claims"] = json!([{"pointer": "/args/host", "field": "id"}]);
    scheduler["route"] = json!({"required": [CONDUCTOR], "max_hops": 2});
    let bus = |c: &Value| -> Result<Bus, Error> {
        Ok(Bus::new(BusConfig::from_json(&c.to_string(), dir)?)?)
    };
    Ok(Services {
        conductor: bus(&conductor)?,
        scheduler: bus(&scheduler)?,
        pki_dir,
    })
}

/// Connects and declares the exchange as oslo.messaging does (topic, not durable).
pub async fn connect(addr: &str) -> Result<(Connection, Channel), Error> {
    let conn = Connection::connect(addr, ConnectionProperties::default()).await?;
    let channel = conn.create_channel().await?;
    channel
        .exchange_declare(
            EXCHANGE.into(),
            ExchangeKind::Topic,
            ExchangeDeclareOptions::default(),
            FieldTable::default(),
        )
        .await?;
    Ok((conn, channel))
}

/// Declares (and empties) a queue bound to `topic`, as oslo.messaging's topic consumers do.
pub async fn bind(channel: &Channel, queue: &str, topic: &str) -> Result<(), Error> {
    channel
        .queue_declare(
            queue.into(),
            QueueDeclareOptions::default(),
            FieldTable::default(),
        )
        .await?;
    channel
        .queue_purge(queue.into(), QueuePurgeOptions::default())
        .await?;
    channel
        .queue_bind(
            queue.into(),
            EXCHANGE.into(),
            topic.into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;
    Ok(())
}

/// Publishes an envelope on `topic` with oslo.messaging's content type and encoding.
pub async fn publish(channel: &Channel, topic: &str, envelope: &Value) -> Result<(), Error> {
    let body = serde_json::to_vec(envelope)?;
    let props = BasicProperties::default()
        .with_content_type("application/json".into())
        .with_content_encoding("utf-8".into());
    channel
        .basic_publish(
            EXCHANGE.into(),
            topic.into(),
            BasicPublishOptions::default(),
            &body,
            props,
        )
        .await?
        .await?;
    Ok(())
}

/// `select_destinations` from `origin`, claiming to come from `host`.
pub fn request(pki_dir: &Path, origin: &str, host: &str) -> Result<Value, Error> {
    let rpc = json!({
        "method": "select_destinations",
        "args": {"host": host, "request_spec": {"num_instances": 1}},
        "_unique_id": format!("{origin}-{}", waxseal_trust::time::now())
    });
    Ok(oslo::sign(
        &oslo::wrap(&rpc)?,
        &signer_to(pki_dir, origin, CONDUCTOR_TOPIC)?,
    )?)
}

/// What the scheduler decided, per origin.
pub type Verdicts = HashMap<String, Result<String, String>>;

/// Runs the flow: compute-node01 asks honestly, compute-node02 claims to be node01. Returns
/// the scheduler's verdict for each (the origin entity, or the rejection code).
pub async fn run(addr: &str, dir: &Path) -> Result<Verdicts, Error> {
    let services = setup(dir)?;
    let (conn, channel) = connect(addr).await?;
    bind(&channel, CONDUCTOR_TOPIC, CONDUCTOR_TOPIC).await?;
    bind(&channel, SCHEDULER_TOPIC, SCHEDULER_TOPIC).await?;

    // The conductor: verify, countersign, republish.
    let conductor_channel = conn.create_channel().await?;
    let mut consumer = conductor_channel
        .basic_consume(
            CONDUCTOR_TOPIC.into(),
            "conductor".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    let hop = oslo::route_signer(
        waxseal_slip::hop_signer(
            signer(&services.pki_dir, CONDUCTOR)?,
            Some("conductor"),
            Some("forwarded"),
        )?,
        &route(SCHEDULER_TOPIC),
    )?;
    let conductor_bus = services.conductor;
    // Clones kept here so the channels outlive the tasks and are closed in order below;
    // a channel whose last handle drops inside a task closes on its own, racing `close`.
    let conductor_handle = conductor_channel.clone();
    let forwarder = tokio::spawn(async move {
        for _ in 0..2 {
            let Some(Ok(delivery)) = consumer.next().await else {
                break;
            };
            let envelope: Value = match waxseal_message::json::parse(&delivery.data) {
                Ok(v) => v,
                Err(_) => continue,
            };
            if conductor_bus
                .verify_oslo_route(&envelope, &route(CONDUCTOR_TOPIC))
                .is_ok()
                && let Ok(forwarded) = oslo::countersign(&envelope, &hop, 8)
            {
                let _ = publish(&conductor_channel, SCHEDULER_TOPIC, &forwarded).await;
            }
            let _ = delivery.ack(BasicAckOptions::default()).await;
        }
    });

    // The scheduler: verify the slip, authorize.
    let scheduler_channel = conn.create_channel().await?;
    let mut consumer = scheduler_channel
        .basic_consume(
            SCHEDULER_TOPIC.into(),
            "scheduler".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    let scheduler_bus = services.scheduler;
    let scheduler_handle = scheduler_channel.clone();
    let (tx, mut rx) = tokio::sync::mpsc::channel(4);
    let scheduler = tokio::spawn(async move {
        for _ in 0..2 {
            let Some(Ok(delivery)) = consumer.next().await else {
                break;
            };
            let verdict = waxseal_message::json::parse(&delivery.data)
                .map_err(|e| waxseal_message::Rejection {
                    stage: waxseal_message::Stage::Format,
                    code: e.code.into(),
                    reason: e.message,
                    hop: None,
                    class: waxseal_message::Class::Permanent,
                    kind: None,
                })
                .and_then(|v| scheduler_bus.verify_oslo_route(&v, &route(SCHEDULER_TOPIC)));
            let origin = waxseal_message::json::parse(&delivery.data)
                .ok()
                .and_then(|v| v[oslo::MESSAGE_KEY].as_str().map(str::to_owned))
                .and_then(|m| waxseal_message::json::parse(m.as_bytes()).ok())
                .and_then(|m| {
                    m["_unique_id"]
                        .as_str()
                        .map(|s| s.split('-').take(2).collect::<Vec<_>>().join("-"))
                })
                .unwrap_or_default();
            let _ = tx
                .send((
                    origin,
                    verdict
                        .map(|v| v.entity.map(|e| e.id).unwrap_or_default())
                        .map_err(|r| r.code),
                ))
                .await;
            let _ = delivery.ack(BasicAckOptions::default()).await;
        }
    });

    // The compute nodes.
    publish(
        &channel,
        CONDUCTOR_TOPIC,
        &request(&services.pki_dir, NODE1, NODE1)?,
    )
    .await?;
    publish(
        &channel,
        CONDUCTOR_TOPIC,
        &request(&services.pki_dir, NODE2, NODE1)?,
    )
    .await?;

    let mut verdicts = Verdicts::new();
    while verdicts.len() < 2 {
        match tokio::time::timeout(Duration::from_secs(20), rx.recv()).await {
            Ok(Some((origin, v))) => {
                verdicts.insert(origin, v);
            }
            _ => return Err("timed out waiting for the scheduler".into()),
        }
    }
    // Both tasks end on their own after two deliveries each.
    for task in [forwarder, scheduler] {
        tokio::time::timeout(Duration::from_secs(20), task)
            .await
            .map_err(|_| "timed out waiting for a consumer to finish")??;
    }
    for ch in [&conductor_handle, &scheduler_handle, &channel] {
        ch.close(200, "done".into()).await?;
    }
    conn.close(200, "done".into()).await?;
    Ok(verdicts)
}
