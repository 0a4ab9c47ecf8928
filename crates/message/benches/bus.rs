//! What the bus layer costs on top of the envelope: for P-256 and RSA-2048, the
//! envelope's warm verification of a signature beside [`Bus`] validating a fedmsg-style
//! message and an oslo envelope carrying the same kind of signature.
//!
//! ```text
//! cargo bench -p waxseal-message --bench bus        (bench/bus_overhead.sh runs it)
//! ```
//!
//! The two sides, per algorithm and message kind:
//!
//! - `envelope`: `Verifier::verify_bytes` of the message's own CMS (the `signature` field's
//!   detached CMS over the message's canonical bytes, the signer's certificate and its CA
//!   given separately as the `certificate` field gives them; for oslo the
//!   `oslo.signature` CMS over the `oslo.message` text, the signer's certificate embedded)
//!   under the bus's trust (root anchor, signing CA, CRLs), paths cached, signature
//!   outcomes not (every message pays its signature check);
//! - `bus`: `Bus::validate_bytes` of the fedmsg-style message, `Bus::verify_oslo_bytes` of
//!   the oslo envelope, from wire bytes: strict JSON, canonical form, base64, the
//!   certificate field, the signature and path (cached), routing policy, freshness, and
//!   the replay store in memory mode (the default). Two ways: as `Bus::new` makes it,
//!   checking its trust files before every message (a `stat` of each: a changed anchor,
//!   intermediate or CRL file is used by the very next message), and with a refresh
//!   interval of one second, as the gateway runs it (`--watch-ms`), whose per-message
//!   path reads atomics only (`bus-interval`).
//!
//! Every message is distinct, so the replay store never refuses one: each timed pass
//! validates [`MESSAGES`] messages through a new `Bus` (made, and warmed on one more
//! message of the same signer, outside the timing), while the envelope side reuses its
//! verifier (its signature cache is off, so it checks every signature every pass).
//!
//! After criterion's figures the bench prints the ratios bus ÷ envelope, measured side by
//! side: the four measurements of an algorithm take turns pass by pass, so a shared
//! machine's load falls on all of them alike (`BUS_RATIO_SECONDS` of each, default 2).
//! The goal is at most 1.10.

use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::json;
use waxseal_envelope::{
    CertStore, Certificate, CrlSet, KeyAlgorithm, KeyFileCheck, PathCache, Signer, TrustAnchors,
    Verifier,
};
use waxseal_message::{Bus, BusConfig, Route, json as wjson, oslo, sign, strip_credentials};
use waxseal_pki::{Lifetimes, PkiDir, Seed, ServiceHost};

/// Messages per timed pass (each validated once by that pass's `Bus`).
const MESSAGES: usize = 256;

const FEDMSG_HOST: &str = "bodhi-app01.example.org";
const OSLO_HOST: &str = "compute-node01.example.org";
const OSLO_TOPIC: &str = "scheduler";

/// One algorithm's PKI, bus configuration and messages.
struct Setup {
    alg: KeyAlgorithm,
    _tmp: tempfile::TempDir,
    config: BusConfig,
    /// fedmsg-style messages on the wire ([`MESSAGES`] + 1 for warming a new bus).
    fedmsg: Vec<Vec<u8>>,
    /// Their CMS (the decoded `signature` field) and the canonical bytes it signs.
    fedmsg_cms: Vec<(Vec<u8>, Vec<u8>)>,
    /// oslo envelopes on the wire, and their CMS with the `oslo.message` text.
    oslo: Vec<Vec<u8>>,
    oslo_cms: Vec<(Vec<u8>, Vec<u8>)>,
    /// The envelope side: for fedmsg (signer and CA in the store) and for oslo (CA only:
    /// the CMS carries the signer's certificate).
    fedmsg_verifier: Verifier,
    oslo_verifier: Verifier,
}

fn read_certs(path: &Path) -> Vec<Certificate> {
    Certificate::load_all(&std::fs::read(path).unwrap()).unwrap()
}

impl Setup {
    fn new(alg: KeyAlgorithm) -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("pki");
        let mut pki = PkiDir::init(&dir, Seed::default(), alg, Lifetimes::default()).unwrap();
        let hosts: Vec<ServiceHost> = [FEDMSG_HOST, OSLO_HOST]
            .iter()
            .map(|n| ServiceHost::parse(n).unwrap())
            .collect();
        pki.issue(&hosts, false, false).unwrap();
        let cfg = json!({
            "trust": ["root-ca.crt"],
            "certs": ["signing-ca.crt"],
            "crls": ["crl.pem"],
            "routing_policy": {
                "org.example.prod.bodhi.#": ["bodhi-*"],
                OSLO_TOPIC: ["compute-*"]
            },
            "replay_store": "memory"
        });
        let config = BusConfig::from_json(&cfg.to_string(), &dir).unwrap();
        let signer = |name: &str| -> Signer {
            waxseal_pki::load_signer(&dir, name, KeyFileCheck::OwnerOnly).unwrap()
        };

        // fedmsg-style: the signer's certificate and its CA in the `certificate` field.
        let bodhi = signer(FEDMSG_HOST);
        let mut fedmsg = Vec::new();
        let mut fedmsg_cms = Vec::new();
        for n in 0..=MESSAGES {
            let msg = json!({
                "topic": "org.example.prod.bodhi.update.comment",
                "msg": {"comment": {"text": "a".repeat(700), "karma": 1, "update": format!("FEDORA-2026-{n:08}")}},
                "msg_id": format!("2026-{n:08}"),
                "i": n,
                "timestamp": 1_795_392_000 + n,
            });
            let signed = sign(&msg, &bodhi).unwrap();
            let cms = STANDARD
                .decode(signed["signature"].as_str().unwrap())
                .unwrap();
            let content = wjson::canonical(&strip_credentials(&signed)).unwrap();
            fedmsg.push(serde_json::to_vec(&signed).unwrap());
            fedmsg_cms.push((cms, content));
        }

        // oslo: the origin binds the route; its certificate is embedded in the CMS.
        let origin = oslo::route_signer(
            signer(OSLO_HOST).with_chain(Vec::new()),
            &Route::topic(OSLO_TOPIC),
        )
        .unwrap();
        let mut oslo_wire = Vec::new();
        let mut oslo_cms = Vec::new();
        for n in 0..=MESSAGES {
            let request = json!({
                "method": "select_destinations",
                "args": {"host": "node01.example.org", "spec": {"num_instances": 1, "n": n, "filter": "b".repeat(700)}},
                "version": "4.3"
            });
            let signed = oslo::sign(&oslo::wrap(&request).unwrap(), &origin).unwrap();
            let cms = STANDARD
                .decode(signed[oslo::SIGNATURE_KEY].as_str().unwrap())
                .unwrap();
            let text = signed[oslo::MESSAGE_KEY]
                .as_str()
                .unwrap()
                .as_bytes()
                .to_vec();
            oslo_wire.push(serde_json::to_vec(&signed).unwrap());
            oslo_cms.push((cms, text));
        }

        let anchors = TrustAnchors::new(read_certs(&dir.join("root-ca.crt"))).unwrap();
        let ca = read_certs(&dir.join("signing-ca.crt"));
        let crls = CrlSet::from_crls(
            waxseal_envelope::Crl::load_all(&std::fs::read(dir.join("crl.pem")).unwrap()).unwrap(),
        );
        let verifier = |store: CertStore| {
            Verifier::new(anchors.clone())
                .with_store(store)
                .with_crls(crls.clone())
                .with_cache(Arc::new(PathCache::new(16).with_signature_capacity(0)))
        };
        let fedmsg_verifier = verifier(CertStore::from_certificates(
            bodhi
                .chain()
                .iter()
                .cloned()
                .chain([bodhi.certificate().clone()]),
        ));
        let oslo_verifier = verifier(CertStore::from_certificates(ca));
        Self {
            alg,
            _tmp: tmp,
            config,
            fedmsg,
            fedmsg_cms,
            oslo: oslo_wire,
            oslo_cms,
            fedmsg_verifier,
            oslo_verifier,
        }
    }

    /// A new bus (a new, empty replay store), warmed on the spare message of each kind;
    /// `interval`: checking its files at most every second rather than before every
    /// message.
    fn bus(&self, interval: bool) -> Bus {
        let mut bus = Bus::new(self.config.clone()).unwrap();
        if interval {
            bus = bus.with_refresh_interval(Duration::from_secs(1));
        }
        bus.validate_bytes(&self.fedmsg[MESSAGES]).unwrap();
        bus.verify_oslo_bytes(&self.oslo[MESSAGES], OSLO_TOPIC)
            .unwrap();
        bus
    }

    /// One timed pass of `what` over [`MESSAGES`] messages.
    fn pass(&self, what: What) -> Duration {
        match what {
            What::Envelope(kind) => {
                let (v, cms) = match kind {
                    Kind::Fedmsg => (&self.fedmsg_verifier, &self.fedmsg_cms),
                    Kind::Oslo => (&self.oslo_verifier, &self.oslo_cms),
                };
                let start = Instant::now();
                for (der, content) in &cms[..MESSAGES] {
                    black_box(v.verify_bytes(black_box(der), Some(content)).unwrap());
                }
                start.elapsed()
            }
            What::Bus(kind, interval) => {
                let bus = self.bus(interval);
                let start = Instant::now();
                match kind {
                    Kind::Fedmsg => {
                        for m in &self.fedmsg[..MESSAGES] {
                            black_box(bus.validate_bytes(black_box(m)).unwrap());
                        }
                    }
                    Kind::Oslo => {
                        for m in &self.oslo[..MESSAGES] {
                            black_box(bus.verify_oslo_bytes(black_box(m), OSLO_TOPIC).unwrap());
                        }
                    }
                }
                start.elapsed()
            }
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Fedmsg,
    Oslo,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum What {
    Envelope(Kind),
    /// The bus; `true`: with a refresh interval.
    Bus(Kind, bool),
}

impl What {
    fn name(self) -> &'static str {
        match self {
            Self::Envelope(Kind::Fedmsg) => "envelope/fedmsg-signature",
            Self::Bus(Kind::Fedmsg, false) => "bus/fedmsg",
            Self::Bus(Kind::Fedmsg, true) => "bus-interval/fedmsg",
            Self::Envelope(Kind::Oslo) => "envelope/oslo-signature",
            Self::Bus(Kind::Oslo, false) => "bus/oslo",
            Self::Bus(Kind::Oslo, true) => "bus-interval/oslo",
        }
    }
}

const ALL: [What; 6] = [
    What::Envelope(Kind::Fedmsg),
    What::Bus(Kind::Fedmsg, false),
    What::Bus(Kind::Fedmsg, true),
    What::Envelope(Kind::Oslo),
    What::Bus(Kind::Oslo, false),
    What::Bus(Kind::Oslo, true),
];

fn setups() -> &'static [Setup] {
    static SETUPS: std::sync::OnceLock<Vec<Setup>> = std::sync::OnceLock::new();
    SETUPS.get_or_init(|| {
        vec![
            Setup::new(KeyAlgorithm::P256),
            Setup::new(KeyAlgorithm::Rsa2048),
        ]
    })
}

fn criterion_figures(c: &mut Criterion) {
    for s in setups() {
        let mut g = c.benchmark_group(s.alg.name());
        g.throughput(criterion::Throughput::Elements(MESSAGES as u64));
        for what in ALL {
            g.bench_function(what.name(), |b| {
                b.iter_custom(|passes| (0..passes).map(|_| s.pass(what)).sum())
            });
        }
        g.finish();
    }
}

/// The ratios, measured side by side: the measurements of an algorithm take turns, one
/// pass each, until each has run for `RATIO_SECONDS` (`BUS_RATIO_SECONDS` in the
/// environment, default 2).
fn ratios(_: &mut Criterion) {
    let seconds: f64 = std::env::var("BUS_RATIO_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2.0);
    let load = || std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let before = load();
    let mut rows = Vec::new();
    for s in setups() {
        let mut spent = [Duration::ZERO; ALL.len()];
        let mut passes = [0u32; ALL.len()];
        while spent.iter().any(|t| t.as_secs_f64() < seconds) {
            for (i, what) in ALL.iter().enumerate() {
                spent[i] += s.pass(*what);
                passes[i] += 1;
            }
        }
        let per_message =
            |i: usize| spent[i].as_secs_f64() * 1e6 / (f64::from(passes[i]) * MESSAGES as f64);
        for (kind, e, b, bi) in [
            ("fedmsg-style message", 0, 1, 2),
            ("oslo envelope", 3, 4, 5),
        ] {
            rows.push((
                s.alg.name(),
                kind,
                per_message(e),
                per_message(b),
                per_message(bi),
            ));
        }
    }
    println!();
    println!(
        "bus ÷ envelope, side by side ({MESSAGES} distinct messages a pass, passes taking turns; load average {} before, {} after):",
        before
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" "),
        load()
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    println!(
        "(bus: files checked before every message, as Bus::new makes it; bus-interval: a 1 s refresh interval, as the gateway runs it)"
    );
    println!(
        "{:<9} {:<22} {:>11} {:>8} {:>7} {:>13} {:>7}",
        "algorithm", "message", "envelope µs", "bus µs", "ratio", "bus-interval µs", "ratio"
    );
    for (alg, kind, e, b, bi) in rows {
        println!(
            "{alg:<9} {kind:<22} {e:>11.1} {b:>8.1} {:>7.3} {bi:>15.1} {:>7.3}",
            b / e,
            bi / e
        );
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10).measurement_time(Duration::from_secs(3));
    targets = criterion_figures, ratios
}
criterion_main!(benches);
