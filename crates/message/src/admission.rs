//! One admission path: a delivery's body and what the receiver knows of how it arrived
//! ([`Arrival`]) in, an [`Admitted`] message or a [`Rejection`] out ([`Bus::admit`]).
//!
//! Every surface that takes messages off a bus decides through [`Bus::admit`] and nothing
//! else: the CLI's `msg validate`, the gateway, the Python package's `Bus.admit` (which
//! the oslo.messaging driver and the fedmsg drop-in call). What the broker tells a
//! consumer is evidence of where a message *was routed*, never of what it *is*:
//!
//! - **Exchange and routing key** count only as compared with the route the sender signed
//!   (a fedmsg-style message's own `topic`, an oslo envelope's signed route) and with what
//!   this consumer subscribed to ([`Subscription`]): a delivery whose exchange is not the
//!   subscribed one, whose routing key matches none of the subscribed binding keys, or
//!   that came through the default exchange (`""`, which puts a message into any queue by
//!   name, whatever its bindings) into a queue not subscribed there, is refused
//!   ([`ROUTE_NOT_SUBSCRIBED`]).
//! - **Sender-selected routing.** RabbitMQ also routes a message to every routing key in
//!   its `CC` and `BCC` headers, while the consumer sees the original routing key: the
//!   routing key then says nothing about which binding brought it. A delivery that carried
//!   either header is refused ([`SENDER_ROUTED`]) before anything else.
//! - **The redelivered flag** is set by the broker, but anyone who can consume from the
//!   queue can cause it (take a message, close the channel). It only changes the answer for
//!   a message whose replay key is already recorded: a redelivery of it is admitted as a
//!   duplicate ([`Admitted::duplicate`]; the consumer deduplicates by
//!   [`Admitted::replay_key`]) instead of being refused as `replayed`, because the first
//!   delivery's consumer may have died before acknowledging it. It never lets a message
//!   pass a check it would otherwise fail.
//! - **`user_id`**, when the broker validated it (RabbitMQ closes the channel of a
//!   publisher that sets another user's), is carried through to the report
//!   ([`Admitted::user_id`]) for logs; it never stands in for the signature.
//! - **Replies** to an RPC call ([`Call`]) are bound to their request: the signed reply
//!   must carry the call's `_msg_id` ([`REPLY_UNBOUND`]) and come from an entity the call
//!   could reach ([`REPLY_NOT_FROM_CALLEE`]).
//!
//! A refusal carries a [`crate::Class`]: permanent (the message's fault) or transient (the
//! receiver's: a CRL server down, the replay store out of reach), which the receiver
//! requeues rather than refuses.

use serde::Serialize;
use serde_json::Value;

use waxseal_entity::EntityId;
use waxseal_entity::glob::MALFORMED_TOPIC;

use crate::bus::{Bus, CREDENTIAL_FIELDS, TOPIC_REQUIRED, Validated, json_rejection};
use crate::error::{Rejection, Stage};
use crate::json;
use crate::oslo::{self, OsloVerified, Route};
use crate::replay::{Admission, ReplayError};

/// The reason code of a delivery that reached this consumer by a route it did not
/// subscribe to (another exchange, an unbound routing key, the default exchange).
pub const ROUTE_NOT_SUBSCRIBED: &str = "route-not-subscribed";
/// The reason code of a delivery that carried `CC` or `BCC` headers (sender-selected
/// routing).
pub const SENDER_ROUTED: &str = "sender-routed";
/// The reason code of an RPC reply whose signed `_msg_id` is not the call's.
pub const REPLY_UNBOUND: &str = "reply-unbound";
pub use waxseal_entity::authorize::REPLY_NOT_FROM_CALLEE;

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

/// An admitted message: what it is, verified, and what the replay store said.
#[derive(Debug, Clone, Serialize)]
pub struct Admitted {
    /// The message.
    #[serde(flatten)]
    pub message: AdmittedMessage,
    /// Its replay key (`None`: unsigned, or validation switched off): the id consumers
    /// deduplicate by (every copy and re-encoding of one signed message has the same).
    #[serde(skip_serializing_if = "Option::is_none", with = "hex_key")]
    pub replay_key: Option<[u8; 32]>,
    /// A broker redelivery of a message already admitted (see the module docs).
    pub duplicate: bool,
    /// The broker-validated `user_id`, as delivered (not an identity: the signer is).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
}

/// What an admitted message is.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "format", rename_all = "lowercase")]
pub enum AdmittedMessage {
    /// A fedmsg-style JSON message.
    Fedmsg(Validated),
    /// An oslo.messaging envelope.
    Oslo(OsloVerified),
}

impl Admitted {
    /// Whether it was signed.
    pub fn signed(&self) -> bool {
        match &self.message {
            AdmittedMessage::Fedmsg(v) => v.signed,
            AdmittedMessage::Oslo(v) => v.signed,
        }
    }

    /// The signer's entity.
    pub fn entity(&self) -> Option<&EntityId> {
        match &self.message {
            AdmittedMessage::Fedmsg(v) => v.entity.as_ref(),
            AdmittedMessage::Oslo(v) => v.entity.as_ref(),
        }
    }

    /// The fedmsg-style report; a refusal (`malformed`) if it was an oslo envelope.
    pub fn into_fedmsg(self) -> Result<Validated, Rejection> {
        match self.message {
            AdmittedMessage::Fedmsg(v) => Ok(v),
            AdmittedMessage::Oslo(_) => Err(Rejection::format(
                "malformed",
                "an oslo envelope where a fedmsg-style message was expected",
            )),
        }
    }

    /// The oslo report; a refusal (`malformed`) if it was a fedmsg-style message.
    pub fn into_oslo(self) -> Result<OsloVerified, Rejection> {
        match self.message {
            AdmittedMessage::Oslo(v) => Ok(v),
            AdmittedMessage::Fedmsg(_) => Err(Rejection::format(
                "malformed",
                format!("not an oslo envelope: no {}", oslo::VERSION_KEY),
            )),
        }
    }
}

/// A delivery that passed every check of [`Bus::admit`] but the replay store
/// ([`Bus::examine`]); [`Bus::admit_examined`] finishes it. Nothing in it is verified
/// content until then.
#[derive(Debug)]
pub struct Examined {
    message: AdmittedMessage,
    /// The replay key and its expiry (`None`: nothing to record).
    record: Option<([u8; 32], u64)>,
    redelivered: bool,
    user_id: Option<String>,
}

impl Examined {
    /// The verdict without the replay store: every check of [`Bus::admit`] but the last
    /// passed, and nothing is recorded (no replay key, never a duplicate). For a caller
    /// that asks whether a message is valid, and may ask again about the same message
    /// (fedmsg's `validate`, which every consumer of a hub asks), rather than a receiver
    /// taking a delivery: it gets no replay protection.
    pub fn unrecorded(self) -> Admitted {
        Admitted {
            message: self.message,
            replay_key: None,
            duplicate: false,
            user_id: self.user_id,
        }
    }
}

mod hex_key {
    pub fn serialize<S: serde::Serializer>(k: &Option<[u8; 32]>, s: S) -> Result<S::Ok, S::Error> {
        match k {
            Some(k) => s.serialize_str(&hex::encode(k)),
            None => s.serialize_none(),
        }
    }
}

impl Bus {
    /// Admits a delivery: `body` (strict JSON: duplicate keys refused, numbers exact) that
    /// arrived as `arrival` says. In order: the broker-side checks ([`SENDER_ROUTED`],
    /// [`ROUTE_NOT_SUBSCRIBED`]); the format (an object with `oslo.version` is an oslo
    /// envelope, anything else a fedmsg-style message); the signature, certificate path
    /// and CRLs, the route (signed route against the arrival), freshness, authorization
    /// (entity, registry, routing policy, claims; for a reply, its binding to the call);
    /// last the replay store. Every surface calls this and nothing else decides.
    pub fn admit(&self, body: &[u8], arrival: &Arrival) -> Result<Admitted, Rejection> {
        arrival.check_routing()?;
        let examined = examine_wire(body, |message| self.examine_checked(message, arrival))?;
        self.admit_examined(examined)
    }

    /// [`Bus::admit`], also returning the exact `oslo.message` text of an admitted oslo
    /// envelope (`None` for a fedmsg-style message): the text the signature covers, for a
    /// caller that parses it itself, without parsing the body again. Nothing else of the
    /// envelope is handed out: its other members are not signed.
    pub fn admit_with_text(
        &self,
        body: &[u8],
        arrival: &Arrival,
    ) -> Result<(Admitted, Option<String>), Rejection> {
        arrival.check_routing()?;
        examine_wire(body, |message| {
            let examined = self.examine_checked(message, arrival)?;
            let text = match &examined.message {
                AdmittedMessage::Oslo(_) => message
                    .member(oslo::MESSAGE_KEY)
                    .and_then(|text| text.ok())
                    .map(str::to_owned),
                AdmittedMessage::Fedmsg(_) => None,
            };
            Ok((self.admit_examined(examined)?, text))
        })
    }

    /// [`Bus::admit`] on a message already parsed (strictly: see [`crate::json::parse`]).
    pub fn admit_value(&self, message: &Value, arrival: &Arrival) -> Result<Admitted, Rejection> {
        arrival.check_routing()?;
        let examined = self.examine_checked(json::Object::new(message), arrival)?;
        self.admit_examined(examined)
    }

    /// [`Bus::admit`] up to the replay store: every check but the last. A receiver whose
    /// store answers over the network calls this on its own thread and
    /// [`Bus::admit_examined`] where waiting costs nothing (the gateway: on a blocking
    /// thread, while its worker verifies the next delivery). `admit` is exactly the two.
    pub fn examine(&self, body: &[u8], arrival: &Arrival) -> Result<Examined, Rejection> {
        arrival.check_routing()?;
        examine_wire(body, |message| self.examine_checked(message, arrival))
    }

    /// [`Bus::examine`] on a message already parsed (strictly: see [`crate::json::parse`]).
    pub fn examine_value(&self, message: &Value, arrival: &Arrival) -> Result<Examined, Rejection> {
        arrival.check_routing()?;
        self.examine_checked(json::Object::new(message), arrival)
    }

    /// The last step of [`Bus::admit`]: records an [`Examined`] message's replay key in
    /// the replay store (a duplicate, a replay, or a store out of reach are decided here).
    pub fn admit_examined(&self, examined: Examined) -> Result<Admitted, Rejection> {
        let answer = examined.record.map(|(key, expires)| {
            self.replay
                .admit(key, expires, self.time(), examined.redelivered)
        });
        self.admitted(examined, answer)
    }

    /// [`Bus::admit_examined`] for several messages at once, in order: the replay store
    /// records them together ([`crate::ReplayStore::admit_all`]: one round trip to Redis
    /// for them all). For a receiver that admits concurrent deliveries off its own thread.
    pub fn admit_examined_all(&self, examined: Vec<Examined>) -> Vec<Result<Admitted, Rejection>> {
        let requests: Vec<([u8; 32], u64, bool)> = examined
            .iter()
            .filter_map(|e| e.record.map(|(key, expires)| (key, expires, e.redelivered)))
            .collect();
        let mut answers = self.replay.admit_all(&requests, self.time()).into_iter();
        examined
            .into_iter()
            .map(|e| {
                let answer = e
                    .record
                    .map(|_| answers.next().unwrap_or(Err(ReplayError::Unavailable)));
                self.admitted(e, answer)
            })
            .collect()
    }

    /// The outcome of `examined` given the replay store's `answer` for its key (`None`:
    /// nothing to record).
    fn admitted(
        &self,
        examined: Examined,
        answer: Option<Result<Admission, ReplayError>>,
    ) -> Result<Admitted, Rejection> {
        let duplicate = match answer {
            None | Some(Ok(Admission::New)) => false,
            Some(Ok(Admission::Duplicate)) => true,
            Some(Err(e)) => return Err(self.replay_rejection(e)),
        };
        Ok(Admitted {
            message: examined.message,
            replay_key: examined.record.map(|(key, _)| key),
            duplicate,
            user_id: examined.user_id,
        })
    }

    pub(crate) fn examine_checked(
        &self,
        message: json::Object<'_>,
        arrival: &Arrival,
    ) -> Result<Examined, Rejection> {
        let (message, record) = if message.contains(oslo::VERSION_KEY) {
            if arrival.signed_by.is_some() {
                return Err(Rejection::format(
                    "malformed",
                    "a required signer applies to fedmsg-style messages; oslo envelopes are \
                     checked against their signed route",
                ));
            }
            let Some(route) = &arrival.route else {
                return Err(Rejection::new(
                    Stage::Route,
                    TOPIC_REQUIRED,
                    "an oslo envelope is validated against the topic it arrived on, and the receiver gave none",
                ));
            };
            let c = self.check_oslo(message, route, arrival.reply_to.as_ref())?;
            (AdmittedMessage::Oslo(c.value), c.record)
        } else {
            if arrival.reply_to.is_some() {
                return Err(Rejection::format(
                    "malformed",
                    "an RPC reply must be an oslo envelope",
                ));
            }
            let topic = arrival.route.as_ref().map(|r| r.topic.as_str());
            let c = self.check_fedmsg(message, topic, arrival.signed_by.as_deref())?;
            (AdmittedMessage::Fedmsg(c.value), c.record)
        };
        Ok(Examined {
            message,
            record,
            redelivered: arrival.redelivered,
            user_id: arrival.user_id.clone(),
        })
    }
}

/// The members of a delivery that are only decoded, never read as JSON: a message's
/// signature and certificates, an oslo envelope's signature and inner message text. They
/// are most of a delivery's bytes, and [`json::parse_object`] keeps them as text borrowed
/// from the body instead of copying them into the parsed value.
const KEPT_APART: [&str; 4] = [
    CREDENTIAL_FIELDS[0],
    CREDENTIAL_FIELDS[1],
    oslo::SIGNATURE_KEY,
    oslo::MESSAGE_KEY,
];

/// Parses `body` strictly (an object with [`KEPT_APART`] held apart; anything else
/// whole, to be refused by the checks as before) and examines it with `examine`.
pub(crate) fn examine_wire<T>(
    body: &[u8],
    examine: impl FnOnce(json::Object<'_>) -> Result<T, Rejection>,
) -> Result<T, Rejection> {
    match json::parse_object(body, &KEPT_APART).map_err(json_rejection)? {
        Some(wire) => {
            let value = Value::Object(wire.members);
            examine(json::Object::with_kept(&value, &wire.kept))
        }
        None => {
            let value = json::parse(body).map_err(json_rejection)?;
            examine(json::Object::new(&value))
        }
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
