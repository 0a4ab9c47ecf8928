//! Signature time-stamps from a time-stamp authority over http(s) (RFC 3161 §3.4): each
//! signer's signature value is stamped, the reply checked against the request (nonce,
//! imprint) and the TSA trust anchors, and the token attached as the signer's unsigned
//! attribute id-aa-signatureTimeStampToken ([`waxseal_envelope::rfc3161`]).

use std::sync::{Arc, Mutex};

use waxseal_envelope::Envelope;
use waxseal_envelope::rfc3161::{
    self, QUERY_MEDIA_TYPE, Timestamp, TimestampError, TimestampTrust,
};

use crate::config::BusConfig;
use crate::distribution::{FetchConfig, Fetcher};
use crate::error::ConfigError;
pub use crate::error::StampError;

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
    stamp_with(envelope, url, trust, &fetcher, time)
}

/// [`stamp_envelope`] with a fetcher already made.
fn stamp_with(
    envelope: &mut Envelope,
    url: &str,
    trust: &TimestampTrust,
    fetcher: &Fetcher,
    time: u64,
) -> Result<Vec<Timestamp>, StampError> {
    let mut stamped = Vec::new();
    let mut tokens = Vec::new();
    for (index, si) in envelope.signed_data().signer_infos.iter().enumerate() {
        let refused = |error| StampError::Refused { index, error };
        if !rfc3161::tokens(si).is_empty() {
            return Err(refused(TimestampError::Duplicate));
        }
        let (request, nonce) = rfc3161::request(trust.provider(), &si.signature);
        let reply = fetcher
            .post(url, QUERY_MEDIA_TYPE, &request)
            .map_err(StampError::Unavailable)?;
        let (token, ts) = trust
            .verify_response(&reply, &si.signature, &nonce, time)
            .map_err(refused)?;
        tokens.push(token);
        stamped.push(ts);
    }
    for (index, (si, token)) in envelope
        .signed_data_mut()
        .signer_infos
        .iter_mut()
        .zip(tokens)
        .enumerate()
    {
        rfc3161::attach(si, token).map_err(|error| StampError::Refused { index, error })?;
    }
    Ok(stamped)
}

/// The signing side of a bus with `tsa_url`: every envelope it signs is time-stamped at
/// that TSA, each reply verified against `tsa_trust` before it is attached. Made once, when
/// the bus is built, so a misconfiguration is found then rather than at the first message.
pub(crate) struct Stamper {
    url: String,
    trust: TimestampTrust,
    /// Behind a lock, held only to clone the `Arc`, so that a [`crate::Bus`] stays
    /// `RefUnwindSafe` (ureq's agent is not; the bus's other fetcher is under a lock too).
    fetcher: Mutex<Arc<Fetcher>>,
}

impl Stamper {
    /// The stamper `config` asks for (`None` without `tsa_url`). `tsa_url` needs
    /// `tsa_trust` (a token nobody checked is never attached) and must be an http(s) URL;
    /// the fetch settings (`fetch.timeout_ms`, `fetch.https_roots`, `fetch.max_bytes`) are
    /// the bus's.
    pub(crate) fn from_config(config: &BusConfig) -> Result<Option<Self>, ConfigError> {
        let Some(url) = &config.tsa_url else {
            return Ok(None);
        };
        let lower = url.to_ascii_lowercase();
        let https = lower.starts_with("https://");
        if !(https || lower.starts_with("http://"))
            || url
                .parse::<ureq::http::Uri>()
                .ok()
                .and_then(|u| u.host().map(|h| !h.is_empty()))
                != Some(true)
        {
            return Err(ConfigError(format!(
                "tsa_url: {} is not an http:// or https:// URL",
                waxseal_trust::display::Escaped(url)
            )));
        }
        if https && !Fetcher::HTTPS {
            return Err(ConfigError(
                "tsa_url: https is not built in (feature https)".into(),
            ));
        }
        let trust = trust(config, config.algorithms())?.ok_or_else(|| {
            ConfigError(
                "tsa_url needs tsa_trust: every reply is verified against it before it is attached"
                    .into(),
            )
        })?;
        let fetcher = Fetcher::new(config.fetch.clone())
            .map_err(|e| ConfigError(format!("fetch: {}", e.0)))?;
        Ok(Some(Self {
            url: url.clone(),
            trust,
            fetcher: Mutex::new(Arc::new(fetcher)),
        }))
    }

    /// Time-stamps every signer of `envelope`, each reply verified at `time`.
    pub(crate) fn stamp(&self, envelope: &mut Envelope, time: u64) -> Result<(), StampError> {
        let fetcher = self
            .fetcher
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        stamp_with(envelope, &self.url, &self.trust, &fetcher, time).map(drop)
    }
}

/// The TSA trust of `tsa_trust` (`None` when it names no file), accepting `algorithms`.
fn trust(
    config: &BusConfig,
    algorithms: waxseal_trust::AlgorithmPolicy,
) -> Result<Option<TimestampTrust>, ConfigError> {
    if config.tsa_trust.is_empty() {
        return Ok(None);
    }
    let mut anchors = Vec::new();
    for p in &config.tsa_trust {
        anchors.extend(
            waxseal_trust::store::load_certificates(p)
                .map_err(|e| ConfigError(format!("tsa_trust: {e}")))?,
        );
    }
    let anchors = waxseal_trust::TrustAnchors::new(anchors)
        .map_err(|_| ConfigError("tsa_trust: no certificates found".into()))?;
    Ok(Some(
        TimestampTrust::new(anchors)
            .with_algorithms(algorithms)
            // A TSA's clock may be ahead of ours as a signer's may.
            .with_clock_skew(config.freshness.clock_skew_secs),
    ))
}

/// The bus configuration's time-stamp settings (`tsa_trust`, `at_timestamp`) applied to
/// the verifier a bus builds.
pub fn configure(
    verifier: waxseal_envelope::Verifier,
    config: &BusConfig,
) -> Result<waxseal_envelope::Verifier, ConfigError> {
    let verifier = verifier.at_timestamp(config.at_timestamp);
    Ok(match trust(config, verifier.algorithms())? {
        Some(trust) => verifier.with_timestamp_trust(trust),
        None => verifier,
    })
}
