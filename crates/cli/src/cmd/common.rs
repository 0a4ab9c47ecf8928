//! Loading trust material and mapping library errors to CLI errors.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::ValueEnum;
use waxseal_envelope::{Signer, Verifier, VerifyError};
use waxseal_trust::oid::Oid;
use waxseal_trust::store::load_certificates;
use waxseal_trust::{
    AlgorithmPolicy, Budget, CertStore, Certificate, DigestAlgorithm, ErrorKind, KeyFileCheck,
    PathCache, PathError, PrivateKey, RevocationPolicy, TrustAnchors,
};

use waxseal_message::{FetchConfig, Material, Source};

use crate::error::CliError;

/// The signer's files, for every command that signs (`sign`, `countersign`, `msg sign`,
/// `msg countersign`).
#[derive(clap::Args)]
pub struct SignerArgs {
    /// Signer certificate (PEM or DER).
    #[arg(long, value_name = "CERT")]
    cert: PathBuf,
    /// Signer private key (PKCS #8, PKCS #1 or SEC1; PEM or DER; unencrypted).
    #[arg(long, value_name = "KEY")]
    key: PathBuf,
    /// Intermediate certificates to send after the signer's.
    #[arg(long, value_name = "FILE")]
    chain: Vec<PathBuf>,
    /// Load the key even if group or others can read it.
    #[arg(long)]
    insecure_key_permissions: bool,
    /// An extendedKeyUsage purpose the verifiers accept (as `verify --purpose`;
    /// repeatable). A certificate whose keyUsage or extendedKeyUsage they would refuse is
    /// refused here. Default: emailProtection, any-eku, bus-signing.
    #[arg(long, value_name = "PURPOSE", value_parser = parse_purpose)]
    purpose: Vec<Oid>,
}

impl SignerArgs {
    /// Loads the certificate (refused if its key usage does not allow signing for
    /// `--purpose`), the key (refused if it is not the certificate's, or readable by others
    /// without `--insecure-key-permissions`) and the chain.
    pub fn signer(&self) -> Result<Signer, CliError> {
        load_signer(
            &self.cert,
            &self.key,
            &self.chain,
            self.insecure_key_permissions,
            &self.purpose,
        )
    }
}

/// Loads a signer as [`SignerArgs::signer`] does, from its parts (`purposes` empty: the
/// default purposes).
pub fn load_signer(
    cert: &Path,
    key: &Path,
    chain: &[PathBuf],
    insecure_key_permissions: bool,
    purposes: &[Oid],
) -> Result<Signer, CliError> {
    let certificate = one_certificate(cert)?;
    let accepted = if purposes.is_empty() {
        waxseal_trust::path::DEFAULT_SIGNING_PURPOSES.to_vec()
    } else {
        purposes.to_vec()
    };
    waxseal_trust::path::check_signing_purpose(&certificate, &accepted).map_err(|e| {
        CliError::usage(format!(
            "{e}: verifiers would refuse its signatures (--purpose names the purposes they accept)"
        ))
    })?;
    let check = if insecure_key_permissions {
        KeyFileCheck::AllowInsecure
    } else {
        KeyFileCheck::OwnerOnly
    };
    let private = PrivateKey::load(key, check).map_err(|e| {
        if looks_like(key) == Some("a certificate") {
            CliError::usage(format!(
                "{}: this is a certificate, not a private key (the certificate goes in --cert, its private key in --key)",
                escape_path(key)
            ))
        } else {
            CliError::usage(e.to_string())
        }
    })?;
    Ok(Signer::new(certificate, private)
        .map_err(|e| CliError::usage(e.to_string()))?
        .with_chain(certificates(chain)?))
}

/// Digest choices for signing.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Digest {
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

impl From<Digest> for DigestAlgorithm {
    fn from(d: Digest) -> Self {
        match d {
            Digest::Sha256 => DigestAlgorithm::Sha256,
            Digest::Sha384 => DigestAlgorithm::Sha384,
            Digest::Sha512 => DigestAlgorithm::Sha512,
        }
    }
}

/// Which certificates need a CRL when CRLs are given.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CrlScope {
    /// Every certificate below the trust anchor (the default).
    All,
    /// Only the signer's certificate (OpenSSL's -crl_check).
    Leaf,
}

/// The work budget of one verification (`waxseal verify`, `slip verify`, `cert verify`):
/// what a hostile envelope may make waxseal do before it is refused with
/// `budget-exceeded` (or, for a key, `key-too-large`).
#[derive(clap::Args)]
pub struct BudgetArgs {
    /// Most public-key operations (content, certificate and CRL signatures) for the whole
    /// envelope.
    #[arg(long, value_name = "N", default_value_t = Budget::default().max_signature_checks)]
    pub max_signature_checks: usize,
    /// Most certificates tried as signer certificates (all signers together).
    #[arg(long, value_name = "N", default_value_t = Budget::default().max_signer_candidates)]
    pub max_signer_candidates: usize,
    /// Largest RSA or DSA key accepted, in bits (larger ones: `key-too-large`).
    #[arg(long, value_name = "BITS", default_value_t = Budget::default().max_rsa_bits)]
    pub max_rsa_bits: usize,
    /// Most bytes of CRLs an envelope may carry.
    #[arg(long, value_name = "BYTES", default_value_t = Budget::default().max_crl_bytes)]
    pub max_crl_bytes: usize,
}

impl BudgetArgs {
    /// The budget these arguments describe (the library defaults for the rest).
    pub fn budget(&self) -> Budget {
        Budget {
            max_signature_checks: self.max_signature_checks,
            max_signer_candidates: self.max_signer_candidates,
            max_rsa_bits: self.max_rsa_bits,
            max_crl_bytes: self.max_crl_bytes,
            ..Budget::default()
        }
    }
}

/// What a verifying command trusts: anchors, store, CRLs, time, algorithms.
#[derive(clap::Args)]
pub struct TrustArgs {
    /// Trust anchor certificate(s) (PEM bundle or DER): a file or an https URL; repeatable.
    /// Required: waxseal never verifies without a trust anchor.
    #[arg(long, value_name = "FILE|URL", required = true, value_parser = parse_source)]
    pub trust: Vec<Source>,
    /// Certificates to find signers and intermediates in (file, directory or http(s) URL);
    /// repeatable.
    #[arg(long, value_name = "FILE|DIR|URL", value_parser = parse_source)]
    pub certs: Vec<Source>,
    /// CRLs (file, directory or http(s) URL, such as a CRL distribution point); repeatable.
    /// With CRLs, revocation is checked. A URL that cannot be fetched, or whose CRL is past
    /// its nextUpdate, refuses the envelope (`crl-unavailable`).
    #[arg(long, value_name = "FILE|DIR|URL", value_parser = parse_source)]
    pub crl: Vec<Source>,
    /// The most fetching one URL (--trust, --certs, --crl) may take, seconds.
    #[arg(long, value_name = "SECS", default_value_t = 10.0)]
    pub fetch_timeout: f64,
    /// Which certificates must be covered by a CRL.
    #[arg(long, value_enum, default_value = "all")]
    pub crl_scope: CrlScope,
    /// Verify as of this time (RFC 3339), instead of now.
    #[arg(long, value_name = "RFC3339-TIME")]
    pub at: Option<String>,
    /// Accept SHA-1 (and 1024-bit RSA/DSA keys): legacy messages only.
    #[arg(long)]
    pub allow_sha1: bool,
    /// Accept MD5: broken; for forensics on very old messages only.
    #[arg(long)]
    pub allow_md5: bool,
    /// An extendedKeyUsage purpose accepted of signers whose certificate has that
    /// extension: emailProtection, codeSigning, serverAuth, clientAuth, bus-signing
    /// (waxseal's), any-eku (anyExtendedKeyUsage) or a dotted OID; repeatable. Replaces
    /// the default set: emailProtection, any-eku, bus-signing.
    #[arg(long, value_name = "PURPOSE", value_parser = parse_purpose)]
    pub purpose: Vec<Oid>,
    #[command(flatten)]
    pub budget: BudgetArgs,
}

/// Loads `--trust`, `--certs`/`--untrusted` and `--crl` (files or URLs, fetched now within
/// `fetch_timeout` seconds); a CRL URL with nothing current at `at` is a rejection
/// (`crl-unavailable`).
pub fn material(
    trust: &[Source],
    certs: &[Source],
    crl: &[Source],
    fetch_timeout: f64,
    at: u64,
) -> Result<Material, CliError> {
    if !(fetch_timeout > 0.0 && fetch_timeout.is_finite()) {
        return Err(CliError::usage("--fetch-timeout must be a positive number"));
    }
    let fetch = FetchConfig {
        timeout_ms: (fetch_timeout * 1000.0).ceil() as u64,
        ..FetchConfig::default()
    };
    let material = Material::load_for_one_verification(trust, certs, crl, &fetch, at)
        .map_err(|e| CliError::usage(e.0))?;
    material
        .check_crls(at)
        .map_err(|r| CliError::rejected(&r.code, r.reason))?;
    Ok(material)
}

/// Parses a file path or an http(s) URL ([`Source::parse`]).
pub fn parse_source(s: &str) -> Result<Source, waxseal_message::ConfigError> {
    Source::parse(s)
}

/// Parses a `--purpose` value ([`waxseal_trust::oid::parse_purpose`]).
pub fn parse_purpose(s: &str) -> Result<Oid, waxseal_trust::oid::PurposeError> {
    waxseal_trust::oid::parse_purpose(s)
}

impl TrustArgs {
    /// The verifier these arguments describe (with a path cache).
    /// URLs are fetched now (with `--fetch-timeout`); a CRL URL with nothing current is a
    /// rejection (`crl-unavailable`).
    pub fn verifier(&self) -> Result<Verifier, CliError> {
        let at = time(self.at.as_deref())?;
        let material = material(&self.trust, &self.certs, &self.crl, self.fetch_timeout, at)?;
        let crls = material.crls();
        let anchors = TrustAnchors::new(material.anchors())
            .map_err(|_| CliError::usage("no trust anchor certificates found in --trust"))?;
        let mut verifier = Verifier::new(anchors)
            .with_store(CertStore::from_certificates(material.certificates()))
            .with_algorithms(AlgorithmPolicy {
                allow_sha1: self.allow_sha1,
                allow_md5: self.allow_md5,
            })
            .at_time(at)
            .with_budget(self.budget.budget())
            .with_cache(Arc::new(PathCache::default()));
        if !self.purpose.is_empty() {
            verifier = verifier.with_accepted_purposes(self.purpose.iter().copied());
        }
        if material.has_crls() && self.crl_scope == CrlScope::Leaf {
            verifier = verifier.with_revocation(RevocationPolicy::RequireEndEntity);
        }
        Ok(verifier.with_crls(crls))
    }
}

/// Loads certificates from each file or directory.
pub fn certificates(paths: &[PathBuf]) -> Result<Vec<Certificate>, CliError> {
    let mut out = Vec::new();
    for p in paths {
        out.extend(load_certificates(p).map_err(|e| CliError::usage(e.to_string()))?);
    }
    Ok(out)
}

/// `--at` as seconds since the epoch (now when absent).
pub fn time(at: Option<&str>) -> Result<u64, CliError> {
    match at {
        Some(t) => {
            waxseal_trust::time::parse_rfc3339(t).map_err(|e| CliError::usage(e.to_string()))
        }
        None => Ok(waxseal_trust::time::now()),
    }
}

/// Reads one certificate file (the first certificate in it).
pub fn one_certificate(path: &Path) -> Result<Certificate, CliError> {
    let not_a_cert = || {
        CliError::usage(match looks_like(path) {
            Some("a private key") => format!(
                "{}: this is a private key, not a certificate (the certificate goes in --cert, its private key in --key)",
                escape_path(path)
            ),
            _ => format!("{}: no certificate", escape_path(path)),
        })
    };
    let mut certs = load_certificates(path).map_err(|e| match looks_like(path) {
        Some("a private key") => not_a_cert(),
        _ => CliError::usage(e.to_string()),
    })?;
    if certs.is_empty() {
        return Err(not_a_cert());
    }
    Ok(certs.remove(0))
}

/// What a file holds, judging by its first PEM label (or its DER): `Some("a certificate")`,
/// `Some("a private key")`, or `None` when unknown or unreadable. Only for messages.
pub fn looks_like(path: &Path) -> Option<&'static str> {
    let mut head = Vec::new();
    use std::io::Read;
    std::fs::File::open(path)
        .ok()?
        .take(crate::io::MAX_INPUT)
        .read_to_end(&mut head)
        .ok()?;
    let text = String::from_utf8_lossy(&head);
    match text.find("-----BEGIN ") {
        Some(i) => {
            let label = &text[i + 11..];
            if label.starts_with("CERTIFICATE-----")
                || label.starts_with("X509 CERTIFICATE")
                || label.starts_with("TRUSTED CERTIFICATE")
            {
                Some("a certificate")
            } else if label
                .split("-----")
                .next()
                .is_some_and(|l| l.ends_with("PRIVATE KEY"))
            {
                Some("a private key")
            } else {
                None
            }
        }
        None if Certificate::from_der(&head).is_ok() => Some("a certificate"),
        None => None,
    }
}

fn escape_path(p: &Path) -> String {
    waxseal_trust::display::path(p)
}

/// The hint for an `untrusted` refusal: where a missing intermediate goes.
pub const INTERMEDIATE_HINT: &str = "if an intermediate CA is missing, give it with --certs FILE (or have the signer send it: sign --chain FILE)";

/// The certificate a command is asked to check (`cert verify CERT`, `authorize --in`): an
/// unreadable file is an I/O error (exit 2), a file that holds no certificate an invalid
/// input (exit 1, `malformed`).
pub fn input_certificate(path: &Path) -> Result<Certificate, CliError> {
    match load_certificates(path) {
        Err(e @ waxseal_trust::store::LoadError::Io { .. }) => Err(CliError::usage(e.to_string())),
        Err(e) => Err(CliError::rejected("malformed", e.to_string())),
        Ok(mut certs) if !certs.is_empty() => Ok(certs.remove(0)),
        Ok(_) => Err(CliError::rejected(
            "malformed",
            format!("{}: no certificate", escape_path(path)),
        )),
    }
}

/// A verification failure as a rejection (with a hint when the path has a gap).
pub fn rejected(e: &VerifyError) -> CliError {
    hinted(
        CliError::rejected(e.code(), e.to_string()),
        e.kind() == ErrorKind::Untrusted,
        INTERMEDIATE_HINT,
    )
}

/// A path validation failure as a rejection, for `cert verify` (`--untrusted`).
pub fn path_rejected(e: &PathError) -> CliError {
    hinted(
        CliError::rejected(e.code(), e.to_string()),
        e.kind() == ErrorKind::Untrusted,
        "if an intermediate CA is missing, give it with --untrusted FILE",
    )
}

/// Adds `hint` to an `untrusted` refusal ([`ErrorKind::Untrusted`]: no path to an anchor).
pub fn hinted(mut e: CliError, untrusted: bool, hint: &str) -> CliError {
    if untrusted {
        e.message = format!("{}; {hint}", e.message);
    }
    e
}
