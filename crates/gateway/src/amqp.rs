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
/// Every header the gateway sets starts with this; incoming ones are removed.
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

/// The properties of the republished message: the incoming ones (message id, content
/// type, correlation id, timestamp...), persistent, with every incoming `x-waxseal-*`
/// header removed (only the gateway speaks for verification) and `headers` added.
pub fn properties(incoming: &BasicProperties, headers: &[(&str, &str)]) -> BasicProperties {
    let mut table = FieldTable::default();
    if let Some(h) = incoming.headers() {
        for (k, v) in h.inner() {
            if !k.as_str().to_ascii_lowercase().starts_with(PREFIX) {
                table.insert(k.clone(), v.clone());
            }
        }
    }
    for (k, v) in headers {
        table.insert((*k).into(), AMQPValue::LongString(LongString::from(*v)));
    }
    incoming.clone().with_headers(table).with_delivery_mode(2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn incoming_waxseal_headers_are_removed() {
        let mut h = FieldTable::default();
        h.insert(
            "X-Waxseal-Entity".into(),
            AMQPValue::LongString("forged".into()),
        );
        h.insert(
            "x-waxseal-reason".into(),
            AMQPValue::LongString("forged".into()),
        );
        h.insert("app".into(), AMQPValue::LongString("kept".into()));
        let p = BasicProperties::default()
            .with_headers(h)
            .with_message_id("m1".into());
        let out = properties(&p, &[(ENTITY, "svc-host")]);
        let t = out.headers().as_ref().unwrap().inner();
        assert_eq!(t.len(), 2, "{t:?}");
        assert_eq!(
            t.get("x-waxseal-entity"),
            Some(&AMQPValue::LongString("svc-host".into()))
        );
        assert!(t.contains_key("app"));
        assert_eq!(out.message_id().as_ref().map(|m| m.as_str()), Some("m1"));
        assert_eq!(*out.delivery_mode(), Some(2));
    }
}
