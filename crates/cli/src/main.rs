//! `waxseal`: sign and verify CMS SignedData envelopes, inspect them, validate
//! certificates, and measure throughput.
//!
//! Exit status: 0 valid, 1 invalid or rejected (one line on stderr saying why; with
//! `--json` a report with a stable reason code on stdout), 2 usage or I/O error.

#![forbid(unsafe_code)]

mod cmd;
mod error;
mod io;

use std::path::PathBuf;

use clap::{CommandFactory, Parser, Subcommand};
use waxseal_trust::display::Escaped;

/// Signed message envelopes (CMS / S/MIME SignedData, RFC 5652) for message buses.
#[derive(Parser)]
#[command(name = "waxseal", version, about, propagate_version = true)]
struct Cli {
    /// The cryptography provider: auto (graviola where this CPU runs it, RustCrypto for
    /// the rest), rustcrypto, or graviola (an error where the CPU cannot run it). Default:
    /// the WAXSEAL_PROVIDER environment variable, else auto.
    #[arg(long, global = true, value_name = "auto|rustcrypto|graviola")]
    provider: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The main job end to end: a signed RPC request through a conductor to a scheduler,
    /// and five forgeries that must be refused.
    Demo(cmd::demo::Args),
    /// Sign content into a CMS SignedData envelope.
    Sign(cmd::sign::Args),
    /// Verify an envelope: signatures, certificate path to a trust anchor, revocation.
    Verify(cmd::verify::Args),
    /// Add a time-stamp token (RFC 3161) from a time-stamp authority to each signer of an
    /// envelope, so that it can be verified at the time it proves (`verify --at-timestamp`).
    Timestamp(cmd::timestamp::Args),
    /// Show an envelope's structure without verifying it.
    Inspect(cmd::inspect::Args),
    /// Certificate operations.
    Cert {
        #[command(subcommand)]
        command: CertCommand,
    },
    /// Measure signing and verification throughput in-process.
    Speed(cmd::speed::Args),
    /// Add a routing-slip hop: countersign the last hop of the envelope's slip.
    Countersign(cmd::slip::CountersignArgs),
    /// Routing slips.
    Slip {
        #[command(subcommand)]
        command: SlipCommand,
    },
    /// Signed JSON messages on a bus (fedmsg-style, oslo.messaging envelopes).
    Msg {
        #[command(subcommand)]
        command: cmd::msg::Command,
    },
    /// May this signer (certificate or signed message) publish on a topic?
    Authorize(cmd::msg::AuthorizeArgs),
    /// A verifying gateway on RabbitMQ: consume a queue, validate every message as `msg
    /// validate` does, republish it to a verified or a rejected exchange.
    Gateway(cmd::gateway::Args),
    /// The certificate lifecycle: CA, one key per service-host, revocation, CRLs.
    Pki {
        #[command(subcommand)]
        command: cmd::pki::Command,
    },
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions(cmd::docs::CompletionsArgs),
    /// Write the manual pages: `waxseal.1` and one per subcommand.
    Man(cmd::docs::ManArgs),
}

#[derive(Subcommand)]
enum SlipCommand {
    /// Verify every hop of a routing slip and the route it took.
    Verify(cmd::slip::VerifyArgs),
}

#[derive(Subcommand)]
enum CertCommand {
    /// Validate a certificate's path to a trust anchor (RFC 5280), with CRLs.
    Verify(cmd::cert::VerifyArgs),
}

/// Arguments shared by the commands that read and write files.
#[derive(clap::Args, Clone)]
pub struct InOut {
    /// Input file ("-" or absent: standard input).
    #[arg(long = "in", value_name = "FILE")]
    pub input: Option<PathBuf>,
    /// Output file ("-" or absent: standard output).
    #[arg(long = "out", value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Overwrite the output file if it exists (a regular file only: a device or FIFO is
    /// written in place, a directory is refused).
    #[arg(long)]
    pub force: bool,
    /// Write where a symbolic `--out` points (refused without this).
    #[arg(long)]
    pub follow_symlinks: bool,
}

/// Sets the process's cryptography provider from `--provider`, else checks
/// `WAXSEAL_PROVIDER`: an unknown name, or graviola on a CPU that cannot run it, is a
/// configuration error (exit 2), never a silent fallback.
fn select_provider(name: Option<&str>) -> Result<(), error::CliError> {
    use waxseal_trust::provider;
    let config = |e: provider::ProviderError| {
        let mut err = error::CliError::usage(e.to_string());
        err.code = e.reason().into();
        err
    };
    match name {
        Some(name) => provider::set_default(provider::Provider::from_name(name).map_err(config)?),
        None => {
            provider::from_env().map_err(|e| {
                let mut err = config(e);
                err.message = format!("{}: {}", provider::ENV_VAR, err.message);
                err
            })?;
        }
    }
    Ok(())
}

/// Runs `command` unless the provider could not be selected.
fn gated(
    provider: &Result<(), error::CliError>,
    command: impl FnOnce() -> Result<(), error::CliError>,
) -> Result<(), error::CliError> {
    match provider {
        Ok(()) => command(),
        Err(e) => Err(error::CliError {
            kind: e.kind,
            code: e.code.clone(),
            message: e.message.clone(),
            hop: None,
            reported: false,
        }),
    }
}

fn main() {
    let cli = Cli::parse();
    let provider = select_provider(cli.provider.as_deref());
    let (result, json) = match cli.command {
        Command::Sign(a) => (gated(&provider, || cmd::sign::run(a)), false),
        Command::Timestamp(a) => (gated(&provider, || cmd::timestamp::run(a)), false),
        Command::Demo(a) => (gated(&provider, || cmd::demo::run(a)), false),
        Command::Verify(a) => {
            let json = a.json;
            (gated(&provider, || cmd::verify::run(a)), json)
        }
        Command::Inspect(a) => {
            let json = a.json;
            (gated(&provider, || cmd::inspect::run(a)), json)
        }
        Command::Cert {
            command: CertCommand::Verify(a),
        } => {
            let json = a.json;
            (gated(&provider, || cmd::cert::run(a)), json)
        }
        Command::Completions(a) => (
            gated(&provider, || cmd::docs::completions(a, Cli::command())),
            false,
        ),
        Command::Man(a) => (
            gated(&provider, || cmd::docs::man(a, Cli::command())),
            false,
        ),
        Command::Speed(a) => (gated(&provider, || cmd::speed::run(a)), false),
        Command::Gateway(a) => (gated(&provider, || cmd::gateway::run(a)), false),
        Command::Pki { command } => (gated(&provider, || cmd::pki::run(command)), false),
        Command::Countersign(a) => (gated(&provider, || cmd::slip::countersign(a)), false),
        Command::Msg { command } => {
            let json = command.json();
            (gated(&provider, || cmd::msg::run(command)), json)
        }
        Command::Authorize(a) => {
            let json = a.json;
            (gated(&provider, || cmd::msg::authorize(a)), json)
        }
        Command::Slip {
            command: SlipCommand::Verify(a),
        } => {
            let json = a.json;
            (gated(&provider, || cmd::slip::verify(a)), json)
        }
    };
    if let Err(e) = result {
        if json && !e.reported {
            let mut report = serde_json::json!({
                "valid": false,
                "reason": e.code,
                "message": e.message,
            });
            if let Some(hop) = e.hop {
                report["hop"] = hop.into();
            }
            println!("{report}");
        }
        let label = match e.kind {
            error::Kind::Rejected => "rejected",
            error::Kind::Usage => "error",
        };
        // The message can carry attacker-controlled text (subjects, topics, details):
        // escaped, it stays one line.
        eprintln!("waxseal: {label}: {}", Escaped(&e.message));
        std::process::exit(e.exit_code());
    }
}
