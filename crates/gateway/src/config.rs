//! The gateway's options. The command line and the configuration file name the same
//! options (the file's keys are the long option names: `verified-exchange`, `prefetch`...);
//! [`GatewayOptions`] holds either, [`GatewayOptions::merge`] lays the command line over
//! the file, and [`GatewayOptions::resolve`] checks that what is required is there.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use waxseal_message::replay::StoreSpec;

/// A configuration problem (exit status 2).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

/// The type of the queue the gateway declares.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum QueueType {
    /// A quorum queue (replicated, durable: the default, for "nothing is lost").
    #[default]
    Quorum,
    /// A classic durable queue.
    Classic,
}

impl std::str::FromStr for QueueType {
    type Err = ConfigError;
    fn from_str(s: &str) -> Result<Self, ConfigError> {
        match s {
            "quorum" => Ok(Self::Quorum),
            "classic" => Ok(Self::Classic),
            _ => Err(ConfigError(format!(
                "queue-type: {s:?} is not quorum or classic"
            ))),
        }
    }
}

/// Every option, each optional: from the command line or from a configuration file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct GatewayOptions {
    /// The broker: `amqp://user:password@host:port/vhost`; several (the nodes of a
    /// cluster) as a list, or comma-separated. The gateway connects to the first that
    /// answers and, when a connection fails, to the next one.
    #[serde(default, deserialize_with = "one_or_many")]
    pub amqp: Option<Vec<String>>,
    /// The queue to consume (declared if missing).
    pub queue: Option<String>,
    /// The bus configuration file (as `waxseal msg validate --config`).
    pub bus: Option<PathBuf>,
    /// The exchange verified messages are republished to (topic; declared if missing).
    pub verified_exchange: Option<String>,
    /// The exchange refused messages are republished to (topic; declared if missing).
    pub rejected_exchange: Option<String>,
    /// An exchange to bind the queue to (topic; declared if missing). Absent: the operator
    /// binds the queue.
    pub input_exchange: Option<String>,
    /// The binding key of the queue on `input-exchange` (default `#`: every topic).
    pub binding_key: Option<String>,
    /// The queue type (default quorum).
    pub queue_type: Option<QueueType>,
    /// Serve `/metrics` and `/healthz` on this address.
    pub metrics: Option<SocketAddr>,
    /// Unacknowledged messages the broker may hand this process at once (default 64).
    pub prefetch: Option<u16>,
    /// Countersign oslo envelopes (a routing-slip hop) before republishing them.
    pub countersign: Option<bool>,
    /// The countersigning certificate.
    pub cert: Option<PathBuf>,
    /// The countersigning private key.
    pub key: Option<PathBuf>,
    /// Where admitted messages are remembered (`memory`, `file:PATH`, `redis://...`; see
    /// [`waxseal_message::replay`]). Absent: the bus file's `replay_store`, else
    /// `file:<state-dir>/replay.journal`.
    pub replay_store: Option<String>,
    /// The same as `replay-store: file:PATH` (the option's earlier name).
    pub replay_cache: Option<PathBuf>,
    /// The directory of the gateway's own files (the default replay journal). Absent:
    /// `$STATE_DIRECTORY` (systemd's `StateDirectory=`), else [`DEFAULT_STATE_DIR`].
    pub state_dir: Option<PathBuf>,
    /// Worker threads validating messages (default 1: run one process per core).
    pub threads: Option<usize>,
    /// How often the bus configuration files are checked for changes, in milliseconds
    /// (default 1000; 0: only on SIGHUP).
    pub watch_ms: Option<u64>,
    /// Log every refused message (default: only the service's own events).
    pub verbose: Option<bool>,
}

impl GatewayOptions {
    /// Reads a configuration file (JSON; unknown keys refused). Relative paths are
    /// resolved against the file's directory.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError(format!("{}: {e}", path.display())))?;
        let mut o: Self = serde_json::from_str(&text)
            .map_err(|e| ConfigError(format!("{}: {e}", path.display())))?;
        let base = path.parent().unwrap_or(Path::new("."));
        for p in [
            &mut o.bus,
            &mut o.cert,
            &mut o.key,
            &mut o.replay_cache,
            &mut o.state_dir,
        ]
        .into_iter()
        .flatten()
        {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        }
        // A relative `file:` store, like every other path in the file, is relative to it.
        if let Some(spec) = o.replay_store.as_mut()
            && let Some(p) = spec.strip_prefix("file:")
            && !p.is_empty()
            && Path::new(p).is_relative()
        {
            *spec = format!("file:{}", base.join(p).display());
        }
        Ok(o)
    }

    /// `self` with every option `over` sets replaced by `over`'s (the command line over
    /// the file).
    pub fn merge(self, over: Self) -> Self {
        Self {
            amqp: over.amqp.or(self.amqp),
            queue: over.queue.or(self.queue),
            bus: over.bus.or(self.bus),
            verified_exchange: over.verified_exchange.or(self.verified_exchange),
            rejected_exchange: over.rejected_exchange.or(self.rejected_exchange),
            input_exchange: over.input_exchange.or(self.input_exchange),
            binding_key: over.binding_key.or(self.binding_key),
            queue_type: over.queue_type.or(self.queue_type),
            metrics: over.metrics.or(self.metrics),
            prefetch: over.prefetch.or(self.prefetch),
            countersign: over.countersign.or(self.countersign),
            cert: over.cert.or(self.cert),
            key: over.key.or(self.key),
            replay_store: over.replay_store.or(self.replay_store),
            replay_cache: over.replay_cache.or(self.replay_cache),
            state_dir: over.state_dir.or(self.state_dir),
            threads: over.threads.or(self.threads),
            watch_ms: over.watch_ms.or(self.watch_ms),
            verbose: over.verbose.or(self.verbose),
        }
    }

    /// Checks the options and fills in the defaults.
    pub fn resolve(self) -> Result<GatewayConfig, ConfigError> {
        fn need<T>(v: Option<T>, name: &str) -> Result<T, ConfigError> {
            v.ok_or_else(|| ConfigError(format!("--{name} is required (or `{name}` in --config)")))
        }
        let name = |v: Option<String>, what: &str| -> Result<String, ConfigError> {
            let v = need(v, what)?;
            if v.is_empty() || v.len() > 255 {
                return Err(ConfigError(format!("--{what}: 1 to 255 bytes")));
            }
            Ok(v)
        };
        let verified_exchange = name(self.verified_exchange, "verified-exchange")?;
        let rejected_exchange = name(self.rejected_exchange, "rejected-exchange")?;
        if verified_exchange == rejected_exchange {
            return Err(ConfigError(
                "--verified-exchange and --rejected-exchange must differ".into(),
            ));
        }
        if self
            .input_exchange
            .as_ref()
            .is_some_and(|i| *i == verified_exchange || *i == rejected_exchange)
        {
            return Err(ConfigError(
                "--input-exchange must differ from the verified and rejected exchanges (a loop)"
                    .into(),
            ));
        }
        let countersign = self.countersign.unwrap_or(false);
        let countersigner = if countersign {
            Some((need(self.cert, "cert")?, need(self.key, "key")?))
        } else {
            if self.cert.is_some() || self.key.is_some() {
                return Err(ConfigError("--cert and --key go with --countersign".into()));
            }
            None
        };
        let prefetch = self.prefetch.unwrap_or(64);
        if prefetch == 0 {
            return Err(ConfigError("--prefetch: at least 1".into()));
        }
        let threads = self.threads.unwrap_or(1);
        if threads == 0 {
            return Err(ConfigError("--threads: at least 1".into()));
        }
        let amqp: Vec<String> = need(self.amqp, "amqp")?
            .iter()
            .flat_map(|u| u.split(','))
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .map(String::from)
            .collect();
        if amqp.is_empty() {
            return Err(ConfigError("--amqp: at least one URL".into()));
        }
        for url in &amqp {
            crate::broker::BrokerUrl::parse(url)
                .map_err(|e| ConfigError(format!("--amqp: {e}")))?;
        }
        let replay_store = match (self.replay_store, self.replay_cache) {
            (Some(_), Some(_)) => {
                return Err(ConfigError(
                    "--replay-cache FILE is --replay-store file:FILE: give one of them".into(),
                ));
            }
            (Some(s), None) => Some(
                StoreSpec::parse(&s).map_err(|e| ConfigError(format!("--replay-store: {e}")))?,
            ),
            (None, Some(p)) => Some(StoreSpec::File(p)),
            (None, None) => None,
        };
        let state_dir = self.state_dir.unwrap_or_else(default_state_dir);
        Ok(GatewayConfig {
            amqp,
            queue: name(self.queue, "queue")?,
            bus: need(self.bus, "bus")?,
            verified_exchange,
            rejected_exchange,
            input_exchange: self.input_exchange,
            binding_key: self.binding_key.unwrap_or_else(|| "#".into()),
            queue_type: self.queue_type.unwrap_or_default(),
            metrics: self.metrics,
            prefetch,
            countersigner,
            replay_store,
            state_dir,
            threads,
            watch_ms: self.watch_ms.unwrap_or(1000),
            verbose: self.verbose.unwrap_or(false),
        })
    }
}

/// The resolved options (see [`GatewayOptions`] for each).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayConfig {
    /// The broker URLs, tried in order (at least one).
    pub amqp: Vec<String>,
    /// The queue.
    pub queue: String,
    /// The bus configuration file.
    pub bus: PathBuf,
    /// The verified exchange.
    pub verified_exchange: String,
    /// The rejected exchange.
    pub rejected_exchange: String,
    /// The exchange the queue is bound to, if the gateway binds it.
    pub input_exchange: Option<String>,
    /// The binding key on `input_exchange`.
    pub binding_key: String,
    /// The queue type.
    pub queue_type: QueueType,
    /// The metrics address.
    pub metrics: Option<SocketAddr>,
    /// The prefetch count.
    pub prefetch: u16,
    /// The countersigning certificate and key files, with `--countersign`.
    pub countersigner: Option<(PathBuf, PathBuf)>,
    /// The replay store named by `--replay-store` (or `--replay-cache`); `None`: the bus
    /// file's, else [`GatewayConfig::default_store`].
    pub replay_store: Option<StoreSpec>,
    /// The state directory.
    pub state_dir: PathBuf,
    /// Worker threads.
    pub threads: usize,
    /// The file-change check interval (ms; 0: off).
    pub watch_ms: u64,
    /// Log every refusal.
    pub verbose: bool,
}

/// The state directory when neither `--state-dir` nor `$STATE_DIRECTORY` is set.
pub const DEFAULT_STATE_DIR: &str = "/var/lib/waxseal-gateway";

/// The file of the default replay store in the state directory.
pub const REPLAY_JOURNAL: &str = "replay.journal";

/// `$STATE_DIRECTORY` (systemd sets it for `StateDirectory=`; the first of a
/// colon-separated list), else [`DEFAULT_STATE_DIR`].
fn default_state_dir() -> PathBuf {
    std::env::var_os("STATE_DIRECTORY")
        .and_then(|v| {
            let v = v.to_string_lossy().into_owned();
            v.split(':').find(|p| !p.is_empty()).map(PathBuf::from)
        })
        .unwrap_or_else(|| PathBuf::from(DEFAULT_STATE_DIR))
}

impl GatewayConfig {
    /// The store without `--replay-store` and without the bus file's `replay_store`: a
    /// journal in the state directory (never memory: a restart must not forget the
    /// window, and other processes of the host with the same state directory share it).
    pub fn default_store(&self) -> StoreSpec {
        StoreSpec::File(self.state_dir.join(REPLAY_JOURNAL))
    }
}

/// `"url"` or `["url", ...]`.
fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(Option::<OneOrMany>::deserialize(d)?.map(|v| match v {
        OneOrMany::One(s) => vec![s],
        OneOrMany::Many(v) => v,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> GatewayOptions {
        GatewayOptions {
            amqp: Some(vec!["amqp://127.0.0.1".into()]),
            queue: Some("in".into()),
            bus: Some("bus.json".into()),
            verified_exchange: Some("ok".into()),
            rejected_exchange: Some("no".into()),
            ..Default::default()
        }
    }

    #[test]
    fn defaults_and_required_options() {
        let c = base().resolve().unwrap();
        assert_eq!((c.prefetch, c.threads, c.watch_ms), (64, 1, 1000));
        assert_eq!(c.queue_type, QueueType::Quorum);
        assert_eq!(c.binding_key, "#");
        let mut o = base();
        o.queue = None;
        assert!(o.resolve().unwrap_err().0.contains("--queue is required"));
    }

    #[test]
    fn refuses_inconsistent_options() {
        let mut o = base();
        o.rejected_exchange = Some("ok".into());
        assert!(o.resolve().is_err(), "one exchange for both outcomes");
        let mut o = base();
        o.input_exchange = Some("ok".into());
        assert!(o.resolve().is_err(), "input = output is a loop");
        let mut o = base();
        o.countersign = Some(true);
        assert!(o.resolve().unwrap_err().0.contains("--cert"));
        let mut o = base();
        o.cert = Some("c.pem".into());
        assert!(o.resolve().is_err(), "--cert without --countersign");
        let mut o = base();
        o.prefetch = Some(0);
        assert!(o.resolve().is_err());
    }

    #[test]
    fn file_keys_are_the_option_names_and_the_command_line_wins() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gw.json");
        std::fs::write(
            &path,
            r#"{"amqp": "amqp://file", "queue": "q", "bus": "bus.json", "prefetch": 8,
                "verified-exchange": "v", "rejected-exchange": "r", "queue-type": "classic"}"#,
        )
        .unwrap();
        let file = GatewayOptions::load(&path).unwrap();
        assert_eq!(
            file.bus.as_deref(),
            Some(dir.path().join("bus.json").as_path())
        );
        let cli = GatewayOptions {
            amqp: Some(vec!["amqp://cli".into()]),
            ..Default::default()
        };
        let c = file.merge(cli).resolve().unwrap();
        assert_eq!((c.amqp[0].as_str(), c.prefetch), ("amqp://cli", 8));
        assert_eq!(c.queue_type, QueueType::Classic);
        std::fs::write(&path, r#"{"prefech": 8}"#).unwrap();
        assert!(
            GatewayOptions::load(&path)
                .unwrap_err()
                .0
                .contains("prefech")
        );
    }

    #[test]
    fn several_brokers_and_the_replay_store() {
        let mut o = base();
        o.amqp = Some(vec!["amqp://a, amqp://b".into(), "amqp://c".into()]);
        o.state_dir = Some("/srv/gw".into());
        let c = o.clone().resolve().unwrap();
        assert_eq!(c.amqp, ["amqp://a", "amqp://b", "amqp://c"]);
        assert_eq!(c.replay_store, None);
        assert_eq!(
            c.default_store(),
            StoreSpec::File("/srv/gw/replay.journal".into())
        );
        o.amqp = Some(vec![" , ".into()]);
        assert!(o.resolve().unwrap_err().0.contains("--amqp"));

        let mut o = base();
        o.replay_store = Some("redis://127.0.0.1:6379".into());
        assert_eq!(
            o.clone().resolve().unwrap().replay_store,
            Some(StoreSpec::Redis("redis://127.0.0.1:6379".into()))
        );
        o.replay_cache = Some("seen.journal".into());
        assert!(o.resolve().is_err(), "both names of the store");
        let mut o = base();
        o.replay_cache = Some("seen.journal".into());
        assert_eq!(
            o.resolve().unwrap().replay_store,
            Some(StoreSpec::File("seen.journal".into()))
        );
        let mut o = base();
        o.replay_store = Some("memcached://x".into());
        assert!(o.resolve().unwrap_err().0.contains("--replay-store"));

        // In the file: a list of URLs, and paths relative to the file.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gw.json");
        std::fs::write(
            &path,
            r#"{"amqp": ["amqp://n1", "amqp://n2"], "replay-store": "file:seen",
                "state-dir": "state"}"#,
        )
        .unwrap();
        let f = GatewayOptions::load(&path).unwrap();
        assert_eq!(f.amqp.as_deref().map(<[String]>::len), Some(2));
        assert_eq!(
            f.replay_store,
            Some(format!("file:{}", dir.path().join("seen").display()))
        );
        assert_eq!(f.state_dir, Some(dir.path().join("state")));
    }
}
