//! `waxseal cert verify`.

use std::path::PathBuf;

use serde_json::json;
use waxseal_envelope::AlgorithmPolicy;
use waxseal_envelope::trust::{self, Purpose, RevocationPolicy, ValidationOptions};

use super::common;
use crate::error::CliError;

/// `waxseal cert verify` arguments.
#[derive(clap::Args)]
pub struct VerifyArgs {
    /// Trust anchor certificate(s); repeatable.
    #[arg(long, value_name = "FILE", required = true)]
    trust: Vec<PathBuf>,
    /// Intermediate certificates (file or directory); repeatable.
    #[arg(long, value_name = "FILE|DIR")]
    untrusted: Vec<PathBuf>,
    /// CRLs (file or directory); repeatable. With CRLs, every certificate of the path
    /// needs a current CRL from its issuer.
    #[arg(long, value_name = "FILE|DIR")]
    crl: Vec<PathBuf>,
    /// Validate as of this time (RFC 3339), instead of now.
    #[arg(long, value_name = "RFC3339-TIME")]
    at: Option<String>,
    /// Accept SHA-1 signatures and 1024-bit RSA/DSA keys.
    #[arg(long)]
    allow_sha1: bool,
    /// Print a JSON report.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    budget: common::BudgetArgs,
    /// The certificate to validate.
    #[arg(value_name = "CERT")]
    cert: PathBuf,
}

/// Runs `waxseal cert verify`.
pub fn run(args: VerifyArgs) -> Result<(), CliError> {
    let anchors = common::anchors(&args.trust)?;
    let store = common::store(&args.untrusted)?;
    let crls = common::crls(&args.crl)?;
    let cert = common::input_certificate(&args.cert)?;
    let mut options = ValidationOptions::at(common::time(args.at.as_deref())?);
    options.purpose = Purpose::Any;
    options.budget = args.budget.budget();
    options.algorithms = if args.allow_sha1 {
        AlgorithmPolicy::LEGACY_SHA1
    } else {
        AlgorithmPolicy::STRICT
    };
    if !crls.is_empty() {
        options.revocation = RevocationPolicy::RequireAll;
    }
    let path = trust::validate(&cert, &anchors, &[&store], &crls, &options)
        .map_err(|e| common::path_rejected(&e))?;
    let subjects: Vec<String> = path
        .certificates
        .iter()
        .map(|c| c.subject_display())
        .collect();
    if args.json {
        let report = json!({
            "valid": true,
            "path": subjects,
            "revocation_checked": path.revocation_checked,
            "policies": path.policies.iter().map(|o| o.to_string()).collect::<Vec<_>>(),
        });
        println!(
            "{}",
            serde_json::to_string_pretty(&report).expect("reports serialise")
        );
    } else {
        println!("{}: OK", args.cert.display());
        println!("path: {}", subjects.join(" <- "));
        println!(
            "revocation: {}",
            if path.revocation_checked {
                "checked"
            } else {
                "not checked (no CRLs)"
            }
        );
    }
    Ok(())
}
