#![no_main]

include!("../harness_message.rs");

static BUS: std::sync::OnceLock<waxseal_message::Bus> = std::sync::OnceLock::new();

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let bus = BUS.get_or_init(|| {
        test_bus(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata"))
    });
    let _ = message(data, bus);
});
