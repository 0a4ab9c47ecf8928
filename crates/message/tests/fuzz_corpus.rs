//! Replays the `message_validate` fuzz corpus and the sample messages through the same
//! harness the libFuzzer target runs. Any panic fails the test. The harness verifies at a
//! fixed time, so the signed samples and seeds stay valid whatever the date.

#[path = "../../../fuzz/harness_message.rs"]
mod harness;

use std::path::PathBuf;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn replay(dir: PathBuf, bus: &waxseal_message::Bus) -> usize {
    let mut n = 0;
    for e in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let p = e.unwrap().path();
        if p.is_file() {
            let data = std::fs::read(&p).unwrap();
            assert!(
                std::panic::catch_unwind(|| harness::message(&data, bus)).is_ok(),
                "panic on {}",
                p.display()
            );
            n += 1;
        }
    }
    n
}

#[test]
fn message_corpus_replays_without_panics() {
    let bus = harness::test_bus(&root().join("testdata"));
    let samples = replay(root().join("testdata/messages"), &bus);
    let corpus = replay(root().join("fuzz/corpus/message_validate"), &bus);
    println!("replayed {corpus} message corpus inputs and {samples} samples");
    assert!(
        samples >= 5 && corpus > 20,
        "fuzz corpus or testdata missing"
    );
}

/// The signed seeds of the corpus are accepted by the harness's bus: the harness reaches
/// authorization (and acceptance), not a revocation or expiry stop. Each input is checked
/// on a fresh bus (the replay cache would refuse a second acceptance).
#[test]
fn known_good_corpus_inputs_are_accepted_by_the_harness() {
    let corpus = root().join("fuzz/corpus/message_validate");
    let read = |n: &str| std::fs::read(corpus.join(n)).unwrap();
    let bus = || harness::test_bus(&root().join("testdata"));
    // fedmsg-style: validate_bytes accepts it (and the oslo reading refuses it).
    let fedmsg = harness::message(&read("seed-fedmsg-signed.json"), &bus());
    assert_eq!(fedmsg[0], None, "fedmsg seed: {fedmsg:?}");
    // The same message again on the same bus is a replay.
    let b = bus();
    assert_eq!(
        harness::message(&read("seed-fedmsg-signed.json"), &b)[0],
        None
    );
    assert_eq!(
        harness::message(&read("seed-fedmsg-signed.json"), &b)[0].as_deref(),
        Some("replayed")
    );
    // oslo: verify_oslo_bytes on `scheduler` accepts it (route, claims and all).
    let oslo = harness::message(&read("seed-oslo-signed.json"), &bus());
    assert_eq!(oslo[1], None, "oslo seed: {oslo:?}");
    // Negative twin: the same bus at the real date of the CRL's expiry + 1 day refuses it
    // at revocation, which is what the wall clock used to do.
    let late = harness::test_bus(&root().join("testdata"))
        .at_time(harness::test_time(&root().join("testdata")) + 8 * 86400);
    let r = late
        .validate_bytes(&read("seed-fedmsg-signed.json"))
        .unwrap_err();
    assert!(
        ["crl-expired", "revocation-unknown", "certificate-expired"].contains(&r.code.as_str()),
        "{}",
        r.code
    );
}

#[test]
fn sample_messages_validate() {
    // The signed samples made by testdata/generate.sh validate against the test bus at
    // its fixed time.
    let bus = harness::test_bus(&root().join("testdata"));
    let read = |n: &str| std::fs::read(root().join("testdata/messages").join(n)).unwrap();
    bus.validate_bytes(&read("fedmsg-signed.json")).unwrap();
    bus.verify_oslo_bytes(&read("oslo-signed.json"), "scheduler")
        .unwrap();
    // Arrived elsewhere: refused.
    assert_eq!(
        harness::test_bus(&root().join("testdata"))
            .verify_oslo_bytes(&read("oslo-signed.json"), "conductor")
            .unwrap_err()
            .code,
        "topic-mismatch"
    );
}

/// Regenerates the signed oslo samples (bound to the `scheduler` topic) and the signed
/// seeds of the corpus with the test PKI's key, signed ten minutes before the harness
/// time. Run after `testdata/generate.sh` if its CLI run could not bind the topic.
#[test]
#[ignore = "writes testdata and corpus seeds"]
fn regenerate_signed_samples() {
    use waxseal_envelope::Signer;
    use waxseal_message::oslo;
    use waxseal_trust::{Certificate, KeyFileCheck, PrivateKey};
    let testdata = root().join("testdata");
    let p = testdata.join("pki/p256");
    let time = harness::test_time(&testdata) - 600;
    let signer = || {
        let cert = Certificate::load_all(&std::fs::read(p.join("leaf.pem")).unwrap()).unwrap();
        let ca = Certificate::load_all(&std::fs::read(p.join("ca.pem")).unwrap()).unwrap();
        let key = PrivateKey::load(&p.join("leaf.key"), KeyFileCheck::AllowInsecure).unwrap();
        Signer::new(cert[0].clone(), key)
            .unwrap()
            .with_chain(ca)
            .with_signing_time(time)
    };
    let messages = testdata.join("messages");
    let rpc = std::fs::read_to_string(messages.join("rpc.json")).unwrap();
    let origin = oslo::route_signer(signer(), &waxseal_message::Route::topic("scheduler")).unwrap();
    let signed = oslo::sign(&oslo::wrap_text(&rpc).unwrap(), &origin).unwrap();
    let text = format!("{}\n", serde_json::to_string(&signed).unwrap());
    std::fs::write(messages.join("oslo-signed.json"), &text).unwrap();
    let hop = waxseal_slip::hop_signer(signer(), Some("conductor"), None).unwrap();
    let two = oslo::countersign(&signed, &hop, 8).unwrap();
    std::fs::write(
        messages.join("oslo-2hops.json"),
        format!("{}\n", serde_json::to_string(&two).unwrap()),
    )
    .unwrap();
    let corpus = root().join("fuzz/corpus/message_validate");
    std::fs::write(corpus.join("seed-oslo-signed.json"), &text).unwrap();
    let unsigned = std::fs::read_to_string(messages.join("fedmsg-unsigned.json")).unwrap();
    let fedmsg = waxseal_message::sign_text(unsigned.trim(), &signer()).unwrap();
    std::fs::write(
        corpus.join("seed-fedmsg-signed.json"),
        format!("{fedmsg}\n"),
    )
    .unwrap();
}
