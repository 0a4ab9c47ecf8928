//! The gateway's Prometheus metrics (served at `/metrics` by [`crate::http`]), in the
//! OpenMetrics text format that Prometheus scrapes:
//!
//! | name | type | labels |
//! |---|---|---|
//! | `waxseal_gateway_messages_received_total` | counter | |
//! | `waxseal_gateway_messages_verified_total` | counter | |
//! | `waxseal_gateway_messages_refused_total` | counter | `reason` |
//! | `waxseal_gateway_messages_requeued_total` | counter | `reason` |
//! | `waxseal_gateway_messages_unroutable_total` | counter | |
//! | `waxseal_gateway_redelivered_duplicates_total` | counter | |
//! | `waxseal_gateway_replay_settled_total` | counter | |
//! | `waxseal_gateway_replay_settle_failures_total` | counter | |
//! | `waxseal_gateway_republish_latency_seconds` | histogram | |
//! | `waxseal_gateway_reloads_total` | counter | `result` (`ok`, `error`) |
//! | `waxseal_gateway_reconnects_total` | counter | |
//! | `waxseal_gateway_connected` | gauge | |
//! | `waxseal_gateway_cache_*` | gauge | see [`cache_figures`] |
//!
//! The latency is from the delivery's arrival to the broker's confirmation of the
//! republished message (validation, countersigning and publishing included).

use std::sync::atomic::AtomicI64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use waxseal_message::Bus;

/// A label set with one `reason` label.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Reason {
    /// The reason code.
    pub reason: String,
}

/// A label set with one `result` label.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Outcome {
    /// `ok` or `error`.
    pub result: String,
}

/// The bus's verification-cache counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CacheFigures {
    /// Certificate-path cache hits.
    pub path_hits: u64,
    /// Certificate-path cache misses.
    pub path_misses: u64,
    /// Signature-outcome cache hits.
    pub signature_hits: u64,
    /// Signature-outcome cache misses.
    pub signature_misses: u64,
    /// Entries held.
    pub entries: u64,
}

/// The bus's cache counters ([`Bus::cache_stats`]). A reload makes a new bus with a new
/// cache, so the gauges start again from zero after one.
pub fn cache_figures(bus: &Bus) -> Option<CacheFigures> {
    let s = bus.cache_stats();
    Some(CacheFigures {
        path_hits: s.path_hits,
        path_misses: s.path_misses,
        signature_hits: s.signature_hits,
        signature_misses: s.signature_misses,
        entries: s.entries as u64,
    })
}

/// Every metric, registered.
pub struct Metrics {
    /// The registry `/metrics` encodes.
    pub registry: Registry,
    /// Messages received.
    pub received: Counter,
    /// Messages verified.
    pub verified: Counter,
    /// Messages refused, by reason.
    pub refused: Family<Reason, Counter>,
    /// Messages requeued (not decided, or not taken by the broker), by reason.
    pub requeued: Family<Reason, Counter>,
    /// Verified messages no queue was bound for (returned by the broker).
    pub unroutable: Counter,
    /// Broker redeliveries of messages already accepted.
    pub duplicates: Counter,
    /// Replay keys settled after their acknowledgement.
    pub settled: Counter,
    /// Replay keys the store could not settle.
    pub settle_failures: Counter,
    /// Arrival to confirmation, in seconds.
    pub latency: Histogram,
    /// Configuration reloads, by result.
    pub reloads: Family<Outcome, Counter>,
    /// Reconnections to the broker.
    pub reconnects: Counter,
    /// 1 while connected and consuming.
    pub connected: Gauge,
    /// The cache gauges, registered when [`cache_figures`] reports.
    cache: Option<[Gauge<i64, AtomicI64>; 5]>,
}

impl Metrics {
    /// Registers every metric; the cache gauges only if `bus` reports cache figures.
    pub fn new(bus: &Bus) -> Self {
        let mut registry = Registry::with_prefix("waxseal_gateway");
        let received = Counter::default();
        registry.register("messages_received", "Messages received", received.clone());
        let verified = Counter::default();
        registry.register(
            "messages_verified",
            "Messages verified and republished",
            verified.clone(),
        );
        let refused = Family::<Reason, Counter>::default();
        registry.register(
            "messages_refused",
            "Messages refused, by reason code",
            refused.clone(),
        );
        let requeued = Family::<Reason, Counter>::default();
        registry.register(
            "messages_requeued",
            "Messages requeued to be tried again, by reason",
            requeued.clone(),
        );
        let unroutable = Counter::default();
        registry.register(
            "messages_unroutable",
            "Verified messages no queue was bound for, sent to the rejected exchange",
            unroutable.clone(),
        );
        let duplicates = Counter::default();
        registry.register(
            "redelivered_duplicates",
            "Broker redeliveries of messages already accepted",
            duplicates.clone(),
        );
        let settled = Counter::default();
        registry.register(
            "replay_settled",
            "Replay keys settled after their acknowledgement went out",
            settled.clone(),
        );
        let settle_failures = Counter::default();
        registry.register(
            "replay_settle_failures",
            "Replay keys the store could not settle (they stay admitted)",
            settle_failures.clone(),
        );
        // 100 µs to about 3 s.
        let latency = Histogram::new(exponential_buckets(0.0001, 2.0, 16));
        registry.register_with_unit(
            "republish_latency",
            "Arrival to broker confirmation of the republished message",
            prometheus_client::registry::Unit::Seconds,
            latency.clone(),
        );
        let reloads = Family::<Outcome, Counter>::default();
        registry.register(
            "reloads",
            "Bus configuration reloads, by result",
            reloads.clone(),
        );
        let reconnects = Counter::default();
        registry.register(
            "reconnects",
            "Reconnections to the broker",
            reconnects.clone(),
        );
        let connected = Gauge::default();
        registry.register(
            "connected",
            "1 while connected and consuming",
            connected.clone(),
        );
        let cache = cache_figures(bus).map(|_| {
            let g: [Gauge<i64, AtomicI64>; 5] = Default::default();
            for (name, help, g) in [
                ("cache_path_hits", "Certificate-path cache hits", &g[0]),
                ("cache_path_misses", "Certificate-path cache misses", &g[1]),
                ("cache_signature_hits", "Signature cache hits", &g[2]),
                ("cache_signature_misses", "Signature cache misses", &g[3]),
                ("cache_entries", "Verification cache entries", &g[4]),
            ] {
                registry.register(name, help, g.clone());
            }
            g
        });
        Self {
            registry,
            received,
            verified,
            refused,
            requeued,
            unroutable,
            duplicates,
            settled,
            settle_failures,
            latency,
            reloads,
            reconnects,
            connected,
            cache,
        }
    }

    /// Counts a refusal.
    pub fn refuse(&self, reason: &str) {
        self.refused
            .get_or_create(&Reason {
                reason: reason.into(),
            })
            .inc();
    }

    /// Counts a requeued message.
    pub fn requeue(&self, reason: &str) {
        self.requeued
            .get_or_create(&Reason {
                reason: reason.into(),
            })
            .inc();
    }

    /// Counts a reload.
    pub fn reload(&self, ok: bool) {
        self.reloads
            .get_or_create(&Outcome {
                result: if ok { "ok" } else { "error" }.into(),
            })
            .inc();
    }

    /// The text of `/metrics`, the cache gauges first brought up to date from `bus`.
    pub fn encode(&self, bus: &Bus) -> String {
        if let (Some(g), Some(f)) = (&self.cache, cache_figures(bus)) {
            let clamp = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
            for (g, v) in g.iter().zip([
                f.path_hits,
                f.path_misses,
                f.signature_hits,
                f.signature_misses,
                f.entries,
            ]) {
                g.set(clamp(v));
            }
        }
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String does not fail");
        out
    }
}
