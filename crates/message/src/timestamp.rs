//! Signature time-stamps from a time-stamp authority over http(s) (RFC 3161 §3.4): each
//! signer's signature value is stamped, the reply checked against the request (nonce,
//! imprint) and the TSA trust anchors, and the token attached as the signer's unsigned
//! attribute id-aa-signatureTimeStampToken ([`waxseal_envelope::rfc3161`]).

use waxseal_envelope::Envelope;
use waxseal_envelope::rfc3161::{
    self, QUERY_MEDIA_TYPE, Timestamp, TimestampError, TimestampTrust,
};

use crate::config::BusConfig;
use crate::distribution::{FetchConfig, Fetcher};
use crate::error::ConfigError;

/// Why an envelope could not be time-stamped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StampError {
    /// The TSA could not be reached, or answered with an HTTP error: ours to retry.
    #[error("time-stamp authority unavailable: {0}")]
    Unavailable(crate::distribution::FetchError),
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

/// Asks the TSA at `url` for a time-stamp of every signer's signature value and attaches
/// each token, checked first ([`TimestampTrust::verify_response`], at `time`): a reply
/// that does not verify is never attached. Nothing is changed unless every signer got
/// one. A signer already stamped is refused (`timestamp-duplicate`).
pub fn stamp_envelope(
    envelope: &mut Envelope,
    url: &str,
    trust: &TimestampTrust,
    fetch: &FetchConfig,
    time: u64,
) -> Result<Vec<Timestamp>, StampError> {
    let fetcher = Fetcher::new(fetch.clone()).map_err(|e| StampError::Config(e.0))?;
    let mut stamped = Vec::new();
    let mut tokens = Vec::new();
    for (index, si) in envelope.signed_data().signer_infos.iter().enumerate() {
        let refused = |error| StampError::Refused { index, error };
        if !rfc3161::tokens(si).is_empty() {
            return Err(refused(TimestampError::Duplicate));
        }
        let (request, nonce) = rfc3161::request(&si.signature);
        let reply = fetcher
            .post(url, QUERY_MEDIA_TYPE, &request)
            .map_err(StampError::Unavailable)?;
        let (token, ts) = trust
            .verify_response(&reply, &si.signature, &nonce, time)
            .map_err(refused)?;
        tokens.push(token);
        stamped.push(ts);
    }
    for (si, token) in envelope
        .signed_data_mut()
        .signer_infos
        .iter_mut()
        .zip(tokens)
    {
        rfc3161::attach(si, token).map_err(|error| StampError::Refused { index: 0, error })?;
    }
    Ok(stamped)
}

/// The bus configuration's time-stamp settings (`tsa_trust`, `at_timestamp`) applied to
/// the verifier a bus builds.
pub fn configure(
    verifier: waxseal_envelope::Verifier,
    config: &BusConfig,
) -> Result<waxseal_envelope::Verifier, ConfigError> {
    let mut verifier = verifier.at_timestamp(config.at_timestamp);
    if config.tsa_trust.is_empty() {
        return Ok(verifier);
    }
    let mut anchors = Vec::new();
    for p in &config.tsa_trust {
        anchors.extend(
            waxseal_envelope::store::load_certificates(p)
                .map_err(|e| ConfigError(format!("tsa_trust: {e}")))?,
        );
    }
    let anchors = waxseal_envelope::TrustAnchors::new(anchors)
        .map_err(|_| ConfigError("tsa_trust: no certificates found".into()))?;
    let algorithms = verifier.algorithms();
    verifier =
        verifier.with_timestamp_trust(TimestampTrust::new(anchors).with_algorithms(algorithms));
    Ok(verifier)
}
