//! One message in, one [`Outcome`] out: [`Bus::admit`] (the one admission path, as
//! `waxseal msg validate --config bus.json --topic ROUTING_KEY` takes too), then the
//! optional countersignature. No I/O here (the bus may read changed trust files, as it
//! does in the CLI).
//!
//! The routing key is the topic. An oslo envelope (it has `oslo.version`) is verified
//! against the route `topic = routing key` (not the exchange: the gateway consumes its
//! own input exchange, not the one the sender signed); any other message is a
//! fedmsg-style message whose own `topic` must be the routing key (`topic-mismatch`).
//! The delivery's exchange and routing key are also checked against the gateway's own
//! subscription, and a delivery that carried `CC`/`BCC` headers is refused.
//!
//! Every outcome carries an id for deduplication ([`Outcome::id`], the `x-waxseal-id`
//! header): for a signed message that was accepted, its replay key in hex (SHA-256 over
//! the signer's certificate and signed attributes: every copy and every re-encoding of one
//! signed message has the same id); otherwise SHA-256 of the body in hex (a redelivery of
//! the same bytes has the same id).

use sha2::Digest;
use waxseal_envelope::Signer;
use waxseal_message::{Admitted, AdmittedMessage, Arrival, Bus, Examined, Rejection, oslo};

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
    pub fn new(signer: Signer) -> Result<Self, waxseal_slip::SlipError> {
        let signer = waxseal_slip::hop_signer(signer, Some("gateway"), Some("verified"))?;
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
        /// The replay key the bus admitted (a signed message), to settle once the
        /// delivery's acknowledgement went out ([`Bus::settle`]).
        key: Option<[u8; 32]>,
        /// A broker redelivery of a message admitted and not yet settled (see
        /// [`waxseal_message::replay`]).
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

/// Admits `body` that arrived as `arrival` says ([`Bus::admit`]), then countersigns a
/// signed oslo envelope with `countersigner`: [`examine`] and [`finish`] in one go.
pub fn admit_and_countersign(
    bus: &Bus,
    arrival: &Arrival,
    body: &[u8],
    countersigner: Option<&Countersigner>,
) -> Outcome {
    match examine(bus, arrival, body) {
        Ok(examined) => finish(bus.admit_examined(examined), body, countersigner),
        Err(outcome) => outcome,
    }
}

/// Every check but the replay store ([`Bus::examine`]); a refusal (or a requeue) is the
/// outcome already.
pub fn examine(bus: &Bus, arrival: &Arrival, body: &[u8]) -> Result<Examined, Outcome> {
    bus.examine(body, arrival)
        .map_err(|r| not_admitted(r, body))
}

/// The outcome of the replay store's answer ([`Bus::admit_examined`]): countersigns a
/// signed oslo envelope that was admitted.
pub fn finish(
    admitted: Result<Admitted, Rejection>,
    body: &[u8],
    countersigner: Option<&Countersigner>,
) -> Outcome {
    let admitted = match admitted {
        Ok(a) => a,
        Err(r) => return not_admitted(r, body),
    };
    let id = admitted
        .replay_key
        .map_or_else(|| body_id(body), hex::encode);
    let entity = admitted.entity().map(|e| e.id.clone());
    let body = match (countersigner, &admitted.message) {
        (Some(c), AdmittedMessage::Oslo(v)) if v.signed => {
            // The envelope was parsed strictly by the admission; parse it again to
            // countersign (the admitted report keeps the inner message, not the envelope).
            let countersigned = waxseal_message::json::parse(body)
                .map_err(|e| e.to_string())
                .and_then(|envelope| {
                    oslo::countersign(&envelope, &c.signer, c.max_hops).map_err(|e| e.to_string())
                });
            match countersigned {
                Ok(out) => Some(serde_json::to_vec(&out).expect("values serialise")),
                Err(detail) => {
                    return Outcome::Refused {
                        reason: COUNTERSIGN_FAILED.into(),
                        detail,
                        id,
                    };
                }
            }
        }
        _ => None,
    };
    Outcome::Verified {
        entity,
        body,
        id,
        key: admitted.replay_key,
        duplicate: admitted.duplicate,
    }
}

/// SHA-256 of the body in hex: the id of a message not admitted.
fn body_id(body: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(body))
}

/// A refusal, or a requeue when the failure is the receiver's own.
fn not_admitted(r: Rejection, body: &[u8]) -> Outcome {
    let detail = format!("{}: {}", r.stage.name(), r.reason);
    if r.is_transient() {
        Outcome::Requeue {
            reason: r.code,
            detail,
            id: body_id(body),
        }
    } else {
        Outcome::Refused {
            reason: r.code,
            detail,
            id: body_id(body),
        }
    }
}
