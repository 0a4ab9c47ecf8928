//! Replays the `message_validate` fuzz corpus and the sample messages through the same
//! harness the libFuzzer target runs. Any panic fails the test.

#[path = "../../../fuzz/harness_message.rs"]
mod harness;

use std::path::PathBuf;

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
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let bus = harness::test_bus(&root.join("testdata"));
    let samples = replay(root.join("testdata/messages"), &bus);
    let corpus = replay(root.join("fuzz/corpus/message_validate"), &bus);
    println!("replayed {corpus} message corpus inputs and {samples} samples");
    assert!(
        samples >= 5 && corpus > 20,
        "fuzz corpus or testdata missing"
    );
}

#[test]
fn sample_messages_validate() {
    // The signed samples made by testdata/generate.sh validate against the test bus
    // (their certificates are valid for a year from generation; regenerate after).
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let bus = harness::test_bus(&root.join("testdata"));
    let read = |n: &str| std::fs::read(root.join("testdata/messages").join(n)).unwrap();
    let fedmsg = bus.validate_bytes(&read("fedmsg-signed.json"));
    let oslo = bus.verify_oslo_bytes(&read("oslo-signed.json"), Some("scheduler"));
    // Parse-level success is required; validity depends on the samples' age.
    for r in [fedmsg.err().map(|e| e.code), oslo.err().map(|e| e.code)]
        .into_iter()
        .flatten()
    {
        assert!(
            r == "certificate-expired" || r == "crl-expired",
            "unexpected rejection of a sample: {r}"
        );
    }
}
