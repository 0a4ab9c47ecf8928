#!/usr/bin/env bash
# ML-DSA rows of `waxseal speed`, with Ed25519 and P-256 beside them for scale: one command.
#
#   bench/mldsa.sh [SECONDS_PER_FIGURE] [ROUNDS]
#
# Builds waxseal (release: the `ml-dsa` crate is generic, so its arithmetic is compiled
# into waxseal-trust and runs at that crate's optimisation level; a dev build is several
# times slower), then for each round runs `waxseal speed --algorithm A --json` for ed25519,
# p256, ml-dsa-44, ml-dsa-65 and ml-dsa-87 and prints one Markdown row per algorithm: the
# median over the rounds of each figure (operations per second) and the envelope sizes.
# ML-DSA has no OpenSSL peer here (OpenSSL 3.0 has none) and no graviola backend
# (RustCrypto under every provider). The load average is printed before and after: on a
# shared machine, rerun when it is high.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-1}
rounds=${2:-3}
cargo build --release -q -p waxseal-cli
bin=${CARGO_TARGET_DIR:-target}/release/waxseal
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for r in $(seq "$rounds"); do
  for a in ed25519 p256 ml-dsa-44 ml-dsa-65 ml-dsa-87; do
    "$bin" speed --algorithm "$a" --seconds "$seconds" --json > "$out/$a.$r.json"
  done
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$out" "$rounds" <<'PY'
import json, statistics, sys
out, rounds = sys.argv[1], int(sys.argv[2])
cols = ["sign_embedded", "sign_omitted", "verify_embedded_cold", "verify_embedded_warm",
        "verify_omitted_cold", "verify_omitted_warm"]
print("| algorithm | " + " | ".join(c.replace("_", " ") for c in cols)
      + " | bytes embedded | bytes omitted | sign/verify backend |")
print("|---|" + "---:|" * (len(cols) + 2) + "---|")
for a in ["ed25519", "p256", "ml-dsa-44", "ml-dsa-65", "ml-dsa-87"]:
    runs = [json.load(open(f"{out}/{a}.{r}.json"))[0] for r in range(1, rounds + 1)]
    for run in runs:
        if run["errors"]:
            sys.exit(f"{a}: failed operations: {run['errors']}")
    med = [f"{statistics.median(r[c] for r in runs):,.0f}" for c in cols]
    last = runs[-1]
    print(f"| {a} | " + " | ".join(med)
          + f" | {last['envelope_bytes_embedded']:,} | {last['envelope_bytes_omitted']:,}"
          + f" | {last['backend_sign']}/{last['backend_verify']} |")
PY
