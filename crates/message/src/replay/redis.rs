//! The replay store of many hosts: Redis or Valkey (`redis://HOST[:PORT][/DB]`,
//! `rediss://...` for TLS), a server operators already run.
//!
//! One key per admitted message, `waxseal:replay:<key hex>`, whose value is `a` (admitted)
//! or `s` (settled) and whose time to live is the message's remaining window:
//!
//! - admit: `SET k a NX PX ttl`. Set: a new message. Not set: `GET k`; `a` and the
//!   delivery is a broker redelivery: a duplicate; otherwise `replayed`. (A key that
//!   expired between the two commands is set again.)
//! - settle: `SET k s XX KEEPTTL` (Redis 6 or later; Valkey).
//!
//! **Persistence.** With `appendonly yes` the window survives a restart of Redis; without
//! it a restart forgets every key, and a message admitted before it may be replayed once
//! within its window. Run it with AOF (`appendfsync everysec` loses at most a second).
//!
//! **Failures.** A connection that cannot be made or a command that fails within the
//! timeout (2 s) answers [`ReplayError::Unavailable`]: the receiver requeues the message
//! and nothing is admitted unchecked; the next message connects again.
//!
//! **TLS** (`rediss://`) runs on rustls with graviola, the pure-Rust provider, installed
//! as rustls' process default if none is (the redis client asks rustls for the default).
//! The server's certificate is checked against the system's roots, or against the CA that
//! `?ca=PATH` names; `?cert=PATH&key=PATH` gives a client certificate. Nothing switches
//! the check off (see [`RedisStore::new`]).

use std::sync::Mutex;
use std::time::Duration;

use super::{Admission, ReplayError, ReplayStore, StoreError};

/// The prefix of every key the store writes.
pub const KEY_PREFIX: &str = "waxseal:replay:";

/// How long connecting, and each command, may take.
pub const TIMEOUT: Duration = Duration::from_secs(2);

/// The Redis store (see the module docs).
pub struct RedisStore {
    client: redis::Client,
    /// The server, without credentials, for logs.
    server: String,
    connection: Mutex<Option<redis::Connection>>,
    last_error: Mutex<Option<String>>,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("server", &self.server)
            .finish()
    }
}

impl RedisStore {
    /// A store on the server at `url` (`redis://` or `rediss://`); connects on first use.
    ///
    /// With `rediss://`, three query parameters of ours (the redis client ignores them):
    /// `ca=PATH`, the PEM certificates that the server's certificate must chain to instead
    /// of the system's roots (a private CA, as most Redis deployments have); `cert=PATH`
    /// and `key=PATH`, a client certificate and its key in PEM, for a server that asks for
    /// one (`tls-auth-clients`). The redis client's `#insecure` (no certificate check) is
    /// refused: the store would then believe any server that answers.
    pub fn new(url: &str) -> Result<Self, StoreError> {
        let tls = TlsFiles::of(url)?;
        let client = match &tls {
            TlsFiles::None => redis::Client::open(url),
            TlsFiles::Some { ca, cert, key } => {
                #[cfg(not(feature = "https"))]
                {
                    let _ = (ca, cert, key);
                    return Err(StoreError::NoTls);
                }
                // The redis client builds its TLS configuration from rustls' process
                // default provider; make it the pure-Rust one unless the process chose
                // another.
                #[cfg(feature = "https")]
                {
                    let _ = rustls_graviola::default_provider().install_default();
                    let read = |p: &std::path::Path| {
                        std::fs::read(p).map_err(|error| StoreError::Read {
                            path: p.to_path_buf(),
                            error,
                        })
                    };
                    let client_tls = match (cert, key) {
                        (Some(c), Some(k)) => Some(redis::ClientTlsConfig {
                            client_cert: read(c)?,
                            client_key: read(k)?,
                        }),
                        (None, None) => None,
                        _ => {
                            return Err(StoreError::CertWithoutKey);
                        }
                    };
                    let root_cert = ca.as_deref().map(read).transpose()?;
                    redis::Client::build_with_tls(
                        url,
                        redis::TlsCertificates {
                            client_tls,
                            root_cert,
                        },
                    )
                }
            }
        }?;
        let info = client.get_connection_info();
        let server = info.addr().to_string();
        Ok(Self {
            client,
            server,
            connection: Mutex::new(None),
            last_error: Mutex::new(None),
        })
    }

    /// The last error, if the last operation failed (for logs and health).
    pub fn last_error(&self) -> Option<String> {
        lock(&self.last_error).clone()
    }

    /// Runs `f` on a connection (connecting first if needed); an error drops the
    /// connection and answers unavailable.
    fn with_connection<T>(
        &self,
        f: impl FnOnce(&mut redis::Connection) -> redis::RedisResult<T>,
    ) -> Result<T, ReplayError> {
        let mut slot = lock(&self.connection);
        let result = (|| {
            if slot.is_none() {
                let c = self.client.get_connection_with_timeout(TIMEOUT)?;
                c.set_read_timeout(Some(TIMEOUT))?;
                c.set_write_timeout(Some(TIMEOUT))?;
                *slot = Some(c);
            }
            f(slot.as_mut().expect("connected above"))
        })();
        match result {
            Ok(v) => {
                *lock(&self.last_error) = None;
                Ok(v)
            }
            Err(e) => {
                *slot = None;
                *lock(&self.last_error) = Some(e.to_string());
                Err(ReplayError::Unavailable)
            }
        }
    }
}

/// The TLS files a `rediss://` URL names (see [`RedisStore::new`]).
enum TlsFiles {
    /// `redis://`: no TLS.
    None,
    /// `rediss://`: the server checked against `ca` (or the system's roots), with a
    /// client certificate when `cert` and `key` are given.
    Some {
        ca: Option<std::path::PathBuf>,
        cert: Option<std::path::PathBuf>,
        key: Option<std::path::PathBuf>,
    },
}

impl TlsFiles {
    fn of(url: &str) -> Result<Self, StoreError> {
        let parsed = url::Url::parse(url)?;
        let (mut ca, mut cert, mut key) = (None, None, None);
        for (name, value) in parsed.query_pairs() {
            let slot = match name.as_ref() {
                "ca" => &mut ca,
                "cert" => &mut cert,
                "key" => &mut key,
                _ => continue,
            };
            *slot = Some(std::path::PathBuf::from(value.as_ref()));
        }
        if parsed.scheme() != "rediss" {
            if ca.is_some() || cert.is_some() || key.is_some() {
                return Err(StoreError::TlsParametersWithoutTls);
            }
            return Ok(Self::None);
        }
        if parsed.fragment().is_some() {
            return Err(StoreError::Fragment);
        }
        Ok(Self::Some { ca, cert, key })
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn key_name(key: &[u8; 32]) -> String {
    format!("{KEY_PREFIX}{}", hex::encode(key))
}

/// The time to live of an entry expiring at `expires`, at `now`, in milliseconds (`None`:
/// never expires).
fn ttl_ms(expires: u64, now: u64) -> Option<u64> {
    (expires != u64::MAX).then(|| expires.saturating_sub(now).max(1).saturating_mul(1000))
}

impl ReplayStore for RedisStore {
    fn admit(
        &self,
        key: [u8; 32],
        expires: u64,
        now: u64,
        redelivered: bool,
    ) -> Result<Admission, ReplayError> {
        if expires <= now {
            // Expired already (the freshness check refuses such a message first).
            return Ok(Admission::New);
        }
        let name = key_name(&key);
        let ttl = ttl_ms(expires, now);
        self.with_connection(|c| {
            for _ in 0..2 {
                let mut set = redis::cmd("SET");
                set.arg(&name).arg("a").arg("NX");
                if let Some(ms) = ttl {
                    set.arg("PX").arg(ms);
                }
                let created: Option<String> = set.query(c)?;
                if created.is_some() {
                    return Ok(Ok(Admission::New));
                }
                let held: Option<String> = redis::cmd("GET").arg(&name).query(c)?;
                match held.as_deref() {
                    // Expired between the two commands: try to set it again.
                    None => continue,
                    Some("a") if redelivered => return Ok(Ok(Admission::Duplicate)),
                    Some(_) => return Ok(Err(ReplayError::Replayed)),
                }
            }
            // Set and expired twice in a row: cannot tell.
            Ok(Err(ReplayError::Unavailable))
        })?
    }

    fn admit_all(
        &self,
        requests: &[([u8; 32], u64, bool)],
        now: u64,
    ) -> Vec<Result<Admission, ReplayError>> {
        // Two requests for one key in a batch: decided one after the other, singly.
        let mut keys = std::collections::HashSet::new();
        if requests.len() < 2 || !requests.iter().all(|r| keys.insert(r.0)) {
            return requests
                .iter()
                .map(|&(k, e, r)| self.admit(k, e, now, r))
                .collect();
        }
        // One pipelined round trip of `SET k a NX PX ttl` for them all, then one of `GET`
        // for those already there.
        let live: Vec<usize> = (0..requests.len())
            .filter(|&i| requests[i].1 > now)
            .collect();
        let answered = self.with_connection(|c| {
            let mut set = redis::pipe();
            for &i in &live {
                let (key, expires, _) = requests[i];
                let cmd = set.cmd("SET").arg(key_name(&key)).arg("a").arg("NX");
                if let Some(ms) = ttl_ms(expires, now) {
                    cmd.arg("PX").arg(ms);
                }
            }
            let created: Vec<Option<String>> = set.query(c)?;
            let known: Vec<usize> = live
                .iter()
                .zip(&created)
                .filter(|(_, c)| c.is_none())
                .map(|(&i, _)| i)
                .collect();
            let mut get = redis::pipe();
            for &i in &known {
                get.cmd("GET").arg(key_name(&requests[i].0));
            }
            let held: Vec<Option<String>> = if known.is_empty() {
                Vec::new()
            } else {
                get.query(c)?
            };
            Ok((known, held))
        });
        let (known, held) = match answered {
            Ok(a) => a,
            Err(e) => return requests.iter().map(|_| Err(e)).collect(),
        };
        // Expired already, or set now: new.
        let mut out: Vec<Result<Admission, ReplayError>> =
            requests.iter().map(|_| Ok(Admission::New)).collect();
        for (&i, held) in known.iter().zip(held) {
            let (key, expires, redelivered) = requests[i];
            out[i] = match held.as_deref() {
                // Expired between the two commands: decided again, singly.
                None => self.admit(key, expires, now, redelivered),
                Some("a") if redelivered => Ok(Admission::Duplicate),
                Some(_) => Err(ReplayError::Replayed),
            };
        }
        out
    }

    fn settle(&self, key: [u8; 32], now: u64) -> Result<(), ReplayError> {
        self.settle_all(&[key], now)
    }

    fn settle_all(&self, keys: &[[u8; 32]], _now: u64) -> Result<(), ReplayError> {
        if keys.is_empty() {
            return Ok(());
        }
        // One pipelined round trip for every key an acknowledgement covered.
        let mut pipe = redis::pipe();
        for key in keys {
            pipe.cmd("SET")
                .arg(key_name(key))
                .arg("s")
                .arg("XX")
                .arg("KEEPTTL")
                .ignore();
        }
        self.with_connection(|c| pipe.query::<()>(c))
    }

    fn describe(&self) -> String {
        format!("redis {}", self.server)
    }
}
