#![no_main]

include!("../harness_slip.rs");

libfuzzer_sys::fuzz_target!(|data: &[u8]| slip(data));
