//! The load side of `bench/gateway.sh` (not a tool for production).
//!
//! `bench_load publish AMQP_URL PREFIX PKI_DIR NAME COUNT PAYLOAD_BYTES embedded|omitted`:
//! declares PREFIX.pub, PREFIX.ok, PREFIX.no (topic), the gateway's queue PREFIX.in (of
//! type `$QUEUE_TYPE`, default quorum) bound to PREFIX.pub, and the watch queues
//! PREFIX.watch.ok and PREFIX.watch.no bound to the outputs (purged); then signs COUNT
//! distinct fedmsg-style messages as NAME (certificate field: the signer and, `embedded`,
//! its signing CA; `omitted`, the signer only) and publishes them, confirmed, before any
//! gateway runs.
//!
//! `bench_load forward AMQP_URL PREFIX PREFETCH`: the unchecked forwarder, the reference
//! that `bench/gateway.sh` measures the gateway against. It does what the gateway does on
//! the wire and nothing else: consumes PREFIX.in (prefetch PREFETCH), republishes each
//! message to PREFIX.ok with the same routing key, body and properties, persistent, on a
//! channel with publisher confirms, and acknowledges each input once its copy is
//! confirmed; one thread of its own (a current-thread runtime, as the gateway with
//! `--threads 1`), until killed. It checks nothing.
//!
//! `bench_load forward-amqprs AMQP_URL PREFIX PREFETCH`: the same forwarder on amqprs, the
//! client the gateway uses (its reader and writer run on the forwarder's own one-thread
//! runtime); `bench/gateway.sh` prints both, the figures the gateway's client was chosen by.
//!
//! `bench_load watch AMQP_URL PREFIX COUNT PIDFILE`: polls the depth of the two watch
//! queues (passive declarations, every 2 ms; nothing is consumed, so the watcher costs the
//! broker next to nothing) until COUNT messages came out, and prints `<messages/s>
//! <refused> <CPU µs per message>`: the rate between the first and the last message seen
//! out, how many were refused (the bench expects none), and the CPU time (user + system)
//! that the processes in PIDFILE (the gateways, one PID a line, written once they are
//! started) spent in between, per message.

use std::time::{Duration, Instant};

use futures_lite::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions,
    ConfirmSelectOptions, ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions,
    QueuePurgeOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Connection, ConnectionProperties, ExchangeKind};
use waxseal_envelope::Signer;
use waxseal_trust::{Certificate, KeyFileCheck, PrivateKey};

const TOPIC: &str = "org.example.prod.bodhi.update.comment";

type Error = Box<dyn std::error::Error>;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let a: Vec<String> = std::env::args().collect();
    match a.get(1).map(String::as_str) {
        Some("publish") if a.len() == 9 => {
            publish(&a[2], &a[3], &a[4], &a[5], a[6].parse()?, a[7].parse()?, &a[8]).await
        }
        Some("watch") if a.len() == 6 => watch(&a[2], &a[3], a[4].parse()?, &a[5]).await,
        Some("forward") if a.len() == 5 => forward(&a[2], &a[3], a[4].parse()?).await,
        Some("forward-amqprs") if a.len() == 5 => {
            forward_amqprs(&a[2], &a[3], a[4].parse()?).await
        }
        _ => Err("usage: bench_load publish URL PREFIX PKI NAME COUNT BYTES embedded|omitted | watch URL PREFIX COUNT PIDFILE | forward|forward-amqprs URL PREFIX PREFETCH".into()),
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
    let mut queue_args = FieldTable::default();
    let queue_type = std::env::var("QUEUE_TYPE").unwrap_or_else(|_| "quorum".into());
    queue_args.insert(
        "x-queue-type".into(),
        AMQPValue::LongString(queue_type.as_str().into()),
    );
    let q = QueueDeclareOptions {
        durable: true,
        ..Default::default()
    };
    ch.queue_declare(format!("{prefix}.in").as_str().into(), q, queue_args)
        .await?;
    ch.queue_bind(
        format!("{prefix}.in").as_str().into(),
        format!("{prefix}.pub").as_str().into(),
        "#".into(),
        QueueBindOptions::default(),
        FieldTable::default(),
    )
    .await?;
    // One queue per output, counted by the watcher without consuming them.
    for e in ["ok", "no"] {
        let watch = format!("{prefix}.watch.{e}");
        ch.queue_declare(watch.as_str().into(), q, FieldTable::default())
            .await?;
        ch.queue_bind(
            watch.as_str().into(),
            format!("{prefix}.{e}").as_str().into(),
            "#".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;
        ch.queue_purge(watch.as_str().into(), QueuePurgeOptions::default())
            .await?;
    }
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

/// The unchecked forwarder (see the module docs).
async fn forward(url: &str, prefix: &str, prefetch: u16) -> Result<(), Error> {
    let conn = Connection::connect(url, ConnectionProperties::default()).await?;
    let consume = conn.create_channel().await?;
    let publish = conn.create_channel().await?;
    publish
        .confirm_select(ConfirmSelectOptions::default())
        .await?;
    consume
        .basic_qos(prefetch, BasicQosOptions::default())
        .await?;
    let mut consumer = consume
        .basic_consume(
            format!("{prefix}.in").as_str().into(),
            "".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    let exchange = format!("{prefix}.ok");
    while let Some(delivery) = consumer.next().await {
        let delivery = delivery?;
        let confirm = publish
            .basic_publish(
                exchange.as_str().into(),
                delivery.routing_key.as_str().into(),
                BasicPublishOptions::default(),
                &delivery.data,
                delivery.properties.clone().with_delivery_mode(2),
            )
            .await?;
        tokio::spawn(async move {
            if let Ok(c) = confirm.await
                && c.is_ack()
            {
                let _ = delivery.acker.ack(BasicAckOptions::default()).await;
            }
        });
    }
    Ok(())
}

/// Publisher confirms of the amqprs forwarder: (tag, multiple), in the order they came.
struct Confirms(tokio::sync::mpsc::UnboundedSender<(u64, bool)>);

#[async_trait::async_trait]
impl amqprs::callbacks::ChannelCallback for Confirms {
    async fn close(
        &mut self,
        _: &amqprs::channel::Channel,
        close: amqprs::CloseChannel,
    ) -> Result<(), amqprs::error::Error> {
        Err(amqprs::error::Error::ChannelUseError(close.to_string()))
    }
    async fn cancel(
        &mut self,
        _: &amqprs::channel::Channel,
        _: amqprs::Cancel,
    ) -> Result<(), amqprs::error::Error> {
        Ok(())
    }
    async fn flow(
        &mut self,
        _: &amqprs::channel::Channel,
        active: bool,
    ) -> Result<bool, amqprs::error::Error> {
        Ok(active)
    }
    async fn publish_ack(&mut self, _: &amqprs::channel::Channel, ack: amqprs::Ack) {
        let _ = self.0.send((ack.delivery_tag(), ack.mutiple()));
    }
    async fn publish_nack(&mut self, _: &amqprs::channel::Channel, _: amqprs::Nack) {
        // The bench's queues take everything: a refusal ends the forwarder (and the run).
        std::process::exit(1);
    }
    async fn publish_return(
        &mut self,
        _: &amqprs::channel::Channel,
        _: amqprs::Return,
        _: amqprs::BasicProperties,
        _: Vec<u8>,
    ) {
    }
}

/// The unchecked forwarder on amqprs (see the module docs): each input acknowledged once
/// the confirmation of its copy came.
async fn forward_amqprs(url: &str, prefix: &str, prefetch: u16) -> Result<(), Error> {
    use amqprs::channel::{
        BasicAckArguments, BasicConsumeArguments, BasicPublishArguments, BasicQosArguments,
        ConfirmSelectArguments,
    };
    let conn = amqprs::connection::Connection::open(
        &waxseal_gateway::broker::BrokerUrl::parse(url)?.arguments(),
    )
    .await?;
    let consume = conn.open_channel(None).await?;
    let publish = conn.open_channel(None).await?;
    let (tx, mut confirms) = tokio::sync::mpsc::unbounded_channel();
    publish.register_callback(Confirms(tx)).await?;
    publish
        .confirm_select(ConfirmSelectArguments::default())
        .await?;
    consume
        .basic_qos(BasicQosArguments::new(0, prefetch, false))
        .await?;
    let (_, mut deliveries) = consume
        .basic_consume_rx(
            BasicConsumeArguments::new(&format!("{prefix}.in"), "")
                .manual_ack(true)
                .finish(),
        )
        .await?;
    let exchange = format!("{prefix}.ok");
    // (publish number, input delivery tag), in publish order.
    let mut waiting = std::collections::VecDeque::new();
    let mut published = 0u64;
    loop {
        tokio::select! {
            m = deliveries.recv() => {
                let Some(m) = m else { return Ok(()) };
                let (Some(d), Some(mut p), Some(body)) = (m.deliver, m.basic_properties, m.content) else {
                    continue;
                };
                p.with_delivery_mode(2);
                published += 1;
                waiting.push_back((published, d.delivery_tag()));
                publish
                    .basic_publish(p, body, BasicPublishArguments::new(&exchange, d.routing_key()))
                    .await?;
            }
            Some((tag, multiple)) = confirms.recv() => {
                while let Some(&(n, input)) = waiting.front() {
                    if n > tag || (!multiple && n != tag) {
                        break;
                    }
                    waiting.pop_front();
                    consume.basic_ack(BasicAckArguments::new(input, false)).await?;
                }
            }
        }
    }
}

/// The CPU time (user + system) that the processes listed in `pidfile` (one PID a line)
/// used so far, in clock ticks.
fn cpu_ticks(pidfile: &str) -> Result<u64, Error> {
    let mut ticks = 0;
    for pid in std::fs::read_to_string(pidfile)?.split_whitespace() {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
        // The fields after the command name, which is in parentheses and may hold spaces.
        let rest = stat.rsplit_once(')').ok_or("odd /proc stat")?.1;
        let f: Vec<&str> = rest.split_whitespace().collect();
        // utime and stime are fields 14 and 15 of the whole line: 12 and 13 here.
        ticks += f[11].parse::<u64>()? + f[12].parse::<u64>()?;
    }
    Ok(ticks)
}

async fn watch(url: &str, prefix: &str, count: usize, pidfile: &str) -> Result<(), Error> {
    let conn = Connection::connect(url, ConnectionProperties::default()).await?;
    let ch = conn.create_channel().await?;
    let passive = QueueDeclareOptions {
        passive: true,
        ..Default::default()
    };
    let depth = |e: &'static str| {
        let ch = ch.clone();
        let name = format!("{prefix}.watch.{e}");
        async move {
            ch.queue_declare(name.as_str().into(), passive, FieldTable::default())
                .await
                .map(|q| q.message_count() as usize)
        }
    };
    let deadline = Instant::now() + Duration::from_secs(300);
    let (mut first, mut last) = (None, None);
    let (mut out, mut refused) = (0, 0);
    while out < count {
        if Instant::now() > deadline {
            return Err(format!("only {out} of {count} messages came out").into());
        }
        let (ok, no) = (depth("ok").await?, depth("no").await?);
        let now = Instant::now();
        if ok + no > 0 && first.is_none() {
            first = Some((now, ok + no, cpu_ticks(pidfile)?));
        }
        if ok + no > out {
            last = Some(now);
        }
        (out, refused) = (ok + no, no);
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let cpu = cpu_ticks(pidfile)?;
    let ((first, at_first, cpu_at_first), last) =
        (first.ok_or("nothing came out")?, last.ok_or("nothing")?);
    let secs = (last - first).as_secs_f64();
    let messages = count - at_first;
    // /proc reports times in USER_HZ, which Linux fixes at 100 for user space.
    let cpu_us = (cpu - cpu_at_first) as f64 * 1e4 / messages as f64;
    println!("{:.0} {refused} {cpu_us:.0}", messages as f64 / secs);
    conn.close(200, "done".into()).await?;
    Ok(())
}
