//! `waxseal timestamp` and the time-stamp options of `waxseal verify` (RFC 3161).

use std::path::PathBuf;

use clap::ValueEnum;
use waxseal_envelope::rfc3161::{Timestamp, TimestampTrust};
use waxseal_envelope::{Envelope, Verifier};
use waxseal_message::FetchConfig;
use waxseal_trust::store::{load_certificates, load_crls};
use waxseal_trust::{CertStore, CrlSet, TrustAnchors};

use super::common;
use crate::InOut;
use crate::error::CliError;
use crate::io::{Output, read_input};

/// What verification trusts of time-stamp authorities: their own anchors, never the
/// message signers'.
#[derive(clap::Args, Clone)]
pub struct TsaTrustArgs {
    /// Trust anchor certificate(s) of time-stamp authorities (PEM bundle or DER file);
    /// repeatable. Their own trust set: --trust does not vouch for a TSA.
    #[arg(long, value_name = "FILE")]
    pub tsa_trust: Vec<PathBuf>,
    /// Intermediate certificates of TSA paths (file or directory); repeatable.
    #[arg(long, value_name = "FILE|DIR")]
    pub tsa_certs: Vec<PathBuf>,
    /// CRLs for TSA paths (file or directory); repeatable. With them, every certificate of
    /// a TSA's path needs a current CRL at the verification time.
    #[arg(long, value_name = "FILE|DIR")]
    pub tsa_crl: Vec<PathBuf>,
}

impl TsaTrustArgs {
    /// The TSA trust these arguments describe (`None` without --tsa-trust).
    pub fn trust(&self) -> Result<Option<TimestampTrust>, CliError> {
        if self.tsa_trust.is_empty() {
            if !self.tsa_certs.is_empty() || !self.tsa_crl.is_empty() {
                return Err(CliError::usage(
                    "--tsa-certs and --tsa-crl need --tsa-trust",
                ));
            }
            return Ok(None);
        }
        let anchors = TrustAnchors::new(common::certificates(&self.tsa_trust)?)
            .map_err(|_| CliError::usage("no trust anchor certificates found in --tsa-trust"))?;
        let mut store = CertStore::new();
        for p in &self.tsa_certs {
            for c in load_certificates(p).map_err(|e| CliError::usage(e.to_string()))? {
                store.add(c);
            }
        }
        let mut crls = CrlSet::new();
        for p in &self.tsa_crl {
            for c in load_crls(p).map_err(|e| CliError::usage(e.to_string()))? {
                crls.add(c);
            }
        }
        Ok(Some(
            TimestampTrust::new(anchors)
                .with_store(store)
                .with_crls(crls),
        ))
    }
}

/// The time-stamp options of `waxseal verify`.
#[derive(clap::Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    tsa: TsaTrustArgs,
    /// Validate each signer's certificate path at the time its time-stamp token proves
    /// (genTime), with revocation as of then (a certificate revoked or expired later still
    /// verifies); needs --tsa-trust, and refuses a signer without a valid token. --at still
    /// sets the clock at which the TSA's own path is checked.
    #[arg(long)]
    at_timestamp: bool,
}

impl VerifyArgs {
    /// `verifier` with time-stamp checking as asked: tokens are verified when --tsa-trust
    /// is given (and refused when they fail); without it they are ignored, unless
    /// --at-timestamp, which then refuses them (`timestamp-no-trust`).
    pub fn apply(&self, verifier: Verifier) -> Result<Verifier, CliError> {
        let mut verifier = verifier.at_timestamp(self.at_timestamp);
        if let Some(trust) = self.tsa.trust()? {
            let algorithms = verifier.algorithms();
            verifier = verifier.with_timestamp_trust(trust.with_algorithms(algorithms));
        }
        Ok(verifier)
    }
}

/// Output encodings of `waxseal timestamp`.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutForm {
    /// Binary DER.
    Der,
    /// PEM (`-----BEGIN CMS-----`).
    Pem,
}

/// Where a time-stamp is asked for, and how its reply is checked (`waxseal timestamp` and
/// `waxseal msg timestamp`).
#[derive(clap::Args)]
pub struct TsaRequestArgs {
    /// The time-stamp authority's URL (http or https; RFC 3161 over HTTP).
    #[arg(long, value_name = "URL")]
    tsa: String,
    #[command(flatten)]
    trust: TsaTrustArgs,
    /// The most the request may take, seconds.
    #[arg(long, value_name = "SECS", default_value_t = 10.0)]
    fetch_timeout: f64,
    /// CA certificates (PEM) trusted for an https TSA (default: Mozilla's roots).
    #[arg(long, value_name = "FILE")]
    https_roots: Option<PathBuf>,
}

impl TsaRequestArgs {
    /// The TSA trust and the fetch settings, checked before any input is read:
    /// --tsa-trust is required (a token nobody checked is not added).
    fn checked(&self) -> Result<(TimestampTrust, FetchConfig), CliError> {
        let trust = self.trust.trust()?.ok_or_else(|| {
            CliError::usage(
                "--tsa-trust is required: replies are verified before they are attached",
            )
        })?;
        if !(self.fetch_timeout > 0.0 && self.fetch_timeout.is_finite()) {
            return Err(CliError::usage("--fetch-timeout must be a positive number"));
        }
        let fetch = FetchConfig {
            timeout_ms: (self.fetch_timeout * 1000.0).ceil() as u64,
            https_roots: self.https_roots.clone(),
            ..FetchConfig::default()
        };
        Ok((trust, fetch))
    }

    /// Stamps every signer of `envelope`, each reply verified (with the request's nonce)
    /// before it is attached.
    fn stamp(
        &self,
        (trust, fetch): &(TimestampTrust, FetchConfig),
        envelope: &mut Envelope,
    ) -> Result<Vec<Timestamp>, CliError> {
        waxseal_message::timestamp::stamp_envelope(
            envelope,
            &self.tsa,
            trust,
            fetch,
            waxseal_trust::time::now(),
        )
        .map_err(stamp_error)
    }
}

/// `waxseal timestamp` arguments.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    request: TsaRequestArgs,
    #[command(flatten)]
    io: InOut,
    /// Output encoding.
    #[arg(long, value_enum, default_value = "der")]
    outform: OutForm,
}

/// Runs `waxseal timestamp`: every signer's signature value is stamped; a reply is
/// attached only once verified against --tsa-trust (required: a token nobody checked is
/// not added), with the request's nonce.
pub fn run(args: Args) -> Result<(), CliError> {
    let output = Output::prepare_io(&args.io)?;
    let checked = args.request.checked()?;
    let bytes = read_input(args.io.input.as_deref())?;
    let mut envelope = Envelope::parse(&bytes)
        .map_err(|e| CliError::rejected("malformed", format!("malformed envelope: {e}")))?;
    let stamps = args.request.stamp(&checked, &mut envelope)?;
    let out = match args.outform {
        OutForm::Der => envelope.to_der(),
        OutForm::Pem => envelope.to_pem().into_bytes(),
    };
    output.write(&out)?;
    for (i, ts) in stamps.iter().enumerate() {
        eprintln!(
            "waxseal: time-stamped: signer {} at {} by {}",
            i + 1,
            waxseal_trust::time::format(ts.gen_time),
            ts.tsa.subject_display()
        );
    }
    Ok(())
}

/// `waxseal msg timestamp` arguments.
#[derive(clap::Args)]
pub struct MsgArgs {
    #[command(flatten)]
    request: TsaRequestArgs,
    /// --in: a signed fedmsg-style message (`waxseal msg sign`).
    #[command(flatten)]
    io: InOut,
}

/// Runs `waxseal msg timestamp`: the message's `signature` (a detached CMS SignedData)
/// gets a time-stamp token on its signer, checked as `waxseal timestamp` does; every other
/// member is kept byte for byte.
pub fn run_msg(args: MsgArgs) -> Result<(), CliError> {
    use base64::Engine;
    let output = Output::prepare_io(&args.io)?;
    let checked = args.request.checked()?;
    let bytes = read_input(args.io.input.as_deref())?;
    let malformed = |m: String| CliError::rejected("malformed", m);
    let message =
        waxseal_message::json::parse(&bytes).map_err(|e| CliError::rejected(e.code, e.message))?;
    let signature = message
        .get("signature")
        .and_then(serde_json::Value::as_str)
        .ok_or_else(|| malformed("the message has no signature member".into()))?;
    let der = base64::engine::general_purpose::STANDARD
        .decode(signature)
        .map_err(|e| malformed(format!("signature: {e}")))?;
    let mut envelope = Envelope::parse(&der).map_err(|e| malformed(format!("signature: {e}")))?;
    args.request.stamp(&checked, &mut envelope)?;
    let stamped = serde_json::Value::String(
        base64::engine::general_purpose::STANDARD.encode(envelope.to_der()),
    );
    // Valid JSON is UTF-8.
    let text = std::str::from_utf8(&bytes).expect("parsed JSON is UTF-8");
    let mut out = waxseal_message::json::splice(text, &["signature"], &[("signature", &stamped)])
        .map_err(|e| CliError::rejected(e.code, e.message))?;
    out.push('\n');
    output.write(out.as_bytes())
}

/// A time-stamp that could not be had: a refused reply is a rejection (exit 1, its code),
/// the TSA out of reach or unusable settings exit 2 (with `tsa-unavailable` or `usage`).
pub(super) fn stamp_error(e: waxseal_message::timestamp::StampError) -> CliError {
    match e {
        waxseal_message::timestamp::StampError::Refused { .. } => {
            CliError::rejected(e.code(), e.to_string())
        }
        e => {
            let mut err = CliError::usage(e.to_string());
            err.code = e.code().into();
            err
        }
    }
}
