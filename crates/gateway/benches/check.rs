//! Criterion: what the gateway spends on one message besides the broker, against the
//! envelope's own warm verification of the same signature. `cargo bench -p
//! waxseal-gateway`.
//!
//! For P-256 and RSA-2048, certificates embedded (the message's certificate field holds
//! the signer and its CA) and omitted (the signer only; the CA comes from the bus's
//! certs), 1,024 distinct signed fedmsg-style messages with a 1 KiB payload, from one
//! signer:
//!
//! - `check`: [`waxseal_gateway::check::admit_and_countersign`], what the gateway does per delivery
//!   (parse, validate as `msg validate` does, replay record), on a bus whose path cache is
//!   warm; each batch of 1,024 runs on a fresh bus, so no message is a replay;
//! - `verify`: [`waxseal_envelope::Verifier::verify`] of the same detached signatures over
//!   the same canonical content with a warm path cache, which is what `waxseal speed`
//!   measures.
//!
//! `check / verify` is the price of the message layer (JSON, base64 and PEM decoding,
//! authorization, freshness, replay); `bench/gateway.sh` adds the broker.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde_json::Value;
use waxseal_envelope::{Envelope, Signer, Verifier};
use waxseal_gateway::check::{Outcome, admit_and_countersign};
use waxseal_message::{Arrival, Bus};
use waxseal_pki::TestPki;
use waxseal_trust::{CertStore, KeyAlgorithm, PathCache, TrustAnchors};

const TOPIC: &str = "org.example.prod.bodhi.update.comment";
const MESSAGES: usize = 1024;

fn bench(c: &mut Criterion) {
    for alg in [KeyAlgorithm::P256, KeyAlgorithm::Rsa2048] {
        let pki = TestPki::new(alg).unwrap();
        let leaf = pki.leaf("bodhi-app01.example.org", alg).unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("root.crt"), pki.root.cert.to_pem()).unwrap();
        std::fs::write(dir.path().join("ca.crt"), pki.ca.cert.to_pem()).unwrap();
        let config = dir.path().join("bus.json");
        std::fs::write(
            &config,
            r#"{"trust": ["root.crt"], "certs": ["ca.crt"],
                "routing_policy": {"org.example.prod.bodhi.#": ["bodhi-*"]}}"#,
        )
        .unwrap();
        for embedded in [true, false] {
            let mut signer = Signer::new(leaf.cert.clone(), leaf.key.clone()).unwrap();
            if embedded {
                signer = signer.with_chain(vec![pki.ca.cert.clone()]);
            }
            let filler = "x".repeat(1024);
            let bodies: Vec<Vec<u8>> = (0..=MESSAGES)
                .map(|n| {
                    let m = serde_json::json!({"topic": TOPIC, "msg": {"n": n, "text": filler}});
                    serde_json::to_vec(&waxseal_message::sign(&m, &signer).unwrap()).unwrap()
                })
                .collect();
            let certs = if embedded { "embedded" } else { "omitted" };
            let mut g = c.benchmark_group(format!("gateway/{alg}/{certs}"));
            g.throughput(Throughput::Elements(1));
            g.bench_function("check", |b| {
                b.iter_custom(|iters| {
                    let mut spent = Duration::ZERO;
                    let mut done = 0;
                    while done < iters {
                        // A fresh bus (fresh replay store), warmed by the extra message,
                        // checking its files as the gateway has it do (--watch-ms 1000).
                        let bus = Bus::from_config_file(&config)
                            .unwrap()
                            .with_refresh_interval(Duration::from_secs(1));
                        let warm = admit_and_countersign(
                            &bus,
                            &Arrival::delivery("in", TOPIC),
                            &bodies[MESSAGES],
                            None,
                        );
                        assert!(matches!(warm, Outcome::Verified { .. }), "{warm:?}");
                        let n = (iters - done).min(MESSAGES as u64) as usize;
                        let start = Instant::now();
                        for body in &bodies[..n] {
                            black_box(admit_and_countersign(
                                &bus,
                                &Arrival::delivery("in", TOPIC),
                                body,
                                None,
                            ));
                        }
                        spent += start.elapsed();
                        done += n as u64;
                    }
                    spent
                })
            });

            // The same signatures, verified as envelopes over the same canonical content.
            let anchors = TrustAnchors::new([pki.root.cert.clone()]).unwrap();
            let store = CertStore::from_certificates([pki.ca.cert.clone(), leaf.cert.clone()]);
            let verifier = Verifier::new(anchors)
                .with_store(store)
                .with_cache(Arc::new(PathCache::new(16).with_signature_capacity(0)));
            let envelopes: Vec<(Envelope, Vec<u8>)> = bodies
                .iter()
                .map(|b| {
                    let mut m: Value = serde_json::from_slice(b).unwrap();
                    let sig = m["signature"].as_str().unwrap().to_string();
                    let obj = m.as_object_mut().unwrap();
                    for f in waxseal_message::bus::CREDENTIAL_FIELDS {
                        obj.remove(f);
                    }
                    let der = base64_decode(&sig);
                    (
                        Envelope::parse(&der).unwrap(),
                        waxseal_message::json::canonical(&m).unwrap(),
                    )
                })
                .collect();
            for (env, content) in &envelopes {
                verifier.verify(env, Some(content)).unwrap();
            }
            let mut i = 0;
            g.bench_function("verify", |b| {
                b.iter(|| {
                    let (env, content) = &envelopes[i % MESSAGES];
                    i += 1;
                    black_box(verifier.verify(env, Some(content)))
                })
            });
            g.finish();
        }
    }
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(Duration::from_secs(3));
    targets = bench
}
criterion_main!(benches);
