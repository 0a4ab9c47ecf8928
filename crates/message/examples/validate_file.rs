//! Validates every message of a file (one signed JSON message per line) once with
//! [`Bus::validate_bytes`], and prints the time per message as JSON: the Rust side of
//! `bench/python_vs_rust.py`, which times the same messages through the Python package.
//!
//! ```text
//! cargo run --release -p waxseal-message --example validate_file -- BUS.json MESSAGES
//! ```
//!
//! It reports wall-clock time and, on Linux, the thread's CPU time
//! (`/proc/thread-self/schedstat`), which a loaded machine disturbs less.
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
    let cpu_start = thread_cpu_ns();
    let start = Instant::now();
    for (i, m) in messages.iter().enumerate() {
        if let Err(r) = bus.validate_bytes(m) {
            eprintln!("message {i}: {}: {}", r.code, r.reason);
            std::process::exit(1);
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    let n = messages.len().max(1) as f64;
    let cpu = match (cpu_start, thread_cpu_ns()) {
        (Some(a), Some(b)) => format!("{}", (b - a) as f64 / 1e3 / n),
        _ => "null".into(),
    };
    println!(
        "{{\"messages\": {}, \"seconds\": {seconds}, \"per_message_us\": {}, \"cpu_per_message_us\": {cpu}}}",
        messages.len(),
        seconds * 1e6 / n,
    );
}

/// The calling thread's time on CPU in nanoseconds (Linux), as Python's
/// `time.thread_time_ns()`.
fn thread_cpu_ns() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    text.split_whitespace().next()?.parse().ok()
}
