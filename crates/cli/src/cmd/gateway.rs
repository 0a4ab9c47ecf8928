//! `waxseal gateway`: the verifying gateway on RabbitMQ (see the waxseal-gateway crate).

use std::net::SocketAddr;
use std::path::PathBuf;

use waxseal_gateway::{GatewayOptions, QueueType};

use super::common;
use crate::error::CliError;

/// `waxseal gateway` arguments. Each option can also be given in `--config FILE` (JSON, the
/// keys are the long option names); the command line wins.
#[derive(clap::Args)]
pub struct Args {
    /// A configuration file with the same options (JSON: {"amqp": "...", "queue": "...",
    /// "verified-exchange": "...", ...}); relative paths in it are relative to it.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// The broker (amqp://user:password@host:port/vhost). Repeat it (or separate URLs by
    /// commas) for the nodes of a cluster: the gateway connects to the first that answers
    /// and to the next one when a connection fails.
    #[arg(long, value_name = "URL")]
    amqp: Vec<String>,
    /// The queue to consume (declared if missing).
    #[arg(long, value_name = "NAME")]
    queue: Option<String>,
    /// The bus configuration (as `waxseal msg validate --config`).
    #[arg(long, value_name = "FILE")]
    bus: Option<PathBuf>,
    /// The topic exchange verified messages are republished to (declared if missing).
    #[arg(long, value_name = "NAME")]
    verified_exchange: Option<String>,
    /// The topic exchange refused messages are republished to, with x-waxseal-reason.
    #[arg(long, value_name = "NAME")]
    rejected_exchange: Option<String>,
    /// A topic exchange to bind the queue to (declared if missing); absent: you bind it.
    #[arg(long, value_name = "NAME")]
    input_exchange: Option<String>,
    /// The binding key on --input-exchange (default: #).
    #[arg(long, value_name = "KEY")]
    binding_key: Option<String>,
    /// The queue type: quorum (replicated) or classic (default: quorum).
    #[arg(long, value_name = "TYPE")]
    queue_type: Option<String>,
    /// Serve Prometheus /metrics and /healthz on ADDR:PORT.
    #[arg(long, value_name = "ADDR:PORT")]
    metrics: Option<SocketAddr>,
    /// Messages the broker may hand this process unacknowledged (default: 64).
    #[arg(long, value_name = "N")]
    prefetch: Option<u16>,
    /// Add the gateway's routing-slip hop to verified oslo envelopes (needs --cert, --key).
    #[arg(long)]
    countersign: bool,
    /// The countersigning certificate.
    #[arg(long, value_name = "CERT")]
    cert: Option<PathBuf>,
    /// The countersigning private key.
    #[arg(long, value_name = "KEY")]
    key: Option<PathBuf>,
    /// Where admitted messages are remembered: memory (this process only), file:PATH (the
    /// processes of one host), redis://HOST:PORT/DB or rediss://... (many hosts)
    /// (default: the bus file's replay_store, else file:STATE_DIR/replay.journal).
    #[arg(long, value_name = "SPEC")]
    replay_store: Option<String>,
    /// The same as --replay-store file:FILE.
    #[arg(long, value_name = "FILE")]
    replay_cache: Option<PathBuf>,
    /// The directory of the gateway's own files (default: $STATE_DIRECTORY, else
    /// /var/lib/waxseal-gateway); created if missing.
    #[arg(long, value_name = "DIR")]
    state_dir: Option<PathBuf>,
    /// Worker threads (default: 1; run one process per core).
    #[arg(long, value_name = "N")]
    threads: Option<usize>,
    /// How often the bus configuration files are checked for changes (ms; 0: only on
    /// SIGHUP) (default: 1000).
    #[arg(long, value_name = "MS")]
    watch_ms: Option<u64>,
    /// Log each refused message (one JSON line each).
    #[arg(long)]
    verbose: bool,
}

/// Runs `waxseal gateway` until SIGTERM.
pub fn run(a: Args) -> Result<(), CliError> {
    let file = match &a.config {
        Some(p) => GatewayOptions::load(p).map_err(|e| CliError::usage(e.to_string()))?,
        None => GatewayOptions::default(),
    };
    let queue_type = a
        .queue_type
        .as_deref()
        .map(str::parse::<QueueType>)
        .transpose()
        .map_err(|e| CliError::usage(e.to_string()))?;
    let cli = GatewayOptions {
        amqp: (!a.amqp.is_empty()).then_some(a.amqp),
        queue: a.queue,
        bus: a.bus,
        verified_exchange: a.verified_exchange,
        rejected_exchange: a.rejected_exchange,
        input_exchange: a.input_exchange,
        binding_key: a.binding_key,
        queue_type,
        metrics: a.metrics,
        prefetch: a.prefetch,
        countersign: a.countersign.then_some(true),
        cert: a.cert,
        key: a.key,
        replay_store: a.replay_store,
        replay_cache: a.replay_cache,
        state_dir: a.state_dir,
        threads: a.threads,
        watch_ms: a.watch_ms,
        verbose: a.verbose.then_some(true),
    };
    let config = file
        .merge(cli)
        .resolve()
        .map_err(|e| CliError::usage(e.to_string()))?;
    let signer = match &config.countersigner {
        Some((cert, key)) => Some(common::load_signer(cert, key, &[], false, &[])?),
        None => None,
    };
    waxseal_gateway::run_blocking(config, signer).map_err(|e| CliError::usage(e.to_string()))
}
