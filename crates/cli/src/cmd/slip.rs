//! `waxseal countersign` and `waxseal slip verify`: routing slips.

use std::path::PathBuf;

use serde_json::json;
use waxseal_slip::{
    RouteExpectations, SlipError, SlipVerifier, VerifiedSlip, append_hop, hop_signer, parse,
};
use waxseal_trust::display::Escaped;
use waxseal_trust::time;

use super::common;
use super::sign::OutForm;
use crate::InOut;
use crate::error::CliError;
use crate::io::{Output, VerifiedOut, read_input};

/// `waxseal countersign` arguments.
#[derive(clap::Args)]
pub struct CountersignArgs {
    /// This hop's signer.
    #[command(flatten)]
    signer: common::SignerArgs,
    /// Embed no certificates for this hop.
    #[arg(long)]
    no_certs: bool,
    /// The hop's role, signed as the hop-role attribute (e.g. conductor).
    #[arg(long)]
    role: Option<String>,
    /// What the hop did, signed as the hop-action attribute (e.g. forwarded).
    #[arg(long)]
    action: Option<String>,
    /// Digest algorithm (default: the key's).
    #[arg(long, value_enum)]
    digest: Option<common::Digest>,
    /// The most hops the slip may reach (also bounds parsing).
    #[arg(long, default_value_t = waxseal_slip::DEFAULT_MAX_HOPS)]
    max_hops: usize,
    #[command(flatten)]
    io: InOut,
    /// Output encoding (DER or PEM).
    #[arg(long, value_enum, default_value = "der")]
    outform: OutForm,
}

/// Runs `waxseal countersign`: appends a hop to the envelope's slip.
pub fn countersign(args: CountersignArgs) -> Result<(), CliError> {
    if args.outform == OutForm::Smime {
        return Err(CliError::usage(
            "countersign writes DER or PEM (--outform der|pem)",
        ));
    }
    let output = Output::prepare_io(&args.io)?;
    let usage = |e: &dyn std::fmt::Display| CliError::usage(e.to_string());
    let mut signer = args.signer.signer()?;
    if let Some(d) = args.digest {
        signer = signer.with_digest(d.into()).map_err(|e| usage(&e))?;
    }
    let signer =
        hop_signer(signer, args.role.as_deref(), args.action.as_deref()).map_err(|e| usage(&e))?;
    let bytes = read_input(args.io.input.as_deref())?;
    let mut envelope = parse(&bytes, args.max_hops).map_err(|e| slip_rejected(&e))?;
    let hop = append_hop(&mut envelope, 0, &signer, !args.no_certs, args.max_hops)
        .map_err(|e| slip_rejected(&e))?;
    let out = match args.outform {
        OutForm::Pem => envelope.to_pem().into_bytes(),
        _ => envelope.to_der(),
    };
    output.write(&out)?;
    eprintln!(
        "waxseal: added hop {hop} ({})",
        signer.certificate().subject_display()
    );
    Ok(())
}

/// `waxseal slip verify` arguments.
#[derive(clap::Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    trust: common::TrustArgs,
    /// The signed content, for a detached envelope.
    #[arg(long, value_name = "FILE")]
    content: Option<PathBuf>,
    /// The exact itinerary: hop names (certificate CNs) in order, comma-separated.
    #[arg(long, value_name = "ID,ID,...", value_delimiter = ',')]
    expect: Vec<String>,
    /// Hops that must appear in this order (others may come between), comma-separated.
    #[arg(long, value_name = "ID,ID,...", value_delimiter = ',')]
    require: Vec<String>,
    /// The most hops allowed (hop 0 included).
    #[arg(long, default_value_t = waxseal_slip::DEFAULT_MAX_HOPS)]
    max_hops: usize,
    /// The oldest the slip may be (e.g. 5m, 1h), by hop 0's signing time.
    #[arg(long, value_name = "DURATION")]
    max_age: Option<String>,
    /// The allowed clock skew: how far a hop's signing time may precede the previous hop's,
    /// and how far any hop's may lie after the verification time.
    #[arg(long, value_name = "DURATION", default_value = "5m")]
    clock_skew: String,
    /// Allow the same signer twice (by default a repeated hop is a loop and refused).
    #[arg(long)]
    allow_repeats: bool,
    /// Envelope file ("-" or absent: standard input).
    #[arg(long = "in", value_name = "FILE")]
    input: Option<PathBuf>,
    #[command(flatten)]
    out: VerifiedOut,
    /// Print a JSON report.
    #[arg(long)]
    pub json: bool,
}

fn duration(flag: &str, text: &str) -> Result<u64, CliError> {
    humantime::parse_duration(text)
        .map(|d| d.as_secs())
        .map_err(|e| CliError::usage(format!("{flag} {text:?}: {e} (e.g. 5m, 1h, 2d)")))
}

fn slip_rejected(e: &SlipError) -> CliError {
    let mut err = CliError::rejected(e.code(), e.to_string());
    err.hop = e.hop();
    common::hinted(
        err,
        e.kind() == Some(waxseal_trust::ErrorKind::Untrusted),
        common::INTERMEDIATE_HINT,
    )
}

/// Runs `waxseal slip verify`.
pub fn verify(args: VerifyArgs) -> Result<(), CliError> {
    let output = args.out.prepare()?;
    let expectations = RouteExpectations {
        itinerary: (!args.expect.is_empty()).then(|| args.expect.clone()),
        required: args.require.clone(),
        max_hops: args.max_hops,
        allow_repeats: args.allow_repeats,
        clock_skew: duration("--clock-skew", &args.clock_skew)?,
        future_skew: None,
        max_age: args
            .max_age
            .as_deref()
            .map(|t| duration("--max-age", t))
            .transpose()?,
        require_signing_times: false,
    };
    let verifier = args.trust.verifier()?;
    let bytes = read_input(args.input.as_deref())?;
    let content = args
        .content
        .as_deref()
        .map(|p| read_input(Some(p)))
        .transpose()?;
    let envelope = parse(&bytes, args.max_hops).map_err(|e| slip_rejected(&e))?;
    let slip = SlipVerifier::new(&verifier)
        .with_expectations(expectations)
        .verify(&envelope, content.as_deref())
        .map_err(|e| slip_rejected(&e))?;
    if args.out.output.is_some() {
        output.write(slip.content())?;
    }
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report(&slip)).expect("reports serialise")
        );
    } else {
        println!("route verified: {} hop(s)", slip.hops.len());
        for h in &slip.hops {
            let meta: Vec<String> = [
                h.role.as_deref().map(|r| format!("role {r}")),
                h.action.as_deref().map(|a| format!("action {a}")),
            ]
            .into_iter()
            .flatten()
            .collect();
            let line = format!(
                "  hop {}: {}{} at {} ({})",
                h.index,
                h.name,
                if meta.is_empty() {
                    String::new()
                } else {
                    format!(" [{}]", meta.join(", "))
                },
                h.signing_time
                    .map(time::format)
                    .unwrap_or_else(|| "(no signing time)".into()),
                h.signature_algorithm,
            );
            // Names, roles and actions come from the envelope.
            println!("{}", Escaped(&line));
        }
    }
    Ok(())
}

fn report(slip: &VerifiedSlip) -> serde_json::Value {
    let hops: Vec<serde_json::Value> = slip.hops.iter().map(waxseal_slip::Hop::report).collect();
    json!({
        "valid": true,
        "content_length": slip.content().len(),
        "hops": hops,
    })
}
