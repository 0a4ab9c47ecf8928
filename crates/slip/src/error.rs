//! Why a routing slip was rejected: one variant per reason, each with a stable code.

use waxseal_envelope::{ParseError, SignError, SignerError, VerifyError};
use waxseal_trust::ErrorKind;

/// A routing slip problem.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SlipError {
    /// The envelope (or a countersignature in it) does not parse.
    #[error("malformed slip: {0}")]
    Parse(#[from] ParseError),
    /// The envelope has no signer at the origin index.
    #[error("the envelope has no signer {0} to start the slip from")]
    NoSuchSigner(usize),
    /// The origin (hop 0) or the content did not verify.
    #[error("hop 0 (origin): {0}")]
    Origin(VerifyError),
    /// A hop (k >= 1) did not verify: bad signature, untrusted or revoked certificate...
    #[error("hop {hop}: {error}")]
    Hop {
        /// Position in the slip.
        hop: usize,
        /// What was wrong.
        error: SignerError,
    },
    /// Hop `hop` does not countersign hop `hop - 1`'s signature: hops were reordered,
    /// spliced or replaced.
    #[error("hop {hop} does not countersign hop {}: the chain is broken (hops reordered or spliced)", .hop - 1)]
    ChainBroken {
        /// The hop whose message digest does not match.
        hop: usize,
    },
    /// A SignerInfo with more than one countersignature: a slip is a single route.
    #[error("hop {hop} has {count} countersignatures: a routing slip is one linear route")]
    Branching {
        /// The hop with several countersignatures.
        hop: usize,
        /// How many.
        count: usize,
    },
    /// More hops than allowed (also the bound on nesting depth).
    #[error("the slip has more than {max} hops")]
    TooManyHops {
        /// The limit.
        max: usize,
    },
    /// The expected itinerary continues past the end of the slip.
    #[error("hop {hop} ({expected}) is missing: the slip ends after {} hops", .hop)]
    HopMissing {
        /// Position of the first missing hop.
        hop: usize,
        /// Who was expected there.
        expected: String,
    },
    /// The slip continues past the end of the expected itinerary.
    #[error("unexpected hop {hop} ({}) after the end of the expected itinerary", waxseal_trust::display::Escaped(.found))]
    UnexpectedHop {
        /// Position.
        hop: usize,
        /// Who signed it.
        found: String,
    },
    /// A hop is not who the itinerary expects at that position.
    #[error("hop {hop} is {}, expected {expected}", waxseal_trust::display::Escaped(.found))]
    WrongHop {
        /// Position.
        hop: usize,
        /// Expected entity.
        expected: String,
        /// Actual entity.
        found: String,
    },
    /// A required hop does not appear (in order).
    #[error("the slip does not pass {missing} (required in order: {required})")]
    RequiredHopMissing {
        /// The first required hop not found in order.
        missing: String,
        /// The whole required sequence.
        required: String,
    },
    /// The same entity signs twice: a loop.
    #[error("{} appears twice (hops {first} and {second}): the message looped", waxseal_trust::display::Escaped(.name))]
    RepeatedHop {
        /// The entity.
        name: String,
        /// First position.
        first: usize,
        /// Second position.
        second: usize,
    },
    /// A hop signed earlier than the hop before it (beyond the allowed clock skew).
    #[error("hop {hop} signed at {} but hop {} at {}: time went backwards", waxseal_trust::time::format(*.time), .hop - 1, waxseal_trust::time::format(*.previous))]
    TimeWentBackwards {
        /// The hop.
        hop: usize,
        /// Its signing time.
        time: u64,
        /// The previous hop's signing time.
        previous: u64,
    },
    /// A hop's signing time lies more than the allowed clock skew after the verification
    /// time: a future time would otherwise stretch the maximum age.
    #[error("hop {hop} signed at {}, {} s after the verification time {} (allowed clock skew: {skew} s)", waxseal_trust::time::format(*.time), .time - .now, waxseal_trust::time::format(*.now))]
    SigningTimeInFuture {
        /// The hop.
        hop: usize,
        /// Its signing time.
        time: u64,
        /// The verification time.
        now: u64,
        /// The allowed clock skew, seconds.
        skew: u64,
    },
    /// A hop lacks the signing-time attribute that a check needs.
    #[error("hop {0} has no signing-time attribute")]
    MissingSigningTime(usize),
    /// The slip started longer ago than allowed.
    #[error("the slip started at {} ({age} s ago), older than the maximum of {max} s", waxseal_trust::time::format(*.started))]
    TooOld {
        /// Hop 0's signing time.
        started: u64,
        /// Its age in seconds.
        age: u64,
        /// The maximum.
        max: u64,
    },
    /// Appending a hop failed.
    #[error(transparent)]
    Sign(#[from] SignError),
}

impl SlipError {
    /// A stable, machine-readable reason code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Parse(_) => "malformed",
            Self::NoSuchSigner(_) => "no-signers",
            Self::Origin(e) => e.code(),
            Self::Hop { error, .. } => error.code(),
            Self::ChainBroken { .. } => "hop-chain-broken",
            Self::Branching { .. } => "branching-slip",
            Self::TooManyHops { .. } => "too-many-hops",
            Self::HopMissing { .. } => "hop-missing",
            Self::UnexpectedHop { .. } => "unexpected-hop",
            Self::WrongHop { .. } => "wrong-hop",
            Self::RequiredHopMissing { .. } => "required-hop-missing",
            Self::RepeatedHop { .. } => "repeated-hop",
            Self::TimeWentBackwards { .. } => "time-went-backwards",
            Self::SigningTimeInFuture { .. } => "signing-time-in-future",
            Self::MissingSigningTime(_) => "missing-signing-time",
            Self::TooOld { .. } => "slip-too-old",
            Self::Sign(_) => "sign-failed",
        }
    }

    /// What a verification error is about: the origin's or the hop's
    /// ([`VerifyError::kind`], [`SignerError::kind`]), [`ErrorKind::Malformed`] for a slip
    /// that does not parse; `None` for the route's own checks (order, itinerary, times).
    pub fn kind(&self) -> Option<ErrorKind> {
        match self {
            Self::Parse(_) => Some(ErrorKind::Malformed),
            Self::Origin(e) => Some(e.kind()),
            Self::Hop { error, .. } => Some(error.kind()),
            _ => None,
        }
    }

    /// The hop concerned, when there is one.
    pub fn hop(&self) -> Option<usize> {
        match self {
            Self::Origin(_) => Some(0),
            Self::Hop { hop, .. }
            | Self::ChainBroken { hop }
            | Self::Branching { hop, .. }
            | Self::HopMissing { hop, .. }
            | Self::UnexpectedHop { hop, .. }
            | Self::WrongHop { hop, .. }
            | Self::TimeWentBackwards { hop, .. }
            | Self::SigningTimeInFuture { hop, .. }
            | Self::MissingSigningTime(hop) => Some(*hop),
            Self::RepeatedHop { second, .. } => Some(*second),
            _ => None,
        }
    }
}
