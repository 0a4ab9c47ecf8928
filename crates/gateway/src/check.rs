//! One message in, one [`Outcome`] out: validation exactly as `waxseal msg validate
//! --config bus.json --topic ROUTING_KEY` does it, then the optional countersignature.
//! No I/O here (the bus may read changed trust files, as it does in the CLI).
//!
//! The routing key is the topic. An oslo envelope (it has `oslo.version`) is verified
//! against the route `topic = routing key`; any other message is a fedmsg-style message
//! whose own `topic` must be the routing key (`topic-mismatch`), then validated.
//!
//! Every outcome carries an id for deduplication ([`Outcome::id`], the `x-waxseal-id`
//! header): for a signed message that was accepted, its replay key in hex (SHA-256 over
//! the signer's certificate and signed attributes: every copy and every re-encoding of one
//! signed message has the same id); otherwise SHA-256 of the body in hex (a redelivery of
//! the same bytes has the same id).

use serde_json::Value;
use sha2::Digest;
use waxseal_entity::glob::{MALFORMED_TOPIC, check_topic};
use waxseal_envelope::Signer;
use waxseal_message::bus::TOPIC_MISMATCH;
use waxseal_message::{Bus, Route, Validated, oslo};

use crate::seen::{self, Recorded};

/// The reason code of a verified oslo envelope the gateway could not countersign (its
/// slip already has the most hops allowed, for instance).
pub const COUNTERSIGN_FAILED: &str = "countersign-failed";

/// The gateway's countersigning identity.
pub struct Countersigner {
    /// The hop signer (hop attributes set: role `gateway`, action `verified`).
    pub signer: Signer,
    /// The most hops a slip may reach.
    pub max_hops: usize,
}

impl Countersigner {
    /// A countersigner from the gateway's certificate and key.
    pub fn new(signer: Signer) -> Result<Self, String> {
        let signer = waxseal_slip::hop_signer(signer, Some("gateway"), Some("verified"))
            .map_err(|e| e.to_string())?;
        Ok(Self {
            signer,
            max_hops: waxseal_slip::DEFAULT_MAX_HOPS,
        })
    }
}

/// What happens to a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Verified and authorized: to the verified exchange.
    Verified {
        /// The signer's entity (`None`: an unsigned message on an unsigned topic, or
        /// validation switched off).
        entity: Option<String>,
        /// The body to publish (the input, or the countersigned envelope).
        body: Option<Vec<u8>>,
        /// The deduplication id.
        id: String,
        /// A broker redelivery of a message already accepted (see [`crate::seen`]).
        duplicate: bool,
    },
    /// Not decided, by a failure of the gateway's own (a CRL server down with no current
    /// copy, the replay store out of reach): not the message's fault, so it is neither
    /// published nor refused but requeued, to be tried again.
    Requeue {
        /// The stable reason code (`crl-unavailable`, `replay-store-unavailable`...).
        reason: String,
        /// Why, in a line (may hold attacker-controlled text: escape it when printing).
        detail: String,
        /// The deduplication id.
        id: String,
    },
    /// Refused: to the rejected exchange, body unchanged.
    Refused {
        /// The stable reason code.
        reason: String,
        /// Why, in a line (may hold attacker-controlled text: escape it when printing).
        detail: String,
        /// The deduplication id.
        id: String,
    },
}

impl Outcome {
    /// The deduplication id (`x-waxseal-id`).
    pub fn id(&self) -> &str {
        match self {
            Self::Verified { id, .. } | Self::Requeue { id, .. } | Self::Refused { id, .. } => id,
        }
    }
}

/// Validates `body` that arrived with `routing_key` (`redelivered`: the broker's flag).
pub fn check(
    bus: &Bus,
    routing_key: &str,
    body: &[u8],
    redelivered: bool,
    countersigner: Option<&Countersigner>,
) -> Outcome {
    let (result, recorded) = seen::with_delivery(redelivered, || validate(bus, routing_key, body));
    let body_id = || hex::encode(sha2::Sha256::digest(body));
    match result {
        Ok((entity, envelope)) => {
            let id = recorded.key.map_or_else(body_id, hex::encode);
            let body = match (countersigner, envelope) {
                (Some(c), Some(envelope)) => {
                    match oslo::countersign(&envelope, &c.signer, c.max_hops) {
                        Ok(out) => Some(serde_json::to_vec(&out).expect("values serialise")),
                        Err(e) => {
                            return Outcome::Refused {
                                reason: COUNTERSIGN_FAILED.into(),
                                detail: e.to_string(),
                                id,
                            };
                        }
                    }
                }
                _ => None,
            };
            let Recorded { duplicate, .. } = recorded;
            Outcome::Verified {
                entity,
                body,
                id,
                duplicate,
            }
        }
        Err(Refusal {
            reason,
            detail,
            transient: true,
        }) => Outcome::Requeue {
            reason,
            detail,
            id: body_id(),
        },
        Err(Refusal { reason, detail, .. }) => Outcome::Refused {
            reason,
            detail,
            id: body_id(),
        },
    }
}

/// The entity, and the envelope when it is a signed oslo envelope (to countersign).
type Accepted = (Option<String>, Option<Value>);

/// Why a message was not accepted.
struct Refusal {
    reason: String,
    detail: String,
    /// The gateway's failure, not the message's (requeue).
    transient: bool,
}

impl Refusal {
    fn permanent(reason: &str, detail: String) -> Self {
        Self {
            reason: reason.to_string(),
            detail,
            transient: false,
        }
    }
}

/// `waxseal msg validate --topic ROUTING_KEY`, step for step.
fn validate(bus: &Bus, topic: &str, body: &[u8]) -> Result<Accepted, Refusal> {
    check_routing_key(topic)?;
    let message = waxseal_message::json::parse(body)
        .map_err(|e| Refusal::permanent(e.code, format!("input: {e}")))?;
    let refused = |r: waxseal_message::Rejection| Refusal {
        transient: r.is_transient(),
        detail: format!("{}: {}", r.stage.name(), r.reason),
        reason: r.code,
    };
    if message.get(oslo::VERSION_KEY).is_some() {
        let v = bus
            .verify_oslo_route(&message, &Route::topic(topic))
            .map_err(refused)?;
        let signed = v.signed;
        Ok((v.entity.map(|e| e.id), signed.then_some(message)))
    } else {
        if message.get("topic").and_then(Value::as_str) != Some(topic) {
            return Err(Refusal::permanent(
                TOPIC_MISMATCH,
                format!("the message's topic is not the routing key {topic}"),
            ));
        }
        let v: Validated = bus.validate(&message).map_err(refused)?;
        Ok((v.entity.map(|e| e.id), None))
    }
}

fn check_routing_key(topic: &str) -> Result<(), Refusal> {
    check_topic(topic).map_err(|e| Refusal::permanent(MALFORMED_TOPIC, format!("routing key: {e}")))
}
