//! Where a message is sent and where it arrived: a topic (the routing key) and, when
//! given, an exchange ([`Route`]). An oslo envelope's origin signs its route
//! ([`crate::oslo`]); a receiver compares the route it arrived on with it.

use serde::Serialize;

use waxseal_entity::glob::{TopicError, check_topic};

/// Why a route was refused (`malformed-topic`): the part that is not printable ASCII
/// without white space.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RouteError {
    /// The topic.
    #[error("{0}")]
    Topic(TopicError),
    /// The exchange.
    #[error("exchange: {0}")]
    Exchange(TopicError),
}

/// Where an oslo message is sent (signed by the origin) or arrived (checked by the
/// receiver).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Route {
    /// The exchange, when the sender binds it (oslo's control exchange, e.g. `nova`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exchange: Option<String>,
    /// The topic (routing key): `scheduler`, or `compute.node01` for one server.
    pub topic: String,
}

impl Route {
    /// A route by topic only.
    pub fn topic(topic: &str) -> Self {
        Self {
            exchange: None,
            topic: topic.to_string(),
        }
    }

    /// The same route on `exchange`.
    pub fn on_exchange(mut self, exchange: &str) -> Self {
        self.exchange = Some(exchange.to_string());
        self
    }

    /// The route of an AMQP delivery (or publication) on `exchange` with `routing_key`,
    /// by oslo.messaging's rules, the same on both sides (the sender signs it, the
    /// receiver compares it with the signed one):
    ///
    /// - the default exchange (`""`: RPC replies to `reply_<uuid>` queues): the routing
    ///   key, no exchange;
    /// - a fanout exchange (oslo's `<topic>_fanout`, published without a routing key):
    ///   topic `<topic>` on that exchange, so the routing policy for the topic applies to
    ///   its fanouts while the exchange keeps a fanout apart from a cast;
    /// - otherwise the routing key (`topic`, `topic.server`, `topic.priority`) on the
    ///   exchange.
    ///
    /// `None` when there is no topic (no routing key outside a fanout exchange).
    pub fn of_delivery(exchange: &str, routing_key: &str) -> Option<Self> {
        const FANOUT: &str = "_fanout";
        if !routing_key.is_empty() {
            return Some(Self {
                exchange: (!exchange.is_empty()).then(|| exchange.to_string()),
                topic: routing_key.to_string(),
            });
        }
        let topic = exchange.strip_suffix(FANOUT).filter(|t| !t.is_empty())?;
        Some(Self {
            exchange: Some(exchange.to_string()),
            topic: topic.to_string(),
        })
    }

    /// Both parts must be printable ASCII without white space.
    pub(crate) fn check(&self) -> Result<(), RouteError> {
        check_topic(&self.topic).map_err(RouteError::Topic)?;
        if let Some(e) = &self.exchange {
            check_topic(e).map_err(RouteError::Exchange)?;
        }
        Ok(())
    }

    pub(crate) fn describe(&self) -> String {
        match &self.exchange {
            Some(e) => format!("topic {} on exchange {e}", self.topic),
            None => format!("topic {} (no exchange)", self.topic),
        }
    }
}
