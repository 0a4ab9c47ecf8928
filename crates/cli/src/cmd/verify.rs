//! `waxseal verify`.

use std::path::PathBuf;
use std::sync::Arc;

use clap::ValueEnum;
use serde_json::json;
use waxseal_envelope::{
    AlgorithmPolicy, Envelope, PathCache, RevocationPolicy, SignerRequirement, Verified, Verifier,
    time,
};

use super::common;
use crate::error::CliError;
use crate::io::{Output, read_input};

/// Which certificates need a CRL when CRLs are given.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CrlScope {
    /// Every certificate below the trust anchor (the default).
    All,
    /// Only the signer's certificate (OpenSSL's -crl_check).
    Leaf,
}

/// `waxseal verify` arguments.
#[derive(clap::Args)]
pub struct Args {
    /// Trust anchor certificate(s) (PEM bundle or DER); repeatable. Required: waxseal
    /// never verifies without a trust anchor.
    #[arg(long, value_name = "FILE", required = true)]
    trust: Vec<PathBuf>,
    /// Certificates to find signers and intermediates in (file or directory); repeatable.
    #[arg(long, value_name = "FILE|DIR")]
    certs: Vec<PathBuf>,
    /// CRLs (file or directory); repeatable. With CRLs, revocation is checked.
    #[arg(long, value_name = "FILE|DIR")]
    crl: Vec<PathBuf>,
    /// Which certificates must be covered by a CRL.
    #[arg(long, value_enum, default_value = "all")]
    crl_scope: CrlScope,
    /// The signed content, for a detached signature.
    #[arg(long, value_name = "FILE")]
    content: Option<PathBuf>,
    /// Envelope file ("-" or absent: standard input).
    #[arg(long = "in", value_name = "FILE")]
    input: Option<PathBuf>,
    /// Write the verified content here (only when verification succeeds).
    #[arg(long = "out", value_name = "FILE")]
    output: Option<PathBuf>,
    /// Overwrite --out if it exists.
    #[arg(long)]
    force: bool,
    /// Verify as of this time (RFC 3339), instead of now.
    #[arg(long, value_name = "RFC3339-TIME")]
    at: Option<String>,
    /// Accept SHA-1 (and 1024-bit RSA/DSA keys): legacy messages only.
    #[arg(long)]
    allow_sha1: bool,
    /// Accept MD5: broken; for forensics on very old messages only.
    #[arg(long)]
    allow_md5: bool,
    /// Accept the envelope when at least one signer verifies (default: all must).
    #[arg(long)]
    any_signer: bool,
    /// Print a JSON report on stdout (content goes only to --out).
    #[arg(long)]
    pub json: bool,
}

/// Runs `waxseal verify`.
pub fn run(args: Args) -> Result<(), CliError> {
    let output = Output::prepare(args.output.as_deref(), args.force)?;
    let crls = common::crls(&args.crl)?;
    let mut verifier = Verifier::new(common::anchors(&args.trust)?)
        .with_store(common::store(&args.certs)?)
        .with_algorithms(AlgorithmPolicy {
            allow_sha1: args.allow_sha1,
            allow_md5: args.allow_md5,
        })
        .at_time(common::time(args.at.as_deref())?)
        .with_cache(Arc::new(PathCache::default()));
    if !crls.is_empty() && args.crl_scope == CrlScope::Leaf {
        verifier = verifier.with_revocation(RevocationPolicy::RequireEndEntity);
    }
    verifier = verifier.with_crls(crls);
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
                s.signature_algorithm,
                path.join(" <- "),
            );
        }
        for r in verified.rejected() {
            eprintln!(
                "waxseal: note: signer {} rejected: {} ({})",
                r.index + 1,
                r.error,
                r.error.code()
            );
        }
    }
    Ok(())
}

fn report(v: &Verified) -> serde_json::Value {
    let signers: Vec<serde_json::Value> = v
        .signers()
        .iter()
        .map(|s| {
            json!({
                "index": s.index,
                "subject": s.certificate.subject_display(),
                "issuer": s.certificate.issuer_display(),
                "serial": s.certificate.serial_hex(),
                "signing_time": s.signing_time.map(time::format),
                "digest": s.digest.name(),
                "signature_algorithm": s.signature_algorithm,
                "path": s.path.as_ref().map(|p| p.certificates.iter().map(|c| c.subject_display()).collect::<Vec<_>>()),
                "revocation_checked": s.path.as_ref().is_some_and(|p| p.revocation_checked),
            })
        })
        .collect();
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
