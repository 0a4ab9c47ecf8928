//! The bus configuration: one JSON file, loaded with serde, unknown keys refused by name.
//!
//! ```json
//! {
//!   "trust": ["root-ca.crt"],
//!   "certs": ["signing-ca.crt"],
//!   "crls": ["http://ca.example.org/crl.pem"],
//!   "fetch": {"cache_dir": "/var/cache/waxseal", "timeout_ms": 10000, "crl_cache_expiry_secs": 3600},
//!   "registry": "registry.json",
//!   "entity_rules": [{"source": "cn", "pattern": "^(?P<service>[a-z0-9_]+)-(?P<host>.+)$"}],
//!   "routing_policy": {"org.example.prod.bodhi.*": ["bodhi-*"]},
//!   "nitpicky": false,
//!   "claims": [{"topic": "org.example.prod.compute.*", "pointer": "/msg/host", "field": "host"}],
//!   "sign_messages": true,
//!   "validate_signatures": true,
//!   "unsigned_topics": ["org.example.prod.heartbeat"],
//!   "route": {"max_hops": 8, "max_age_secs": 300},
//!   "freshness": {"max_age_secs": 300, "clock_skew_secs": 300, "replay_cache_capacity": 100000},
//!   "tsa_trust": ["tsa-root.pem"],
//!   "tsa_url": "https://tsa.example.org/"
//! }
//! ```
//!
//! Relative paths are relative to the configuration file's directory. `trust`, `certs` and
//! `crls` take file paths or http(s) URLs (see [`crate::distribution`]: fetched, cached in
//! `fetch.cache_dir`, refreshed, failing closed with `crl-unavailable`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use waxseal_entity::AuthorizationConfig;
use waxseal_trust::AlgorithmPolicy;

use crate::distribution::{FetchConfig, Source};
use crate::error::ConfigError;

fn yes() -> bool {
    true
}

/// Which certificates need a CRL when CRLs are configured.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CrlScope {
    /// Every certificate below the trust anchor.
    #[default]
    All,
    /// Only the signer's.
    Leaf,
}

/// Expectations for routing slips carried by oslo envelopes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    /// Most hops (hop 0 included).
    #[serde(default = "default_max_hops")]
    pub max_hops: usize,
    /// Exact itinerary, by entity ID.
    #[serde(default)]
    pub itinerary: Option<Vec<String>>,
    /// Entities that must appear in this order.
    #[serde(default)]
    pub required: Vec<String>,
    /// Oldest a slip may be, seconds.
    #[serde(default)]
    pub max_age_secs: Option<u64>,
    /// Allowed backwards clock skew between hops, seconds.
    #[serde(default = "default_skew")]
    pub clock_skew_secs: u64,
    /// Allow an entity twice.
    #[serde(default)]
    pub allow_repeats: bool,
}

fn default_max_hops() -> usize {
    waxseal_slip::DEFAULT_MAX_HOPS
}

fn default_skew() -> u64 {
    300
}

/// The default freshness window, seconds.
pub const DEFAULT_MAX_AGE_SECS: u64 = 600;

fn default_max_age() -> Option<u64> {
    Some(DEFAULT_MAX_AGE_SECS)
}

/// A value that may be given as `null` (absent: the field's default).
fn nullable<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    Option::<u64>::deserialize(d)
}

impl Default for RouteConfig {
    fn default() -> Self {
        Self {
            max_hops: default_max_hops(),
            itinerary: None,
            required: Vec::new(),
            max_age_secs: None,
            clock_skew_secs: default_skew(),
            allow_repeats: false,
        }
    }
}

/// Freshness and replay protection, for every signed message (fedmsg-style and oslo).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FreshnessConfig {
    /// The oldest a message may be, seconds after its signing time (default 600: ten
    /// minutes). A message without a signing time is refused (`missing-signing-time`), and
    /// replay-store entries expire after this plus `clock_skew_secs`: the window bounds
    /// the replay store's memory. For oslo envelopes the smaller of this and
    /// `route.max_age_secs` is the window. `null` turns the limit off, which is **unsafe**
    /// for replay protection: entries then never expire, a memory store fills up and
    /// refuses everything, and a message is good for ever.
    #[serde(default = "default_max_age", deserialize_with = "nullable")]
    pub max_age_secs: Option<u64>,
    /// How far in the future a signing time may be, seconds (default 300); beyond it the
    /// message is refused (`signing-time-in-future`). For oslo envelopes this applies to
    /// every hop of the routing slip (the slip checks it, see
    /// [`waxseal_slip::RouteExpectations::future_skew`]).
    #[serde(default = "default_skew")]
    pub clock_skew_secs: u64,
    /// The most messages the in-memory replay cache remembers (default 100000, at least
    /// 1). Full of live entries, it refuses new messages (`replay-cache-full`).
    #[serde(default = "default_capacity")]
    pub replay_cache_capacity: usize,
}

fn default_capacity() -> usize {
    crate::replay::DEFAULT_CAPACITY
}

impl Default for FreshnessConfig {
    fn default() -> Self {
        Self {
            max_age_secs: default_max_age(),
            clock_skew_secs: default_skew(),
            replay_cache_capacity: default_capacity(),
        }
    }
}

/// Everything a bus participant needs to sign and validate messages.
///
/// The authorization keys (`entity_rules`, `routing_policy`, `nitpicky`, `claims`) sit at
/// the top level of the file and are read into [`BusConfig::authorization`]. serde cannot
/// combine `#[serde(flatten)]` with `deny_unknown_fields`, so the keys no field takes are
/// collected and refused by [`BusConfig::from_json`]: an unknown (misspelt) key is still
/// an error that names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BusConfig {
    /// Trust anchor certificate files or https URLs (required when validating).
    #[serde(default)]
    pub trust: Vec<Source>,
    /// Certificate store: intermediates (and signers) to look in: files, directories or
    /// http(s) URLs.
    #[serde(default)]
    pub certs: Vec<Source>,
    /// CRL files, directories or http(s) URLs; none: revocation is not checked.
    #[serde(default)]
    pub crls: Vec<Source>,
    /// How URLs in `trust`, `certs` and `crls` are fetched and cached.
    #[serde(default)]
    pub fetch: FetchConfig,
    /// Which certificates need a CRL.
    #[serde(default)]
    pub crl_scope: CrlScope,
    /// The entity registry file (pinning).
    #[serde(default)]
    pub registry: Option<PathBuf>,
    /// Who may say what: certificate → entity rules (default: `<service>-<fqdn>` on the
    /// CN), the routing policy (topic pattern → allowed entity patterns), `nitpicky` (deny
    /// topics the policy does not mention) and payload claims.
    #[serde(flatten)]
    pub authorization: AuthorizationConfig,
    /// Sign outgoing messages (fedmsg's `sign_messages`).
    #[serde(default = "yes")]
    pub sign_messages: bool,
    /// Validate incoming messages (fedmsg's `validate_signatures`).
    #[serde(default = "yes")]
    pub validate_signatures: bool,
    /// Topics (globs) whose *unsigned* messages are accepted; signed ones are still
    /// fully validated.
    #[serde(default)]
    pub unsigned_topics: Vec<String>,
    /// Accept SHA-1 (legacy messages only).
    #[serde(default)]
    pub allow_sha1: bool,
    /// Routing-slip expectations.
    #[serde(default)]
    pub route: RouteConfig,
    /// Freshness (maximum age, future signing times) and replay protection.
    #[serde(default)]
    pub freshness: FreshnessConfig,
    /// Where admitted messages are remembered: `memory` (this process; the default),
    /// `file:PATH` (the processes of one host), `redis://...` / `rediss://...` (many
    /// hosts); see [`crate::replay`]. A relative `file:` path is resolved in the
    /// configuration file's directory.
    #[serde(default, deserialize_with = "store_spec")]
    pub replay_store: Option<crate::replay::StoreSpec>,
    /// Trust anchor files of time-stamp authorities (RFC 3161; their own trust set, never
    /// `trust`): a message whose signature carries a time-stamp token has it verified,
    /// and is refused when it fails. None: tokens are ignored (unless `at_timestamp`).
    #[serde(default)]
    pub tsa_trust: Vec<PathBuf>,
    /// Validate each signer's certificate path at the time its time-stamp proves, with
    /// revocation as of then (re-validating an archive); a message without a valid token
    /// is refused. Needs `tsa_trust`.
    #[serde(default)]
    pub at_timestamp: bool,
    /// Every message this bus signs ([`crate::Bus::sign`], [`crate::Bus::sign_text`],
    /// [`crate::Bus::sign_oslo`], [`crate::Bus::prepare`]) is time-stamped at this RFC 3161
    /// TSA (http:// or https://, fetched with the `fetch` settings), each reply verified
    /// against `tsa_trust` before it is attached; needs `tsa_trust`. A TSA out of reach
    /// (`tsa-unavailable`) or a reply refused fails the sign call: nothing is sent
    /// unstamped.
    #[serde(default)]
    pub tsa_url: Option<String>,
    /// The keys no field took, refused by [`BusConfig::from_json`]. Last, so that every
    /// flattened field has taken its keys first.
    #[serde(flatten, skip_serializing)]
    unknown: BTreeMap<String, serde_json::Value>,
}

fn store_spec<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<crate::replay::StoreSpec>, D::Error> {
    Option::<String>::deserialize(d)?
        .map(|s| crate::replay::StoreSpec::parse(&s).map_err(serde::de::Error::custom))
        .transpose()
}

impl BusConfig {
    /// The algorithms this bus accepts (`allow_sha1`): for the signatures it verifies and
    /// the time-stamp tokens it checks.
    pub fn algorithms(&self) -> AlgorithmPolicy {
        if self.allow_sha1 {
            AlgorithmPolicy::LEGACY_SHA1
        } else {
            AlgorithmPolicy::STRICT
        }
    }

    /// Parses a configuration; `base` is the directory relative paths are resolved in.
    pub fn from_json(text: &str, base: &Path) -> Result<Self, ConfigError> {
        let mut c: BusConfig =
            serde_json::from_str(text).map_err(|e| ConfigError(e.to_string()))?;
        if let Some(key) = c.unknown.keys().next() {
            return Err(ConfigError(format!(
                "unknown field `{}`",
                waxseal_trust::display::escape(key)
            )));
        }
        let fix = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        for s in c.trust.iter_mut().chain(&mut c.certs).chain(&mut c.crls) {
            s.resolve(base);
        }
        if let Some(r) = c.registry.as_mut() {
            fix(r);
        }
        if let Some(d) = c.fetch.cache_dir.as_mut() {
            fix(d);
        }
        if let Some(d) = c.fetch.https_roots.as_mut() {
            fix(d);
        }
        if let Some(crate::replay::StoreSpec::File(p)) = c.replay_store.as_mut() {
            fix(p);
        }
        c.tsa_trust.iter_mut().for_each(fix);
        if c.freshness.replay_cache_capacity == 0 {
            return Err(ConfigError(
                "freshness.replay_cache_capacity: must be at least 1".into(),
            ));
        }
        Ok(c)
    }

    /// Reads a configuration file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError(format!("{}: {e}", path.display())))?;
        let base = path.parent().unwrap_or(Path::new("."));
        Self::from_json(&text, base)
            .map_err(|e| ConfigError(format!("{}: {}", path.display(), e.0)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<BusConfig, ConfigError> {
        BusConfig::from_json(text, Path::new("/etc/waxseal"))
    }

    #[test]
    fn authorization_keys_are_read_at_the_top_level() {
        let c =
            parse(r#"{"routing_policy": {"org.example.*": ["svc-*"]}, "nitpicky": true}"#).unwrap();
        assert!(c.authorization.nitpicky);
        assert_eq!(
            c.authorization.routing_policy["org.example.*"],
            vec!["svc-*".to_owned()]
        );
        assert!(c.authorization.claims.is_empty());
        // Without them: the defaults.
        let c = parse("{}").unwrap();
        assert_eq!(c.authorization, AuthorizationConfig::default());
        // Written back flat, with nothing of the collector.
        let c = parse(r#"{"nitpicky": true}"#).unwrap();
        let written = serde_json::to_value(&c).unwrap();
        assert_eq!(written["nitpicky"], true);
        assert!(written.get("authorization").is_none());
        assert!(written.get("unknown").is_none());
        assert_eq!(parse(&written.to_string()).unwrap(), c);
    }

    #[test]
    fn unknown_and_repeated_keys_are_refused_by_name() {
        assert_eq!(
            parse(r#"{"routing_polcy": {}}"#).unwrap_err().0,
            "unknown field `routing_polcy`"
        );
        // serde refuses a flattened key given twice itself.
        let e = parse(r#"{"nitpicky": true, "nitpicky": false}"#)
            .unwrap_err()
            .0;
        assert!(e.starts_with("duplicate field `nitpicky`"), "{e}");
        // A key of the wrong type inside the authorization keys is refused too.
        assert!(parse(r#"{"nitpicky": "yes"}"#).is_err());
        assert!(parse(r#"{"routing_policy": ["svc-*"]}"#).is_err());
        // An attacker-chosen key is escaped in the message.
        let e = parse("{\"bad\\u001b[31m\": 1}").unwrap_err().0;
        assert!(!e.contains('\u{1b}'), "{e}");
        assert!(e.starts_with("unknown field `bad"), "{e}");
    }
}
