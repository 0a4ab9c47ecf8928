#![no_main]

include!("../harness_inputs.rs");

static FIXTURE: std::sync::OnceLock<Fixture> = std::sync::OnceLock::new();

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let fx = FIXTURE
        .get_or_init(|| Fixture::new(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata")));
    countersign(data, fx)
});
