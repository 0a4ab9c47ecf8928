//! Validates every message of a file (one signed JSON message per line) once with
//! [`Bus::validate_bytes`], and prints the time per message as JSON: the Rust side of
//! `bench/python_vs_rust.py`, which times the same messages through the Python package.
//!
//! ```text
//! cargo run --release -p waxseal-message --example validate_file -- BUS.json MESSAGES
//! ```
//!
//! Every message must be accepted (each is validated once, so the replay cache never
//! refuses one); the process exits 1 on the first refusal.

use std::time::Instant;

use waxseal_message::Bus;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 3 {
        eprintln!("usage: validate_file BUS.json MESSAGES");
        std::process::exit(2);
    }
    let bus = Bus::from_config_file(args[1].as_ref()).unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(2)
    });
    let text = std::fs::read(&args[2]).unwrap_or_else(|e| {
        eprintln!("{}: {e}", args[2]);
        std::process::exit(2)
    });
    let messages: Vec<&[u8]> = text
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    let start = Instant::now();
    for (i, m) in messages.iter().enumerate() {
        if let Err(r) = bus.validate_bytes(m) {
            eprintln!("message {i}: {}: {}", r.code, r.reason);
            std::process::exit(1);
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    println!(
        "{{\"messages\": {}, \"seconds\": {seconds}, \"per_message_us\": {}}}",
        messages.len(),
        seconds * 1e6 / messages.len().max(1) as f64
    );
}
