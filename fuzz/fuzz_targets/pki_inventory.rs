#![no_main]

include!("../harness_inputs.rs");

libfuzzer_sys::fuzz_target!(|data: &[u8]| pki_inventory(data));
