//! `waxseal msg ...` and `waxseal authorize`: signed JSON messages on a bus.

use std::path::PathBuf;

use serde_json::{Value, json};
use waxseal_envelope::Certificate;
use waxseal_envelope::display::Escaped;
use waxseal_message::{Bus, Rejection, oslo};

use super::common;
use crate::InOut;
use crate::error::CliError;
use crate::io::{Output, read_input};

/// `waxseal msg` subcommands.
#[derive(clap::Subcommand)]
pub enum Command {
    /// Sign a JSON message: fedmsg-style fields, or an oslo envelope with --oslo.
    Sign(SignArgs),
    /// Validate a message (fedmsg-style, or an oslo envelope: detected) against a bus
    /// configuration: signature, certificate path, CRLs, routing policy, claims.
    Validate(ValidateArgs),
    /// Add a routing-slip hop to a signed oslo envelope (a forwarding service).
    Countersign(CountersignArgs),
}

/// `waxseal msg sign` arguments.
#[derive(clap::Args)]
pub struct SignArgs {
    #[command(flatten)]
    signer: common::SignerArgs,
    /// --in: the message, a JSON object.
    #[command(flatten)]
    io: InOut,
    /// Make (or sign) an oslo.messaging envelope: the input is the RPC message, or an
    /// envelope already.
    #[arg(long)]
    oslo: bool,
}

/// `waxseal msg validate` arguments.
#[derive(clap::Args)]
pub struct ValidateArgs {
    /// The bus configuration file.
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    /// Require this signer (entity ID): the policy becomes "topic: only ENTITY", nitpicky.
    #[arg(long, value_name = "ENTITY")]
    signed_by: Option<String>,
    /// For oslo envelopes: the topic (routing key) the message arrived on.
    #[arg(long)]
    topic: Option<String>,
    /// The message ("-" or absent: standard input).
    #[arg(long = "in", value_name = "FILE")]
    input: Option<PathBuf>,
    /// Print a JSON report.
    #[arg(long)]
    pub json: bool,
}

/// `waxseal msg countersign` arguments.
#[derive(clap::Args)]
pub struct CountersignArgs {
    #[command(flatten)]
    signer: common::SignerArgs,
    /// The hop's role (hop-role attribute).
    #[arg(long)]
    role: Option<String>,
    /// What the hop did (hop-action attribute).
    #[arg(long)]
    action: Option<String>,
    /// The most hops the slip may reach.
    #[arg(long, default_value_t = waxseal_slip::DEFAULT_MAX_HOPS)]
    max_hops: usize,
    /// --in: the signed oslo envelope.
    #[command(flatten)]
    io: InOut,
}

/// `waxseal authorize` arguments.
#[derive(clap::Args)]
pub struct AuthorizeArgs {
    /// The bus configuration file.
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    /// The topic to authorize for.
    #[arg(long)]
    topic: String,
    /// A certificate, or a signed message (fedmsg-style or oslo envelope) ("-" or absent:
    /// standard input).
    #[arg(long = "in", value_name = "FILE")]
    input: Option<PathBuf>,
    /// Print a JSON report.
    #[arg(long)]
    pub json: bool,
}

fn parse_json(bytes: &[u8]) -> Result<Value, CliError> {
    waxseal_message::json::parse(bytes)
        .map_err(|e| CliError::rejected("malformed-json", format!("input: {e}")))
}

fn load_bus(path: &std::path::Path) -> Result<Bus, CliError> {
    Bus::from_config_file(path).map_err(|e| CliError::usage(e.to_string()))
}

/// A message waxseal does not sign is an invalid input (exit 1); a signer that cannot
/// sign is a usage error (exit 2).
fn sign_err(e: waxseal_message::SignError) -> CliError {
    match e {
        waxseal_message::SignError::Message(m) => CliError::rejected("malformed-message", m),
        e => CliError::usage(e.to_string()),
    }
}

fn rejected(r: Rejection) -> CliError {
    let mut e = CliError::rejected(&r.code, format!("{}: {}", r.stage.name(), r.reason));
    e.hop = r.hop;
    common::hinted(
        e,
        "if an intermediate CA is missing, add it to the configuration's \"certs\" (or have the signer send it: --chain FILE)",
    )
}

fn is_oslo(v: &Value) -> bool {
    v.get(oslo::VERSION_KEY).is_some()
}

/// Runs `waxseal msg ...`.
pub fn run(command: Command) -> Result<(), CliError> {
    match command {
        Command::Sign(a) => {
            let output = Output::prepare_io(&a.io)?;
            let signer = a.signer.signer()?;
            let message = parse_json(&read_input(a.io.input.as_deref())?)?;
            let signed = if a.oslo {
                let envelope = if is_oslo(&message) {
                    message
                } else {
                    oslo::wrap(&message).map_err(sign_err)?
                };
                oslo::sign(&envelope, &signer)
            } else {
                waxseal_message::sign(&message, &signer)
            }
            .map_err(sign_err)?;
            let mut text = serde_json::to_string(&signed).expect("values serialise");
            text.push('\n');
            output.write(text.as_bytes())
        }
        Command::Countersign(a) => {
            let output = Output::prepare_io(&a.io)?;
            let signer = waxseal_slip::hop_signer(
                a.signer.signer()?,
                a.role.as_deref(),
                a.action.as_deref(),
            )
            .map_err(|e| CliError::usage(e.to_string()))?;
            let envelope = parse_json(&read_input(a.io.input.as_deref())?)?;
            let out = oslo::countersign(&envelope, &signer, a.max_hops)
                .map_err(|e| CliError::rejected("countersign", e.to_string()))?;
            let mut text = serde_json::to_string(&out).expect("values serialise");
            text.push('\n');
            output.write(text.as_bytes())
        }
        Command::Validate(a) => {
            let bus = load_bus(&a.config)?;
            let message = parse_json(&read_input(a.input.as_deref())?)?;
            let report = if is_oslo(&message) {
                if a.signed_by.is_some() {
                    return Err(CliError::usage(
                        "--signed-by applies to fedmsg-style messages; oslo routes use the configured route",
                    ));
                }
                let v = bus
                    .verify_oslo(&message, a.topic.as_deref())
                    .map_err(rejected)?;
                if !a.json {
                    let who = v
                        .entity
                        .as_ref()
                        .map(|e| e.id.as_str())
                        .unwrap_or("(unsigned)");
                    let route: Vec<&str> = v.hops.iter().map(|h| h.entity.as_str()).collect();
                    println!(
                        "accepted: oslo message from {}; route {}",
                        Escaped(who),
                        Escaped(&if route.is_empty() {
                            "-".into()
                        } else {
                            route.join(" -> ")
                        })
                    );
                }
                json!({"valid": true, "kind": "oslo", "result": v})
            } else {
                let v = match &a.signed_by {
                    Some(s) => bus.validate_signed_by(&message, s),
                    None => bus.validate(&message),
                }
                .map_err(rejected)?;
                if !a.json {
                    println!("accepted: {}", Escaped(&v.note));
                    for d in v.authorization.iter().flat_map(|x| x.decisions.iter()) {
                        println!("  {} ({})", Escaped(&d.reason), d.code);
                    }
                }
                json!({"valid": true, "kind": "fedmsg", "result": v})
            };
            if a.json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&report).expect("values serialise")
                );
            }
            Ok(())
        }
    }
}

/// Runs `waxseal authorize`.
pub fn authorize(a: AuthorizeArgs) -> Result<(), CliError> {
    let bus = load_bus(&a.config)?;
    let bytes = read_input(a.input.as_deref())?;
    let authorization = match Certificate::load_all(&bytes) {
        Ok(certs) if !certs.is_empty() => {
            let cert = &certs[0];
            let verifier = bus.verifier().ok_or_else(|| {
                CliError::usage(
                    "validate_signatures is off: no trust anchors to check the certificate against",
                )
            })?;
            let options = verifier.validation_options(verifier.time());
            let extra = waxseal_envelope::CertStore::from_certificates(certs[1..].iter().cloned());
            verifier
                .validate_certificate(cert, &extra, verifier.crls(), &options)
                .map_err(|e| common::path_rejected(&e))?;
            bus.authorizer().authorize(cert, Some(&a.topic), None)
        }
        _ => {
            let message = parse_json(&bytes)?;
            if is_oslo(&message) {
                let v = bus
                    .verify_oslo(&message, Some(&a.topic))
                    .map_err(rejected)?;
                v.authorization.ok_or_else(|| {
                    CliError::rejected("unsigned", "the message is unsigned: nothing to authorize")
                })?
            } else {
                let v = bus
                    .validate_for_topic(&message, &a.topic)
                    .map_err(rejected)?;
                v.authorization.ok_or_else(|| {
                    CliError::rejected("unsigned", "the message is unsigned: nothing to authorize")
                })?
            }
        }
    };
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(
                &json!({"valid": authorization.allowed, "authorization": authorization})
            )
            .expect("values serialise")
        );
    } else {
        for d in &authorization.decisions {
            println!(
                "{} {} ({})",
                if d.allowed { "allow:" } else { "deny: " },
                Escaped(&d.reason),
                d.code
            );
        }
    }
    match authorization.denial() {
        None => Ok(()),
        Some(d) => {
            let mut e = CliError::rejected(d.code, d.reason.clone());
            // The JSON report (with every decision) is already on stdout.
            e.reported = a.json;
            Err(e)
        }
    }
}
