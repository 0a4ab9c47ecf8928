//! `waxseal verify`.

use std::path::PathBuf;

use serde_json::json;
use waxseal_envelope::display::Escaped;
use waxseal_envelope::{Envelope, SignerRequirement, Verified, VerifiedSigner};

use super::common;
use crate::error::CliError;
use crate::io::{Output, read_input};

/// `waxseal verify` arguments.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    trust: common::TrustArgs,
    /// The signed content, for a detached signature.
    #[arg(long, value_name = "FILE")]
    content: Option<PathBuf>,
    /// Envelope file ("-" or absent: standard input).
    #[arg(long = "in", value_name = "FILE")]
    input: Option<PathBuf>,
    /// Write the verified content here (only when verification succeeds).
    #[arg(long = "out", value_name = "FILE")]
    output: Option<PathBuf>,
    /// Overwrite --out if it exists (a regular file only).
    #[arg(long)]
    force: bool,
    /// Write where a symbolic --out points (refused without this).
    #[arg(long)]
    follow_symlinks: bool,
    /// Accept the envelope when at least one signer verifies (default: all must).
    #[arg(long)]
    any_signer: bool,
    /// Print a JSON report on stdout (content goes only to --out).
    #[arg(long)]
    pub json: bool,
}

/// Runs `waxseal verify`.
pub fn run(args: Args) -> Result<(), CliError> {
    let output = Output::prepare_with(args.output.as_deref(), args.force, args.follow_symlinks)?;
    let mut verifier = args.trust.verifier()?;
    if args.any_signer {
        verifier = verifier.with_requirement(SignerRequirement::Any);
    }
    let bytes = read_input(args.input.as_deref())?;
    let content = args
        .content
        .as_deref()
        .map(|p| read_input(Some(p)))
        .transpose()?;
    let envelope = Envelope::parse(&bytes)
        .map_err(|e| CliError::rejected("malformed", format!("malformed envelope: {e}")))?;
    let verified = verifier
        .verify(&envelope, content.as_deref())
        .map_err(|e| common::rejected(&e))?;

    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report(&verified)).expect("reports serialise")
        );
        if args.output.is_some() {
            output.write(verified.content())?;
        }
    } else {
        output.write(verified.content())?;
        for s in verified.signers() {
            let path: Vec<String> = s
                .path
                .iter()
                .flat_map(|p| p.certificates.iter().map(|c| c.subject_display()))
                .collect();
            let revocation = match &s.path {
                Some(p) if p.revocation_checked => "revocation checked",
                _ => "revocation not checked",
            };
            eprintln!(
                "waxseal: verified: signer {} {} ({}, {}); path {}; {revocation}",
                s.index + 1,
                s.certificate.subject_display(),
                s.digest,
                Escaped(&s.signature_algorithm),
                path.join(" <- "),
            );
        }
        for r in verified.rejected() {
            eprintln!(
                "waxseal: note: signer {} rejected: {} ({})",
                r.index + 1,
                Escaped(&r.error.to_string()),
                r.error.code()
            );
        }
    }
    Ok(())
}

fn report(v: &Verified) -> serde_json::Value {
    let signers: Vec<serde_json::Value> = v.signers().iter().map(VerifiedSigner::report).collect();
    let rejected: Vec<serde_json::Value> = v
        .rejected()
        .iter()
        .map(
            |r| json!({"index": r.index, "reason": r.error.code(), "message": r.error.to_string()}),
        )
        .collect();
    json!({
        "valid": true,
        "format": v.format().name(),
        "content_type": waxseal_envelope::oid::name(&v.content_type()),
        "content_length": v.content().len(),
        "signers": signers,
        "rejected_signers": rejected,
    })
}
