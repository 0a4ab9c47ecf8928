//! The gateway on the broker: what it declares (the queue, the verified and rejected
//! exchanges, and the input exchange and binding when asked; nothing else), and the
//! properties of what it republishes.
//!
//! Everything declared is durable; the exchanges are topic exchanges. The queue is a
//! quorum queue unless `--queue-type classic`: a quorum queue keeps its messages on a
//! majority of the cluster's nodes, so a broker node lost does not lose messages. A queue
//! or exchange that exists with other settings is an error (RabbitMQ's
//! `PRECONDITION_FAILED`), never redeclared.

use amqprs::channel::{
    Channel, ExchangeDeclareArguments, QueueBindArguments, QueueDeclareArguments,
};
use amqprs::{BasicProperties, Deliver, FieldTable, FieldValue, LongStr, ShortStr};

use waxseal_message::{Arrival, Subscription};

use crate::config::{GatewayConfig, QueueType};

/// What the AMQP client answers.
pub type Result<T> = std::result::Result<T, amqprs::error::Error>;

/// Header: the reason code of a refused message (rejected exchange).
pub const REASON: &str = "x-waxseal-reason";
/// Header: the signer's entity of a verified message (verified exchange; absent for an
/// unsigned message accepted on an unsigned topic).
pub const ENTITY: &str = "x-waxseal-entity";
/// Header: the deduplication id (both exchanges; see [`crate::check`]).
pub const ID: &str = "x-waxseal-id";
/// Header: `true` on a broker redelivery of a message already accepted.
pub const REDELIVERED: &str = "x-waxseal-redelivered";
/// Every header the gateway sets starts with this; no incoming header is passed on.
pub const PREFIX: &str = "x-waxseal-";

/// One message taken off the queue.
pub struct Delivery {
    /// The delivery tag (per channel).
    pub tag: u64,
    /// The exchange it was published to.
    pub exchange: String,
    /// Its routing key.
    pub routing_key: String,
    /// The broker's redelivered flag.
    pub redelivered: bool,
    /// Its properties, as the publisher set them (and the broker validated `user_id`).
    pub properties: BasicProperties,
    /// The body.
    pub data: Vec<u8>,
}

impl Delivery {
    /// The delivery of a consumed message (`None`: not a delivery, which the client does
    /// not hand out).
    pub fn new(m: amqprs::channel::ConsumerMessage) -> Option<Self> {
        let deliver: Deliver = m.deliver?;
        Some(Self {
            tag: deliver.delivery_tag(),
            exchange: deliver.exchange().clone(),
            routing_key: deliver.routing_key().clone(),
            redelivered: deliver.redelivered(),
            properties: m.basic_properties.unwrap_or_default(),
            data: m.content.unwrap_or_default(),
        })
    }
}

/// Declares the exchanges, the queue and its binding. Returns how many consumers the
/// queue already has.
pub async fn declare(channel: &Channel, c: &GatewayConfig) -> Result<u32> {
    let exchanges = [
        Some(&c.verified_exchange),
        Some(&c.rejected_exchange),
        c.input_exchange.as_ref(),
    ];
    for e in exchanges.into_iter().flatten() {
        channel
            .exchange_declare(
                ExchangeDeclareArguments::new(e, "topic")
                    .durable(true)
                    .finish(),
            )
            .await?;
    }
    let mut args = FieldTable::new();
    if c.queue_type == QueueType::Quorum {
        args.insert(short("x-queue-type"), long("quorum"));
    }
    let declared = channel
        .queue_declare(
            QueueDeclareArguments::new(&c.queue)
                .durable(true)
                .arguments(args)
                .finish(),
        )
        .await?;
    if let Some(e) = &c.input_exchange {
        channel
            .queue_bind(QueueBindArguments::new(&c.queue, e, &c.binding_key))
            .await?;
    }
    Ok(declared.map_or(0, |(_, _, consumers)| consumers))
}

/// Asks the broker about the queue (a passive declaration): an answer proves the
/// connection alive.
pub async fn probe(channel: &Channel, queue: &str) -> Result<()> {
    channel
        .queue_declare(QueueDeclareArguments::new(queue).passive(true).finish())
        .await
        .map(|_| ())
}

/// What the gateway knows of how `delivery` arrived, for [`waxseal_message::Bus::admit`]:
/// the exchange and routing key (compared with the signed route by topic only: the
/// gateway consumes its own input exchange, not the sender's), its subscription (with
/// `--input-exchange`: that exchange and `--binding-key`; otherwise the queue was bound by
/// the operator and only the default exchange is refused), the redelivered flag, the
/// broker-validated `user_id`, and whether `CC` or `BCC` headers were present.
pub fn arrival(c: &GatewayConfig, delivery: &Delivery) -> Arrival {
    let sender_routed = delivery.properties.headers().is_some_and(|h| {
        h.as_ref()
            .keys()
            .any(|k| matches!(k.as_ref().as_str(), "CC" | "BCC"))
    });
    let mut arrival = Arrival::delivery(&delivery.exchange, &delivery.routing_key)
        .redelivered(delivery.redelivered)
        .user_id(delivery.properties.user_id().map(String::as_str))
        .sender_routed(sender_routed);
    if let Some(e) = &c.input_exchange {
        arrival = arrival.subscribed(Subscription::new(e, &c.queue, &[c.binding_key.as_str()]));
    }
    arrival
}

/// The properties of a republished message: only those on this allowlist are copied from
/// the incoming message, `delivery_mode` is 2 (persistent), and the headers are the
/// gateway's own `headers` and nothing else.
///
/// Nothing of the properties is signed: the ones kept describe the body or identify the
/// message for the consumer's convenience and are not believed by the gateway.
///
/// - kept: `content_type`, `content_encoding` (how to read the body), `message_id`,
///   `correlation_id` (matching requests and answers), `timestamp`, `type`, `app_id`;
/// - dropped: every header a publisher set (`CC` and `BCC` would route the verified copy
///   to keys it was not verified for, and nothing a publisher says in a header is passed
///   on as if the gateway vouched for it); `user_id` (the broker checks it against the
///   publishing connection's user, the gateway's, and closes the channel when it differs);
///   `expiration` (a publisher could make the verified copy expire before any consumer
///   sees it; an invalid value closes the channel); `reply_to` (it would let a publisher
///   direct the replies of consumers who trust the verified exchange; oslo.messaging
///   carries its reply queue in the signed body); `priority` (a scheduling order to
///   queues the publisher does not own); `cluster_id` (deprecated by AMQP 0-9-1).
pub fn properties(incoming: &BasicProperties, headers: &[(&str, &str)]) -> BasicProperties {
    let mut out = BasicProperties::default();
    out.with_delivery_mode(2);
    if let Some(v) = incoming.content_type() {
        out.with_content_type(v);
    }
    if let Some(v) = incoming.content_encoding() {
        out.with_content_encoding(v);
    }
    if let Some(v) = incoming.message_id() {
        out.with_message_id(v);
    }
    if let Some(v) = incoming.correlation_id() {
        out.with_correlation_id(v);
    }
    if let Some(v) = incoming.timestamp() {
        out.with_timestamp(v);
    }
    if let Some(v) = incoming.message_type() {
        out.with_message_type(v);
    }
    if let Some(v) = incoming.app_id() {
        out.with_app_id(v);
    }
    out.with_headers(own_headers(headers));
    out
}

/// The properties of a message the broker would not take back as it was
/// (`republish-refused`): content type and message id only, and `headers`.
pub fn minimal_properties(incoming: &BasicProperties, headers: &[(&str, &str)]) -> BasicProperties {
    let mut out = BasicProperties::default();
    out.with_delivery_mode(2);
    if let Some(v) = incoming.content_type() {
        out.with_content_type(v);
    }
    if let Some(v) = incoming.message_id() {
        out.with_message_id(v);
    }
    out.with_headers(own_headers(headers));
    out
}

fn own_headers(headers: &[(&str, &str)]) -> FieldTable {
    let mut table = FieldTable::new();
    for (k, v) in headers {
        debug_assert!(k.starts_with(PREFIX));
        table.insert(short(k), long(v));
    }
    table
}

/// A header name: the gateway's own constants, all far under the 255 bytes of a short
/// string.
fn short(name: &str) -> ShortStr {
    ShortStr::try_from(name).unwrap_or_default()
}

/// A long-string header value (ours: ids, entities and reason codes, far under 4 GiB).
fn long(value: &str) -> FieldValue {
    FieldValue::S(LongStr::try_from(value).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(v: Option<&String>) -> Option<&str> {
        v.map(String::as_str)
    }

    #[test]
    fn only_allowed_properties_and_the_gateways_own_headers_are_republished() {
        let mut h = FieldTable::new();
        h.insert(short("X-Waxseal-Entity"), long("forged"));
        h.insert(short("CC"), long("other.topic"));
        h.insert(short("BCC"), long("hidden.topic"));
        h.insert(short("app"), long("dropped"));
        let mut p = BasicProperties::default();
        p.with_headers(h)
            .with_message_id("m1")
            .with_content_type("application/json")
            .with_content_encoding("utf-8")
            .with_correlation_id("c1")
            .with_timestamp(1_700_000_000)
            .with_message_type("update")
            .with_app_id("bodhi")
            .with_user_id("publisher")
            .with_expiration("1")
            .with_reply_to("attacker.queue")
            .with_priority(9)
            .with_cluster_id("c")
            .with_delivery_mode(1);
        let out = properties(&p, &[(ENTITY, "svc-host"), (ID, "abc")]);
        let t = out.headers().unwrap();
        assert_eq!(t.as_ref().len(), 2, "{t}");
        assert_eq!(
            t.get(&short("x-waxseal-entity")).map(ToString::to_string),
            Some("svc-host".to_string())
        );
        assert!(t.get(&short("x-waxseal-id")).is_some());
        assert_eq!(text(out.message_id()), Some("m1"));
        assert_eq!(text(out.content_type()), Some("application/json"));
        assert_eq!(text(out.content_encoding()), Some("utf-8"));
        assert_eq!(text(out.correlation_id()), Some("c1"));
        assert_eq!(out.timestamp(), Some(1_700_000_000));
        assert_eq!(text(out.message_type()), Some("update"));
        assert_eq!(text(out.app_id()), Some("bodhi"));
        assert_eq!(out.delivery_mode(), Some(2));
        assert_eq!(out.user_id(), None);
        assert_eq!(out.expiration(), None);
        assert_eq!(out.reply_to(), None);
        assert_eq!(out.priority(), None);
        assert_eq!(out.cluster_id(), None);

        let min = minimal_properties(&p, &[(REASON, "republish-refused")]);
        assert_eq!(text(min.message_id()), Some("m1"));
        assert_eq!(min.correlation_id(), None);
        assert_eq!(min.timestamp(), None);
        assert_eq!(min.headers().unwrap().as_ref().len(), 1);
    }
}
