#!/usr/bin/env bash
# What the bus layer costs on top of the envelope, from Rust: for P-256 and RSA-2048, the
# envelope's warm verification of a signature beside `Bus` validating a fedmsg-style
# message and an oslo envelope carrying the same kind of signature (the criterion bench
# crates/message/benches/bus.rs; its doc comment says what each side does). Not a test:
# figures for README.md's "Speed" section.
#
#   bench/bus_overhead.sh [--ratios-only] [SECONDS]
#
# Runs the criterion figures, then the ratios bus ÷ envelope measured side by side (the
# measurements of an algorithm take turns, 256 distinct messages a pass, SECONDS of each,
# default 2), and prints the ratio table with the machine's load average before and after
# (figures from a shared, loaded machine are noisy). --ratios-only skips criterion's
# figures. Goal: at most 1.10.
#
# Two buses: `bus` as `Bus::new` makes it, checking its trust, certificate and CRL files
# before every message (a `stat` of each, so that a changed file is used by the very next
# message: the library's documented behaviour), and `bus-interval` with a 1 s refresh
# interval, as the gateway runs it (`--watch-ms`), whose per-message path reads atomics only.
#
# Then the floor table: both sides with every signature outcome already cached, so that
# what is left is their other work; "bus layer" is the difference, which the 1.10 goal
# needs at most a tenth of the envelope's time. For where the time goes, the bench's
# BUS_BREAKDOWN=1 (each step timed alone) and BUS_PROFILE=ALGORITHM/NAME (one measurement
# in a loop, for perf) modes: see the doc comment of crates/message/benches/bus.rs.
set -euo pipefail
cd "$(dirname "$0")/.."
filter=()
if [ "${1:-}" = --ratios-only ]; then
  # A filter no criterion figure matches: only the side-by-side ratios run.
  filter=(ratios-only)
  shift
fi
export BUS_RATIO_SECONDS=${1:-2}
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores"
cargo bench -q -p waxseal-message --bench bus -- "${filter[@]}" 2>&1 \
  | grep -v '^Gnuplot not found'
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
