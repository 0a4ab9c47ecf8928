//! The gateway on the broker: what it declares (the queue, the verified and rejected
//! exchanges, and the input exchange and binding when asked; nothing else), and the
//! properties of what it republishes.
//!
//! Everything declared is durable; the exchanges are topic exchanges. The queue is a
//! quorum queue unless `--queue-type classic`: a quorum queue keeps its messages on a
//! majority of the cluster's nodes, so a broker node lost does not lose messages. A queue
//! or exchange that exists with other settings is an error (RabbitMQ's
//! `PRECONDITION_FAILED`), never redeclared.

use lapin::options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable, LongString};
use lapin::{BasicProperties, Channel, ExchangeKind};

use waxseal_message::{Arrival, Subscription};

use crate::config::{GatewayConfig, QueueType};

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

/// Declares the exchanges, the queue and its binding. Returns how many consumers the
/// queue already has.
pub async fn declare(channel: &Channel, c: &GatewayConfig) -> lapin::Result<u32> {
    let durable = ExchangeDeclareOptions {
        durable: true,
        ..Default::default()
    };
    let exchanges = [
        Some(&c.verified_exchange),
        Some(&c.rejected_exchange),
        c.input_exchange.as_ref(),
    ];
    for e in exchanges.into_iter().flatten() {
        channel
            .exchange_declare(
                e.as_str().into(),
                ExchangeKind::Topic,
                durable,
                FieldTable::default(),
            )
            .await?;
    }
    let mut args = FieldTable::default();
    if c.queue_type == QueueType::Quorum {
        args.insert(
            "x-queue-type".into(),
            AMQPValue::LongString("quorum".into()),
        );
    }
    let queue = channel
        .queue_declare(
            c.queue.as_str().into(),
            QueueDeclareOptions {
                durable: true,
                ..Default::default()
            },
            args,
        )
        .await?;
    if let Some(e) = &c.input_exchange {
        channel
            .queue_bind(
                c.queue.as_str().into(),
                e.as_str().into(),
                c.binding_key.as_str().into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await?;
    }
    Ok(queue.consumer_count())
}

/// What the gateway knows of how `delivery` arrived, for [`waxseal_message::Bus::admit`]:
/// the exchange and routing key (compared with the signed route by topic only: the
/// gateway consumes its own input exchange, not the sender's), its subscription (with
/// `--input-exchange`: that exchange and `--binding-key`; otherwise the queue was bound by
/// the operator and only the default exchange is refused), the redelivered flag, the
/// broker-validated `user_id`, and whether `CC` or `BCC` headers were present.
pub fn arrival(c: &GatewayConfig, delivery: &lapin::message::Delivery) -> Arrival {
    let sender_routed = delivery
        .properties
        .headers()
        .as_ref()
        .is_some_and(|h| h.inner().keys().any(|k| matches!(k.as_str(), "CC" | "BCC")));
    let mut arrival = Arrival::delivery(delivery.exchange.as_str(), delivery.routing_key.as_str())
        .redelivered(delivery.redelivered)
        .user_id(delivery.properties.user_id().as_ref().map(|u| u.as_str()))
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
    let mut out = BasicProperties::default().with_delivery_mode(2);
    if let Some(v) = incoming.content_type() {
        out = out.with_content_type(v.clone());
    }
    if let Some(v) = incoming.content_encoding() {
        out = out.with_content_encoding(v.clone());
    }
    if let Some(v) = incoming.message_id() {
        out = out.with_message_id(v.clone());
    }
    if let Some(v) = incoming.correlation_id() {
        out = out.with_correlation_id(v.clone());
    }
    if let Some(v) = incoming.timestamp() {
        out = out.with_timestamp(*v);
    }
    if let Some(v) = incoming.kind() {
        out = out.with_type(v.clone());
    }
    if let Some(v) = incoming.app_id() {
        out = out.with_app_id(v.clone());
    }
    out.with_headers(own_headers(headers))
}

/// The properties of a message the broker would not take back as it was
/// (`republish-refused`): content type and message id only, and `headers`.
pub fn minimal_properties(incoming: &BasicProperties, headers: &[(&str, &str)]) -> BasicProperties {
    let mut out = BasicProperties::default().with_delivery_mode(2);
    if let Some(v) = incoming.content_type() {
        out = out.with_content_type(v.clone());
    }
    if let Some(v) = incoming.message_id() {
        out = out.with_message_id(v.clone());
    }
    out.with_headers(own_headers(headers))
}

fn own_headers(headers: &[(&str, &str)]) -> FieldTable {
    let mut table = FieldTable::default();
    for (k, v) in headers {
        debug_assert!(k.starts_with(PREFIX));
        table.insert((*k).into(), AMQPValue::LongString(LongString::from(*v)));
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_allowed_properties_and_the_gateways_own_headers_are_republished() {
        let mut h = FieldTable::default();
        h.insert(
            "X-Waxseal-Entity".into(),
            AMQPValue::LongString("forged".into()),
        );
        h.insert(
            "CC".into(),
            AMQPValue::FieldArray(vec![AMQPValue::LongString("other.topic".into())].into()),
        );
        h.insert("BCC".into(), AMQPValue::LongString("hidden.topic".into()));
        h.insert("app".into(), AMQPValue::LongString("dropped".into()));
        let p = BasicProperties::default()
            .with_headers(h)
            .with_message_id("m1".into())
            .with_content_type("application/json".into())
            .with_content_encoding("utf-8".into())
            .with_correlation_id("c1".into())
            .with_timestamp(1_700_000_000)
            .with_type("update".into())
            .with_app_id("bodhi".into())
            .with_user_id("publisher".into())
            .with_expiration("1".into())
            .with_reply_to("attacker.queue".into())
            .with_priority(9)
            .with_cluster_id("c".into())
            .with_delivery_mode(1);
        let out = properties(&p, &[(ENTITY, "svc-host"), (ID, "abc")]);
        let t = out.headers().as_ref().unwrap().inner();
        assert_eq!(t.len(), 2, "{t:?}");
        assert_eq!(
            t.get("x-waxseal-entity"),
            Some(&AMQPValue::LongString("svc-host".into()))
        );
        assert!(t.contains_key("x-waxseal-id"));
        assert_eq!(out.message_id().as_ref().map(|m| m.as_str()), Some("m1"));
        assert_eq!(
            out.content_type().as_ref().map(|m| m.as_str()),
            Some("application/json")
        );
        assert_eq!(
            out.content_encoding().as_ref().map(|m| m.as_str()),
            Some("utf-8")
        );
        assert_eq!(
            out.correlation_id().as_ref().map(|m| m.as_str()),
            Some("c1")
        );
        assert_eq!(*out.timestamp(), Some(1_700_000_000));
        assert_eq!(out.kind().as_ref().map(|m| m.as_str()), Some("update"));
        assert_eq!(out.app_id().as_ref().map(|m| m.as_str()), Some("bodhi"));
        assert_eq!(*out.delivery_mode(), Some(2));
        assert_eq!(*out.user_id(), None);
        assert_eq!(*out.expiration(), None);
        assert_eq!(*out.reply_to(), None);
        assert_eq!(*out.priority(), None);
        assert_eq!(*out.cluster_id(), None);

        let min = minimal_properties(&p, &[(REASON, "republish-refused")]);
        assert_eq!(min.message_id().as_ref().map(|m| m.as_str()), Some("m1"));
        assert_eq!(*min.correlation_id(), None);
        assert_eq!(*min.timestamp(), None);
        assert_eq!(min.headers().as_ref().unwrap().inner().len(), 1);
    }
}
