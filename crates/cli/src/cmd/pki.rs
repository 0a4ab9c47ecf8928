//! `waxseal pki ...`: the operator's certificate lifecycle.

use std::path::{Path, PathBuf};

use clap::{Subcommand, ValueEnum};
use waxseal_pki::dir::REASONS;
use waxseal_pki::{Lifetimes, PkiDir, PkiError, Seed, ServiceHost};
use waxseal_trust::mldsa::MlDsaParameterSet;
use waxseal_trust::{KeyAlgorithm, KeyFileCheck, time};

use crate::error::CliError;

/// Key algorithms for a new PKI.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Algorithm {
    /// RSA 2048.
    Rsa2048,
    /// RSA 3072.
    Rsa3072,
    /// ECDSA P-256.
    P256,
    /// ECDSA P-384.
    P384,
    /// Ed25519 (note: OpenSSL 3.0's CMS cannot verify Ed25519 envelopes).
    Ed25519,
    /// ML-DSA-44 (FIPS 204; post-quantum; OpenSSL 3.5 and later verify it).
    #[value(name = "ml-dsa-44")]
    MlDsa44,
    /// ML-DSA-65.
    #[value(name = "ml-dsa-65")]
    MlDsa65,
    /// ML-DSA-87.
    #[value(name = "ml-dsa-87")]
    MlDsa87,
}

impl From<Algorithm> for KeyAlgorithm {
    fn from(a: Algorithm) -> Self {
        match a {
            Algorithm::Rsa2048 => KeyAlgorithm::Rsa2048,
            Algorithm::Rsa3072 => KeyAlgorithm::Rsa3072,
            Algorithm::P256 => KeyAlgorithm::P256,
            Algorithm::P384 => KeyAlgorithm::P384,
            Algorithm::Ed25519 => KeyAlgorithm::Ed25519,
            Algorithm::MlDsa44 => KeyAlgorithm::MlDsa(MlDsaParameterSet::MlDsa44),
            Algorithm::MlDsa65 => KeyAlgorithm::MlDsa(MlDsaParameterSet::MlDsa65),
            Algorithm::MlDsa87 => KeyAlgorithm::MlDsa(MlDsaParameterSet::MlDsa87),
        }
    }
}

/// `waxseal pki` subcommands.
#[derive(Subcommand)]
pub enum Command {
    /// Create a root CA, a signing CA, an empty CRL and the inventory.
    Init {
        /// No signing CA: the root issues the service-host certificates itself and crl.pem
        /// holds its CRL (for consumers that trust one CA certificate and no intermediates,
        /// such as fedmsg 1.x; use an RSA algorithm for fedmsg's x509 wire).
        #[arg(long)]
        single_tier: bool,
        /// The PKI directory (created if missing; must not hold a PKI).
        #[arg(long)]
        dir: PathBuf,
        /// JSON file with the subject fields every certificate shares (C, ST, L, O, OU).
        #[arg(long, value_name = "SEED.json")]
        seed: Option<PathBuf>,
        /// Key algorithm for every key of this PKI.
        #[arg(long, value_enum, default_value = "p256")]
        algorithm: Algorithm,
    },
    /// Issue a key pair and certificate per SERVICE-FQDN name.
    Issue(IssueArgs),
    /// Revoke a name's live certificate and write a new CRL.
    Revoke {
        /// The PKI directory.
        #[arg(long)]
        dir: PathBuf,
        /// The SERVICE-FQDN name.
        name: String,
        /// Revocation reason.
        #[arg(long, default_value = "unspecified", value_parser = clap::builder::PossibleValuesParser::new(REASONS))]
        reason: String,
        /// Load the CA keys even if group or others can read them.
        #[arg(long)]
        insecure_key_permissions: bool,
    },
    /// Sign and write new CRLs (crl.pem; crl.der with --der).
    Crl {
        /// The PKI directory.
        #[arg(long)]
        dir: PathBuf,
        /// nextUpdate, from now (e.g. 7d, 30days, 12h).
        #[arg(long, value_name = "DURATION")]
        next_update: Option<String>,
        /// Also write the signing CA's CRL as DER (crl.der).
        #[arg(long)]
        der: bool,
        /// Load the CA keys even if group or others can read them.
        #[arg(long)]
        insecure_key_permissions: bool,
    },
    /// Wipe and regenerate the CAs and every live certificate (old files are archived).
    Rebuild {
        /// The PKI directory.
        #[arg(long)]
        dir: PathBuf,
        /// Confirm: every certificate of this PKI is replaced.
        #[arg(long)]
        yes: bool,
        /// Load the CA keys even if group or others can read them.
        #[arg(long)]
        insecure_key_permissions: bool,
    },
    /// List problems (identity, expiry, revocation, key permissions) with their fixes.
    Doctor {
        /// A PKI directory, or a directory of certificates installed on a host.
        #[arg(long)]
        dir: PathBuf,
        /// This host's identity (default: the system's FQDN).
        #[arg(long, value_name = "FQDN")]
        hostname: Option<String>,
        /// Flag certificates expiring within this many days.
        #[arg(long, default_value_t = 30)]
        warn_days: u64,
    },
    /// Re-issue every certificate of host OLD_FQDN as NEW_FQDN; revoke the old ones.
    Reseed {
        /// The PKI directory.
        #[arg(long)]
        dir: PathBuf,
        /// The old host identity.
        #[arg(long = "from", value_name = "OLD_FQDN")]
        from: String,
        /// The new host identity.
        #[arg(long = "to", value_name = "NEW_FQDN")]
        to: String,
        /// Load the CA keys even if group or others can read them.
        #[arg(long)]
        insecure_key_permissions: bool,
    },
    /// Show the inventory: every certificate, live and revoked.
    List {
        /// The PKI directory.
        #[arg(long)]
        dir: PathBuf,
    },
}

/// `waxseal pki issue` arguments.
#[derive(clap::Args)]
pub struct IssueArgs {
    /// The PKI directory.
    #[arg(long)]
    dir: PathBuf,
    /// Names: SERVICE-FQDN, e.g. bodhi-app01.example.org.
    #[arg(required = true, value_name = "NAME")]
    names: Vec<String>,
    /// Replace a live certificate (the old one is revoked as superseded).
    #[arg(long)]
    renew: bool,
    /// Archive stray NAME.crt/NAME.key files that are not in the inventory.
    #[arg(long)]
    force: bool,
    /// Validity in days.
    #[arg(long, default_value_t = 365)]
    days: u64,
    /// Key algorithm for these names (default: the PKI's).
    #[arg(long, value_enum)]
    algorithm: Option<Algorithm>,
    /// Load the CA key even if group or others can read it.
    #[arg(long)]
    insecure_key_permissions: bool,
}

fn pki_err(e: PkiError) -> CliError {
    match e.exit_code() {
        1 => CliError::rejected("refused", e.to_string()),
        _ => CliError::usage(e.to_string()),
    }
}

/// The PKI directory `dir`, its CA keys loaded even if others can read them when
/// `insecure`.
fn open_pki(dir: &Path, insecure: bool) -> Result<PkiDir, CliError> {
    PkiDir::open(dir, key_file_check(insecure)).map_err(pki_err)
}

fn key_file_check(insecure: bool) -> KeyFileCheck {
    if insecure {
        KeyFileCheck::AllowInsecure
    } else {
        KeyFileCheck::OwnerOnly
    }
}

fn parse_duration(text: &str) -> Result<u64, CliError> {
    humantime::parse_duration(text)
        .map(|d| d.as_secs())
        .map_err(|e| {
            CliError::usage(format!(
                "--next-update {text:?}: {e} (e.g. 7d, 30days, 12h)"
            ))
        })
}

/// Runs `waxseal pki ...`.
pub fn run(command: Command) -> Result<(), CliError> {
    match command {
        Command::Init {
            single_tier,
            dir,
            seed,
            algorithm,
        } => init(single_tier, dir, seed, algorithm),
        Command::Issue(a) => issue(a),
        Command::Revoke {
            dir,
            name,
            reason,
            insecure_key_permissions,
        } => revoke(dir, name, reason, insecure_key_permissions),
        Command::Crl {
            dir,
            next_update,
            der,
            insecure_key_permissions,
        } => crl(dir, next_update, der, insecure_key_permissions),
        Command::Rebuild {
            dir,
            yes,
            insecure_key_permissions,
        } => rebuild(dir, yes, insecure_key_permissions),
        Command::Doctor {
            dir,
            hostname,
            warn_days,
        } => doctor(dir, hostname, warn_days),
        Command::Reseed {
            dir,
            from,
            to,
            insecure_key_permissions,
        } => reseed(dir, from, to, insecure_key_permissions),
        Command::List { dir } => list(dir),
    }
}

/// `waxseal pki init`: creates the PKI and says what it made.
fn init(
    single_tier: bool,
    dir: PathBuf,
    seed: Option<PathBuf>,
    algorithm: Algorithm,
) -> Result<(), CliError> {
    let seed = match seed {
        Some(path) => {
            let text = std::fs::read_to_string(&path).map_err(|e| CliError::io(&path, e))?;
            Seed::from_json(&text)
                .map_err(|e| CliError::usage(format!("{}: {e}", path.display())))?
        }
        None => Seed::default(),
    };
    let init = if single_tier {
        PkiDir::init_single_tier
    } else {
        PkiDir::init
    };
    let pki = init(&dir, seed, algorithm.into(), Lifetimes::default()).map_err(pki_err)?;
    let inv = pki.inventory();
    println!(
        "created {}PKI in {} ({})",
        if single_tier { "single-tier " } else { "" },
        dir.display(),
        inv.algorithm
    );
    println!(
        "  root CA:    {} (expires {})",
        inv.root.subject, inv.root.not_after
    );
    match &inv.signing_ca {
        Some(ca) => println!("  signing CA: {} (expires {})", ca.subject, ca.not_after),
        None => println!("  no signing CA: the root issues every certificate"),
    }
    println!(
        "  trust anchor for verifiers: {}",
        dir.join("root-ca.crt").display()
    );
    Ok(())
}

/// `waxseal pki issue`: issues each name and says where its files are.
fn issue(a: IssueArgs) -> Result<(), CliError> {
    let names: Vec<ServiceHost> = a
        .names
        .iter()
        .map(|n| ServiceHost::parse(n).map_err(|e| CliError::usage(e.to_string())))
        .collect::<Result<_, _>>()?;
    let lifetimes = Lifetimes {
        leaf_days: a.days,
        ..Lifetimes::default()
    };
    let mut pki = open_pki(&a.dir, a.insecure_key_permissions)?.with_lifetimes(lifetimes);
    for e in pki
        .issue_with(&names, a.renew, a.force, a.algorithm.map(Into::into))
        .map_err(pki_err)?
    {
        match e.replaced {
            Some(old) => println!(
                "issued {} (serial {}), replacing serial {old} (revoked)",
                e.name, e.serial
            ),
            None => println!("issued {} (serial {})", e.name, e.serial),
        }
        println!("  {}\n  {}", e.cert_path.display(), e.key_path.display());
    }
    Ok(())
}

/// `waxseal pki revoke`: revokes a name and says which CRL to publish.
fn revoke(
    dir: PathBuf,
    name: String,
    reason: String,
    insecure_key_permissions: bool,
) -> Result<(), CliError> {
    let mut pki = open_pki(&dir, insecure_key_permissions)?;
    let crl = pki.revoke(&name, &reason).map_err(pki_err)?;
    println!(
        "revoked {name} ({reason}); CRL #{} lists {} certificate(s), next update {}; publish {}",
        crl.number,
        crl.revoked,
        time::format(crl.next_update),
        crl.files[0].display()
    );
    Ok(())
}

/// `waxseal pki crl`: writes new CRLs.
fn crl(
    dir: PathBuf,
    next_update: Option<String>,
    der: bool,
    insecure_key_permissions: bool,
) -> Result<(), CliError> {
    let next = next_update.as_deref().map(parse_duration).transpose()?;
    let mut pki = open_pki(&dir, insecure_key_permissions)?;
    let crl = pki.write_crl(next, der).map_err(pki_err)?;
    let files: Vec<String> = crl.files.iter().map(|f| f.display().to_string()).collect();
    println!(
        "CRL #{} lists {} certificate(s), next update {}: {}",
        crl.number,
        crl.revoked,
        time::format(crl.next_update),
        files.join(", ")
    );
    Ok(())
}

/// `waxseal pki rebuild`: only with `--yes`; shows progress while it re-issues.
fn rebuild(dir: PathBuf, yes: bool, insecure_key_permissions: bool) -> Result<(), CliError> {
    if !yes {
        return Err(CliError::usage(format!(
            "rebuild replaces the CAs and every certificate in {}; pass --yes to confirm (old files are archived)",
            dir.display()
        )));
    }
    let mut pki = open_pki(&dir, insecure_key_permissions)?;
    let total = pki.inventory().active().count() as u64;
    let bar = indicatif::ProgressBar::new(total);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} {msg}")
            .expect("static template"),
    );
    let issued = pki
        .rebuild(&mut |done, _, name| {
            bar.set_position(done as u64);
            bar.set_message(name.to_string());
        })
        .map_err(pki_err)?;
    bar.finish_and_clear();
    println!(
        "rebuilt {}: new root and signing CA, {} certificate(s) re-issued; old files in {}/archive/",
        dir.display(),
        issued.len(),
        dir.display()
    );
    println!("distribute the new root-ca.crt to verifiers and the new keys to their hosts");
    Ok(())
}

/// `waxseal pki doctor`: prints each finding; any finding is a refusal (`problems-found`).
fn doctor(dir: PathBuf, hostname: Option<String>, warn_days: u64) -> Result<(), CliError> {
    let hostname = match hostname {
        Some(h) => h,
        None => waxseal_pki::hostname::system_fqdn()
            .ok_or_else(|| CliError::usage("cannot determine this host's FQDN; pass --hostname"))?,
    };
    let findings = waxseal_pki::doctor(&dir, &hostname, warn_days, time::now()).map_err(pki_err)?;
    for f in &findings {
        println!("{f}");
    }
    if findings.is_empty() {
        println!("{}: no problems found (host {hostname})", dir.display());
        Ok(())
    } else {
        Err(CliError::rejected(
            "problems-found",
            format!("{} problem(s) found in {}", findings.len(), dir.display()),
        ))
    }
}

/// `waxseal pki reseed`: moves a host's certificates to its new identity.
fn reseed(
    dir: PathBuf,
    from: String,
    to: String,
    insecure_key_permissions: bool,
) -> Result<(), CliError> {
    let mut pki = open_pki(&dir, insecure_key_permissions)?;
    let report = pki.reseed(&from, &to).map_err(pki_err)?;
    if report.revoked.is_empty() {
        println!("nothing to do: no live certificate names host {from}");
        return Ok(());
    }
    for e in &report.issued {
        println!("issued {} (serial {})", e.name, e.serial);
    }
    for name in &report.revoked {
        println!("revoked {name} (superseded); its files are in archive/");
    }
    if let Some(crl) = report.crl {
        println!(
            "CRL #{} written; publish {}",
            crl.number,
            crl.files[0].display()
        );
    }
    Ok(())
}

/// `waxseal pki list`: prints the inventory.
fn list(dir: PathBuf) -> Result<(), CliError> {
    let pki = PkiDir::open(&dir, KeyFileCheck::OwnerOnly).map_err(pki_err)?;
    let inv = pki.inventory();
    println!(
        "{} ({}{}), CRL #{}",
        dir.display(),
        inv.algorithm,
        if inv.single_tier() {
            ", single-tier"
        } else {
            ""
        },
        inv.crl_number
    );
    for e in &inv.entries {
        let status = match e.status {
            waxseal_pki::inventory::Status::Active => {
                format!("active until {}", e.not_after)
            }
            waxseal_pki::inventory::Status::Revoked => format!(
                "revoked {} ({})",
                e.revoked_at.as_deref().unwrap_or("?"),
                e.reason.as_deref().unwrap_or("unspecified")
            ),
        };
        println!("  {:<40} {}  {status}", e.name, e.serial);
    }
    Ok(())
}
