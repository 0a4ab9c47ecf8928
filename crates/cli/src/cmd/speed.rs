//! `waxseal speed`: in-process throughput of whole envelopes, our `openssl speed`.
//!
//! For each algorithm, on freshly generated keys (a root, a signing CA and a leaf of that
//! algorithm) and a JSON payload of `--payload-size` bytes, it measures: signing
//! (attached, certificates embedded); verification with certificates embedded and with
//! certificates omitted (signer found in the store), each with a cold path cache (the
//! path is built and validated on every message) and a warm one (one signature check
//! per message).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::ValueEnum;
use serde::Serialize;
use waxseal_envelope::{
    CertStore, EnvelopeBuilder, KeyAlgorithm, PathCache, Signer, TrustAnchors, Verifier,
};
use waxseal_pki::TestPki;

use crate::error::CliError;

/// Algorithms `speed` measures.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Algorithm {
    /// RSA-2048, PKCS #1 v1.5, SHA-256.
    Rsa2048,
    /// ECDSA P-256, SHA-256.
    P256,
    /// ECDSA P-384, SHA-384.
    P384,
    /// Ed25519.
    Ed25519,
    /// All of the above.
    All,
}

/// `waxseal speed` arguments.
#[derive(clap::Args)]
pub struct Args {
    /// Seconds to spend on each measurement.
    #[arg(long, default_value_t = 1.0, value_name = "N")]
    seconds: f64,
    /// Payload size in bytes.
    #[arg(long, default_value_t = 1024, value_name = "BYTES")]
    payload_size: usize,
    /// Which algorithm(s).
    #[arg(long, value_enum, default_value = "all")]
    algorithm: Algorithm,
    /// Print JSON.
    #[arg(long)]
    json: bool,
    /// Also write the keys, certificates and payload used to DIR (for the OpenSSL peer
    /// benchmark in bench/, which then measures the very same inputs).
    #[arg(long, value_name = "DIR")]
    export: Option<PathBuf>,
}

/// One algorithm's figures, in operations per second.
#[derive(Serialize)]
pub struct Figures {
    algorithm: String,
    sign: f64,
    verify_embedded_cold: f64,
    verify_embedded_warm: f64,
    verify_omitted_cold: f64,
    verify_omitted_warm: f64,
}

fn rate(seconds: f64, mut op: impl FnMut()) -> f64 {
    let budget = Duration::from_secs_f64(seconds.max(0.01));
    op(); // warm-up (and first-use allocation)
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < budget || n == 0 {
        op();
        n += 1;
    }
    n as f64 / start.elapsed().as_secs_f64()
}

/// A JSON-ish payload of exactly `size` bytes.
pub fn payload(size: usize) -> Vec<u8> {
    let mut p =
        br#"{"topic": "org.example.prod.bodhi.update.comment", "msg": {"comment": ""#.to_vec();
    while p.len() + 3 < size {
        p.push(b'a' + (p.len() % 26) as u8);
    }
    p.extend_from_slice(b"\"}}");
    p.truncate(size);
    p
}

fn measure(alg: KeyAlgorithm, args: &Args) -> Result<Figures, CliError> {
    let fail = |e: &dyn std::fmt::Display| CliError::usage(format!("speed setup ({alg}): {e}"));
    let pki = TestPki::new(alg).map_err(|e| fail(&e))?;
    let leaf = pki
        .leaf(&format!("speed-{alg}.example.org"), alg)
        .map_err(|e| fail(&e))?;
    let content = payload(args.payload_size);
    if let Some(dir) = &args.export {
        export(dir, alg, &pki, &leaf, &content)?;
    }
    let signer = Signer::new(leaf.cert.clone(), leaf.key)
        .map_err(|e| fail(&e))?
        .with_chain(vec![pki.ca.cert.clone()]);
    let embedded = EnvelopeBuilder::new(&content)
        .add_signer(&signer)
        .build()
        .map_err(|e| fail(&e))?
        .to_der();
    let omitted = EnvelopeBuilder::new(&content)
        .include_certificates(false)
        .add_signer(&signer)
        .build()
        .map_err(|e| fail(&e))?
        .to_der();
    let anchors = TrustAnchors::new([pki.root.cert.clone()]).map_err(|e| fail(&e))?;
    let store = CertStore::from_certificates([pki.ca.cert.clone(), leaf.cert.clone()]);
    let cold = Verifier::new(anchors.clone()).with_store(store.clone());
    let warm = Verifier::new(anchors)
        .with_store(store)
        .with_cache(Arc::new(PathCache::default()));
    for env in [&embedded, &omitted] {
        cold.verify_bytes(env, None).map_err(|e| fail(&e))?;
        warm.verify_bytes(env, None).map_err(|e| fail(&e))?;
    }
    let s = args.seconds;
    Ok(Figures {
        algorithm: alg.name().to_string(),
        sign: rate(s, || {
            let _ = EnvelopeBuilder::new(&content)
                .add_signer(&signer)
                .build()
                .map(|e| e.to_der());
        }),
        verify_embedded_cold: rate(s, || {
            let _ = cold.verify_bytes(&embedded, None);
        }),
        verify_embedded_warm: rate(s, || {
            let _ = warm.verify_bytes(&embedded, None);
        }),
        verify_omitted_cold: rate(s, || {
            let _ = cold.verify_bytes(&omitted, None);
        }),
        verify_omitted_warm: rate(s, || {
            let _ = warm.verify_bytes(&omitted, None);
        }),
    })
}

fn export(
    dir: &std::path::Path,
    alg: KeyAlgorithm,
    pki: &TestPki,
    leaf: &waxseal_pki::Issued,
    content: &[u8],
) -> Result<(), CliError> {
    let io = |e| CliError::io(dir, e);
    std::fs::create_dir_all(dir).map_err(io)?;
    let d = dir.join(alg.name());
    std::fs::create_dir_all(&d).map_err(io)?;
    std::fs::write(d.join("root.pem"), pki.root.cert.to_pem()).map_err(io)?;
    std::fs::write(d.join("ca.pem"), pki.ca.cert.to_pem()).map_err(io)?;
    std::fs::write(d.join("leaf.pem"), leaf.cert.to_pem()).map_err(io)?;
    std::fs::write(d.join("leaf.key"), leaf.key.to_pkcs8_pem().as_bytes()).map_err(io)?;
    std::fs::write(d.join("payload.bin"), content).map_err(io)?;
    let crl = pki.crl(&[]).map_err(|e| CliError::usage(e.to_string()))?;
    std::fs::write(d.join("crl.pem"), crl.to_pem()).map_err(io)?;
    Ok(())
}

/// Runs `waxseal speed`.
pub fn run(args: Args) -> Result<(), CliError> {
    let algs: Vec<KeyAlgorithm> = match args.algorithm {
        Algorithm::Rsa2048 => vec![KeyAlgorithm::Rsa2048],
        Algorithm::P256 => vec![KeyAlgorithm::P256],
        Algorithm::P384 => vec![KeyAlgorithm::P384],
        Algorithm::Ed25519 => vec![KeyAlgorithm::Ed25519],
        Algorithm::All => vec![
            KeyAlgorithm::Rsa2048,
            KeyAlgorithm::P256,
            KeyAlgorithm::P384,
            KeyAlgorithm::Ed25519,
        ],
    };
    if !args.json {
        println!(
            "waxseal speed: {}-byte payload, {}s per figure, operations per second",
            args.payload_size, args.seconds
        );
        println!(
            "{:<9} {:>9} {:>15} {:>15} {:>15} {:>15}",
            "", "sign", "verify+certs", "verify+certs", "verify-certs", "verify-certs"
        );
        println!(
            "{:<9} {:>9} {:>15} {:>15} {:>15} {:>15}",
            "", "", "cold path", "warm path", "cold path", "warm path"
        );
    }
    let mut all = Vec::new();
    for alg in algs {
        let f = measure(alg, &args)?;
        if !args.json {
            println!(
                "{:<9} {:>9.0} {:>15.0} {:>15.0} {:>15.0} {:>15.0}",
                f.algorithm,
                f.sign,
                f.verify_embedded_cold,
                f.verify_embedded_warm,
                f.verify_omitted_cold,
                f.verify_omitted_warm
            );
        }
        all.push(f);
    }
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&all).expect("figures serialise")
        );
    }
    Ok(())
}
