//! oslo.messaging envelopes: `{"oslo.version": "2.0", "oslo.message": "<json text>"}`.
//!
//! Signing adds `"oslo.signature"`: base64 of a detached CMS SignedData (certificates
//! embedded) over the exact UTF-8 bytes of the `oslo.message` string, so no
//! canonicalization is involved. An unmodified oslo.messaging service ignores the extra key.
//! A hop that forwards the message countersigns that CMS ([`countersign`]), making it a
//! routing slip that [`Bus::verify_oslo`] checks against the configured route.
//!
//! **The route is signed.** The origin binds the message to where it is sent: the topic
//! (the routing key, `topic` or `topic.server` for a message to one server) and optionally
//! the exchange, as signed attributes of its signature ([`ROUTE_TOPIC`],
//! [`ROUTE_EXCHANGE`]; UTF8String). The receiver says where the message arrived
//! ([`Bus::verify_oslo`] takes the topic as a required argument) and a different topic or
//! exchange is refused (`topic-mismatch`), as is an envelope without a signed route
//! (`topic-required`): a message meant for one node cannot be replayed to another, and
//! the routing policy, `nitpicky` and claims are always checked against a topic.
//!
//! A forwarding hop (a routing-slip countersignature) that sends the message on to
//! another queue signs its own route the same way ([`route_signer`] on the hop's signer);
//! the route compared with the arrival topic is the one signed last (the origin's, unless
//! a hop re-bound it). A hop that signs no route forwards on the route it received. The
//! origin is authorized for the arrival topic.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Serialize;
use serde_json::{Map, Value};

use const_oid::ObjectIdentifier as Oid;
use waxseal_entity::glob::MALFORMED_TOPIC;
use waxseal_entity::{Authorization, EntityId};
use waxseal_envelope::rfc5652::Attribute;
use waxseal_envelope::{Envelope, EnvelopeBuilder, Signer};
use waxseal_slip::{SlipError, SlipVerifier, append_hop};

use crate::arrival::Call;
use crate::bus::{Bus, Checked, MAX_FIELD_LEN, TOPIC_MISMATCH, TOPIC_REQUIRED};
use crate::error::{Rejection, SignError, Stage};
use crate::json;
use crate::replay::replay_key;
pub use crate::route::{Route, RouteError};

/// Signed attribute: the topic (routing key) the origin sent the message to, UTF8String.
/// Under waxseal's private arc (see `waxseal_trust::oid`), `.4.1`.
pub const ROUTE_TOPIC: Oid = Oid::new_unwrap(
    "1.2.840.113556.1.8000.2554.62585.65061.63238.17646.10553078.12575029.42011.4.1",
);
/// Signed attribute: the exchange the origin sent the message to, UTF8String (optional).
pub const ROUTE_EXCHANGE: Oid = Oid::new_unwrap(
    "1.2.840.113556.1.8000.2554.62585.65061.63238.17646.10553078.12575029.42011.4.2",
);

/// The route `attrs` (the origin's signed attributes) carry; `Err` if one is malformed.
fn signed_route(attrs: &[Attribute]) -> Result<Option<Route>, Rejection> {
    let text = |oid: Oid, name: &str| -> Result<Option<String>, Rejection> {
        let found: Vec<&Attribute> = attrs.iter().filter(|a| a.oid == oid).collect();
        let bad = || {
            Rejection::format(
                "malformed",
                format!("the signed {name} attribute is not one UTF8String"),
            )
        };
        match found.as_slice() {
            [] => Ok(None),
            [a] if a.values.len() == 1 => {
                let (tag, value) =
                    waxseal_trust::asn1::read_one(&a.values[0]).map_err(|_| bad())?;
                if tag != 0x0c {
                    return Err(bad());
                }
                String::from_utf8(value.to_vec())
                    .map(Some)
                    .map_err(|_| bad())
            }
            _ => Err(bad()),
        }
    };
    let topic = text(ROUTE_TOPIC, "route topic")?;
    let exchange = text(ROUTE_EXCHANGE, "route exchange")?;
    match (topic, exchange) {
        (Some(topic), exchange) => Ok(Some(Route { exchange, topic })),
        (None, None) => Ok(None),
        (None, Some(_)) => Err(Rejection::format(
            "malformed",
            "the signature binds an exchange but no topic",
        )),
    }
}

/// `oslo.version`.
pub const VERSION_KEY: &str = "oslo.version";
/// `oslo.message`.
pub const MESSAGE_KEY: &str = "oslo.message";
/// `oslo.signature`, waxseal's addition.
pub const SIGNATURE_KEY: &str = "oslo.signature";
/// The envelope version waxseal handles.
pub const VERSION: &str = "2.0";

/// An oslo envelope's parts, borrowed: verification reads them, and only signing makes
/// the new envelope ([`Parts::without_signature`]).
struct Parts<'a> {
    message: &'a str,
    signature: Option<&'a str>,
    /// The members (of a delivery read by `json::parse_object`, without those kept apart:
    /// only signing, which has the whole value, copies them).
    object: &'a Map<String, Value>,
}

impl Parts<'_> {
    /// A copy of the envelope's members without `oslo.signature`: what a new signature is
    /// added to.
    fn without_signature(&self) -> Map<String, Value> {
        let mut rest = self.object.clone();
        rest.remove(SIGNATURE_KEY);
        rest
    }
}

fn parts(envelope: &Value) -> Result<Parts<'_>, Rejection> {
    parts_of(json::Object::new(envelope))
}

/// The `oslo.message` text of an oslo envelope whose members may be held apart; a
/// refusal for anything that is not an oslo envelope.
pub(crate) fn message_text(envelope: json::Object<'_>) -> Result<&str, Rejection> {
    Ok(parts_of(envelope)?.message)
}

/// Refuses anything that is not an oslo envelope (`malformed`).
pub(crate) fn check_envelope(envelope: &Value) -> Result<(), Rejection> {
    parts(envelope).map(|_| ())
}

/// [`parts`] of an envelope whose members may be held apart ([`json::Object`]).
fn parts_of(envelope: json::Object<'_>) -> Result<Parts<'_>, Rejection> {
    let Value::Object(obj) = envelope.value() else {
        return Err(Rejection::format(
            "malformed",
            "an oslo envelope is a JSON object",
        ));
    };
    match obj.get(VERSION_KEY) {
        Some(Value::String(v)) if v == VERSION => {}
        Some(v) => {
            return Err(Rejection::format(
                "malformed",
                format!("{VERSION_KEY} is {v}, expected \"{VERSION}\""),
            ));
        }
        None => {
            return Err(Rejection::format(
                "malformed",
                format!("not an oslo envelope: no {VERSION_KEY}"),
            ));
        }
    }
    let Some(Ok(message)) = envelope.member(MESSAGE_KEY) else {
        return Err(Rejection::format(
            "malformed",
            format!("{MESSAGE_KEY} must be a string"),
        ));
    };
    let signature = match envelope.member(SIGNATURE_KEY) {
        None => None,
        Some(Ok(s)) if s.len() <= MAX_FIELD_LEN => Some(s),
        Some(_) => {
            return Err(Rejection::format(
                "malformed",
                format!("{SIGNATURE_KEY} must be a base64 string"),
            ));
        }
    };
    Ok(Parts {
        message,
        signature,
        object: obj,
    })
}

fn sign_err(r: Rejection) -> SignError {
    SignError::Message(r.reason)
}

/// Wraps an oslo.messaging message (`{"method": ..., "args": ...}`) in a version 2.0
/// envelope. Numbers that are not exactly a double are refused (`inexact-number`); to keep
/// the message's text as written, use [`wrap_text`].
pub fn wrap(message: &Value) -> Result<Value, SignError> {
    json::check(message)?;
    let text = serde_json::to_string(message).map_err(|e| SignError::Message(e.to_string()))?;
    Ok(serde_json::json!({ VERSION_KEY: VERSION, MESSAGE_KEY: text }))
}

/// Wraps the message `text` in a version 2.0 envelope as it is (surrounding white space
/// trimmed): it is parsed strictly first, and must be a JSON object.
pub fn wrap_text(text: &str) -> Result<Value, SignError> {
    let message = json::parse(text.as_bytes())?;
    if !message.is_object() {
        return Err(SignError::Message(
            "an oslo message must be a JSON object".into(),
        ));
    }
    Ok(serde_json::json!({ VERSION_KEY: VERSION, MESSAGE_KEY: text.trim() }))
}

/// `signer` with the route it sends to as signed attributes ([`ROUTE_TOPIC`], and
/// [`ROUTE_EXCHANGE`] when the route names one). Every envelope [`sign`] makes with it is
/// bound to that route.
pub fn route_signer(signer: Signer, route: &Route) -> Result<Signer, SignError> {
    route.check().map_err(SignError::Route)?;
    let mut signer = signer.with_signed_attribute(Attribute::new(
        ROUTE_TOPIC,
        waxseal_trust::asn1::tlv(0x0c, route.topic.as_bytes()),
    ))?;
    if let Some(e) = &route.exchange {
        signer = signer.with_signed_attribute(Attribute::new(
            ROUTE_EXCHANGE,
            waxseal_trust::asn1::tlv(0x0c, e.as_bytes()),
        ))?;
    }
    Ok(signer)
}

/// Adds `oslo.signature` (replacing any) made by `signer`, which must carry the route
/// ([`route_signer`]): an envelope without a signed route would be refused by every
/// receiver (`topic-required`), so it is not made. The inner message is parsed strictly
/// (exact numbers) but signed as the exact text it is. A bus that time-stamps its messages
/// signs with [`Bus::sign_oslo`].
pub fn sign(envelope: &Value, signer: &Signer) -> Result<Value, SignError> {
    sign_stamped(envelope, signer, |_| Ok(()))
}

/// [`sign`], with `stamp` applied to the CMS before it is encoded.
fn sign_stamped(
    envelope: &Value,
    signer: &Signer,
    stamp: impl FnOnce(&mut Envelope) -> Result<(), SignError>,
) -> Result<Value, SignError> {
    let p = parts(envelope).map_err(sign_err)?;
    json::parse(p.message.as_bytes())?;
    let mut built = EnvelopeBuilder::new(p.message.as_bytes())
        .detached(true)
        .add_signer(signer)
        .build()?;
    let attrs: Vec<Attribute> = built
        .signed_data()
        .signer_infos
        .iter()
        .flat_map(|si| si.signed_attrs.iter().flat_map(|a| a.iter().cloned()))
        .collect();
    if !matches!(signed_route(&attrs), Ok(Some(_))) {
        return Err(SignError::Message(format!(
            "{TOPIC_REQUIRED}: the signer carries no route: make it with oslo::route_signer"
        )));
    }
    stamp(&mut built)?;
    let cms = built.to_der();
    let mut out = p.without_signature();
    out.insert(SIGNATURE_KEY.into(), Value::String(STANDARD.encode(cms)));
    Ok(Value::Object(out))
}

/// Adds a routing-slip hop: `signer` (with hop attributes, see
/// [`waxseal_slip::hop_signer`]) countersigns the last hop of the CMS in `oslo.signature`.
pub fn countersign(envelope: &Value, signer: &Signer, max_hops: usize) -> Result<Value, SignError> {
    let p = parts(envelope).map_err(sign_err)?;
    let sig = p.signature.ok_or_else(|| {
        SignError::Message("the envelope has no oslo.signature to countersign".into())
    })?;
    let der = STANDARD
        .decode(sig.as_bytes())
        .map_err(|e| SignError::Message(format!("{SIGNATURE_KEY} is not base64: {e}")))?;
    let mut cms = waxseal_slip::parse(&der, max_hops)?;
    append_hop(&mut cms, 0, signer, true, max_hops)?;
    let mut out = p.without_signature();
    out.insert(
        SIGNATURE_KEY.into(),
        Value::String(STANDARD.encode(cms.to_der())),
    );
    Ok(Value::Object(out))
}

/// One hop of a verified oslo message.
#[derive(Debug, Clone, Serialize)]
pub struct HopSummary {
    /// Position (0: the origin).
    pub index: usize,
    /// The hop's entity ID (per the bus's entity rules).
    pub entity: String,
    /// Its certificate subject.
    pub subject: String,
    /// The hop-role attribute.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// The hop-action attribute.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// Signing time, RFC 3339.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signing_time: Option<String>,
}

/// A verified (and authorized) oslo message.
#[derive(Debug, Clone, Serialize)]
pub struct OsloVerified {
    /// The inner message, parsed.
    pub message: Value,
    /// Whether it was signed.
    pub signed: bool,
    /// The origin's entity.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entity: Option<EntityId>,
    /// The authorization of the origin for the topic and payload.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authorization: Option<Authorization>,
    /// The route, origin first.
    pub hops: Vec<HopSummary>,
    /// Where the origin sent it (the signed route; `None` for an unsigned message).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub route: Option<Route>,
}

impl Bus {
    /// Signs an oslo envelope as [`sign`] does, time-stamped at the configured `tsa_url`
    /// (when set) as [`Bus::sign`] says: a TSA out of reach or a reply refused fails the
    /// call, and no envelope is made.
    pub fn sign_oslo(&self, envelope: &Value, signer: &Signer) -> Result<Value, SignError> {
        sign_stamped(envelope, signer, |cms| self.stamp(cms))
    }

    /// The checks of an oslo envelope that arrived on `arrived`, all but the replay store
    /// (see [`Bus::admit`]): the signature (and routing slip, against the configured
    /// route), the origin's certificate path, the signed route against `arrived`
    /// (`topic-required`, `topic-mismatch`), freshness, then the origin's authorization
    /// for the topic with the inner message as the payload for claims; for a reply to
    /// `call`, the reply's binding to it instead ([`Call`]).
    pub(crate) fn check_oslo(
        &self,
        envelope: json::Object<'_>,
        arrived: &Route,
        call: Option<&Call>,
    ) -> Result<Checked<OsloVerified>, Rejection> {
        arrived
            .check()
            .map_err(|e| Rejection::format(MALFORMED_TOPIC, e.to_string()))?;
        let topic = arrived.topic.as_str();
        let p = parts_of(envelope)?;
        let message = json::parse(p.message.as_bytes())
            .map_err(|e| Rejection::format(e.code, format!("{MESSAGE_KEY}: {}", e.message)))?;
        let Some(verifier) = self.current_verifier()? else {
            return Ok(Checked::unrecorded(OsloVerified {
                message,
                signed: false,
                entity: None,
                authorization: None,
                hops: Vec::new(),
                route: None,
            }));
        };
        let Some(sig) = p.signature else {
            return if self.unsigned_allowed(topic) && call.is_none() {
                Ok(Checked::unrecorded(OsloVerified {
                    message,
                    signed: false,
                    entity: None,
                    authorization: None,
                    hops: Vec::new(),
                    route: None,
                }))
            } else {
                Err(Rejection::new(
                    Stage::Signature,
                    "unsigned",
                    "the oslo envelope has no oslo.signature",
                ))
            };
        };
        let der = STANDARD.decode(sig.as_bytes()).map_err(|e| {
            Rejection::format("malformed", format!("{SIGNATURE_KEY} is not base64: {e}"))
        })?;
        let expectations = self.route_expectations();
        let cms: Envelope = waxseal_slip::parse(&der, expectations.max_hops)
            .map_err(|e| Rejection::format("malformed", format!("{SIGNATURE_KEY}: {e}")))?;
        if !cms.is_detached() {
            return Err(Rejection::format(
                "malformed",
                "oslo.signature must be a detached CMS signature",
            ));
        }
        let route_max_age = expectations.max_age;
        let slip = SlipVerifier::new(&verifier)
            .with_expectations(expectations)
            .with_namer(self.authorizer().namer())
            .verify(&cms, Some(p.message.as_bytes()))
            .map_err(slip_rejection)?;
        let origin = &slip.hops[0];
        // The route: the origin's, re-bound by each forwarding hop that signs one.
        let mut signed = None;
        for h in &slip.hops {
            if let Some(r) = signed_route(&h.signed_attributes)? {
                signed = Some(r);
            } else if h.index == 0 {
                return Err(Rejection::new(
                    Stage::Route,
                    TOPIC_REQUIRED,
                    "the envelope's signature binds no route: the origin must sign the topic it sends to",
                ));
            }
        }
        let signed = signed.expect("hop 0 bound a route");
        if signed != *arrived {
            return Err(Rejection::new(
                Stage::Route,
                TOPIC_MISMATCH,
                format!(
                    "{} signed it for {} but it arrived on {}",
                    if slip.hops.len() > 1 {
                        "the last forwarding hop"
                    } else {
                        "the origin"
                    },
                    signed.describe(),
                    arrived.describe()
                ),
            ));
        }
        // No hop's signing time lies in the future: the slip verified that (`future_skew`).
        let expires = self.check_freshness(origin.signing_time, route_max_age)?;
        let authorization = match call {
            None => self
                .authorizer()
                .authorize(&origin.certificate, topic, Some(&message)),
            Some(call) => {
                call.check_bound(&message)?;
                self.authorizer().authorize_reply(
                    &origin.certificate,
                    &call.topic_key(),
                    call.server.as_deref(),
                )
            }
        };
        if let Some(d) = authorization.denial() {
            return Err(Rejection::new(
                Stage::Authorization,
                d.code,
                d.reason.clone(),
            ));
        }
        // The origin's signed attributes as received, from the envelope signer that is
        // hop 0 (by its index, not by looking its certificate up again).
        let key = replay_key(
            &origin.certificate,
            slip.origin_signer().and_then(|s| s.signed_attributes()),
            p.message.as_bytes(),
        );
        let hops = slip
            .hops
            .iter()
            .map(|h| HopSummary {
                index: h.index,
                entity: h.name.clone(),
                subject: h.certificate.subject_display(),
                role: h.role.clone(),
                action: h.action.clone(),
                signing_time: h.signing_time.map(waxseal_trust::time::format),
            })
            .collect();
        Ok(Checked {
            value: OsloVerified {
                message,
                signed: true,
                entity: authorization.entity.clone(),
                authorization: Some(authorization),
                hops,
                route: Some(signed),
            },
            record: Some((key, expires)),
        })
    }
}

fn slip_rejection(e: SlipError) -> Rejection {
    let stage = match &e {
        SlipError::Origin(error) => Stage::of(error.kind()),
        SlipError::Hop { error, .. } => Stage::of(error.kind()),
        SlipError::Parse(_) => Stage::Format,
        SlipError::SigningTimeInFuture { .. } => Stage::Freshness,
        _ => Stage::Route,
    };
    Rejection {
        stage,
        code: e.code().into(),
        reason: e.to_string(),
        hop: e.hop(),
        class: crate::error::Class::Permanent,
        kind: e.kind(),
    }
}
