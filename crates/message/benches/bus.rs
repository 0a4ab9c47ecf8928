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
//! side: the measurements of an algorithm take turns pass by pass, so a shared machine's
//! load falls on all of them alike (`BUS_RATIO_SECONDS` of each, default 2). The goal is
//! at most 1.10.
//!
//! Then the floor: the same passes with every signature outcome already cached, on the
//! envelope's side (a verifier keeping outcomes, warmed on every message) and on the
//! bus's (`bus-floor`: one bus with a 1 s refresh interval, warmed on every message, its
//! memory replay store emptied before each pass). No signature is checked, so what is
//! left is each side's other work, and their difference is what the bus layer adds: the
//! 1.10 goal needs it at most a tenth of the envelope's full time.
//!
//! Two more modes for finding where the time goes (nothing else runs in them):
//!
//! - `BUS_BREAKDOWN=1`: the steps of a validation timed one at a time, µs a message;
//! - `BUS_PROFILE=ALGORITHM/NAME` (e.g. `rsa2048/bus-floor/fedmsg`): that measurement's
//!   passes in a loop for `BUS_RATIO_SECONDS`, for `perf record -e cpu-clock --call-graph
//!   dwarf target/release/deps/bus-* --bench`.

use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::json;
use waxseal_envelope::rfc5652::CertificateChoice;
use waxseal_envelope::{Envelope, Signer, Verifier};
use waxseal_message::replay::memory::MemoryStore;
use waxseal_message::{
    Admission, Bus, BusConfig, ReplayError, ReplayStore, Route, json as wjson, oslo, sign,
    strip_credentials,
};
use waxseal_pki::{Lifetimes, PkiDir, Seed, ServiceHost};
use waxseal_trust::{
    CertStore, Certificate, CrlSet, KeyAlgorithm, KeyFileCheck, PathCache, TrustAnchors,
};

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
    /// The floor rows: the same verifiers keeping signature outcomes, warmed on every
    /// message, so that a pass checks no signature.
    fedmsg_verifier_cached: Verifier,
    oslo_verifier_cached: Verifier,
    /// The floor rows' bus (a 1 s refresh interval), warmed on every message (its
    /// signature outcomes kept), and its replay store, emptied before each pass.
    floor_bus: Bus,
    floor_store: Arc<Resettable>,
}

/// A memory replay store that a pass of the floor rows empties (their bus is made once,
/// to keep its signature outcomes): one uncontended mutex more per message than the
/// memory store alone.
struct Resettable(std::sync::Mutex<Arc<MemoryStore>>);

impl Resettable {
    fn new() -> Self {
        Self(std::sync::Mutex::new(Arc::new(MemoryStore::new(1 << 16))))
    }

    fn reset(&self) {
        *self.0.lock().unwrap() = Arc::new(MemoryStore::new(1 << 16));
    }
}

impl ReplayStore for Resettable {
    fn admit(
        &self,
        key: [u8; 32],
        expires: u64,
        now: u64,
        redelivered: bool,
    ) -> Result<Admission, ReplayError> {
        let store = self.0.lock().unwrap().clone();
        store.admit(key, expires, now, redelivered)
    }

    fn settle(&self, key: [u8; 32], now: u64) -> Result<(), ReplayError> {
        let store = self.0.lock().unwrap().clone();
        store.settle(key, now)
    }

    fn describe(&self) -> String {
        "memory, emptied before each pass".into()
    }
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
            waxseal_trust::Crl::load_all(&std::fs::read(dir.join("crl.pem")).unwrap()).unwrap(),
        );
        let verifier = |store: CertStore| {
            Verifier::new(anchors.clone())
                .with_store(store)
                .with_crls(crls.clone())
                .with_cache(Arc::new(PathCache::new(16).with_signature_capacity(0)))
        };
        let fedmsg_store = CertStore::from_certificates(
            bodhi
                .chain()
                .iter()
                .cloned()
                .chain([bodhi.certificate().clone()]),
        );
        let fedmsg_verifier = verifier(fedmsg_store.clone());
        let oslo_verifier = verifier(CertStore::from_certificates(ca.clone()));
        let cached = |store: CertStore, cms: &[(Vec<u8>, Vec<u8>)]| {
            let v = Verifier::new(anchors.clone())
                .with_store(store)
                .with_crls(crls.clone())
                .with_cache(Arc::new(PathCache::new(1024)));
            for (der, content) in cms {
                v.verify_bytes(der, Some(content)).unwrap();
            }
            v
        };
        let fedmsg_verifier_cached = cached(fedmsg_store, &fedmsg_cms);
        let oslo_verifier_cached = cached(CertStore::from_certificates(ca), &oslo_cms);
        let floor_store = Arc::new(Resettable::new());
        let floor_bus = Bus::new(config.clone())
            .unwrap()
            .with_refresh_interval(Duration::from_secs(1))
            .with_replay_store(floor_store.clone());
        for m in &fedmsg {
            floor_bus.validate_bytes(m).unwrap();
        }
        for m in &oslo_wire {
            floor_bus.verify_oslo_bytes(m, OSLO_TOPIC).unwrap();
        }
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
            fedmsg_verifier_cached,
            oslo_verifier_cached,
            floor_bus,
            floor_store,
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

    /// Message `i` through `bus`, its replay-store entry aside: a second validation of a
    /// message is a replay, so the breakdown admits it unrecorded.
    fn bus_fresh_validate(&self, bus: &Bus, i: usize) -> waxseal_message::Admitted {
        let e = bus
            .examine(&self.fedmsg[i], &waxseal_message::Arrival::unrouted())
            .unwrap();
        e.unrecorded()
    }

    fn bus_fresh_oslo(&self, bus: &Bus, i: usize) -> waxseal_message::Admitted {
        let e = bus
            .examine(
                &self.oslo[i],
                &waxseal_message::Arrival::on(Route::topic(OSLO_TOPIC)),
            )
            .unwrap();
        e.unrecorded()
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
            What::EnvelopeFloor(kind) => {
                let (v, cms) = match kind {
                    Kind::Fedmsg => (&self.fedmsg_verifier_cached, &self.fedmsg_cms),
                    Kind::Oslo => (&self.oslo_verifier_cached, &self.oslo_cms),
                };
                let start = Instant::now();
                for (der, content) in &cms[..MESSAGES] {
                    black_box(v.verify_bytes(black_box(der), Some(content)).unwrap());
                }
                start.elapsed()
            }
            What::BusFloor(kind) => {
                self.floor_store.reset();
                self.validate_all(&self.floor_bus, kind)
            }
            What::Bus(kind, interval) => self.validate_all(&self.bus(interval), kind),
        }
    }

    /// The time `bus` takes to validate one pass of `kind`'s messages.
    fn validate_all(&self, bus: &Bus, kind: Kind) -> Duration {
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
    /// The envelope with every signature outcome cached: its work beyond the signature.
    EnvelopeFloor(Kind),
    /// The bus (refresh interval) with every signature outcome cached: its work beyond
    /// the signature.
    BusFloor(Kind),
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
            Self::EnvelopeFloor(Kind::Fedmsg) => "envelope-floor/fedmsg-signature",
            Self::BusFloor(Kind::Fedmsg) => "bus-floor/fedmsg",
            Self::EnvelopeFloor(Kind::Oslo) => "envelope-floor/oslo-signature",
            Self::BusFloor(Kind::Oslo) => "bus-floor/oslo",
        }
    }
}

const ALL: [What; 10] = [
    What::Envelope(Kind::Fedmsg),
    What::Bus(Kind::Fedmsg, false),
    What::Bus(Kind::Fedmsg, true),
    What::EnvelopeFloor(Kind::Fedmsg),
    What::BusFloor(Kind::Fedmsg),
    What::Envelope(Kind::Oslo),
    What::Bus(Kind::Oslo, false),
    What::Bus(Kind::Oslo, true),
    What::EnvelopeFloor(Kind::Oslo),
    What::BusFloor(Kind::Oslo),
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

/// `BUS_PROFILE=ALGORITHM/NAME` (e.g. `rsa2048/bus-interval/fedmsg`): runs that one
/// measurement's passes for `BUS_RATIO_SECONDS` and nothing else, for a profiler
/// (`perf record -e cpu-clock --call-graph dwarf target/release/deps/bus-*`).
fn profile_only() -> bool {
    let Ok(target) = std::env::var("BUS_PROFILE") else {
        return false;
    };
    let seconds = ratio_seconds();
    for s in setups() {
        for what in ALL {
            if format!("{}/{}", s.alg.name(), what.name()) != target {
                continue;
            }
            let (mut spent, mut passes) = (Duration::ZERO, 0u32);
            while spent.as_secs_f64() < seconds {
                spent += s.pass(what);
                passes += 1;
            }
            println!(
                "{target}: {:.2} µs a message",
                spent.as_secs_f64() * 1e6 / (f64::from(passes) * MESSAGES as f64)
            );
        }
    }
    true
}

/// `BUS_BREAKDOWN=1`: what the steps of a message's validation cost each, in µs a
/// message, timed one step at a time over the [`MESSAGES`] messages (each step's inputs
/// made beforehand by the steps before it, through the public API): where the bus's time
/// beyond the envelope's goes. Then nothing else runs.
fn breakdown_only() -> bool {
    if std::env::var_os("BUS_BREAKDOWN").is_none() {
        return false;
    }
    let seconds = ratio_seconds() / 8.0;
    for s in setups() {
        let b = Breakdown {
            s,
            bus: s.bus(false),
            seconds,
        };
        let values: Vec<serde_json::Value> =
            s.fedmsg.iter().map(|m| wjson::parse(m).unwrap()).collect();
        let field = |i: usize, k: &str| values[i][k].as_str().unwrap().to_string();
        let certs: Vec<String> = (0..MESSAGES).map(|i| field(i, "certificate")).collect();
        b.fedmsg_reading(&values, &certs);
        b.fedmsg_checking(&values, &certs);
        b.oslo();
        println!();
    }
    true
}

/// One setup's breakdown: its bus (files checked) and how long each figure is timed.
struct Breakdown {
    s: &'static Setup,
    bus: Bus,
    seconds: f64,
}

impl Breakdown {
    /// Prints one figure.
    fn row(&self, name: &str, us: f64) {
        println!("{:<9} {name:<58} {us:>8.2}", self.s.alg.name());
    }

    /// µs a message of `f` over the messages, repeated for the figure's seconds.
    fn time(&self, mut f: impl FnMut(usize)) -> f64 {
        let n = MESSAGES;
        let (mut spent, mut passes) = (Duration::ZERO, 0u32);
        while spent.as_secs_f64() < self.seconds {
            let start = Instant::now();
            for i in 0..n {
                f(i);
            }
            spent += start.elapsed();
            passes += 1;
        }
        spent.as_secs_f64() * 1e6 / (f64::from(passes) * n as f64)
    }

    /// µs a message of a whole bench pass.
    fn whole(&self, what: What) -> f64 {
        let (mut spent, mut passes) = (Duration::ZERO, 0u32);
        while spent.as_secs_f64() < self.seconds {
            spent += self.s.pass(what);
            passes += 1;
        }
        spent.as_secs_f64() * 1e6 / (f64::from(passes) * MESSAGES as f64)
    }

    /// fedmsg-style: the whole bus, the reference, and reading a message (JSON, base64,
    /// the certificate field, the CMS).
    fn fedmsg_reading(&self, values: &[serde_json::Value], certs: &[String]) {
        let (s, bus) = (self.s, &self.bus);
        let sigs: Vec<String> = values
            .iter()
            .map(|v| v["signature"].as_str().unwrap().to_string())
            .collect();
        self.row(
            "fedmsg: whole bus",
            self.whole(What::Bus(Kind::Fedmsg, false)),
        );
        self.row(
            "fedmsg: whole bus-interval",
            self.whole(What::Bus(Kind::Fedmsg, true)),
        );
        self.row(
            "fedmsg: Bus::examine, unrecorded (signatures cached)",
            self.time(|i| {
                black_box(s.bus_fresh_validate(bus, i));
            }),
        );
        self.row(
            "fedmsg: serde_json::from_slice::<Value> (not strict)",
            self.time(|i| {
                black_box(serde_json::from_slice::<serde_json::Value>(&s.fedmsg[i]).unwrap());
            }),
        );
        self.row(
            "fedmsg: json::check_surrogates",
            self.time(|i| {
                wjson::check_surrogates(&s.fedmsg[i]).unwrap();
            }),
        );
        self.row(
            "fedmsg: envelope verify_bytes (the reference)",
            self.time(|i| {
                let (der, content) = &s.fedmsg_cms[i];
                black_box(s.fedmsg_verifier.verify_bytes(der, Some(content)).unwrap());
            }),
        );
        self.row(
            "Bus::current_verifier, files checked (a statx of each of 3)",
            self.time(|_| {
                black_box(bus.current_verifier().unwrap());
            }),
        );
        let bus_interval = s.bus(true);
        self.row(
            "Bus::current_verifier, 1 s refresh interval",
            self.time(|_| {
                black_box(bus_interval.current_verifier().unwrap());
            }),
        );
        self.row(
            "fedmsg: json::parse (strict)",
            self.time(|i| {
                black_box(wjson::parse(&s.fedmsg[i]).unwrap());
            }),
        );
        self.row(
            "fedmsg: json::parse_object (credentials apart) + drop",
            self.time(|i| {
                black_box(
                    wjson::parse_object(&s.fedmsg[i], &["signature", "certificate"]).unwrap(),
                );
            }),
        );
        self.row("fedmsg: drop of the parsed value", {
            let mut copies: Vec<Option<serde_json::Value>> = Vec::new();
            self.time(|i| {
                if i == 0 {
                    copies = values.iter().cloned().map(Some).collect();
                }
                drop(black_box(copies[i].take()));
            })
        });
        self.row(
            "fedmsg: json::check",
            self.time(|i| {
                wjson::check(&values[i]).unwrap();
            }),
        );
        self.row(
            "fedmsg: base64 of signature",
            self.time(|i| {
                black_box(STANDARD.decode(&sigs[i]).unwrap());
            }),
        );
        self.row(
            "fedmsg: certificate field (cached)",
            self.time(|i| {
                black_box(bus.certificate_field(&certs[i]).unwrap());
            }),
        );
        self.row(
            "fedmsg: json::canonical_without",
            self.time(|i| {
                black_box(
                    wjson::canonical_without(&values[i], &["signature", "certificate"]).unwrap(),
                );
            }),
        );
        self.row(
            "fedmsg: Envelope::parse (the CMS)",
            self.time(|i| {
                black_box(Envelope::parse(&s.fedmsg_cms[i].0).unwrap());
            }),
        );
    }

    /// fedmsg-style: verifying (as the bus does and as the envelope does), authorizing,
    /// the replay key and store.
    fn fedmsg_checking(&self, values: &[serde_json::Value], certs: &[String]) {
        let (s, bus) = (self.s, &self.bus);
        let n = MESSAGES;
        let verifier = bus.verifier().unwrap();
        let envelopes: Vec<Envelope> = (0..n)
            .map(|i| {
                let mut e = Envelope::parse(&s.fedmsg_cms[i].0).unwrap();
                for c in bus.certificate_field(&certs[i]).unwrap().iter() {
                    e.signed_data_mut()
                        .certificates
                        .push(CertificateChoice::Certificate(c.clone()));
                }
                e
            })
            .collect();
        self.row(
            "fedmsg: verify, certificates in the CMS (before)",
            self.time(|i| {
                black_box(
                    s.oslo_verifier
                        .verify(&envelopes[i], Some(&s.fedmsg_cms[i].1))
                        .unwrap(),
                );
            }),
        );
        let bare: Vec<Envelope> = (0..n)
            .map(|i| Envelope::parse(&s.fedmsg_cms[i].0).unwrap())
            .collect();
        let bare_again: Vec<Envelope> = (0..n)
            .map(|i| Envelope::parse(&s.fedmsg_cms[i].0).unwrap())
            .collect();
        self.row(
            "fedmsg: verify_with_certificates (as the bus)",
            self.time(|i| {
                let (_, store) = bus.certificate_field_indexed(&certs[i]).unwrap();
                black_box(
                    s.oslo_verifier
                        .verify_with_certificates(&bare_again[i], Some(&s.fedmsg_cms[i].1), &store)
                        .unwrap(),
                );
            }),
        );
        self.row(
            "fedmsg: verify, certificates in the store (envelope)",
            self.time(|i| {
                black_box(
                    s.fedmsg_verifier
                        .verify(&bare[i], Some(&s.fedmsg_cms[i].1))
                        .unwrap(),
                );
            }),
        );
        let verified: Vec<_> = (0..n)
            .map(|i| {
                verifier
                    .verify(&envelopes[i], Some(&s.fedmsg_cms[i].1))
                    .unwrap()
            })
            .collect();
        self.row(
            "fedmsg: authorize",
            self.time(|i| {
                let signer = &verified[i].signers()[0].certificate;
                black_box(bus.authorizer().authorize(
                    signer,
                    "org.example.prod.bodhi.update.comment",
                    Some(&values[i]),
                ));
            }),
        );
        self.row(
            "fedmsg: replay_key",
            self.time(|i| {
                let o = &verified[i].signers()[0];
                black_box(waxseal_message::replay::replay_key(
                    &o.certificate,
                    o.signed_attributes(),
                    &s.fedmsg_cms[i].1,
                ));
            }),
        );
        self.row(
            "fedmsg: subject_display x2 + note",
            self.time(|i| {
                let c = &verified[i].signers()[0].certificate;
                black_box((
                    format!("signed by {}", c.subject_display()),
                    c.subject_display(),
                ));
            }),
        );
        self.row("fedmsg: memory replay store admit (new key)", {
            let mut store = waxseal_message::StoreSpec::Memory.open(1 << 20).unwrap();
            let mut k = 0u64;
            self.time(|i| {
                if i == 0 && k > 200_000 {
                    store = waxseal_message::StoreSpec::Memory.open(1 << 20).unwrap();
                    k = 0;
                }
                k += 1;
                let mut key = [7u8; 32];
                key[..8].copy_from_slice(&k.to_be_bytes());
                black_box(store.admit(key, u64::MAX, 1, false).unwrap());
            })
        });
    }

    /// oslo: the whole bus, the reference, and each step of an oslo envelope.
    fn oslo(&self) {
        let (s, bus) = (self.s, &self.bus);
        let n = MESSAGES;
        self.row("oslo: whole bus", self.whole(What::Bus(Kind::Oslo, false)));
        self.row(
            "oslo: whole bus-interval",
            self.whole(What::Bus(Kind::Oslo, true)),
        );
        self.row(
            "oslo: Bus::examine, unrecorded (signatures cached)",
            self.time(|i| {
                black_box(s.bus_fresh_oslo(bus, i));
            }),
        );
        self.row(
            "oslo: envelope verify_bytes (the reference)",
            self.time(|i| {
                let (der, content) = &s.oslo_cms[i];
                black_box(s.oslo_verifier.verify_bytes(der, Some(content)).unwrap());
            }),
        );
        self.row(
            "oslo: json::parse (outer, strict)",
            self.time(|i| {
                black_box(wjson::parse(&s.oslo[i]).unwrap());
            }),
        );
        self.row(
            "oslo: json::parse (oslo.message, strict)",
            self.time(|i| {
                black_box(wjson::parse(&s.oslo_cms[i].1).unwrap());
            }),
        );
        let osigs: Vec<String> = s
            .oslo
            .iter()
            .map(|m| {
                wjson::parse(m).unwrap()[oslo::SIGNATURE_KEY]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        self.row(
            "oslo: base64 of oslo.signature",
            self.time(|i| {
                black_box(STANDARD.decode(&osigs[i]).unwrap());
            }),
        );
        self.row(
            "oslo: waxseal_slip::parse",
            self.time(|i| {
                black_box(waxseal_slip::parse(&s.oslo_cms[i].0, 8).unwrap());
            }),
        );
        self.row(
            "oslo: Envelope::parse",
            self.time(|i| {
                black_box(Envelope::parse(&s.oslo_cms[i].0).unwrap());
            }),
        );
        let oenv: Vec<Envelope> = (0..n)
            .map(|i| Envelope::parse(&s.oslo_cms[i].0).unwrap())
            .collect();
        self.row(
            "oslo: SlipVerifier::verify, as the bus does",
            self.time(|i| {
                black_box(
                    waxseal_slip::SlipVerifier::new(&s.oslo_verifier)
                        .with_expectations(bus.route_expectations())
                        .with_namer(bus.authorizer().namer())
                        .verify(&oenv[i], Some(&s.oslo_cms[i].1))
                        .unwrap(),
                );
            }),
        );
        self.row(
            "oslo: Verifier::verify (envelope side)",
            self.time(|i| {
                black_box(
                    s.oslo_verifier
                        .verify(&oenv[i], Some(&s.oslo_cms[i].1))
                        .unwrap(),
                );
            }),
        );
    }
}

fn ratio_seconds() -> f64 {
    std::env::var("BUS_RATIO_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2.0)
}

fn criterion_figures(c: &mut Criterion) {
    if profile_only() || breakdown_only() {
        std::process::exit(0);
    }
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
    let seconds = ratio_seconds();
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
        for (kind, e, b, bi, ef, bf) in [
            ("fedmsg-style message", 0, 1, 2, 3, 4),
            ("oslo envelope", 5, 6, 7, 8, 9),
        ] {
            rows.push((s.alg.name(), kind, [e, b, bi, ef, bf].map(per_message)));
        }
    }
    println!();
    let load_text = |l: String| l.split_whitespace().take(3).collect::<Vec<_>>().join(" ");
    println!(
        "bus ÷ envelope, side by side ({MESSAGES} distinct messages a pass, passes taking turns; load average {} before, {} after):",
        load_text(before),
        load_text(load())
    );
    println!(
        "(bus: files checked before every message, as Bus::new makes it; bus-interval: a 1 s refresh interval, as the gateway runs it)"
    );
    println!(
        "{:<9} {:<22} {:>11} {:>8} {:>7} {:>15} {:>7}",
        "algorithm", "message", "envelope µs", "bus µs", "ratio", "bus-interval µs", "ratio"
    );
    for (alg, kind, [e, b, bi, ..]) in &rows {
        println!(
            "{alg:<9} {kind:<22} {e:>11.1} {b:>8.1} {:>7.3} {bi:>15.1} {:>7.3}",
            b / e,
            bi / e
        );
    }
    println!();
    println!(
        "The floor: the same passes with every signature outcome already cached (no signature checked), so what is left is each side's other work; \
         bus layer = bus-interval's floor - envelope's floor, what the bus adds; 1.10 allows 0.10 x the envelope's full time for it:"
    );
    println!(
        "{:<9} {:<22} {:>17} {:>12} {:>14} {:>15} {:>16}",
        "algorithm",
        "message",
        "envelope floor µs",
        "bus floor µs",
        "bus layer µs",
        "1.10 allows µs",
        "bus layer ÷ env"
    );
    for (alg, kind, [e, _, _, ef, bf]) in &rows {
        println!(
            "{alg:<9} {kind:<22} {ef:>17.1} {bf:>12.1} {:>14.1} {:>15.1} {:>16.3}",
            bf - ef,
            0.1 * e,
            (bf - ef) / e
        );
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10).measurement_time(Duration::from_secs(3));
    targets = criterion_figures, ratios
}
criterion_main!(benches);
