//! `waxseal msg ...` and `waxseal authorize`: signed JSON messages on a bus.

use std::path::PathBuf;

use serde_json::{Value, json};
use waxseal_entity::glob::{MALFORMED_TOPIC, check_topic};
use waxseal_envelope::Signer;
use waxseal_message::{AdmittedMessage, Arrival, Bus, Rejection, Route, SignError, oslo};
use waxseal_trust::Certificate;
use waxseal_trust::display::Escaped;

use waxseal_message::replay::journal::FileStore;

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
    /// Add a time-stamp token (RFC 3161) to a signed fedmsg-style message's signature, so
    /// that it can be validated at the time it proves (`msg validate --at-timestamp`).
    Timestamp(super::timestamp::MsgArgs),
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
    /// envelope already. Requires --topic.
    #[arg(long)]
    oslo: bool,
    /// The topic (routing key) the message is sent to. With --oslo it is signed with the
    /// message (receivers refuse it on any other topic); for a fedmsg-style message it
    /// must equal the message's own `topic`.
    #[arg(long)]
    topic: Option<String>,
    /// With --oslo: the exchange the message is sent to, signed with the topic.
    #[arg(long, requires = "oslo")]
    exchange: Option<String>,
    /// Print a JSON report of a refusal on standard output.
    #[arg(long)]
    pub json: bool,
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
    /// The topic (routing key) the message arrived on: required for oslo envelopes
    /// (compared with the signed route); for fedmsg-style messages it must equal the
    /// message's `topic`.
    #[arg(long)]
    topic: Option<String>,
    /// For oslo envelopes: the exchange the message arrived on (compared with the signed
    /// one; an envelope that binds an exchange needs it).
    #[arg(long)]
    exchange: Option<String>,
    /// Remember accepted messages in FILE, shared by every process that names it (locked
    /// while in use), and refuse a message already accepted (`replayed`).
    #[arg(long, value_name = "FILE")]
    replay_cache: Option<PathBuf>,
    /// Validate as of this time (RFC 3339) instead of now: certificates, CRLs, signing-time
    /// freshness and replay-cache expiry.
    #[arg(long, value_name = "RFC3339-TIME")]
    at: Option<String>,
    /// The message ("-" or absent: standard input).
    #[arg(long = "in", value_name = "FILE")]
    input: Option<PathBuf>,
    /// Print a JSON report.
    #[arg(long)]
    pub json: bool,
    /// The input holds one message per line (JSON lines, e.g. an archive): each is
    /// validated and reported on its own line (`--json`: one JSON object a line, with its
    /// reason); the exit status is 1 when any was refused.
    #[arg(long)]
    lines: bool,
    /// Trust anchors of time-stamp authorities (added to the configuration's
    /// `tsa_trust`); repeatable.
    #[arg(long, value_name = "FILE")]
    tsa_trust: Vec<PathBuf>,
    /// Validate each signer's path at the time its time-stamp token proves, with
    /// revocation as of then (the configuration's `at_timestamp`); a message without a
    /// valid token is refused.
    #[arg(long)]
    at_timestamp: bool,
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
    /// The topic this hop forwards the message to, signed with the hop (receivers compare
    /// it with the topic the message arrives on). Absent: the route it arrived with.
    #[arg(long)]
    topic: Option<String>,
    /// With --topic: the exchange this hop forwards the message to.
    #[arg(long, requires = "topic")]
    exchange: Option<String>,
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

impl Command {
    /// Whether the command reports in JSON (`--json`).
    pub fn json(&self) -> bool {
        match self {
            Self::Sign(a) => a.json,
            Self::Validate(a) => a.json,
            Self::Countersign(_) | Self::Timestamp(_) => false,
        }
    }
}

fn parse_json(bytes: &[u8]) -> Result<Value, CliError> {
    waxseal_message::json::parse(bytes)
        .map_err(|e| CliError::rejected(e.code, format!("input: {e}")))
}

fn topic_arg(topic: &str) -> Result<(), CliError> {
    check_topic(topic).map_err(|e| CliError::rejected(MALFORMED_TOPIC, format!("--topic: {e}")))
}

fn sign_error(e: SignError) -> CliError {
    if let SignError::Timestamp(e) = e {
        return super::timestamp::stamp_error(e);
    }
    match e.input_code() {
        Some(code) => CliError::rejected(code, e.to_string()),
        None => CliError::usage(e.to_string()),
    }
}

/// The bus for one command: its trust material was just loaded (URLs fetched, or read
/// from a cache that is still good), so it is not refreshed again, and no background
/// fetch outlives the command.
fn load_bus(path: &std::path::Path) -> Result<Bus, CliError> {
    Ok(Bus::from_config_file(path)
        .map_err(|e| CliError::usage(e.to_string()))?
        .with_refresh_interval(std::time::Duration::MAX))
}

/// A message waxseal does not sign is an invalid input (exit 1); a signer that cannot
/// sign is a usage error (exit 2).
fn rejected(r: Rejection) -> CliError {
    let mut e = CliError::rejected(&r.code, format!("{}: {}", r.stage.name(), r.reason));
    e.hop = r.hop;
    common::hinted(
        e,
        r.is_untrusted(),
        "if an intermediate CA is missing, add it to the configuration's \"certs\" (or have the signer send it: --chain FILE)",
    )
}

fn is_oslo(v: &Value) -> bool {
    v.get(oslo::VERSION_KEY).is_some()
}

/// Runs `waxseal msg ...`.
pub fn run(command: Command) -> Result<(), CliError> {
    match command {
        Command::Sign(a) => sign(a),
        Command::Countersign(a) => countersign(a),
        Command::Timestamp(a) => super::timestamp::run_msg(a),
        Command::Validate(a) => validate(a),
    }
}

/// The route `--topic` and `--exchange` name.
fn route(topic: &str, exchange: Option<&String>) -> Route {
    let route = Route::topic(topic);
    match exchange {
        Some(e) => route.on_exchange(e),
        None => route,
    }
}

/// `waxseal msg sign`.
fn sign(a: SignArgs) -> Result<(), CliError> {
    let output = Output::prepare_io(&a.io)?;
    if let Some(t) = &a.topic {
        topic_arg(t)?;
    }
    if let Some(e) = &a.exchange {
        check_topic(e)
            .map_err(|m| CliError::rejected(MALFORMED_TOPIC, format!("--exchange: {m}")))?;
    }
    let signer = a.signer.signer()?;
    let bytes = read_input(a.io.input.as_deref())?;
    let message = parse_json(&bytes)?;
    // Valid JSON is UTF-8.
    let input = std::str::from_utf8(&bytes).expect("parsed JSON is UTF-8");
    let mut text = if a.oslo {
        sign_oslo(&a, signer, &message, input)?
    } else {
        if let Some(t) = &a.topic
            && message.get("topic").and_then(Value::as_str) != Some(t.as_str())
        {
            return Err(CliError::rejected(
                waxseal_message::bus::TOPIC_MISMATCH,
                format!("--topic {t} is not the message's topic"),
            ));
        }
        waxseal_message::sign_text(input, &signer).map_err(sign_error)?
    };
    text.push('\n');
    output.write(text.as_bytes())
}

/// `msg sign --oslo`: signs `message` (an RPC message, wrapped here, or an envelope
/// already) with the route bound; an envelope keeps every other member byte for byte.
fn sign_oslo(
    a: &SignArgs,
    signer: Signer,
    message: &Value,
    input: &str,
) -> Result<String, CliError> {
    let topic = a.topic.as_deref().ok_or_else(|| {
        CliError::usage("--oslo needs --topic: the route the message is sent to is signed with it")
    })?;
    let signer =
        oslo::route_signer(signer, &route(topic, a.exchange.as_ref())).map_err(sign_error)?;
    if is_oslo(message) {
        let signed = oslo::sign(message, &signer).map_err(sign_error)?;
        // Every other member of the envelope as given, byte for byte.
        waxseal_message::json::splice(
            input,
            &[oslo::SIGNATURE_KEY],
            &[(oslo::SIGNATURE_KEY, &signed[oslo::SIGNATURE_KEY])],
        )
        .map_err(|e| CliError::rejected(e.code, e.message))
    } else {
        let envelope = oslo::wrap_text(input).map_err(sign_error)?;
        let signed = oslo::sign(&envelope, &signer).map_err(sign_error)?;
        Ok(serde_json::to_string(&signed).expect("values serialise"))
    }
}

/// `waxseal msg countersign`.
fn countersign(a: CountersignArgs) -> Result<(), CliError> {
    let output = Output::prepare_io(&a.io)?;
    let mut signer =
        waxseal_slip::hop_signer(a.signer.signer()?, a.role.as_deref(), a.action.as_deref())
            .map_err(|e| CliError::usage(e.to_string()))?;
    if let Some(t) = &a.topic {
        topic_arg(t)?;
        signer = oslo::route_signer(signer, &route(t, a.exchange.as_ref())).map_err(sign_error)?;
    }
    let envelope = parse_json(&read_input(a.io.input.as_deref())?)?;
    let out = oslo::countersign(&envelope, &signer, a.max_hops)
        .map_err(|e| CliError::rejected("countersign", e.to_string()))?;
    let mut text = serde_json::to_string(&out).expect("values serialise");
    text.push('\n');
    output.write(text.as_bytes())
}

/// `waxseal msg validate`.
fn validate(a: ValidateArgs) -> Result<(), CliError> {
    let mut bus = validation_bus(&a)?;
    if let Some(t) = &a.topic {
        topic_arg(t)?;
    }
    let input = read_input(a.input.as_deref())?;
    if a.lines {
        return validate_lines(&a, &bus, &input);
    }
    let message = parse_json(&input)?;
    if let Some(path) = &a.replay_cache {
        // The journal shared by every process that names it (a file store).
        let store = FileStore::open(path).map_err(|e| CliError::io(path, e))?;
        bus = bus.with_replay_store(std::sync::Arc::new(store));
    }
    if is_oslo(&message) && a.signed_by.is_some() {
        return Err(CliError::usage(
            "--signed-by applies to fedmsg-style messages; oslo routes use the configured route",
        ));
    }
    if !is_oslo(&message) && a.exchange.is_some() {
        return Err(CliError::usage("--exchange applies to oslo envelopes"));
    }
    let mut arrival = match &a.topic {
        Some(topic) => Arrival::on(route(topic, a.exchange.as_ref())),
        None => Arrival::unrouted(),
    };
    if let Some(s) = &a.signed_by {
        arrival = arrival.signed_by(s);
    }
    let admitted = bus.admit_value(&message, &arrival).map_err(rejected)?;
    // The verdict is this command's acknowledgement: settle it at once, so a
    // later copy is a replay whatever its redelivered flag.
    if let Some(key) = admitted.replay_key {
        bus.settle(key).map_err(rejected)?;
    }
    let report = report_admitted(admitted.message, a.json);
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).expect("values serialise")
        );
    }
    Ok(())
}

/// The bus `msg validate` checks with: the configuration's, with the command line's
/// time-stamp authorities and `--at-timestamp` added, as of `--at` when given.
fn validation_bus(a: &ValidateArgs) -> Result<Bus, CliError> {
    let mut bus = if a.tsa_trust.is_empty() && !a.at_timestamp {
        load_bus(&a.config)?
    } else {
        let mut config = waxseal_message::BusConfig::load(&a.config)
            .map_err(|e| CliError::usage(e.to_string()))?;
        config.tsa_trust.extend(a.tsa_trust.iter().cloned());
        config.at_timestamp |= a.at_timestamp;
        Bus::new(config)
            .map_err(|e| CliError::usage(format!("{}: {}", a.config.display(), e.0)))?
            .with_refresh_interval(std::time::Duration::MAX)
    };
    if let Some(at) = &a.at {
        bus = bus.at_time(common::time(Some(at))?);
    }
    Ok(bus)
}

/// What `msg validate` says of an accepted message: a line on standard output unless
/// `json`, and the JSON report.
fn report_admitted(message: AdmittedMessage, json: bool) -> Value {
    match message {
        AdmittedMessage::Oslo(v) => {
            if !json {
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
        }
        AdmittedMessage::Fedmsg(v) => {
            if !json {
                println!("accepted: {}", Escaped(&v.note));
                for d in v.authorization.iter().flat_map(|x| x.decisions.iter()) {
                    println!("  {} ({})", Escaped(&d.reason), d.code);
                }
            }
            json!({"valid": true, "kind": "fedmsg", "result": v})
        }
    }
}

/// `msg validate --lines`: every line a fedmsg-style message (blank lines skipped), each
/// validated by `bus` and reported with its reason; exit 1 when any was refused. No replay
/// cache: an archive re-validated is expected to repeat what was seen before.
fn validate_lines(a: &ValidateArgs, bus: &Bus, input: &[u8]) -> Result<(), CliError> {
    if a.replay_cache.is_some() || a.exchange.is_some() {
        return Err(CliError::usage(
            "--lines takes neither --replay-cache nor --exchange",
        ));
    }
    let mut refused = 0usize;
    let mut total = 0usize;
    for (n, line) in input.split(|&b| b == b'\n').enumerate() {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        total += 1;
        let outcome = parse_json(line).and_then(|message| {
            let mut arrival = match &a.topic {
                Some(topic) => Arrival::on(Route::topic(topic)),
                None => Arrival::unrouted(),
            };
            if let Some(s) = &a.signed_by {
                arrival = arrival.signed_by(s);
            }
            bus.admit_value(&message, &arrival).map_err(rejected)
        });
        let report = match &outcome {
            Ok(admitted) => match &admitted.message {
                AdmittedMessage::Fedmsg(v) => {
                    json!({"line": n + 1, "valid": true, "kind": "fedmsg", "result": v})
                }
                AdmittedMessage::Oslo(v) => {
                    json!({"line": n + 1, "valid": true, "kind": "oslo", "result": v})
                }
            },
            Err(e) => {
                refused += 1;
                json!({"line": n + 1, "valid": false, "reason": e.code, "message": e.message})
            }
        };
        if a.json {
            println!("{report}");
        } else {
            match &outcome {
                Ok(_) => println!("line {}: accepted", n + 1),
                Err(e) => println!(
                    "line {}: rejected: {} ({})",
                    n + 1,
                    Escaped(&e.message),
                    e.code
                ),
            }
        }
    }
    if refused > 0 {
        let mut e = CliError::rejected(
            "messages-refused",
            format!("{refused} of {total} messages refused"),
        );
        e.reported = true;
        return Err(e);
    }
    Ok(())
}

/// Runs `waxseal authorize`.
pub fn authorize(a: AuthorizeArgs) -> Result<(), CliError> {
    let bus = load_bus(&a.config)?;
    topic_arg(&a.topic)?;
    let bytes = read_input(a.input.as_deref())?;
    let authorization = match Certificate::load_all(&bytes) {
        Ok(certs) if !certs.is_empty() => {
            let cert = &certs[0];
            let verifier = bus
                .current_verifier()
                .map_err(|r| CliError::rejected(&r.code, r.reason))?
                .ok_or_else(|| {
                    CliError::usage(
                        "validate_signatures is off: no trust anchors to check the certificate against",
                    )
                })?;
            let options = verifier.validation_options(verifier.time());
            let extra = waxseal_trust::CertStore::from_certificates(certs[1..].iter().cloned());
            verifier
                .validate_certificate(cert, &extra, verifier.crls(), &options)
                .map_err(|e| common::path_rejected(&e))?;
            bus.authorizer().authorize(cert, &a.topic, None)
        }
        _ => {
            let message = parse_json(&bytes)?;
            if is_oslo(&message) {
                let v = bus.verify_oslo(&message, &a.topic).map_err(rejected)?;
                v.authorization.ok_or_else(|| {
                    CliError::rejected("unsigned", "the message is unsigned: nothing to authorize")
                })?
            } else {
                let v = bus
                    .validate_on_topic(&message, &a.topic)
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
