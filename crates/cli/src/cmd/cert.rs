//! `waxseal cert verify`.

use std::path::PathBuf;

use serde_json::json;
use waxseal_trust::AlgorithmPolicy;
use waxseal_trust::path::{Purpose, RevocationPolicy, ValidationOptions, validate};

use waxseal_message::Source;

use super::common;
use crate::error::CliError;

/// `waxseal cert verify` arguments.
#[derive(clap::Args)]
pub struct VerifyArgs {
    /// Trust anchor certificate(s): a file or an https URL; repeatable.
    #[arg(long, value_name = "FILE|URL", required = true, value_parser = common::parse_source)]
    trust: Vec<Source>,
    /// Intermediate certificates (file, directory or http(s) URL); repeatable.
    #[arg(long, value_name = "FILE|DIR|URL", value_parser = common::parse_source)]
    untrusted: Vec<Source>,
    /// CRLs (file, directory or http(s) URL); repeatable. With CRLs, every certificate of
    /// the path needs a current CRL from its issuer; a URL with nothing current refuses
    /// (`crl-unavailable`).
    #[arg(long, value_name = "FILE|DIR|URL", value_parser = common::parse_source)]
    crl: Vec<Source>,
    /// The most fetching one URL may take, seconds.
    #[arg(long, value_name = "SECS", default_value_t = 10.0)]
    fetch_timeout: f64,
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
    let at = common::time(args.at.as_deref())?;
    let material = common::material(
        &args.trust,
        &args.untrusted,
        &args.crl,
        args.fetch_timeout,
        at,
    )?;
    let anchors = waxseal_trust::TrustAnchors::new(material.anchors())
        .map_err(|_| CliError::usage("no trust anchor certificates found in --trust"))?;
    let store = waxseal_trust::CertStore::from_certificates(material.certificates());
    let crls = material.crls();
    let cert = common::input_certificate(&args.cert)?;
    let mut options = ValidationOptions::at(at);
    options.purpose = Purpose::Any;
    options.budget = args.budget.budget();
    options.algorithms = if args.allow_sha1 {
        AlgorithmPolicy::LEGACY_SHA1
    } else {
        AlgorithmPolicy::STRICT
    };
    if material.has_crls() {
        options.revocation = RevocationPolicy::RequireAll;
    }
    let path = validate(&cert, &anchors, &[&store], &crls, &options)
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
