//! Why a certificate path was rejected.

use crate::algorithm::AlgorithmError;

/// Why revocation status could not be established for a certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RevocationProblem {
    /// No CRL from the certificate's CRL issuer was supplied.
    NoCrl,
    /// The only applicable CRLs are past their `nextUpdate`.
    CrlExpired {
        /// The CRL issuer.
        issuer: String,
        /// `nextUpdate`, seconds since the Unix epoch.
        next_update: u64,
    },
    /// A CRL whose `thisUpdate` is after the verification time.
    CrlNotYetValid {
        /// The CRL issuer.
        issuer: String,
    },
    /// A CRL whose signature does not verify, or whose signer is not trusted.
    CrlSignature {
        /// The CRL issuer.
        issuer: String,
        /// Details.
        detail: String,
    },
    /// A CRL with an unknown critical extension (RFC 5280 §5.2).
    CrlUnusable {
        /// The CRL issuer.
        issuer: String,
    },
    /// A CRL carried by the envelope that does not parse (only its framing and issuer
    /// were read when the envelope was).
    CrlMalformed {
        /// The CRL issuer.
        issuer: String,
        /// The parse error.
        detail: String,
    },
    /// The CRLs cover only some revocation reasons, or the certificate's delta CRL is missing.
    Incomplete {
        /// Details.
        detail: String,
    },
}

impl std::fmt::Display for RevocationProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NoCrl => f.write_str("no CRL from its issuer was supplied"),
            Self::CrlExpired {
                issuer,
                next_update,
            } => write!(
                f,
                "the CRL from {issuer} expired at {} (nextUpdate)",
                crate::time::format(*next_update)
            ),
            Self::CrlNotYetValid { issuer } => {
                write!(f, "the CRL from {issuer} is not yet valid (thisUpdate)")
            }
            Self::CrlSignature { issuer, detail } => {
                write!(f, "the CRL from {issuer} cannot be trusted: {detail}")
            }
            Self::CrlUnusable { issuer } => {
                write!(f, "the CRL from {issuer} has an unknown critical extension")
            }
            Self::CrlMalformed { issuer, detail } => {
                write!(f, "the CRL from {issuer} does not parse: {detail}")
            }
            Self::Incomplete { detail } => f.write_str(detail),
        }
    }
}

/// What part of a verification an error is about, so that callers decide by type (which
/// stage refused a message, whether another encoding of the content may verify) and never
/// by reason code or message text. Each error's [`code`](PathError::code) stays the finer,
/// stable reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The input does not parse, or is not the structure it must be.
    Malformed,
    /// A signature, digest, algorithm or signed attribute (the signature itself).
    Signature,
    /// The signer's certificate has no path to a trust anchor: its issuer is neither an
    /// anchor nor leads to one (`untrusted`; a missing intermediate is the usual cause).
    Untrusted,
    /// Any other problem with a certificate or its path: validity, CA constraints, key,
    /// purpose, policy, name constraints, revocation.
    Certificate,
    /// The work budget ran out (`budget-exceeded`): the input is too large or hostile, and
    /// verification of the whole input stops.
    Budget,
}

/// A certificate path could not be validated. Every variant names the certificate
/// concerned (its subject) and has a stable [`PathError::code`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PathError {
    /// No trust anchors were configured.
    #[error("no trust anchors configured")]
    NoTrustAnchors,
    /// No chain leads from the certificate to a trust anchor.
    #[error(
        "untrusted: {cert} does not chain to a configured trust anchor (its issuer {issuer} is not a trust anchor, and no certificate for it leads to one)"
    )]
    UnknownIssuer {
        /// The certificate whose issuer is missing.
        cert: String,
        /// Its issuer name.
        issuer: String,
    },
    /// A certificate's signature does not verify with its issuer's key.
    #[error("bad signature on certificate {cert} (not signed by {issuer})")]
    BadSignature {
        /// The certificate.
        cert: String,
        /// The issuer whose key was tried.
        issuer: String,
    },
    /// A certificate (or trust anchor) has expired.
    #[error("certificate {cert} expired at {}", crate::time::format(*.not_after))]
    Expired {
        /// The certificate.
        cert: String,
        /// `notAfter`.
        not_after: u64,
    },
    /// A certificate (or trust anchor) is not yet valid.
    #[error("certificate {cert} is not valid before {}", crate::time::format(*.not_before))]
    NotYetValid {
        /// The certificate.
        cert: String,
        /// `notBefore`.
        not_before: u64,
    },
    /// An issuing certificate is not a CA (basicConstraints absent or cA false).
    #[error(
        "certificate {cert} issues certificates but is not a CA (basicConstraints cA is not set)"
    )]
    NotCa {
        /// The certificate.
        cert: String,
    },
    /// An issuing certificate's keyUsage lacks keyCertSign.
    #[error("CA certificate {cert} may not sign certificates (keyUsage lacks keyCertSign)")]
    CaKeyUsage {
        /// The certificate.
        cert: String,
    },
    /// The path is longer than a pathLenConstraint allows.
    #[error("path length constraint exceeded at {cert}")]
    PathLength {
        /// The certificate.
        cert: String,
    },
    /// The end-entity's keyUsage allows neither digitalSignature nor nonRepudiation
    /// (or, for a CRL signer, lacks cRLSign).
    #[error("certificate {cert} may not be used for this purpose (keyUsage lacks {required})")]
    KeyUsage {
        /// The certificate.
        cert: String,
        /// What was required.
        required: &'static str,
    },
    /// The end-entity's extKeyUsage does not include the required purpose.
    #[error("certificate {cert} may not be used for this purpose (extKeyUsage lacks {required})")]
    ExtKeyUsage {
        /// The certificate.
        cert: String,
        /// What was required.
        required: String,
    },
    /// A critical extension waxseal does not process.
    #[error("certificate {cert} has an unsupported critical extension {oid}")]
    UnknownCriticalExtension {
        /// The certificate.
        cert: String,
        /// The extension.
        oid: String,
    },
    /// A malformed or duplicated extension.
    #[error("certificate {cert} has a malformed or duplicated extension {oid}")]
    MalformedExtension {
        /// The certificate.
        cert: String,
        /// The extension.
        oid: String,
    },
    /// An algorithm is unsupported, refused by policy, or inconsistent.
    #[error("certificate {cert}: {error}")]
    Algorithm {
        /// The certificate.
        cert: String,
        /// The algorithm problem.
        error: AlgorithmError,
    },
    /// A public key that does not parse.
    #[error("certificate {cert}: {detail}")]
    BadKey {
        /// The certificate.
        cert: String,
        /// Details.
        detail: String,
    },
    /// An RSA or DSA modulus above the budget's cap (refused before any arithmetic).
    #[error("certificate {cert}: {key} key of {bits} bits is above the maximum of {max}")]
    KeyTooLarge {
        /// The certificate.
        cert: String,
        /// Key type.
        key: &'static str,
        /// Its modulus size.
        bits: usize,
        /// The cap.
        max: usize,
    },
    /// A name outside the permitted (or inside the excluded) name constraints.
    #[error("certificate {cert} violates name constraints: {name}")]
    NameConstraints {
        /// The certificate.
        cert: String,
        /// The offending name.
        name: String,
    },
    /// No acceptable certificate policy (RFC 5280 §6.1.3 (f), §6.1.5 (g)).
    #[error("certificate {cert}: no acceptable certificate policy ({detail})")]
    Policy {
        /// The certificate.
        cert: String,
        /// Details.
        detail: String,
    },
    /// The certificate is revoked.
    #[error("certificate {cert} is revoked ({reason}, since {})", crate::time::format(*.date))]
    Revoked {
        /// The certificate.
        cert: String,
        /// The revocation reason.
        reason: String,
        /// The revocation date.
        date: u64,
    },
    /// The CRL that would decide is expired.
    #[error("revocation status of {cert} unknown: {problem}")]
    CrlExpired {
        /// The certificate.
        cert: String,
        /// Details.
        problem: RevocationProblem,
    },
    /// Revocation status could not be established.
    #[error("revocation status of {cert} unknown: {problem}")]
    RevocationUnknown {
        /// The certificate.
        cert: String,
        /// Details.
        problem: RevocationProblem,
    },
    /// The path would be longer than the configured maximum depth.
    #[error("no path to a trust anchor within {max} certificates from {cert}")]
    PathTooLong {
        /// The end-entity certificate.
        cert: String,
        /// The limit.
        max: usize,
    },
    /// Verification gave up: the envelope's work budget is spent (signature checks,
    /// path-building steps, signer candidates, CRLs).
    #[error(
        "work budget exhausted ({what}); the envelope or the certificate pool is too large or hostile"
    )]
    BudgetExceeded {
        /// Which budget.
        what: &'static str,
    },
}

impl PathError {
    /// A stable, machine-readable reason code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NoTrustAnchors => "no-trust-anchors",
            Self::UnknownIssuer { .. } => "untrusted",
            Self::BadSignature { .. } => "bad-certificate-signature",
            Self::Expired { .. } => "certificate-expired",
            Self::NotYetValid { .. } => "certificate-not-yet-valid",
            Self::NotCa { .. } => "issuer-not-ca",
            Self::CaKeyUsage { .. } => "issuer-lacks-keycertsign",
            Self::PathLength { .. } => "path-length-exceeded",
            Self::KeyUsage { .. } => "key-usage",
            Self::ExtKeyUsage { .. } => "ext-key-usage",
            Self::UnknownCriticalExtension { .. } => "unknown-critical-extension",
            Self::MalformedExtension { .. } => "malformed-extension",
            Self::Algorithm { .. } => "certificate-algorithm",
            Self::BadKey { .. } => "bad-public-key",
            Self::KeyTooLarge { .. } => "key-too-large",
            Self::NameConstraints { .. } => "name-constraints",
            Self::Policy { .. } => "certificate-policy",
            Self::Revoked { .. } => "revoked",
            Self::CrlExpired { .. } => "crl-expired",
            Self::RevocationUnknown { .. } => "revocation-unknown",
            Self::PathTooLong { .. } => "path-too-long",
            Self::BudgetExceeded { .. } => "budget-exceeded",
        }
    }

    /// What the error is about: [`ErrorKind::Untrusted`] (no chain to an anchor),
    /// [`ErrorKind::Budget`] (work budget spent), else [`ErrorKind::Certificate`].
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::UnknownIssuer { .. } => ErrorKind::Untrusted,
            Self::BudgetExceeded { .. } => ErrorKind::Budget,
            _ => ErrorKind::Certificate,
        }
    }

    /// The error for `cert`'s key that does not parse or is refused.
    pub(crate) fn from_key_error(cert: &crate::cert::Certificate, e: crate::key::KeyError) -> Self {
        match e {
            crate::key::KeyError::TooLarge { key, bits, max } => Self::KeyTooLarge {
                cert: cert.subject_display(),
                key,
                bits,
                max,
            },
            e => Self::BadKey {
                cert: cert.subject_display(),
                detail: e.to_string(),
            },
        }
    }

    /// How far validation got before this error: path building prefers the error of the
    /// candidate path that got furthest.
    pub(crate) fn rank(&self) -> u8 {
        match self {
            Self::UnknownIssuer { .. } => 0,
            Self::PathTooLong { .. } => 1,
            Self::BadSignature { .. } => 2,
            _ => 3,
        }
    }
}
