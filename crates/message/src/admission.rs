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

pub use crate::arrival::{
    Arrival, Call, REPLY_UNBOUND, ROUTE_NOT_SUBSCRIBED, SENDER_ROUTED, Subscription,
    binding_matches,
};
use crate::bus::{Bus, CREDENTIAL_FIELDS, TOPIC_REQUIRED, Validated, json_rejection};
use crate::error::{Rejection, Stage};
use crate::json;
use crate::oslo::{self, OsloVerified};
use crate::replay::{Admission, ReplayError};
use crate::route::Route;

pub use waxseal_entity::authorize::REPLY_NOT_FROM_CALLEE;

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

/// The fedmsg-style entry points: [`Bus::admit`] with the arrival each names.
impl Bus {
    /// Validates wire bytes: strict JSON (duplicate keys refused, numbers exact), then
    /// [`Bus::validate`]. Prefer this to [`Bus::validate`] on a value parsed elsewhere: a
    /// lenient parser may already have rounded a number. The same as [`Bus::admit`] with
    /// [`Arrival::unrouted`].
    pub fn validate_bytes(&self, bytes: &[u8]) -> Result<Validated, Rejection> {
        self.admit(bytes, &Arrival::unrouted())?.into_fedmsg()
    }

    /// Validates a message under the configured routing policy: [`Bus::admit_value`] with
    /// [`Arrival::unrouted`] (no broker: a file, a message handed over in process).
    pub fn validate(&self, message: &Value) -> Result<Validated, Rejection> {
        self.admit_value(message, &Arrival::unrouted())?
            .into_fedmsg()
    }

    /// Validates a message that arrived on `topic`: its own `topic` field must be exactly
    /// `topic` (else `topic-mismatch`; a fedmsg-style message carries its route inside the
    /// signed part, so a different arrival topic is refused, never ignored).
    pub fn validate_on_topic(&self, message: &Value, topic: &str) -> Result<Validated, Rejection> {
        self.admit_value(message, &Arrival::on(Route::topic(topic)))?
            .into_fedmsg()
    }

    /// fedmsg's `validate_signed_by`: valid, and signed by `signer` (entity ID): the
    /// policy becomes `{topic: [signer]}`, nitpicky.
    pub fn validate_signed_by(
        &self,
        message: &Value,
        signer: &str,
    ) -> Result<Validated, Rejection> {
        self.admit_value(message, &Arrival::unrouted().signed_by(signer))?
            .into_fedmsg()
    }
}

/// The oslo entry points: [`Bus::admit`] of an oslo envelope only, with the arrival each
/// names.
impl Bus {
    /// Verifies wire bytes of an oslo envelope (strict JSON) that arrived on `topic`.
    pub fn verify_oslo_bytes(&self, bytes: &[u8], topic: &str) -> Result<OsloVerified, Rejection> {
        self.verify_oslo_route_bytes(bytes, &Route::topic(topic))
            .map(|(verified, _)| verified)
    }

    /// [`Bus::verify_oslo_route`] of wire bytes (strict JSON, the signature and the inner
    /// text read in place); also returns the exact `oslo.message` text that was verified.
    pub fn verify_oslo_route_bytes(
        &self,
        bytes: &[u8],
        arrived: &Route,
    ) -> Result<(OsloVerified, String), Rejection> {
        let arrival = Arrival::on(arrived.clone());
        examine_wire(bytes, |envelope| {
            // Only an oslo envelope is admitted here (not a fedmsg-style message).
            let text = oslo::message_text(envelope)?.to_owned();
            arrival.check_routing()?;
            let examined = self.examine_checked(envelope, &arrival)?;
            Ok((self.admit_examined(examined)?.into_oslo()?, text))
        })
    }

    /// Verifies an oslo envelope that arrived on `topic` (the routing key it was consumed
    /// from; see [`Bus::verify_oslo_route`] to check the exchange too).
    pub fn verify_oslo(&self, envelope: &Value, topic: &str) -> Result<OsloVerified, Rejection> {
        self.verify_oslo_route(envelope, &Route::topic(topic))
    }

    /// Verifies an oslo envelope that arrived on `arrived`: [`Bus::admit_value`] with
    /// [`Arrival::on`] `arrived`.
    pub fn verify_oslo_route(
        &self,
        envelope: &Value,
        arrived: &Route,
    ) -> Result<OsloVerified, Rejection> {
        // Only an oslo envelope is admitted here (not a fedmsg-style message).
        oslo::check_envelope(envelope)?;
        self.admit_value(envelope, &Arrival::on(arrived.clone()))?
            .into_oslo()
    }
}
