#!/usr/bin/env bash
# waxseal vs OpenSSL, measured in the same run on the same keys and payload.
#
#   bench/compare.sh [SECONDS_PER_FIGURE] [PAYLOAD_BYTES]
#
# Builds waxseal (release) and the OpenSSL peer (bench/openssl-peer/cms_peer.c, against
# the system libcrypto; needs libssl-dev and a C compiler), runs `waxseal speed --export`
# so both sides use the very same certificates, keys and payload, and prints operations
# per second with waxseal/OpenSSL ratios. OpenSSL 3.0 has no Ed25519 CMS: n/a.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-2}
size=${2:-1024}
cargo build --release -q -p waxseal-cli
cc -O2 -o target/cms_peer bench/openssl-peer/cms_peer.c -lcrypto
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
./target/release/waxseal speed --seconds "$secs" --payload-size "$size" --json --export "$work" > "$work/waxseal.json"
for alg in rsa2048 p256 p384; do
  ./target/cms_peer "$work/$alg" "$secs" > "$work/openssl-$alg.json"
done
python3 - "$work" "$size" "$secs" <<'PY'
import json, os, subprocess, sys
work, size, secs = sys.argv[1], sys.argv[2], sys.argv[3]
ours = {f["algorithm"]: f for f in json.load(open(os.path.join(work, "waxseal.json")))}
ver = subprocess.run(["openssl", "version"], capture_output=True, text=True).stdout.strip()
print(f"{size}-byte payload, {secs}s per figure, operations/second (ratio = waxseal / OpenSSL); {ver}")
print()
print("| algorithm | operation | waxseal | OpenSSL | ratio |")
print("|---|---|---:|---:|---:|")
for alg in ["rsa2048", "p256", "p384", "ed25519"]:
    w = ours.get(alg)
    if w is None:
        continue
    path = os.path.join(work, f"openssl-{alg}.json")
    o = json.load(open(path)) if os.path.exists(path) else None
    rows = [
        ("sign", w["sign"], o and o["sign"]),
        ("verify, certs embedded, path cache cold", w["verify_embedded_cold"], o and o["verify_embedded"]),
        ("verify, certs embedded, path cache warm", w["verify_embedded_warm"], o and o["verify_embedded"]),
        ("verify, certs omitted, path cache cold", w["verify_omitted_cold"], o and o["verify_omitted"]),
        ("verify, certs omitted, path cache warm", w["verify_omitted_warm"], o and o["verify_omitted"]),
    ]
    for name, a, b in rows:
        bs = f"{b:,.0f}" if b else "n/a"
        r = f"{a / b:.2f}x" if b else "n/a"
        print(f"| {alg} | {name} | {a:,.0f} | {bs} | {r} |")
PY
