//! [`Bus`]: a configured participant of a message bus, and the fedmsg-style API on JSON
//! object messages: [`sign`], [`Bus::validate`], [`Bus::validate_signed_by`],
//! [`strip_credentials`].
//!
//! A signed message carries three fields next to its own:
//!
//! - `crypto`: `"cms"` (set before signing, so it is covered by the signature);
//! - `signature`: base64 of a detached CMS SignedData over the RFC 8785 canonical bytes of
//!   the message without `signature` and `certificate` (see [`crate::json`]);
//! - `certificate`: base64 of the signer's certificate in PEM (then its chain).
//!
//! Validation: message format (strict JSON, exact numbers, a printable-ASCII `topic`),
//! the signature, the certificate path (trust anchors, CRLs), freshness (a signing time
//! more than `freshness.clock_skew_secs` in the future, or older than
//! `freshness.max_age_secs`, is refused), authorization (entity, registry, routing policy
//! on `topic`, claims), and last replay: a message whose signature was already accepted
//! within the freshness window is refused (`replayed`, see [`crate::replay`]). Each
//! refusal is a [`Rejection`] with its stage and reason.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Serialize;
use serde_json::Value;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use arc_swap::ArcSwap;
use std::time::{Duration, Instant};

use waxseal_entity::glob::{MALFORMED_TOPIC, TopicPattern, check_topic};
use waxseal_entity::{Authorization, Authorizer, EntityId, Registry};
use waxseal_envelope::{Envelope, EnvelopeBuilder, Signer, Verifier};
use waxseal_slip::RouteExpectations;
use waxseal_trust::{
    CacheStats, CertStore, Certificate, PathCache, RevocationPolicy, TrustAnchors,
};

use crate::config::{BusConfig, CrlScope};
use crate::credentials::CertificateFields;
use crate::distribution::{ChangeWatch, FileWatch, Material};
use crate::error::{ConfigError, Rejection, SignError, Stage};
use crate::json;
use crate::replay::{ReplayError, ReplayStore, StoreSpec, replay_key};

/// The fields a signature adds.
pub const CREDENTIAL_FIELDS: [&str; 2] = ["signature", "certificate"];

/// The reason code of an arrival topic that differs from the signed one.
pub const TOPIC_MISMATCH: &str = "topic-mismatch";
/// The reason code of a route that must be known but is not (no signed route in an oslo
/// envelope, no arrival topic given).
pub const TOPIC_REQUIRED: &str = "topic-required";

/// Largest `signature` or `certificate` field accepted, in bytes of base64.
pub const MAX_FIELD_LEN: usize = 1 << 20;

/// A message that passed validation.
#[derive(Debug, Clone, Serialize)]
pub struct Validated {
    /// Whether it was signed (an unsigned message passes only on an unsigned topic, or
    /// with validation switched off).
    pub signed: bool,
    /// Why it was accepted, in a line.
    pub note: String,
    /// The signer's subject.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signer: Option<String>,
    /// The signer's entity.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entity: Option<EntityId>,
    /// Every authorization decision and its reason.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authorization: Option<Authorization>,
}

/// Adds `crypto`, `signature` and `certificate` to a JSON object message. An existing
/// signature is replaced. Refuses messages that are not objects, hold a number that is not
/// exactly a double (`inexact-number`; see [`crate::json`]) or whose `topic` (when
/// present) is not printable ASCII (`malformed-topic`). To keep the numbers exactly as
/// written, sign the text with [`sign_text`]. A bus that time-stamps its messages signs
/// with [`Bus::sign`].
pub fn sign(message: &Value, signer: &Signer) -> Result<Value, SignError> {
    sign_stamped(message, signer, |_| Ok(()))
}

/// [`sign`], with `stamp` applied to the CMS before it is encoded (a time-stamp,
/// [`Bus::sign`]).
fn sign_stamped(
    message: &Value,
    signer: &Signer,
    stamp: impl FnOnce(&mut Envelope) -> Result<(), SignError>,
) -> Result<Value, SignError> {
    let Value::Object(obj) = message else {
        return Err(SignError::Message("a message must be a JSON object".into()));
    };
    match obj.get("topic") {
        Some(Value::String(t)) => check_topic(t).map_err(SignError::Topic)?,
        Some(_) => return Err(SignError::Message("topic must be a string".into())),
        None => {}
    }
    let mut obj = obj.clone();
    for f in CREDENTIAL_FIELDS {
        obj.remove(f);
    }
    obj.insert("crypto".into(), Value::String("cms".into()));
    let unsigned = Value::Object(obj.clone());
    let bytes = json::canonical(&unsigned)?;
    let mut cms = EnvelopeBuilder::new(&bytes)
        .detached(true)
        .include_certificates(false)
        .add_signer(signer)
        .build()?;
    stamp(&mut cms)?;
    let cms = cms.to_der();
    let mut pem = signer.certificate().to_pem();
    for c in signer.chain() {
        pem.push_str(&c.to_pem());
    }
    obj.insert("signature".into(), Value::String(STANDARD.encode(cms)));
    obj.insert("certificate".into(), Value::String(STANDARD.encode(pem)));
    Ok(Value::Object(obj))
}

/// Signs the JSON object `text` like [`sign`], writing every member of the input byte for
/// byte (numbers are never rewritten: `1.0` stays `1.0`) with `crypto`, `signature` and
/// `certificate` appended. The text is parsed strictly first ([`json::parse`]): duplicate
/// keys and numbers that are not exactly a double are refused. A bus that time-stamps its
/// messages signs with [`Bus::sign_text`].
pub fn sign_text(text: &str, signer: &Signer) -> Result<String, SignError> {
    sign_text_stamped(text, signer, |_| Ok(()))
}

/// [`sign_text`], with `stamp` applied to the CMS before it is encoded.
fn sign_text_stamped(
    text: &str,
    signer: &Signer,
    stamp: impl FnOnce(&mut Envelope) -> Result<(), SignError>,
) -> Result<String, SignError> {
    let message = json::parse(text.as_bytes())?;
    let signed = sign_stamped(&message, signer, stamp)?;
    let add: Vec<(&str, &Value)> = ["crypto", "signature", "certificate"]
        .iter()
        .map(|k| (*k, &signed[*k]))
        .collect();
    Ok(json::splice(
        text,
        &["crypto", "signature", "certificate"],
        &add,
    )?)
}

/// A copy of `message` without `signature` and `certificate` (fedmsg's
/// `strip_credentials`); the input is not modified.
pub fn strip_credentials(message: &Value) -> Value {
    let mut copy = message.clone();
    if let Value::Object(obj) = &mut copy {
        for f in CREDENTIAL_FIELDS {
            obj.remove(f);
        }
    }
    copy
}

/// A configured bus participant.
pub struct Bus {
    config: BusConfig,
    trust: Option<Trust>,
    authorizer: Authorizer,
    unsigned_topics: Vec<TopicPattern>,
    /// Where admitted messages are remembered (`replay_store`; see [`crate::replay`]).
    pub(crate) replay: Arc<dyn ReplayStore>,
    fixed_time: Option<u64>,
    /// The path and signature-outcome cache of every verifier this bus builds: one for
    /// the bus's life, so its counters add up across refreshes; invalidated whenever a
    /// refresh changes the trust material.
    cache: Arc<PathCache>,
    /// The `certificate` fields of messages, decoded once each.
    certificate_fields: CertificateFields,
    /// How often, at most, the trust material's sources are checked for changes
    /// ([`Bus::with_refresh_interval`]).
    refresh_interval: Duration,
    /// The time-stamp authority every signature of this bus is stamped at (`tsa_url`).
    stamper: Option<crate::timestamp::Stamper>,
}

/// The trust material and the verifier built from its current copies.
struct TrustState {
    material: Material,
}

/// The trust material, and what every message reads of it without a lock: the current
/// verifier (swapped atomically when the material changes), when the sources are next due
/// for a check, the material's change counter, and until when every CRL URL holds a
/// current copy. Only a check that is due, a change, or a refusal takes `state`'s lock.
struct Trust {
    state: Mutex<TrustState>,
    verifier: ArcSwap<Verifier>,
    /// Monotonic milliseconds since `epoch` at which the sources are next due for a check.
    due_at_ms: AtomicU64,
    epoch: Instant,
    /// The material's change counter, and the value the verifier was built at (or later).
    watch: ChangeWatch,
    /// The files' look when last read, when every source is a file: checked before every
    /// message without the lock (`None`: a URL source, decided under the lock).
    files: Option<FileWatch>,
    seen: AtomicU64,
    /// [`Material::crls_current_until`] as of the last check.
    crls_until: AtomicU64,
}

impl Trust {
    fn new(material: Material, verifier: Verifier) -> Self {
        let watch = material.watch();
        let files = material.file_watch();
        let seen = AtomicU64::new(watch.generation());
        let crls_until = AtomicU64::new(material.crls_current_until());
        Self {
            state: Mutex::new(TrustState { material }),
            verifier: ArcSwap::from_pointee(verifier),
            due_at_ms: AtomicU64::new(0),
            epoch: Instant::now(),
            watch,
            files,
            seen,
            crls_until,
        }
    }

    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }
}

/// The verifier for `config` from `material`'s current copies.
fn build_verifier(
    config: &BusConfig,
    material: &Material,
    fixed_time: Option<u64>,
    cache: &Arc<PathCache>,
) -> Result<Verifier, ConfigError> {
    let mut store = CertStore::new();
    for c in material.certificates() {
        store.add(c);
    }
    let crls = material.crls();
    let mut v = Verifier::new(
        TrustAnchors::new(material.anchors())
            .map_err(|_| ConfigError("trust: no certificates found".into()))?,
    )
    .with_store(store)
    .with_algorithms(config.algorithms())
    .with_cache(cache.clone());
    if material.has_crls() && config.crl_scope == CrlScope::Leaf {
        v = v.with_revocation(RevocationPolicy::RequireEndEntity);
    }
    if let Some(t) = fixed_time {
        v = v.at_time(t);
    }
    v = crate::timestamp::configure(v, config)?;
    Ok(v.with_crls(crls))
}

impl std::fmt::Debug for Bus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bus").field("config", &self.config).finish()
    }
}

impl Bus {
    /// Loads the trust material and compiles the policies of `config`. URLs in `trust`,
    /// `certs` and `crls` are fetched now (or read from `fetch.cache_dir`), and refreshed
    /// before later validations (see [`crate::distribution`]).
    pub fn new(config: BusConfig) -> Result<Self, ConfigError> {
        let err = |e: &dyn std::fmt::Display| ConfigError(e.to_string());
        let stamper = crate::timestamp::Stamper::from_config(&config)?;
        let cache = Arc::new(PathCache::default());
        let trust = if config.validate_signatures {
            if config.trust.is_empty() {
                return Err(ConfigError(
                    "trust: at least one trust anchor is required while validate_signatures is on"
                        .into(),
                ));
            }
            let material = Material::load(
                &config.trust,
                &config.certs,
                &config.crls,
                &config.fetch,
                waxseal_trust::time::now(),
            )?;
            let verifier = build_verifier(&config, &material, None, &cache)?;
            Some(Trust::new(material, verifier))
        } else {
            None
        };
        let registry = match &config.registry {
            Some(p) => {
                let text = std::fs::read_to_string(p)
                    .map_err(|e| ConfigError(format!("{}: {e}", p.display())))?;
                Some(
                    Registry::from_json(&text)
                        .map_err(|e| ConfigError(format!("{}: {e}", p.display())))?,
                )
            }
            None => None,
        };
        let authorizer = Authorizer::new(&config.authorization, registry).map_err(|e| err(&e))?;
        let unsigned_topics = config
            .unsigned_topics
            .iter()
            .map(|t| TopicPattern::new(t).map_err(|e| ConfigError(format!("unsigned_topics: {e}"))))
            .collect::<Result<_, _>>()?;
        let replay = config
            .replay_store
            .as_ref()
            .unwrap_or(&StoreSpec::Memory)
            .open(config.freshness.replay_cache_capacity)
            .map_err(|e| ConfigError(format!("replay_store: {e}")))?;
        Ok(Self {
            config,
            trust,
            authorizer,
            unsigned_topics,
            replay,
            fixed_time: None,
            cache,
            certificate_fields: CertificateFields::default(),
            refresh_interval: Duration::ZERO,
            stamper,
        })
    }

    /// The same bus verifying as of `time` (seconds since the epoch) instead of the
    /// clock: certificate and CRL validity, signing-time freshness and replay-cache
    /// expiry all use it. Tests and fuzz harnesses use a fixed time so that no test data
    /// expires under them.
    pub fn at_time(mut self, time: u64) -> Self {
        if let Some(t) = &self.trust {
            let state = lock(&t.state);
            if let Ok(v) = build_verifier(&self.config, &state.material, Some(time), &self.cache) {
                t.verifier.store(Arc::new(v));
            }
        }
        self.fixed_time = Some(time);
        self
    }

    /// The verification time: the one set with [`Bus::at_time`], or now.
    pub fn time(&self) -> u64 {
        self.fixed_time.unwrap_or_else(waxseal_trust::time::now)
    }

    /// The same bus remembering admitted messages in `store` instead of the one its
    /// configuration names (e.g. the store of the bus it replaces on a reload, or one
    /// shared by several buses of a process).
    pub fn with_replay_store(mut self, store: Arc<dyn ReplayStore>) -> Self {
        self.replay = store;
        self
    }

    /// The replay store (to hand on to the bus that replaces this one on a reload).
    pub fn replay_store(&self) -> Arc<dyn ReplayStore> {
        self.replay.clone()
    }

    /// [`Bus::settle`] for every key of `keys` (one acknowledgement covering several
    /// deliveries), in one round trip where the store has them.
    pub fn settle_all(&self, keys: &[[u8; 32]]) -> Result<(), Rejection> {
        self.replay
            .settle_all(keys, self.time())
            .map_err(|e| self.replay_rejection(e))
    }

    /// Marks an admitted message settled: its acknowledgement went out, so a broker
    /// redelivery of it is now a replay ([`crate::replay`]). `key`:
    /// [`crate::Admitted::replay_key`]. A store out of reach is a transient refusal.
    pub fn settle(&self, key: [u8; 32]) -> Result<(), Rejection> {
        self.replay
            .settle(key, self.time())
            .map_err(|e| self.replay_rejection(e))
    }

    /// The same bus checking its trust material's sources for changes (the files'
    /// modification times; URLs that are due) at most every `interval` instead of before
    /// every validation: a changed anchor, intermediate or CRL is then picked up within
    /// `interval`. For a service that watches the files itself and rebuilds its bus (the
    /// gateway's `--watch-ms`), where the check on every message would be repeated work:
    /// without an interval each message pays a `statx` of every trust file (about a
    /// microsecond each), the price of using a changed file from the very next message.
    pub fn with_refresh_interval(mut self, interval: Duration) -> Self {
        self.refresh_interval = interval;
        if let Some(t) = &self.trust {
            // Loading was a check: the next is due one interval after it.
            let interval = u64::try_from(interval.as_millis()).unwrap_or(u64::MAX);
            t.due_at_ms
                .store(t.now_ms().saturating_add(interval), Ordering::Release);
        }
        self
    }

    /// Checks the origin's signing time against the freshness settings (`max_age` also
    /// bounded by `extra_max_age`, the oslo route's), and returns when its replay-cache
    /// entry may expire (`u64::MAX`: never). A future signing time must have been refused
    /// before: by [`Self::check_not_future`] for fedmsg-style messages, by the slip's
    /// route expectations (`future_skew`, see [`Self::route_expectations`]) for oslo
    /// envelopes, every hop included.
    pub(crate) fn check_freshness(
        &self,
        signing_time: Option<u64>,
        extra_max_age: Option<u64>,
    ) -> Result<u64, Rejection> {
        let f = &self.config.freshness;
        let now = self.time();
        let max_age = match (f.max_age_secs, extra_max_age) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        match signing_time {
            Some(t) => match max_age {
                Some(max) if now.saturating_sub(t) > max => Err(Rejection::new(
                    Stage::Freshness,
                    "message-too-old",
                    format!(
                        "the message was signed at {}, {} s before the verification time \
                         (max_age_secs: {max})",
                        waxseal_trust::time::format(t),
                        now - t
                    ),
                )),
                Some(max) => Ok(t.saturating_add(max).saturating_add(f.clock_skew_secs)),
                None => Ok(u64::MAX),
            },
            None if max_age.is_some() => Err(Rejection::new(
                Stage::Freshness,
                "missing-signing-time",
                "the signature has no signing time, so its age cannot be checked (max_age_secs is set)",
            )),
            None => Ok(u64::MAX),
        }
    }

    /// Refuses a signing time more than `clock_skew_secs` after the verification time
    /// (`signing-time-in-future`), for fedmsg-style messages (oslo envelopes: the slip).
    pub(crate) fn check_not_future(&self, signing_time: Option<u64>) -> Result<(), Rejection> {
        let skew = self.config.freshness.clock_skew_secs;
        let now = self.time();
        match signing_time {
            Some(t) if t > now.saturating_add(skew) => Err(Rejection::new(
                Stage::Freshness,
                "signing-time-in-future",
                format!(
                    "signed at {}, {} s after the verification time {} (allowed clock skew: {skew} s)",
                    waxseal_trust::time::format(t),
                    t - now,
                    waxseal_trust::time::format(now),
                ),
            )),
            _ => Ok(()),
        }
    }

    /// The refusal for a replay-store answer.
    pub(crate) fn replay_rejection(&self, e: ReplayError) -> Rejection {
        let reason = match e {
            ReplayError::Replayed => {
                "this signature was already accepted: the message is a replay".into()
            }
            ReplayError::Full => format!(
                "the replay cache is full of live entries ({}): refusing rather than forgetting one",
                self.config.freshness.replay_cache_capacity
            ),
            ReplayError::Unavailable => {
                "the replay store cannot be reached: try again later".into()
            }
        };
        if e.is_transient() {
            Rejection::transient(Stage::Freshness, e.code(), reason)
        } else {
            Rejection::new(Stage::Freshness, e.code(), reason)
        }
    }

    /// Loads `path` and builds the bus.
    pub fn from_config_file(path: &std::path::Path) -> Result<Self, ConfigError> {
        // Every problem names the file (and the key: see `new`).
        Self::new(BusConfig::load(path)?)
            .map_err(|e| ConfigError(format!("{}: {}", path.display(), e.0)))
    }

    /// The configuration.
    pub fn config(&self) -> &BusConfig {
        &self.config
    }

    /// The envelope verifier as last built (`None` when validation is switched off),
    /// without refreshing the trust material: see [`Bus::current_verifier`].
    pub fn verifier(&self) -> Option<Arc<Verifier>> {
        self.trust.as_ref().map(|t| t.verifier.load_full())
    }

    /// The envelope verifier after refreshing what is due of the trust material (changed
    /// files, re-read now; expired caches and CRLs past their `nextUpdate`, fetched beside
    /// validation; see [`crate::distribution`]), or a refusal when a CRL URL has nothing
    /// current ([`crate::distribution::CRL_UNAVAILABLE`], transient). `None` when
    /// validation is switched off. Validation calls it before every message. It never
    /// waits for the network: a URL that is due is fetched by a background thread (one
    /// at a time) while the held copies keep serving, and the verifier is rebuilt at the
    /// first validation after the new copy is taken.
    pub fn current_verifier(&self) -> Result<Option<Arc<Verifier>>, Rejection> {
        let Some(t) = &self.trust else {
            return Ok(None);
        };
        let time = self.time();
        // The path of every message: atomics only, and without a refresh interval a
        // `stat` of each trust file; the lock only when something is due or changed.
        let moved = t.watch.generation() != t.seen.load(Ordering::Acquire);
        let due = moved || t.now_ms() >= t.due_at_ms.load(Ordering::Acquire);
        let unchanged = || {
            // Checking before every message, files only: what check_trust would find
            // when each file still looks as it did when read is nothing to do.
            self.refresh_interval.is_zero() && t.files.as_ref().is_some_and(FileWatch::unchanged)
        };
        if due && (moved || !unchanged()) {
            self.check_trust(t, time);
        }
        if time < t.crls_until.load(Ordering::Acquire) {
            return Ok(Some(t.verifier.load_full()));
        }
        // A CRL URL with nothing current: the material says which and why.
        lock(&t.state).material.check_crls(time)?;
        Ok(Some(t.verifier.load_full()))
    }

    /// Checks the sources (changed files; URLs due, fetched in the background) and takes
    /// what changed: a new verifier, swapped in for the next messages.
    fn check_trust(&self, t: &Trust, time: u64) {
        let mut state = lock(&t.state);
        // Another thread may have checked while this one waited for the lock.
        let now = t.now_ms();
        let generation = t.watch.generation();
        let due = now >= t.due_at_ms.load(Ordering::Acquire);
        if !due && generation == t.seen.load(Ordering::Acquire) {
            return;
        }
        if due {
            let interval = u64::try_from(self.refresh_interval.as_millis()).unwrap_or(u64::MAX);
            t.due_at_ms
                .store(now.saturating_add(interval), Ordering::Release);
        }
        // A background refresh that finished meanwhile is taken even when no check is due.
        let changed = if due {
            state.material.refresh(time)
        } else {
            state.material.take_changed()
        };
        if changed {
            self.take_new_material(t, &state);
        }
        t.seen.store(generation, Ordering::Release);
        t.crls_until
            .store(state.material.crls_current_until(), Ordering::Release);
    }

    /// Rebuilds the verifier from the material's new copies.
    fn take_new_material(&self, t: &Trust, state: &TrustState) {
        // New anchors, certificates or CRLs: no path validated under the old ones is
        // served again (their identities are in the cache keys too; this also frees the
        // room they took).
        self.cache.invalidate();
        // On an error keep the previous verifier (e.g. a bundle that now holds no
        // certificate).
        if let Ok(v) = build_verifier(&self.config, &state.material, self.fixed_time, &self.cache) {
            t.verifier.store(Arc::new(v));
        }
    }

    /// Refreshes the trust material now (changed files; every URL, due or not) and waits
    /// for it (for a refresh already running too), then rebuilds the verifier if anything
    /// changed: what a test or an operator's "refresh now" wants. Validation on other
    /// threads goes on meanwhile with the held copies (the fetch holds none of the locks it
    /// takes). Returns whether anything changed; `false` when validation is switched off.
    pub fn refresh_trust(&self) -> bool {
        let Some(t) = &self.trust else {
            return false;
        };
        let time = self.time();
        let refresher = lock(&t.state).material.refresher();
        refresher.run(time);
        let mut state = lock(&t.state);
        let generation = t.watch.generation();
        let changed = state.material.take_changed();
        if changed {
            self.take_new_material(t, &state);
        }
        t.seen.store(generation, Ordering::Release);
        t.crls_until
            .store(state.material.crls_current_until(), Ordering::Release);
        changed
    }

    /// What became of fetched and cached CA bundles and CRLs so far: copies taken, and
    /// refused by reason (older than the held copy, bad signature, not current, unsafe
    /// cache file...). All zero while validation is switched off.
    pub fn distribution_stats(&self) -> crate::distribution::DistributionStats {
        self.trust
            .as_ref()
            .map(|t| lock(&t.state).material.stats())
            .unwrap_or_default()
    }

    /// What the verifiers' path and signature-outcome cache did so far (hits, misses,
    /// entries), over the bus's life: refreshes of the trust material invalidate its
    /// entries ([`CacheStats::generation`] counts them) but keep the counters. All zero
    /// while validation is switched off.
    pub fn cache_stats(&self) -> CacheStats {
        self.cache.stats()
    }

    /// The certificates of a `certificate` field (base64 of PEM, the signer first), each
    /// distinct field decoded once ([`crate::credentials`]): for a surface that reads a
    /// message's certificate itself (fedmsg's x509 wire). `malformed` when the field is
    /// longer than [`MAX_FIELD_LEN`] or cannot be read.
    pub fn certificate_field(&self, field: &str) -> Result<Arc<[Certificate]>, Rejection> {
        self.certificate_field_indexed(field)
            .map(|(certificates, _)| certificates)
    }

    /// [`Bus::certificate_field`], with the certificates also indexed to verify with
    /// ([`Verifier::verify_with_certificates`]).
    pub fn certificate_field_indexed(
        &self,
        field: &str,
    ) -> Result<(Arc<[Certificate]>, Arc<CertStore>), Rejection> {
        if field.len() > MAX_FIELD_LEN {
            return Err(Rejection::format(
                "malformed",
                format!("certificate is longer than {MAX_FIELD_LEN} bytes"),
            ));
        }
        self.certificate_fields.decode_indexed(field)
    }

    /// The authorizer.
    pub fn authorizer(&self) -> &Authorizer {
        &self.authorizer
    }

    /// Route expectations for slips, from the configuration.
    pub fn route_expectations(&self) -> RouteExpectations {
        let r = &self.config.route;
        RouteExpectations {
            itinerary: r.itinerary.clone(),
            required: r.required.clone(),
            max_hops: r.max_hops,
            allow_repeats: r.allow_repeats,
            clock_skew: r.clock_skew_secs,
            // The slip refuses every hop signed in the future, by the freshness setting.
            future_skew: Some(self.config.freshness.clock_skew_secs),
            max_age: r.max_age_secs,
            require_signing_times: false,
        }
    }

    /// Signs an outgoing message ([`Bus::sign`]) if `sign_messages` is on; otherwise
    /// returns it unchanged.
    pub fn prepare(&self, message: &Value, signer: &Signer) -> Result<Value, SignError> {
        if self.config.sign_messages {
            self.sign(message, signer)
        } else {
            Ok(message.clone())
        }
    }

    /// Signs a message as [`sign`] does, time-stamped at the configured `tsa_url` (when
    /// set) before the signature is encoded: each reply is verified against `tsa_trust`
    /// (with the request's nonce, at [`Bus::time`]) and attached to the signature as its
    /// id-aa-signatureTimeStampToken. A TSA out of reach ([`SignError::Timestamp`],
    /// `tsa-unavailable`: ours, try again later) or a reply refused (its reason code)
    /// fails the call: no message is made, so nothing leaves unstamped.
    pub fn sign(&self, message: &Value, signer: &Signer) -> Result<Value, SignError> {
        sign_stamped(message, signer, |cms| self.stamp(cms))
    }

    /// Signs the JSON object `text` as [`sign_text`] does (every member kept byte for
    /// byte), time-stamped as [`Bus::sign`] says.
    pub fn sign_text(&self, text: &str, signer: &Signer) -> Result<String, SignError> {
        sign_text_stamped(text, signer, |cms| self.stamp(cms))
    }

    /// Time-stamps `cms` at `tsa_url`, if the bus has one.
    pub(crate) fn stamp(&self, cms: &mut Envelope) -> Result<(), SignError> {
        match &self.stamper {
            Some(s) => Ok(s.stamp(cms, self.time())?),
            None => Ok(()),
        }
    }

    /// Whether unsigned messages on `topic` are accepted (never for a malformed topic).
    pub fn unsigned_allowed(&self, topic: &str) -> bool {
        check_topic(topic).is_ok() && self.unsigned_topics.iter().any(|g| g.matches(topic))
    }

    /// The checks of a fedmsg-style message, all but the replay store (see
    /// [`Bus::admit`]): `signed_by` narrows the routing policy to that one signer.
    pub(crate) fn check_fedmsg(
        &self,
        message: json::Object<'_>,
        arrived_on: Option<&str>,
        signed_by: Option<&str>,
    ) -> Result<Checked<Validated>, Rejection> {
        let narrowed;
        let authorizer = match signed_by {
            Some(signer) => {
                narrowed = self
                    .authorizer
                    .signed_by(topic_of(message.value())?, signer);
                &narrowed
            }
            None => &self.authorizer,
        };
        let checked = self.check_fedmsg_with(message, authorizer, arrived_on)?;
        if let Some(signer) = signed_by
            && !checked.value.signed
        {
            return Err(Rejection::new(
                Stage::Authorization,
                "not-signed",
                format!("the message is not signed, so not by {signer}"),
            ));
        }
        Ok(checked)
    }

    fn check_fedmsg_with(
        &self,
        wire: json::Object<'_>,
        authorizer: &Authorizer,
        arrived_on: Option<&str>,
    ) -> Result<Checked<Validated>, Rejection> {
        if let Some(t) = arrived_on {
            check_topic(t).map_err(|e| Rejection::format(MALFORMED_TOPIC, e.to_string()))?;
        }
        let Some(verifier) = self.current_verifier()? else {
            return Ok(Checked::unrecorded(Validated {
                signed: false,
                note: "validation is switched off (validate_signatures: false)".into(),
                signer: None,
                entity: None,
                authorization: None,
            }));
        };
        let message = wire.value();
        let Value::Object(obj) = message else {
            return Err(Rejection::format(
                "malformed",
                "a message must be a JSON object",
            ));
        };
        json::check(message).map_err(json_rejection)?;
        let topic = topic_of(message)?;
        if let Some(arrived) = arrived_on
            && arrived != topic
        {
            return Err(Rejection::new(
                Stage::Route,
                TOPIC_MISMATCH,
                format!("the message says topic {topic} but arrived on {arrived}"),
            ));
        }
        let signed = CREDENTIAL_FIELDS.iter().any(|f| wire.contains(f));
        if !signed {
            if self.unsigned_allowed(topic) {
                return Ok(Checked::unrecorded(Validated {
                    signed: false,
                    note: format!("unsigned message accepted: {topic} is an unsigned topic"),
                    signer: None,
                    entity: None,
                    authorization: None,
                }));
            }
            return Err(Rejection::new(
                Stage::Signature,
                "unsigned",
                format!("the message on {topic} is not signed"),
            ));
        }
        match obj.get("crypto") {
            Some(Value::String(c)) if c == "cms" => {}
            Some(other) => {
                return Err(Rejection::format(
                    "unsupported-crypto",
                    format!("crypto is {other}, waxseal validates \"cms\""),
                ));
            }
            None => {
                return Err(Rejection::format(
                    "malformed",
                    "a signed message needs crypto: \"cms\"",
                ));
            }
        }
        let text = |name: &str| -> Result<&str, Rejection> {
            let Some(Ok(s)) = wire.member(name) else {
                return Err(Rejection::format(
                    "malformed",
                    format!("{name} must be a string"),
                ));
            };
            if s.len() > MAX_FIELD_LEN {
                return Err(Rejection::format(
                    "malformed",
                    format!("{name} is longer than {MAX_FIELD_LEN} bytes"),
                ));
            }
            Ok(s)
        };
        let signature = STANDARD
            .decode(text("signature")?.as_bytes())
            .map_err(|e| Rejection::format("malformed", format!("signature is not base64: {e}")))?;
        let (certs, store) = self.certificate_field_indexed(text("certificate")?)?;
        // `json::check(message)` above accepted every number.
        let content = json::canonical_without_checked(message, &CREDENTIAL_FIELDS);
        let envelope = Envelope::parse(&signature)
            .map_err(|e| Rejection::format("malformed", format!("signature: {e}")))?;
        if !envelope.is_detached() {
            return Err(Rejection::format(
                "malformed",
                "signature must be a detached CMS signature",
            ));
        }
        // The field's certificates, as if the signature carried them, indexed once per
        // distinct field rather than for every message.
        let verified = verifier
            .verify_with_certificates(&envelope, Some(&content), &store)
            .map_err(|e| Rejection::verify(&e))?;
        let origin = &verified.signers()[0];
        let signer = &origin.certificate;
        if Some(signer) != certs.first() {
            return Err(Rejection::new(
                Stage::Certificate,
                "certificate-mismatch",
                format!(
                    "the certificate field ({}) is not the signer's ({})",
                    certs
                        .first()
                        .map(|c| c.subject_display())
                        .unwrap_or_default(),
                    signer.subject_display()
                ),
            ));
        }
        self.check_not_future(origin.signing_time)?;
        let expires = self.check_freshness(origin.signing_time, None)?;
        let authorization = authorizer.authorize(signer, topic, Some(message));
        if let Some(d) = authorization.denial() {
            return Err(Rejection::new(
                Stage::Authorization,
                d.code,
                d.reason.clone(),
            ));
        }
        Ok(Checked {
            value: Validated {
                signed: true,
                note: format!("signed by {}", signer.subject_display()),
                signer: Some(signer.subject_display()),
                entity: authorization.entity.clone(),
                authorization: Some(authorization),
            },
            record: Some((
                replay_key(signer, origin.signed_attributes(), &content),
                expires,
            )),
        })
    }
}

/// A message that passed every check but the replay store, and what to record there.
pub(crate) struct Checked<T> {
    pub(crate) value: T,
    /// The replay key and its expiry (`None`: nothing to record, for an unsigned message
    /// or with validation switched off).
    pub(crate) record: Option<([u8; 32], u64)>,
}

impl<T> Checked<T> {
    pub(crate) fn unrecorded(value: T) -> Self {
        Self {
            value,
            record: None,
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

pub(crate) fn json_rejection(e: json::JsonError) -> Rejection {
    Rejection::format(e.code, e.message)
}

fn topic_of(message: &Value) -> Result<&str, Rejection> {
    match message.get("topic") {
        Some(Value::String(t)) => {
            check_topic(t).map_err(|e| Rejection::format(MALFORMED_TOPIC, e.to_string()))?;
            Ok(t)
        }
        Some(_) => Err(Rejection::format("malformed", "topic must be a string")),
        None => Err(Rejection::format(
            "missing-topic",
            "the message has no topic",
        )),
    }
}
