//! `waxseal speed`: in-process throughput of whole envelopes, our `openssl speed`.
//!
//! For each algorithm, on freshly generated keys (a root, a signing CA and a leaf of that
//! algorithm) and a JSON payload of `--payload-size` bytes, it measures: signing
//! (attached) with certificates embedded and omitted; verification of both, each with a
//! cold path cache (the first message from a signer: the path is built and every
//! signature on it checked, on every message) and a warm one (later messages: one
//! signature check per message).
//!
//! Cold, as for the first message from a signer to a running verifier: the process-wide
//! key caches are off (`key::without_key_caches`), so the keys of certificates an
//! envelope brings are parsed and set up for that message; the verifier's own
//! certificates (its store and anchors) keep the key they set up on first use
//! (`Certificate::public_key_bounded`), as OpenSSL's `X509` objects keep theirs, which is
//! what the OpenSSL peer of `bench/compare.sh` measures. Warm reuses every prepared key.
//!
//! Beside them, for RSA signed or verified by graviola: graviola's bare operations on the
//! same key and payload (`provider::RawRsa`: RSASSA-PKCS1-v1_5 with SHA-256,
//! the key made once, no envelope), the yardstick of what the envelope adds. Figures that
//! are compared with each other are measured side by side, in alternating slices of
//! [`SLICE`], so that a shared machine's load falls on both alike.
//!
//! Verification cycles through [`MESSAGES`] distinct envelopes (payloads differing in a
//! counter), and the warm cache is small enough that no message's signature outcome is
//! still cached when it comes round again: every figure includes the message's own
//! public-key operation, as on a bus where each message is new (verifying one envelope
//! over and over would measure the replay cache instead).
//!
//! Every operation's result is checked: a failed one is counted (and its first error
//! kept), never timed as a success. Rates count successful operations over the time they
//! took; if any operation failed, the figures are still printed, with the failures, and
//! the command exits 1 (reason `speed-operation-failed`).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::ValueEnum;
use serde::Serialize;
use waxseal_envelope::{EnvelopeBuilder, Signer, Verifier};
use waxseal_pki::issue::{CertParams, Issuer, parse_name};
use waxseal_trust::PrivateKey;
use waxseal_trust::algorithm::SignatureScheme;
use waxseal_trust::key::without_key_caches;
use waxseal_trust::mldsa::MlDsaParameterSet;
use waxseal_trust::provider::RawRsa;
use waxseal_trust::{CertStore, KeyAlgorithm, PathCache, TrustAnchors};

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
    /// ML-DSA-44 (FIPS 204), signed attributes with SHA-512.
    #[value(name = "ml-dsa-44")]
    MlDsa44,
    /// ML-DSA-65, signed attributes with SHA-512.
    #[value(name = "ml-dsa-65")]
    MlDsa65,
    /// ML-DSA-87, signed attributes with SHA-512.
    #[value(name = "ml-dsa-87")]
    MlDsa87,
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
    /// Verify as of this time (RFC 3339), instead of now. A time outside the throwaway
    /// certificates' validity makes every verification fail (counted, exit 1).
    #[arg(long, value_name = "RFC3339-TIME")]
    at: Option<String>,
}

/// One algorithm's figures, in successful operations per second (`None`: none succeeded).
#[derive(Serialize)]
pub struct Figures {
    algorithm: String,
    /// The cryptography provider in effect (`--provider`, `WAXSEAL_PROVIDER`): `rustcrypto`,
    /// `graviola`, or `auto (graviola)` / `auto (rustcrypto)`.
    provider: String,
    /// The backend that did this algorithm's signing (`graviola` or `rustcrypto`).
    backend_sign: String,
    /// The backend that did this algorithm's signature checks.
    backend_verify: String,
    sign_embedded: Option<f64>,
    sign_omitted: Option<f64>,
    verify_embedded_cold: Option<f64>,
    verify_embedded_warm: Option<f64>,
    verify_omitted_cold: Option<f64>,
    verify_omitted_warm: Option<f64>,
    /// graviola's bare RSASSA-PKCS1-v1_5 SHA-256 signature of the payload with the same
    /// key, made once (no envelope), measured beside the two signing figures: their
    /// yardstick. `None` unless graviola signs with this algorithm's RSA key.
    sign_raw: Option<f64>,
    /// graviola's bare check of such a signature (key made once), measured beside the
    /// verification figures: a first message with certificates omitted checks three
    /// (the message's, the signer certificate's, the CA certificate's), so a third of it
    /// is that figure's limit. `None` unless graviola verifies this algorithm's RSA key.
    verify_raw: Option<f64>,
    /// Size of the envelope with certificates embedded, in bytes.
    envelope_bytes_embedded: usize,
    /// Size of the envelope with certificates omitted, in bytes.
    envelope_bytes_omitted: usize,
    /// Failed operations per measurement (same names as the rates).
    failed: Failed,
    /// The first error of each measurement that had failures.
    errors: Vec<String>,
}

/// Failed operations, per measurement.
#[derive(Serialize, Default)]
pub struct Failed {
    sign_embedded: u64,
    sign_omitted: u64,
    verify_embedded_cold: u64,
    verify_embedded_warm: u64,
    verify_omitted_cold: u64,
    verify_omitted_warm: u64,
    verify_raw: u64,
}

impl Failed {
    fn total(&self) -> u64 {
        self.sign_embedded
            + self.sign_omitted
            + self.verify_embedded_cold
            + self.verify_embedded_warm
            + self.verify_omitted_cold
            + self.verify_omitted_warm
            + self.verify_raw
    }
}

/// The outcome of one measurement.
#[derive(Default)]
struct Rate {
    /// Successful operations per second of the time they took (`None`: none succeeded).
    per_second: Option<f64>,
    /// Operations that failed (not timed, not counted in `per_second`).
    failed: u64,
    /// The first failure.
    first_error: Option<String>,
}

/// One operation being measured: what it did so far.
#[derive(Default)]
struct Tally {
    ok: u64,
    ok_time: Duration,
    failed: u64,
    first_error: Option<String>,
    spent: Duration,
}

impl Tally {
    fn run<E: std::fmt::Display>(&mut self, op: &mut dyn FnMut() -> Result<(), E>) {
        let t = Instant::now();
        let result = op();
        let took = t.elapsed();
        self.spent += took;
        match result {
            Ok(()) => {
                self.ok += 1;
                self.ok_time += took;
            }
            Err(e) => self.fail(e),
        }
    }

    fn fail(&mut self, e: impl std::fmt::Display) {
        self.failed += 1;
        if self.first_error.is_none() {
            self.first_error = Some(e.to_string());
        }
    }

    fn rate(self) -> Rate {
        Rate {
            per_second: (self.ok > 0)
                .then(|| self.ok as f64 / self.ok_time.as_secs_f64().max(1e-9)),
            failed: self.failed,
            first_error: self.first_error,
        }
    }
}

/// The length of one turn of an operation in [`rates`].
pub const SLICE: Duration = Duration::from_millis(20);

/// An operation to measure: its failures are counted, never timed.
type Op<'a> = &'a mut dyn FnMut() -> Result<(), OpError>;

/// Why one run of a measured operation failed (counted; the first one is printed).
#[derive(Debug, thiserror::Error)]
enum OpError {
    /// Signing an envelope.
    #[error(transparent)]
    Sign(#[from] waxseal_envelope::SignError),
    /// Verifying an envelope.
    #[error(transparent)]
    Verify(#[from] waxseal_envelope::VerifyError),
    /// graviola's bare check of its own signature.
    #[error("graviola refused its own signature")]
    RawVerify,
}

/// Runs each of `ops` for about `seconds` (after one untimed warm-up run each, whose
/// failure counts too), in turns of [`SLICE`] one after the other, and rates only the
/// operations that succeeded, over the time they took. Taking turns puts a shared
/// machine's changing load on every figure alike, so their ratios hold.
fn rates(seconds: f64, ops: &mut [Op<'_>]) -> Vec<Rate> {
    let budget = Duration::from_secs_f64(seconds.max(0.01));
    let mut tallies: Vec<Tally> = ops.iter().map(|_| Tally::default()).collect();
    for (op, tally) in ops.iter_mut().zip(&mut tallies) {
        if let Err(e) = op() {
            tally.fail(e); // warm-up (and first-use allocation)
        }
    }
    loop {
        let mut done = true;
        for (op, tally) in ops.iter_mut().zip(&mut tallies) {
            if tally.spent >= budget && tally.ok + tally.failed > 0 {
                continue;
            }
            done = false;
            let turn = Instant::now();
            while turn.elapsed() < SLICE || tally.ok + tally.failed == 0 {
                tally.run(&mut **op);
            }
        }
        if done {
            break;
        }
    }
    tallies.into_iter().map(Tally::rate).collect()
}

/// How many distinct envelopes verification cycles through.
pub const MESSAGES: usize = 64;

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

/// Payload number `n`: [`payload`] with its last characters before the closing quote
/// replaced by `n` (when `size` leaves room), so that distinct messages sign distinct bytes.
fn payload_n(size: usize, n: usize) -> Vec<u8> {
    let mut p = payload(size);
    let tag = format!("{n:08}");
    if p.len() >= 80 {
        let end = p.len() - 3;
        p[end - tag.len()..end].copy_from_slice(tag.as_bytes());
    }
    p
}

fn measure(alg: KeyAlgorithm, args: &Args) -> Result<Figures, CliError> {
    let fail = |e: &dyn std::fmt::Display| setup_failed(alg, e);
    let pki = SpeedPki::new(alg).map_err(|e| fail(&e))?;
    let leaf = &pki.leaf;
    let content = payload_n(args.payload_size, 0);
    let provider = waxseal_trust::provider::Provider::default();
    let digest = alg.default_digest();
    let op = leaf.key.sign_op(digest, false).map_err(|e| fail(&e))?;
    let scheme = leaf
        .key
        .signature_algorithm(digest, false)
        .ok()
        .and_then(|ai| SignatureScheme::from_algorithm_identifier(&ai).ok())
        .ok_or_else(|| fail(&"no signature scheme"))?;
    let backend_sign = provider.backend_for_sign(&leaf.key, &op).to_string();
    let backend_verify = provider
        .backend_for_verify(&leaf.key.public_key(), &scheme, digest)
        .to_string();
    if let Some(dir) = &args.export {
        export(dir, alg, &pki, &content)?;
    }
    let signer = Signer::new(leaf.cert.clone(), leaf.key.clone())
        .map_err(|e| fail(&e))?
        .with_chain(vec![pki.ca.cert.clone()]);
    let build = |include: bool| -> Result<Vec<Vec<u8>>, CliError> {
        (0..MESSAGES)
            .map(|n| {
                EnvelopeBuilder::new(&payload_n(args.payload_size, n))
                    .include_certificates(include)
                    .add_signer(&signer)
                    .build()
                    .map(|e| e.to_der())
                    .map_err(|e| fail(&e))
            })
            .collect()
    };
    let embedded = build(true)?;
    let omitted = build(false)?;
    let (cold, warm) = verifiers(&pki, alg, args)?;
    let s = args.seconds;
    let sign = |include: bool| {
        EnvelopeBuilder::new(&content)
            .include_certificates(include)
            .add_signer(&signer)
            .build()
            .map(|e| drop(e.to_der()))
            .map_err(OpError::Sign)
    };
    // graviola's bare operations on the same key and payload, where graviola does the
    // envelope's work (a yardstick of graviola's, not of RustCrypto's).
    let raw = RawRsa::new(&leaf.key);
    let raw_sign = raw.as_ref().filter(|_| backend_sign == "graviola");
    let raw_verify = raw.as_ref().filter(|_| backend_verify == "graviola");
    let mut buf = vec![0u8; 2048];
    // The signature the bare check checks, made through the provider (which falls back to
    // RustCrypto when graviola withholds one: PKCS #1 v1.5 signatures are the same).
    let raw_signature = match raw_verify {
        Some(_) => Some(
            leaf.key
                .sign(&provider, &content, digest, false)
                .map_err(|e| fail(&e))?
                .1,
        ),
        None => None,
    };
    let (mut sign_embedded, mut sign_omitted) = (|| sign(true), || sign(false));
    let mut sign_raw = || {
        // A signature graviola's own fault check withholds (rarely: the envelope then
        // signs with RustCrypto) still cost the whole operation: it counts.
        if let Some(r) = raw_sign {
            r.sign(&content, &mut buf);
        }
        Ok(())
    };
    let mut signing: Vec<Op<'_>> = vec![&mut sign_embedded, &mut sign_omitted];
    if raw_sign.is_some() {
        signing.push(&mut sign_raw);
    }
    let mut signed = rates(s, &mut signing).into_iter();
    let (se, so) = (
        signed.next().unwrap_or_default(),
        signed.next().unwrap_or_default(),
    );
    let sr = signed.next();

    let mut vec_op = verify(&cold, &embedded, true);
    let mut vew_op = verify(&warm, &embedded, false);
    let mut voc_op = verify(&cold, &omitted, true);
    let mut vow_op = verify(&warm, &omitted, false);
    let mut verify_raw = || match (raw_verify, &raw_signature) {
        (Some(r), Some(sig)) if r.verify(&content, sig) => Ok(()),
        _ => Err(OpError::RawVerify),
    };
    let mut verifying: Vec<Op<'_>> = vec![&mut vec_op, &mut vew_op, &mut voc_op, &mut vow_op];
    if raw_verify.is_some() {
        verifying.push(&mut verify_raw);
    }
    let mut verified = rates(s, &mut verifying).into_iter();
    let mut next = || verified.next().unwrap_or_default();
    let (vec, vew, voc, vow) = (next(), next(), next(), next());
    let vr = verified.next();
    let measured = [
        ("sign, certificates embedded", &se),
        ("sign, certificates omitted", &so),
        ("verify, certificates embedded, cold", &vec),
        ("verify, certificates embedded, warm", &vew),
        ("verify, certificates omitted, cold", &voc),
        ("verify, certificates omitted, warm", &vow),
    ];
    let raw_measured = vr.as_ref().map(|r| ("graviola's bare RSA verify", r));
    let errors = first_errors(alg, measured.iter().copied().chain(raw_measured));
    Ok(Figures {
        algorithm: alg.name().to_string(),
        provider: provider.describe(),
        backend_sign,
        backend_verify,
        failed: Failed {
            sign_embedded: se.failed,
            sign_omitted: so.failed,
            verify_embedded_cold: vec.failed,
            verify_embedded_warm: vew.failed,
            verify_omitted_cold: voc.failed,
            verify_omitted_warm: vow.failed,
            verify_raw: vr.as_ref().map_or(0, |r| r.failed),
        },
        sign_embedded: se.per_second,
        sign_omitted: so.per_second,
        verify_embedded_cold: vec.per_second,
        verify_embedded_warm: vew.per_second,
        verify_omitted_cold: voc.per_second,
        verify_omitted_warm: vow.per_second,
        sign_raw: sr.and_then(|r| r.per_second),
        verify_raw: vr.and_then(|r| r.per_second),
        envelope_bytes_embedded: embedded[0].len(),
        envelope_bytes_omitted: omitted[0].len(),
        errors,
    })
}

/// Each measured operation's first error and how many failed (nothing for one that never
/// failed).
fn first_errors<'a>(
    alg: KeyAlgorithm,
    measured: impl Iterator<Item = (&'a str, &'a Rate)>,
) -> Vec<String> {
    measured
        .filter_map(|(what, r)| {
            r.first_error
                .as_ref()
                .map(|e| format!("{alg} {what}: {} failed, first error: {e}", r.failed))
        })
        .collect()
}

/// What a failure to set up the measurement of `alg` says.
fn setup_failed(alg: KeyAlgorithm, e: &dyn std::fmt::Display) -> CliError {
    CliError::usage(format!("speed setup ({alg}): {e}"))
}

/// The two verifiers of `pki`'s envelopes, as of `--at` when given: cold (no path cache)
/// and warm (the signer's path cached, but no signature outcomes: every message costs its
/// own signature check, as a new message from a known signer does).
fn verifiers(
    pki: &SpeedPki,
    alg: KeyAlgorithm,
    args: &Args,
) -> Result<(Verifier, Verifier), CliError> {
    let anchors = TrustAnchors::new([pki.root.cert.clone()]).map_err(|e| setup_failed(alg, &e))?;
    let store = CertStore::from_certificates([pki.ca.cert.clone(), pki.leaf.cert.clone()]);
    let mut cold = Verifier::new(anchors.clone()).with_store(store.clone());
    let mut warm = Verifier::new(anchors)
        .with_store(store)
        .with_cache(Arc::new(PathCache::new(4).with_signature_capacity(0)));
    if let Some(at) = &args.at {
        let time = super::common::time(Some(at))?;
        cold = cold.at_time(time);
        warm = warm.at_time(time);
    }
    Ok((cold, warm))
}

/// Verifies `envs` in turn with `v`, one per call. Cold: no path cache, and the
/// process-wide key caches off: the keys of an envelope's certificates are set up for
/// its message, the verifier's own certificates keep theirs (as OpenSSL's `X509` objects
/// do, which is what the OpenSSL peer measures).
fn verify<'a>(
    v: &'a Verifier,
    envs: &'a [Vec<u8>],
    cold: bool,
) -> impl FnMut() -> Result<(), OpError> + 'a {
    let mut next = envs.iter().cycle();
    move || {
        let env = next.next().expect("MESSAGES > 0");
        if cold {
            without_key_caches(|| v.verify_bytes(env, None).map(drop))
        } else {
            v.verify_bytes(env, None).map(drop)
        }
        .map_err(OpError::Verify)
    }
}

/// The keys and certificates one algorithm is measured with: a root, a signing CA and a
/// leaf, made fresh in memory. Built here from the issuing API rather than with
/// `waxseal_pki::TestPki`, which exists only for tests (the `testing` feature).
struct SpeedPki {
    root: Issuer,
    ca: Issuer,
    leaf: Issuer,
    now: u64,
}

impl SpeedPki {
    fn new(alg: KeyAlgorithm) -> Result<Self, waxseal_pki::IssueError> {
        let now = waxseal_trust::time::now();
        let name = |cn: &str| parse_name(&format!("CN={cn},O=waxseal speed"));
        let root = Issuer::self_signed(
            &CertParams::ca(name("waxseal speed root")?, now, 30, Some(1)),
            PrivateKey::generate(alg)?,
        )?;
        let ca_key = PrivateKey::generate(alg)?;
        let ca_cert = root.issue(
            &CertParams::ca(name("waxseal speed signing CA")?, now, 30, Some(0)),
            &ca_key.subject_public_key_info(),
        )?;
        let ca = Issuer {
            cert: ca_cert,
            key: ca_key,
        };
        let host = format!("speed-{alg}.example.org");
        let leaf_key = PrivateKey::generate(alg)?;
        let mut params = CertParams::end_entity(name(&host)?, now, 30);
        params.dns_names = vec![host];
        let leaf_cert = ca.issue(&params, &leaf_key.subject_public_key_info())?;
        Ok(Self {
            root,
            ca,
            leaf: Issuer {
                cert: leaf_cert,
                key: leaf_key,
            },
            now,
        })
    }
}

fn export(
    dir: &std::path::Path,
    alg: KeyAlgorithm,
    pki: &SpeedPki,
    content: &[u8],
) -> Result<(), CliError> {
    let leaf = &pki.leaf;
    let io = |e| CliError::io(dir, e);
    std::fs::create_dir_all(dir).map_err(io)?;
    let d = dir.join(alg.name());
    std::fs::create_dir_all(&d).map_err(io)?;
    std::fs::write(d.join("root.pem"), pki.root.cert.to_pem()).map_err(io)?;
    std::fs::write(d.join("ca.pem"), pki.ca.cert.to_pem()).map_err(io)?;
    std::fs::write(d.join("leaf.pem"), leaf.cert.to_pem()).map_err(io)?;
    let key = d.join("leaf.key");
    std::fs::write(&key, leaf.key.to_pkcs8_pem().as_bytes()).map_err(io)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).map_err(io)?;
    }
    std::fs::write(d.join("payload.bin"), content).map_err(io)?;
    let crl = pki
        .ca
        .issue_crl(1, pki.now - 3600, pki.now + 7 * 86_400, &[])
        .map_err(|e| CliError::usage(e.to_string()))?;
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
        Algorithm::MlDsa44 => vec![KeyAlgorithm::MlDsa(MlDsaParameterSet::MlDsa44)],
        Algorithm::MlDsa65 => vec![KeyAlgorithm::MlDsa(MlDsaParameterSet::MlDsa65)],
        Algorithm::MlDsa87 => vec![KeyAlgorithm::MlDsa(MlDsaParameterSet::MlDsa87)],
        Algorithm::All => vec![
            KeyAlgorithm::Rsa2048,
            KeyAlgorithm::P256,
            KeyAlgorithm::P384,
            KeyAlgorithm::Ed25519,
            KeyAlgorithm::MlDsa(MlDsaParameterSet::MlDsa44),
            KeyAlgorithm::MlDsa(MlDsaParameterSet::MlDsa65),
            KeyAlgorithm::MlDsa(MlDsaParameterSet::MlDsa87),
        ],
    };
    if !args.json {
        let provider = waxseal_trust::provider::Provider::default().describe();
        println!(
            "waxseal speed: {}-byte payload, {}s per figure, successful operations per second, provider {provider}",
            args.payload_size, args.seconds
        );
        println!(
            "{:<9} {:>9} {:>9} {:>13} {:>13} {:>13} {:>13} {:>9} {:>9} {:>7}  backend",
            "",
            "sign",
            "sign",
            "verify+certs",
            "verify+certs",
            "verify-certs",
            "verify-certs",
            "bare",
            "bare",
            ""
        );
        println!(
            "{:<9} {:>9} {:>9} {:>13} {:>13} {:>13} {:>13} {:>9} {:>9} {:>7}  sign/verify",
            "",
            "+certs",
            "-certs",
            "cold path",
            "warm path",
            "cold path",
            "warm path",
            "sign",
            "verify",
            "failed"
        );
    }
    let mut all = Vec::new();
    for alg in algs {
        let f = measure(alg, &args)?;
        if !args.json {
            let r = |x: Option<f64>| x.map_or_else(|| "-".to_string(), |x| format!("{x:.0}"));
            println!(
                "{:<9} {:>9} {:>9} {:>13} {:>13} {:>13} {:>13} {:>9} {:>9} {:>7}  {}/{}",
                f.algorithm,
                r(f.sign_embedded),
                r(f.sign_omitted),
                r(f.verify_embedded_cold),
                r(f.verify_embedded_warm),
                r(f.verify_omitted_cold),
                r(f.verify_omitted_warm),
                r(f.sign_raw),
                r(f.verify_raw),
                f.failed.total(),
                f.backend_sign,
                f.backend_verify
            );
        }
        all.push(f);
    }
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&all).expect("figures serialise")
        );
    } else {
        for e in all.iter().flat_map(|f| &f.errors) {
            println!("failed: {e}");
        }
    }
    let failed: u64 = all.iter().map(|f| f.failed.total()).sum();
    if failed > 0 {
        return Err(CliError::rejected(
            "speed-operation-failed",
            format!("{failed} operation(s) failed; their figures exclude them (see the report)"),
        ));
    }
    Ok(())
}
