//! Validates a certificate chain against a trust anchor, as a TLS or code-signing
//! verifier would, with no CMS involved.
//!
//! ```text
//! cargo run -p waxseal-trust --example validate_chain -- ROOT.crt LEAF.pem [MORE.pem ...]
//! ```
//!
//! `LEAF.pem` holds the end-entity certificate first, then perhaps intermediates; each
//! `MORE.pem` holds intermediates or CRLs (the order does not matter: the path is built
//! from the pool). Revocation must be checked for every certificate below the anchor.
//! Prints the path, or the reason code of the refusal and exits 1.

use std::process::ExitCode;

use waxseal_trust::{
    CertStore, Certificate, Crl, CrlSet, PathError, Purpose, RevocationPolicy, TrustAnchors,
    ValidationOptions,
};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 2 {
        eprintln!("usage: validate_chain ROOT.crt LEAF.pem [MORE.pem ...]");
        return ExitCode::from(2);
    }
    match run(&args) {
        Ok(Ok(lines)) => {
            for line in lines {
                println!("{line}");
            }
            ExitCode::SUCCESS
        }
        Ok(Err(refusal)) => {
            println!("refused: {} ({refusal})", refusal.code());
            ExitCode::from(1)
        }
        Err(e) => {
            eprintln!("validate_chain: {e}");
            ExitCode::from(2)
        }
    }
}

/// The outer error is a file that cannot be read or parsed; the inner one the verdict.
fn run(args: &[String]) -> Result<Result<Vec<String>, PathError>, Box<dyn std::error::Error>> {
    let anchors = TrustAnchors::new(Certificate::load_all(&std::fs::read(&args[0])?)?)?;
    let mut certs = Certificate::load_all(&std::fs::read(&args[1])?)?;
    let leaf = certs.remove(0);
    let mut crls = Vec::new();
    for file in &args[2..] {
        let bytes = std::fs::read(file)?;
        match Certificate::load_all(&bytes) {
            Ok(more) if !more.is_empty() => certs.extend(more),
            _ => crls.extend(Crl::load_all(&bytes)?),
        }
    }
    let pool = CertStore::from_certificates(certs);

    let mut options = ValidationOptions::at(waxseal_trust::time::now());
    options.purpose = Purpose::Any;
    options.revocation = RevocationPolicy::RequireAll;
    let crls = CrlSet::from_crls(crls);
    Ok(
        match waxseal_trust::validate(&leaf, &anchors, &[&pool], &crls, &options) {
            Ok(path) => Ok(path
                .subjects()
                .into_iter()
                .enumerate()
                .map(|(depth, subject)| format!("{depth}: {subject}"))
                .collect()),
            Err(e) => Err(e),
        },
    )
}
