//! Replays the `slip_verify` fuzz corpus and the sample envelopes through the same
//! harness the libFuzzer target runs. Any panic fails the test.

#[path = "../../../fuzz/harness_slip.rs"]
mod harness;

use std::path::PathBuf;

fn replay(dir: PathBuf) -> usize {
    let mut n = 0;
    for e in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let p = e.unwrap().path();
        if p.is_file() {
            let data = std::fs::read(&p).unwrap();
            assert!(
                std::panic::catch_unwind(|| harness::slip(&data)).is_ok(),
                "panic on {}",
                p.display()
            );
            n += 1;
        }
    }
    n
}

#[test]
fn slip_corpus_replays_without_panics() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let corpus = replay(root.join("fuzz/corpus/slip_verify"));
    let samples = replay(root.join("testdata/envelopes"));
    println!("replayed {corpus} slip corpus inputs and {samples} samples");
    assert!(
        corpus > 20 && samples > 30,
        "fuzz corpus or testdata missing"
    );
}
