//! Loading trust material and mapping library errors to CLI errors.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::ValueEnum;
use waxseal_envelope::oid::Oid;
use waxseal_envelope::store::{load_certificates, load_crls};
use waxseal_envelope::{
    AlgorithmPolicy, CertStore, Certificate, CrlSet, DigestAlgorithm, KeyFileCheck, PathCache,
    PathError, PrivateKey, RevocationPolicy, Signer, TrustAnchors, Verifier, VerifyError,
};

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
        let cert = one_certificate(&self.cert)?;
        let accepted = if self.purpose.is_empty() {
            waxseal_envelope::trust::DEFAULT_SIGNING_PURPOSES.to_vec()
        } else {
            self.purpose.clone()
        };
        waxseal_envelope::trust::process::check_signing_purpose(&cert, &accepted).map_err(|e| {
            CliError::usage(format!(
                "{e}: verifiers would refuse its signatures (--purpose names the purposes they accept)"
            ))
        })?;
        let check = if self.insecure_key_permissions {
            KeyFileCheck::AllowInsecure
        } else {
            KeyFileCheck::OwnerOnly
        };
        let key = PrivateKey::load(&self.key, check).map_err(|e| CliError::usage(e.to_string()))?;
        Ok(Signer::new(cert, key)
            .map_err(|e| CliError::usage(e.to_string()))?
            .with_chain(certificates(&self.chain)?))
    }
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

/// What a verifying command trusts: anchors, store, CRLs, time, algorithms.
#[derive(clap::Args)]
pub struct TrustArgs {
    /// Trust anchor certificate(s) (PEM bundle or DER); repeatable. Required: waxseal
    /// never verifies without a trust anchor.
    #[arg(long, value_name = "FILE", required = true)]
    pub trust: Vec<PathBuf>,
    /// Certificates to find signers and intermediates in (file or directory); repeatable.
    #[arg(long, value_name = "FILE|DIR")]
    pub certs: Vec<PathBuf>,
    /// CRLs (file or directory); repeatable. With CRLs, revocation is checked.
    #[arg(long, value_name = "FILE|DIR")]
    pub crl: Vec<PathBuf>,
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
}

/// Parses a `--purpose` value ([`waxseal_envelope::oid::parse_purpose`]).
pub fn parse_purpose(s: &str) -> Result<Oid, String> {
    waxseal_envelope::oid::parse_purpose(s)
}

impl TrustArgs {
    /// The verifier these arguments describe (with a path cache).
    pub fn verifier(&self) -> Result<Verifier, CliError> {
        let crls = crls(&self.crl)?;
        let mut verifier = Verifier::new(anchors(&self.trust)?)
            .with_store(store(&self.certs)?)
            .with_algorithms(AlgorithmPolicy {
                allow_sha1: self.allow_sha1,
                allow_md5: self.allow_md5,
            })
            .at_time(time(self.at.as_deref())?)
            .with_cache(Arc::new(PathCache::default()));
        if !self.purpose.is_empty() {
            verifier = verifier.with_accepted_purposes(self.purpose.iter().copied());
        }
        if !crls.is_empty() && self.crl_scope == CrlScope::Leaf {
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

/// Trust anchors from `--trust` files.
pub fn anchors(paths: &[PathBuf]) -> Result<TrustAnchors, CliError> {
    TrustAnchors::new(certificates(paths)?)
        .map_err(|_| CliError::usage("no trust anchor certificates found in --trust"))
}

/// A store from `--certs`/`--untrusted` files and directories.
pub fn store(paths: &[PathBuf]) -> Result<CertStore, CliError> {
    Ok(CertStore::from_certificates(certificates(paths)?))
}

/// CRLs from `--crl` files and directories.
pub fn crls(paths: &[PathBuf]) -> Result<CrlSet, CliError> {
    let mut set = CrlSet::new();
    for p in paths {
        for c in load_crls(p).map_err(|e| CliError::usage(e.to_string()))? {
            set.add(c);
        }
    }
    Ok(set)
}

/// `--at` as seconds since the epoch (now when absent).
pub fn time(at: Option<&str>) -> Result<u64, CliError> {
    match at {
        Some(t) => waxseal_envelope::time::parse_rfc3339(t).map_err(CliError::usage),
        None => Ok(waxseal_envelope::time::now()),
    }
}

/// Reads one certificate file (the first certificate in it).
pub fn one_certificate(path: &Path) -> Result<Certificate, CliError> {
    let mut certs = load_certificates(path).map_err(|e| CliError::usage(e.to_string()))?;
    if certs.is_empty() {
        return Err(CliError::usage(format!(
            "{}: no certificate",
            path.display()
        )));
    }
    Ok(certs.remove(0))
}

/// A verification failure as a rejection.
pub fn rejected(e: &VerifyError) -> CliError {
    CliError::rejected(e.code(), e.to_string())
}

/// A path validation failure as a rejection.
pub fn path_rejected(e: &PathError) -> CliError {
    CliError::rejected(e.code(), e.to_string())
}
