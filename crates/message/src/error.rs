//! Why a message was rejected ([`Rejection`]: the stage that refused it, a stable code, a
//! reason and its [`Class`]), and why signing, a configuration, a fetch or a time-stamp
//! failed.

use serde::Serialize;
use waxseal_envelope::VerifyError;
use waxseal_envelope::rfc3161::TimestampError;
use waxseal_trust::ErrorKind;

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

    /// The stage that refuses an envelope or path error of `kind`: a malformed envelope
    /// is [`Stage::Format`]; the signer's certificate, its path and the work budget are
    /// [`Stage::Certificate`]; the signature and its attributes [`Stage::Signature`].
    pub fn of(kind: ErrorKind) -> Self {
        match kind {
            ErrorKind::Malformed => Self::Format,
            ErrorKind::Untrusted | ErrorKind::Certificate | ErrorKind::Budget => Self::Certificate,
            // ErrorKind::Signature, and any kind added later.
            _ => Self::Signature,
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
#[error("{}", waxseal_trust::display::Escaped(.reason))]
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
    /// What a refusal by the envelope or path verification is about (`None` for the
    /// message's own checks), so that a caller decides by type, not by code.
    #[serde(skip)]
    pub kind: Option<ErrorKind>,
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
            kind: None,
        }
    }

    /// The refusal of an envelope that did not verify: its stage from the error's kind
    /// ([`Stage::of`]).
    pub(crate) fn verify(e: &VerifyError) -> Self {
        Self {
            kind: Some(e.kind()),
            ..Self::new(Stage::of(e.kind()), e.code(), e.to_string())
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

    /// Whether the signer's certificate has no path to a trust anchor
    /// ([`ErrorKind::Untrusted`]: a missing intermediate is the usual cause).
    pub fn is_untrusted(&self) -> bool {
        self.kind == Some(ErrorKind::Untrusted)
    }
}

/// A problem signing a message (the input, not a verification).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SignError {
    /// The message is not something waxseal signs.
    #[error("{0}")]
    Message(String),
    /// The message is not strict JSON, or holds a number that is not exactly a double
    /// (`malformed-json`, `inexact-number`): it is refused, never rewritten.
    #[error(transparent)]
    Json(#[from] crate::json::JsonError),
    /// The topic is not printable ASCII without white space (`malformed-topic`).
    #[error("{0}")]
    Topic(#[from] waxseal_entity::glob::TopicError),
    /// The oslo route's topic or exchange is not printable ASCII without white space
    /// (`malformed-topic`).
    #[error("{0}")]
    Route(#[from] crate::route::RouteError),
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
    Timestamp(#[from] StampError),
}

impl SignError {
    /// The reason code when the input itself is refused (`inexact-number`,
    /// `malformed-json`, `malformed-topic`); `None` for other failures.
    pub fn input_code(&self) -> Option<&'static str> {
        match self {
            Self::Json(e) => Some(e.code),
            Self::Topic(_) | Self::Route(_) => Some(waxseal_entity::glob::MALFORMED_TOPIC),
            Self::Message(_) => Some("malformed-message"),
            _ => None,
        }
    }

    /// The reason code of a failure with one: the input's ([`SignError::input_code`]) or
    /// the time-stamp's ([`StampError::code`]); `None` for other
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
        matches!(self, Self::Timestamp(StampError::Unavailable(_)))
    }
}

/// A configuration file that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

/// Why a fetch of a CA bundle, CRL or time-stamp failed (the distribution's `Fetcher`):
/// each names the URL asked for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {
    /// An https URL in a build without the `https` feature.
    #[error("{0}: https is not built in (feature https)")]
    NoHttps(String),
    /// The request failed: connection, TLS, timeout, an HTTP error status, a body larger
    /// than `max_bytes` (the HTTP client's description).
    #[error("{url}: {detail}")]
    Http {
        /// The URL.
        url: String,
        /// What the HTTP client said.
        detail: String,
    },
    /// A POST answered with a status other than 2xx.
    #[error("{url}: HTTP status {status}")]
    Status {
        /// The URL.
        url: String,
        /// The status.
        status: ureq::http::StatusCode,
    },
    /// A redirect without a `Location` header.
    #[error("{url}: a redirect ({status}) without a Location")]
    RedirectWithoutLocation {
        /// The URL.
        url: String,
        /// The status.
        status: ureq::http::StatusCode,
    },
    /// A redirect to another scheme, host or port (the location shown escaped).
    #[error(
        "{url}: a redirect ({status}) to another scheme or host, not followed: {}",
        waxseal_trust::display::Escaped(.location)
    )]
    CrossOriginRedirect {
        /// The URL.
        url: String,
        /// The status.
        status: ureq::http::StatusCode,
        /// Where it pointed.
        location: String,
    },
    /// More redirects than the fetcher follows (`Fetcher::MAX_REDIRECTS`).
    #[error("{url}: more than {max} redirects")]
    TooManyRedirects {
        /// The URL.
        url: String,
        /// The limit.
        max: usize,
    },
}

/// Why an envelope could not be time-stamped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StampError {
    /// The TSA could not be reached, or answered with an HTTP error: ours to retry.
    #[error("time-stamp authority unavailable: {0}")]
    Unavailable(FetchError),
    /// The TSA's reply (or a token already on a signer) was refused.
    #[error("signer {}: {error}", .index + 1)]
    Refused {
        /// The signer (0-based).
        index: usize,
        /// Why.
        error: TimestampError,
    },
    /// The fetch settings are unusable (`https_roots` unreadable).
    #[error("{0}")]
    Config(String),
}

impl StampError {
    /// A stable, machine-readable reason code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unavailable(_) => "tsa-unavailable",
            Self::Refused { error, .. } => error.code(),
            Self::Config(_) => "usage",
        }
    }
}

#[cfg(test)]
mod tests {
    use waxseal_envelope::{ParseError, SignerError};
    use waxseal_trust::PathError;

    use super::*;

    fn signer(error: SignerError) -> VerifyError {
        VerifyError::Signer {
            index: 0,
            signer: "s".into(),
            error,
        }
    }

    fn untrusted(e: PathError) -> VerifyError {
        signer(SignerError::Untrusted(e))
    }

    fn spent() -> PathError {
        PathError::BudgetExceeded { what: "paths" }
    }

    /// The stage of an envelope refusal comes from its kind: the certificate stage for the
    /// signer's certificate, its path and the budget; the format stage for an envelope
    /// that does not parse; the signature stage for the rest, time-stamps included.
    #[test]
    fn an_envelope_refusal_is_staged_by_its_kind() {
        let certificate = [
            untrusted(PathError::NoTrustAnchors),
            untrusted(PathError::UnknownIssuer {
                cert: "CN=leaf".into(),
                issuer: "CN=ca".into(),
            }),
            untrusted(PathError::Revoked {
                cert: "CN=leaf".into(),
                reason: "keyCompromise".into(),
                date: 0,
            }),
            untrusted(spent()),
            signer(SignerError::CertificateNotFound("serial 1".into())),
            signer(SignerError::BadKey("short".into())),
            signer(SignerError::KeyTooLarge("16384 bits".into())),
            VerifyError::BudgetExceeded("CRL bytes"),
            // The TSA's path spent the budget: the envelope's budget, not the time-stamp.
            signer(SignerError::Timestamp(TimestampError::BadSignature(
                Box::new(SignerError::Untrusted(spent())),
            ))),
        ];
        for e in &certificate {
            let r = Rejection::verify(e);
            assert_eq!(r.stage, Stage::Certificate, "{}", e.code());
            assert_eq!(r.code, e.code());
        }
        let signature = [
            signer(SignerError::BadSignature),
            signer(SignerError::MessageDigestMismatch),
            signer(SignerError::MissingContentType),
            signer(SignerError::Timestamp(TimestampError::Missing)),
            signer(SignerError::Timestamp(TimestampError::BadSignature(
                Box::new(SignerError::Untrusted(PathError::NoTrustAnchors)),
            ))),
            VerifyError::NoSigners,
            VerifyError::MissingContent,
        ];
        for e in &signature {
            assert_eq!(Rejection::verify(e).stage, Stage::Signature, "{}", e.code());
        }
        let malformed = VerifyError::Parse(ParseError::Empty);
        assert_eq!(Rejection::verify(&malformed).stage, Stage::Format);
    }

    /// Only a signer with no path to an anchor is `untrusted` (the CLI's hint about a
    /// missing intermediate); its twins, another path problem and a time-stamp's
    /// untrusted TSA, are not.
    #[test]
    fn only_a_missing_path_is_untrusted() {
        let missing = untrusted(PathError::UnknownIssuer {
            cert: "CN=leaf".into(),
            issuer: "CN=ca".into(),
        });
        assert!(Rejection::verify(&missing).is_untrusted());
        assert_eq!(missing.code(), "untrusted");
        for e in [
            untrusted(PathError::NoTrustAnchors),
            untrusted(spent()),
            signer(SignerError::Timestamp(TimestampError::BadSignature(
                Box::new(SignerError::Untrusted(PathError::UnknownIssuer {
                    cert: "CN=tsa".into(),
                    issuer: "CN=ca".into(),
                })),
            ))),
        ] {
            assert!(!Rejection::verify(&e).is_untrusted(), "{}", e.code());
        }
        assert!(!Rejection::new(Stage::Route, "topic-mismatch", "x").is_untrusted());
    }
}
