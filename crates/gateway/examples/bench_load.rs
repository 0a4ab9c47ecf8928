//! The load side of `bench/gateway.sh` (not a tool for production).
//!
//! `bench_load publish AMQP_URL PREFIX PKI_DIR NAME COUNT PAYLOAD_BYTES embedded|omitted`:
//! declares PREFIX.pub, PREFIX.ok, PREFIX.no (topic), the gateway's queue PREFIX.in
//! (quorum) bound to PREFIX.pub, and a watch queue PREFIX.watch bound to both outputs
//! (purged); then signs COUNT distinct fedmsg-style messages as NAME (certificate field:
//! the signer and, `embedded`, its signing CA; `omitted`, the signer only) and publishes
//! them, confirmed, before any gateway runs.
//!
//! `bench_load watch AMQP_URL PREFIX COUNT`: consumes PREFIX.watch until COUNT messages
//! came out, and prints `<messages/s> <refused>`: the rate between the first and the last
//! message out, and how many were refused (the bench expects none).

use std::time::{Duration, Instant};

use futures_lite::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, ConfirmSelectOptions,
    ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions, QueuePurgeOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Connection, ConnectionProperties, ExchangeKind};
use waxseal_envelope::{Certificate, KeyFileCheck, PrivateKey, Signer};

const TOPIC: &str = "org.example.prod.bodhi.update.comment";

type Error = Box<dyn std::error::Error>;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let a: Vec<String> = std::env::args().collect();
    match a.get(1).map(String::as_str) {
        Some("publish") if a.len() == 9 => {
            publish(&a[2], &a[3], &a[4], &a[5], a[6].parse()?, a[7].parse()?, &a[8]).await
        }
        Some("watch") if a.len() == 5 => watch(&a[2], &a[3], a[4].parse()?).await,
        _ => Err("usage: bench_load publish URL PREFIX PKI NAME COUNT BYTES embedded|omitted | watch URL PREFIX COUNT".into()),
    }
}

async fn publish(
    url: &str,
    prefix: &str,
    pki: &str,
    name: &str,
    count: usize,
    size: usize,
    certs: &str,
) -> Result<(), Error> {
    let cert = Certificate::load_all(&std::fs::read(format!("{pki}/{name}.crt"))?)?.remove(0);
    let key = PrivateKey::load(
        format!("{pki}/{name}.key").as_ref(),
        KeyFileCheck::OwnerOnly,
    )?;
    let mut signer = Signer::new(cert, key)?;
    if certs == "embedded" {
        signer = signer.with_chain(Certificate::load_all(&std::fs::read(format!(
            "{pki}/signing-ca.crt"
        ))?)?);
    }
    let conn = Connection::connect(url, ConnectionProperties::default()).await?;
    let ch = conn.create_channel().await?;
    ch.confirm_select(ConfirmSelectOptions::default()).await?;
    let durable = ExchangeDeclareOptions {
        durable: true,
        ..Default::default()
    };
    for e in ["pub", "ok", "no"] {
        ch.exchange_declare(
            format!("{prefix}.{e}").as_str().into(),
            ExchangeKind::Topic,
            durable,
            FieldTable::default(),
        )
        .await?;
    }
    let mut quorum = FieldTable::default();
    quorum.insert(
        "x-queue-type".into(),
        AMQPValue::LongString("quorum".into()),
    );
    let q = QueueDeclareOptions {
        durable: true,
        ..Default::default()
    };
    ch.queue_declare(format!("{prefix}.in").as_str().into(), q, quorum)
        .await?;
    ch.queue_bind(
        format!("{prefix}.in").as_str().into(),
        format!("{prefix}.pub").as_str().into(),
        "#".into(),
        QueueBindOptions::default(),
        FieldTable::default(),
    )
    .await?;
    let watch = format!("{prefix}.watch");
    ch.queue_declare(watch.as_str().into(), q, FieldTable::default())
        .await?;
    for e in ["ok", "no"] {
        ch.queue_bind(
            watch.as_str().into(),
            format!("{prefix}.{e}").as_str().into(),
            "#".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;
    }
    ch.queue_purge(watch.as_str().into(), QueuePurgeOptions::default())
        .await?;
    let filler = "x".repeat(size);
    let mut pending = Vec::new();
    for n in 0..count {
        let m = serde_json::json!({"topic": TOPIC, "msg": {"n": n, "text": filler}});
        let body = serde_json::to_vec(&waxseal_message::sign(&m, &signer)?)?;
        pending.push(
            ch.basic_publish(
                format!("{prefix}.pub").as_str().into(),
                TOPIC.into(),
                BasicPublishOptions::default(),
                &body,
                BasicProperties::default()
                    .with_delivery_mode(2)
                    .with_message_id(format!("m{n}").into()),
            )
            .await?,
        );
        if pending.len() >= 256 {
            for c in pending.drain(..) {
                assert!(c.await?.is_ack());
            }
        }
    }
    for c in pending {
        assert!(c.await?.is_ack());
    }
    conn.close(200, "done".into()).await?;
    Ok(())
}

async fn watch(url: &str, prefix: &str, count: usize) -> Result<(), Error> {
    let conn = Connection::connect(url, ConnectionProperties::default()).await?;
    let ch = conn.create_channel().await?;
    ch.basic_qos(1000, Default::default()).await?;
    let mut consumer = ch
        .basic_consume(
            format!("{prefix}.watch").as_str().into(),
            "".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    let (mut first, mut refused) = (None, 0usize);
    for seen in 0..count {
        let d = tokio::time::timeout(Duration::from_secs(120), consumer.next())
            .await?
            .ok_or("the consumer ended")??;
        if first.is_none() {
            first = Some(Instant::now());
        }
        if d.properties
            .headers()
            .as_ref()
            .is_some_and(|h| h.contains_key("x-waxseal-reason"))
        {
            refused += 1;
        }
        if seen % 100 == 99 || seen + 1 == count {
            d.ack(BasicAckOptions { multiple: true }).await?;
        }
    }
    let secs = first.map_or(0.0, |f| f.elapsed().as_secs_f64());
    println!("{:.0} {refused}", (count - 1) as f64 / secs);
    conn.close(200, "done".into()).await?;
    Ok(())
}
