//! What a receiver knows of how a delivery arrived ([`Arrival`]): the route compared with
//! the signed one, the exchange and routing key compared with its [`Subscription`], the
//! broker's redelivered flag and validated `user_id`, the call a reply answers
//! ([`Call`]); and the broker-side checks made before anything is parsed. Why each counts
//! only as evidence of routing is in [`crate::admission`]'s docs.

use serde_json::Value;

use waxseal_entity::glob::MALFORMED_TOPIC;

use crate::error::{Rejection, Stage};
use crate::route::Route;

/// The reason code of a delivery that reached this consumer by a route it did not
/// subscribe to (another exchange, an unbound routing key, the default exchange).
pub const ROUTE_NOT_SUBSCRIBED: &str = "route-not-subscribed";
/// The reason code of a delivery that carried `CC` or `BCC` headers (sender-selected
/// routing).
pub const SENDER_ROUTED: &str = "sender-routed";
/// The reason code of an RPC reply whose signed `_msg_id` is not the call's.
pub const REPLY_UNBOUND: &str = "reply-unbound";

/// What a consumer subscribed to: the queue it consumes, the exchange the queue is bound
/// to, and the binding keys (AMQP topic patterns: `*` one word, `#` zero or more).
/// A reply queue is subscribed on the default exchange (`""`) with its own name as the
/// only key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    /// The exchange the queue is bound to (`""`: the default exchange).
    pub exchange: String,
    /// The binding keys.
    pub binding_keys: Vec<String>,
    /// The queue.
    pub queue: String,
}

impl Subscription {
    /// `queue`, bound to `exchange` with `binding_keys`.
    pub fn new(exchange: &str, queue: &str, binding_keys: &[&str]) -> Self {
        Self {
            exchange: exchange.to_string(),
            binding_keys: binding_keys.iter().map(|k| k.to_string()).collect(),
            queue: queue.to_string(),
        }
    }

    /// A queue consumed through the default exchange only (an RPC reply queue).
    pub fn default_exchange(queue: &str) -> Self {
        Self::new("", queue, &[queue])
    }

    /// Whether a delivery on `exchange` with `routing_key` can have come through this
    /// subscription.
    pub fn admits(&self, exchange: &str, routing_key: &str) -> bool {
        if exchange != self.exchange {
            return false;
        }
        if exchange.is_empty() {
            // The default exchange routes by queue name.
            return routing_key == self.queue;
        }
        self.binding_keys
            .iter()
            .any(|k| binding_matches(k, routing_key))
    }
}

/// AMQP topic-exchange matching of `routing_key` against the binding key `pattern`: words
/// separated by `.`, `*` matches exactly one word, `#` zero or more. (A fanout exchange
/// binds with any key and ignores it; subscribe with `#`.) Written here because it is a
/// few lines of the AMQP 0-9-1 topic semantics and no maintained crate offers it alone.
pub fn binding_matches(pattern: &str, routing_key: &str) -> bool {
    fn go(p: &[&str], k: &[&str]) -> bool {
        match p.split_first() {
            None => k.is_empty(),
            Some((&"#", rest)) => (0..=k.len()).any(|i| go(rest, &k[i..])),
            Some((&w, rest)) => match k.split_first() {
                Some((kw, krest)) => (w == "*" || w == *kw) && go(rest, krest),
                None => false,
            },
        }
    }
    let p: Vec<&str> = pattern.split('.').collect();
    let k: Vec<&str> = if routing_key.is_empty() {
        Vec::new()
    } else {
        routing_key.split('.').collect()
    };
    // A pattern of one empty word binds the empty routing key only.
    if pattern.is_empty() {
        return routing_key.is_empty();
    }
    go(&p, &k)
}

/// The RPC call a reply answers, as the caller sent it: the reply must carry `msg_id` in
/// its signed `oslo.message` (`_msg_id`), and its signer must be an entity the call could
/// reach (see [`waxseal_entity::Authorizer::authorize_reply`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// The call's `_msg_id`.
    pub msg_id: String,
    /// The call's topic (the target's topic, without the server).
    pub topic: String,
    /// The server the call was addressed to (`topic.server`), if any.
    pub server: Option<String>,
}

impl Call {
    /// The routing key the call was sent with: `topic` or `topic.server`.
    pub fn topic_key(&self) -> String {
        match &self.server {
            Some(s) => format!("{}.{s}", self.topic),
            None => self.topic.clone(),
        }
    }

    /// Refuses `message` (a reply's verified inner message) unless its `_msg_id` is the
    /// call's.
    pub(crate) fn check_bound(&self, message: &Value) -> Result<(), Rejection> {
        match message.get("_msg_id") {
            Some(Value::String(id)) if *id == self.msg_id => Ok(()),
            _ => Err(Rejection::new(
                Stage::Route,
                REPLY_UNBOUND,
                "the signed reply does not carry the _msg_id of the call it answers",
            )),
        }
    }
}

/// What a receiver knows of how a message arrived: from the broker (exchange, routing
/// key, the redelivered flag, a validated `user_id`, whether sender-selected routing
/// headers were present) and from itself (what it subscribed to, the call a reply
/// answers, the signer it requires).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Arrival {
    /// The route compared with the signed one: the topic is the routing key; the exchange
    /// is compared only when given (an oslo consumer of the sender's exchange; a gateway
    /// consuming its own input exchange gives none). `None`: no route known (a file, a
    /// message handed over in process): a fedmsg-style message is then checked on its own
    /// topic, and an oslo envelope is refused (`topic-required`).
    pub route: Option<Route>,
    /// The exchange the broker delivered it from (`""`: the default exchange), compared
    /// with the subscription. `None`: not from a broker.
    pub exchange: Option<String>,
    /// The routing key as the broker delivered it (a fanout's is empty), compared with the
    /// subscription's binding keys.
    pub routing_key: Option<String>,
    /// What this consumer subscribed to (`None`: not known to the caller; the default
    /// exchange is then refused).
    pub subscription: Option<Subscription>,
    /// The broker's redelivered flag.
    pub redelivered: bool,
    /// The `user_id` property as the broker validated it.
    pub user_id: Option<String>,
    /// The delivery carried `CC` or `BCC` headers.
    pub sender_routed: bool,
    /// For an RPC reply: the call it answers.
    pub reply_to: Option<Call>,
    /// fedmsg's `validate_signed_by`: the signer (entity ID) the message must come from.
    pub signed_by: Option<String>,
}

impl Arrival {
    /// No broker and no route: a message from a file or handed over in process.
    pub fn unrouted() -> Self {
        Self::default()
    }

    /// Arrived on `route` (compared with the signed route; its exchange only when given).
    pub fn on(route: Route) -> Self {
        Self {
            route: Some(route),
            ..Self::default()
        }
    }

    /// An AMQP delivery from `exchange` with `routing_key`, compared with the signed route
    /// by topic only (the routing key), as a consumer that is not the sender's direct
    /// peer (the gateway) does. See [`Arrival::delivery_on_signed_exchange`].
    pub fn delivery(exchange: &str, routing_key: &str) -> Self {
        Self {
            route: Some(Route::topic(routing_key)),
            exchange: Some(exchange.to_string()),
            routing_key: Some(routing_key.to_string()),
            ..Self::default()
        }
    }

    /// An AMQP delivery from `exchange` with `routing_key`, whose route (by oslo's rules,
    /// [`Route::of_delivery`]: fanout exchanges, the default exchange) is compared with
    /// the signed route, exchange included: an oslo.messaging consumer.
    pub fn delivery_on_signed_exchange(exchange: &str, routing_key: &str) -> Self {
        Self {
            route: Route::of_delivery(exchange, routing_key),
            exchange: Some(exchange.to_string()),
            routing_key: Some(routing_key.to_string()),
            ..Self::default()
        }
    }

    /// The same arrival through `subscription`.
    pub fn subscribed(mut self, subscription: Subscription) -> Self {
        self.subscription = Some(subscription);
        self
    }

    /// The same arrival with the broker's redelivered flag.
    pub fn redelivered(mut self, redelivered: bool) -> Self {
        self.redelivered = redelivered;
        self
    }

    /// The same arrival with the broker-validated `user_id`.
    pub fn user_id(mut self, user_id: Option<&str>) -> Self {
        self.user_id = user_id.map(str::to_string);
        self
    }

    /// The same arrival, which carried `CC` or `BCC` headers (or not).
    pub fn sender_routed(mut self, sender_routed: bool) -> Self {
        self.sender_routed = sender_routed;
        self
    }

    /// The same arrival as the reply to `call`.
    pub fn reply_to(mut self, call: Call) -> Self {
        self.reply_to = Some(call);
        self
    }

    /// The same arrival, required to be signed by `signer` (entity ID).
    pub fn signed_by(mut self, signer: &str) -> Self {
        self.signed_by = Some(signer.to_string());
        self
    }

    /// The broker-side checks: sender-selected routing, then the subscription.
    pub(crate) fn check_routing(&self) -> Result<(), Rejection> {
        if self.sender_routed {
            return Err(Rejection::new(
                Stage::Route,
                SENDER_ROUTED,
                "the delivery carried CC or BCC headers: its routing key does not say which \
                 binding brought it here",
            ));
        }
        if let Some(r) = &self.route {
            r.check()
                .map_err(|e| Rejection::format(MALFORMED_TOPIC, format!("arrival: {e}")))?;
        }
        let Some(exchange) = &self.exchange else {
            return Ok(());
        };
        let routing_key = self.routing_key.as_deref().unwrap_or_default();
        let not_subscribed = |why: String| {
            Err(Rejection::new(
                Stage::Route,
                ROUTE_NOT_SUBSCRIBED,
                format!(
                    "delivered from {} with routing key {routing_key}: {why}",
                    describe_exchange(exchange)
                ),
            ))
        };
        match &self.subscription {
            Some(s) if !s.admits(exchange, routing_key) => not_subscribed(format!(
                "this consumer subscribed to {} with {}",
                describe_exchange(&s.exchange),
                if s.exchange.is_empty() {
                    format!("queue {}", s.queue)
                } else {
                    format!("binding keys {}", s.binding_keys.join(", "))
                }
            )),
            None if exchange.is_empty() => not_subscribed(
                "the default exchange puts a message into any queue by name, and this \
                 consumer did not subscribe there"
                    .into(),
            ),
            _ => Ok(()),
        }
    }
}

fn describe_exchange(e: &str) -> String {
    if e.is_empty() {
        "the default exchange".into()
    } else {
        format!("exchange {e}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_binding_keys_match_as_amqp_does() {
        assert!(binding_matches("compute", "compute"));
        assert!(!binding_matches("compute", "compute.node01"));
        assert!(binding_matches("compute.*", "compute.node01"));
        assert!(!binding_matches("compute.*", "compute"));
        assert!(!binding_matches("compute.*", "compute.a.b"));
        assert!(binding_matches("compute.#", "compute"));
        assert!(binding_matches("compute.#", "compute.a.b"));
        assert!(binding_matches("#", "anything.at.all"));
        assert!(binding_matches("#", ""));
        assert!(binding_matches("*.info", "notifications.info"));
        assert!(!binding_matches("*.info", "notifications.error"));
        assert!(binding_matches("a.#.z", "a.z"));
        assert!(binding_matches("a.#.z", "a.b.c.z"));
        assert!(!binding_matches("a.#.z", "a.b.c"));
    }

    #[test]
    fn the_default_exchange_is_admitted_only_by_a_subscription_there() {
        let topic = Subscription::new("nova", "compute", &["compute"]);
        assert!(topic.admits("nova", "compute"));
        assert!(!topic.admits("", "compute"));
        assert!(!topic.admits("other", "compute"));
        assert!(!topic.admits("nova", "compute.node02"));
        let reply = Subscription::default_exchange("reply_abc");
        assert!(reply.admits("", "reply_abc"));
        assert!(!reply.admits("", "reply_other"));
        assert!(!reply.admits("nova", "reply_abc"));
        let none = Arrival::delivery("", "compute");
        assert_eq!(none.check_routing().unwrap_err().code, ROUTE_NOT_SUBSCRIBED);
        let cc = Arrival::delivery("nova", "compute").sender_routed(true);
        assert_eq!(cc.check_routing().unwrap_err().code, SENDER_ROUTED);
        assert!(Arrival::delivery("nova", "compute").check_routing().is_ok());
    }

    #[test]
    fn a_fanout_delivery_is_checked_against_its_exchange_binding() {
        let a = Arrival::delivery_on_signed_exchange("compute_fanout", "").subscribed(
            Subscription::new("compute_fanout", "compute_fanout_x", &["#"]),
        );
        assert_eq!(
            a.route,
            Some(Route::topic("compute").on_exchange("compute_fanout"))
        );
        assert!(a.check_routing().is_ok(), "{:?}", a.check_routing());
        let wrong = Arrival::delivery_on_signed_exchange("other_fanout", "").subscribed(
            Subscription::new("compute_fanout", "compute_fanout_x", &["#"]),
        );
        assert_eq!(
            wrong.check_routing().unwrap_err().code,
            ROUTE_NOT_SUBSCRIBED
        );
    }
}
