//! Helpers shared by the envelope integration tests.
#![allow(dead_code)]

use std::path::PathBuf;

/// `../shared/vectors` beside the project root. Panics (the test fails loudly) when it
/// is missing: conformance tests must never pass by skipping.
pub fn vectors() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/vectors");
    assert!(
        dir.is_dir(),
        "shared test vectors missing at {} (expected ../shared/vectors beside the project root)",
        dir.display()
    );
    dir
}
