//! oslo.messaging envelopes: `{"oslo.version": "2.0", "oslo.message": "<json text>"}`.
//!
//! Signing adds `"oslo.signature"`: base64 of a detached CMS SignedData (certificates
//! embedded) over the exact UTF-8 bytes of the `oslo.message` string, so no
//! canonicalization is involved. An unmodified oslo.messaging service ignores the extra key.
//! A hop that forwards the message countersigns that CMS ([`countersign`]), making it a
//! routing slip that [`Bus::verify_oslo`] checks against the configured route.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Serialize;
use serde_json::{Map, Value};

use waxseal_entity::{Authorization, EntityId};
use waxseal_envelope::{Envelope, EnvelopeBuilder, Signer};
use waxseal_slip::{SlipError, SlipVerifier, append_hop};

use crate::bus::{Bus, MAX_FIELD_LEN};
use crate::error::{Rejection, SignError, Stage, stage_of};
use crate::json;

/// `oslo.version`.
pub const VERSION_KEY: &str = "oslo.version";
/// `oslo.message`.
pub const MESSAGE_KEY: &str = "oslo.message";
/// `oslo.signature`, waxseal's addition.
pub const SIGNATURE_KEY: &str = "oslo.signature";
/// The envelope version waxseal handles.
pub const VERSION: &str = "2.0";

/// An oslo envelope's parts.
struct Parts<'a> {
    message: &'a str,
    signature: Option<&'a str>,
    rest: Map<String, Value>,
}

fn parts(envelope: &Value) -> Result<Parts<'_>, Rejection> {
    let Value::Object(obj) = envelope else {
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
    let Some(Value::String(message)) = obj.get(MESSAGE_KEY) else {
        return Err(Rejection::format(
            "malformed",
            format!("{MESSAGE_KEY} must be a string"),
        ));
    };
    let signature = match obj.get(SIGNATURE_KEY) {
        None => None,
        Some(Value::String(s)) if s.len() <= MAX_FIELD_LEN => Some(s.as_str()),
        Some(_) => {
            return Err(Rejection::format(
                "malformed",
                format!("{SIGNATURE_KEY} must be a base64 string"),
            ));
        }
    };
    let mut rest = obj.clone();
    rest.remove(SIGNATURE_KEY);
    Ok(Parts {
        message,
        signature,
        rest,
    })
}

fn sign_err(r: Rejection) -> SignError {
    SignError::Message(r.reason)
}

/// Wraps an oslo.messaging message (`{"method": ..., "args": ...}`) in a version 2.0
/// envelope.
pub fn wrap(message: &Value) -> Result<Value, SignError> {
    let text = serde_json::to_string(message).map_err(|e| SignError::Message(e.to_string()))?;
    Ok(serde_json::json!({ VERSION_KEY: VERSION, MESSAGE_KEY: text }))
}

/// Adds `oslo.signature` (replacing any) made by `signer`.
pub fn sign(envelope: &Value, signer: &Signer) -> Result<Value, SignError> {
    let p = parts(envelope).map_err(sign_err)?;
    let cms = EnvelopeBuilder::new(p.message.as_bytes())
        .detached(true)
        .add_signer(signer)
        .build()?
        .to_der();
    let mut out = p.rest;
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
    let mut out = p.rest;
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
}

impl Bus {
    /// Verifies wire bytes of an oslo envelope (strict JSON).
    pub fn verify_oslo_bytes(
        &self,
        bytes: &[u8],
        topic: Option<&str>,
    ) -> Result<OsloVerified, Rejection> {
        let envelope = json::parse(bytes).map_err(|e| Rejection::format("malformed-json", e.0))?;
        self.verify_oslo(&envelope, topic)
    }

    /// Verifies an oslo envelope received on `topic` (the RPC topic or routing key, which
    /// the routing policy is checked against): the signature (and routing slip, against the
    /// configured route), the origin's certificate path, then its authorization, with the
    /// inner message as the payload for claims.
    pub fn verify_oslo(
        &self,
        envelope: &Value,
        topic: Option<&str>,
    ) -> Result<OsloVerified, Rejection> {
        let p = parts(envelope)?;
        let message = json::parse(p.message.as_bytes())
            .map_err(|e| Rejection::format("malformed-json", format!("{MESSAGE_KEY}: {}", e.0)))?;
        let Some(verifier) = self.verifier() else {
            return Ok(OsloVerified {
                message,
                signed: false,
                entity: None,
                authorization: None,
                hops: Vec::new(),
            });
        };
        let Some(sig) = p.signature else {
            return match topic {
                Some(t) if self.unsigned_allowed(t) => Ok(OsloVerified {
                    message,
                    signed: false,
                    entity: None,
                    authorization: None,
                    hops: Vec::new(),
                }),
                _ => Err(Rejection::new(
                    Stage::Signature,
                    "unsigned",
                    "the oslo envelope has no oslo.signature",
                )),
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
        let slip = SlipVerifier::new(verifier)
            .with_expectations(expectations)
            .with_namer(self.authorizer().namer())
            .verify(&cms, Some(p.message.as_bytes()))
            .map_err(slip_rejection)?;
        let origin = &slip.hops[0];
        let authorization = self
            .authorizer()
            .authorize(&origin.certificate, topic, Some(&message));
        if let Some(d) = authorization.denial() {
            return Err(Rejection::new(
                Stage::Authorization,
                d.code,
                d.reason.clone(),
            ));
        }
        let hops = slip
            .hops
            .iter()
            .map(|h| HopSummary {
                index: h.index,
                entity: h.name.clone(),
                subject: h.certificate.subject_display(),
                role: h.role.clone(),
                action: h.action.clone(),
                signing_time: h.signing_time.map(waxseal_envelope::time::format),
            })
            .collect();
        Ok(OsloVerified {
            message,
            signed: true,
            entity: authorization.entity.clone(),
            authorization: Some(authorization),
            hops,
        })
    }
}

fn slip_rejection(e: SlipError) -> Rejection {
    let code = e.code();
    let stage = match &e {
        SlipError::Origin(_) | SlipError::Hop { .. } => stage_of(code),
        SlipError::Parse(_) => Stage::Format,
        _ => Stage::Route,
    };
    Rejection {
        stage,
        code: code.into(),
        reason: e.to_string(),
        hop: e.hop(),
    }
}
