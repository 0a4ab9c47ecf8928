//! Why a message was rejected: the stage that refused it, a stable code and a reason.

use serde::Serialize;

/// Where in validation a message was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    /// The message itself: JSON, fields, encodings.
    Format,
    /// The CMS signature over the message.
    Signature,
    /// The signer's certificate path, CRLs included.
    Certificate,
    /// A routing-slip hop or the route.
    Route,
    /// Entity, registry, routing policy or claims.
    Authorization,
    /// Signing time (future, too old) and replay.
    Freshness,
}

impl Stage {
    /// The stage's name (`signature`, `authorization`...).
    pub fn name(self) -> &'static str {
        match self {
            Self::Format => "format",
            Self::Signature => "signature",
            Self::Certificate => "certificate",
            Self::Route => "route",
            Self::Authorization => "authorization",
            Self::Freshness => "freshness",
        }
    }
}

/// Whose fault a refusal is, and so what a consumer does with the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Class {
    /// The message itself is at fault (forged, tampered, unauthorized, replayed,
    /// malformed...): the same message is refused every time. Refuse it for good.
    #[default]
    Permanent,
    /// The receiver could not decide now (a CRL server down with no current copy, the
    /// replay store unreachable): a failure of ours, not of the message. Requeue it and
    /// try again later; never accept it meanwhile.
    Transient,
}

/// A rejected message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{}", waxseal_envelope::display::Escaped(.reason))]
pub struct Rejection {
    /// The stage that refused it.
    pub stage: Stage,
    /// Stable reason code (`message-digest-mismatch`, `revoked`, `routing-policy-denied`...).
    pub code: String,
    /// One line for a person.
    pub reason: String,
    /// The routing-slip hop concerned, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hop: Option<usize>,
    /// Permanent (the message's fault) or transient (the receiver's).
    pub class: Class,
}

impl Rejection {
    pub(crate) fn format(code: &str, reason: impl Into<String>) -> Self {
        Self::new(Stage::Format, code, reason)
    }

    pub(crate) fn new(stage: Stage, code: &str, reason: impl Into<String>) -> Self {
        Self {
            stage,
            code: code.into(),
            reason: reason.into(),
            hop: None,
            class: Class::Permanent,
        }
    }

    /// A refusal that is the receiver's failure, not the message's ([`Class::Transient`]).
    pub(crate) fn transient(stage: Stage, code: &str, reason: impl Into<String>) -> Self {
        Self {
            class: Class::Transient,
            ..Self::new(stage, code, reason)
        }
    }

    /// Whether the message should be retried later rather than refused for good.
    pub fn is_transient(&self) -> bool {
        self.class == Class::Transient
    }
}

/// The stage an envelope or path reason code belongs to.
pub(crate) fn stage_of(code: &str) -> Stage {
    const CERTIFICATE: [&str; 22] = [
        "no-trust-anchors",
        "untrusted",
        "bad-certificate-signature",
        "certificate-expired",
        "certificate-not-yet-valid",
        "issuer-not-ca",
        "issuer-lacks-keycertsign",
        "path-length-exceeded",
        "key-usage",
        "ext-key-usage",
        "unknown-critical-extension",
        "malformed-extension",
        "certificate-algorithm",
        "bad-public-key",
        "key-too-large",
        "name-constraints",
        "certificate-policy",
        "revoked",
        "crl-expired",
        "revocation-unknown",
        "path-too-long",
        "budget-exceeded",
    ];
    if CERTIFICATE.contains(&code)
        || code == "signer-certificate-not-found"
        || code == "certificate-mismatch"
    {
        Stage::Certificate
    } else if code == "malformed" {
        Stage::Format
    } else {
        Stage::Signature
    }
}

/// A problem signing a message (the input, not a verification).
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    /// The message is not something waxseal signs.
    #[error("{0}")]
    Message(String),
    /// The message is not strict JSON, or holds a number that is not exactly a double
    /// (`malformed-json`, `inexact-number`): it is refused, never rewritten.
    #[error(transparent)]
    Json(#[from] crate::json::JsonError),
    /// The topic (route) is not printable ASCII without white space (`malformed-topic`).
    #[error("{0}")]
    Topic(String),
    /// The envelope could not be made.
    #[error(transparent)]
    Envelope(#[from] waxseal_envelope::SignError),
    /// Adding a routing-slip hop failed.
    #[error(transparent)]
    Slip(#[from] waxseal_slip::SlipError),
    /// The bus's time-stamp authority (`tsa_url`) could not stamp the signature: out of
    /// reach (`tsa-unavailable`, a failure of ours: try again later) or its reply refused
    /// (the reply's reason code, `timestamp-*`: the TSA's fault). The sign call then fails
    /// and no message is made, so nothing is sent unstamped.
    #[error("time-stamp: {0}")]
    Timestamp(#[from] crate::timestamp::StampError),
}

impl SignError {
    /// The reason code when the input itself is refused (`inexact-number`,
    /// `malformed-json`, `malformed-topic`); `None` for other failures.
    pub fn input_code(&self) -> Option<&'static str> {
        match self {
            Self::Json(e) => Some(e.code),
            Self::Topic(_) => Some(waxseal_entity::glob::MALFORMED_TOPIC),
            Self::Message(_) => Some("malformed-message"),
            _ => None,
        }
    }

    /// The reason code of a failure with one: the input's ([`SignError::input_code`]) or
    /// the time-stamp's ([`crate::timestamp::StampError::code`]); `None` for other
    /// failures (a signer that cannot sign).
    pub fn code(&self) -> Option<&'static str> {
        match self {
            Self::Timestamp(e) => Some(e.code()),
            _ => self.input_code(),
        }
    }

    /// Whether the failure is ours and passing (the TSA out of reach): the same call may
    /// succeed later.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::Timestamp(crate::timestamp::StampError::Unavailable(_))
        )
    }
}

/// A configuration file that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);
