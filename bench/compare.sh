#!/usr/bin/env bash
# waxseal vs OpenSSL, measured in the same run on the same keys, certificates and payload.
#
#   [PROVIDERS="rustcrypto graviola"] bench/compare.sh [--markdown] [SECONDS_PER_FIGURE] [PAYLOAD_BYTES]
#
# PROVIDERS lists the cryptography providers waxseal runs with (`--provider`: auto,
# rustcrypto, graviola), each in every round, next to the same OpenSSL figures: one row per
# provider, naming the backend that did the row's operation.
# Builds waxseal (release) and the OpenSSL peer (bench/openssl-peer/cms_peer.c, against
# the system libcrypto; needs libssl-dev and a C compiler), runs `waxseal speed --export`
# so both sides use the very same certificates, keys and payload, and prints operations
# per second with waxseal/OpenSSL ratios, one figure per row, each the median of 3 rounds.
#
# Like for like: both sides' envelopes carry the same signed attributes (content-type,
# signing-time, message-digest; the peer signs with CMS_NOSMIMECAP), the same digest and
# the same certificates (embedded: signer and signing CA; omitted: none). Both envelope
# sizes are printed, a column per side (ECDSA signatures vary by a byte or two).
# waxseal verifies 64 distinct messages in turn (its warm cache keeps paths, not the
# signatures of messages it has not seen), so each figure includes the message's own
# signature check; OpenSSL, which caches nothing, verifies one. OpenSSL has no path
# cache: its "cold" and "warm" rows are the same measurement, every message pays the
# whole path validation. OpenSSL 3.0 has no Ed25519 CMS: those rows compare with
# `openssl speed ed25519` (the raw signature operation, no envelope), as the row says.
# Any failed operation on either side aborts the run.
#
# The first message from a signer (cold), certificates omitted: the peer gives
# CMS_verify the signer's certificate in `certs` and the CA and root in its X509_STORE,
# each parsed once at start-up; for every message it builds the chain and checks every
# signature on it (the message's, the signer certificate's, the CA certificate's; not
# the root's self-signature), and its X509 objects keep their decoded keys (RSA also its
# Montgomery context) from one message to the next. waxseal's cold rows do the same: the
# verifier's store and anchors keep the key each certificate set up on first use, and
# every message has its path built and every signature on it checked, with no path
# cache, no signature cache and the process-wide key caches off, so that the keys of an
# envelope's own certificates (the embedded rows) are set up for each message, as the
# peer parses them from each envelope. (Before, waxseal's cold rows set every key up
# again for every message, as a new process would, while OpenSSL kept its own: not like
# for like. `cargo run --release -p waxseal-envelope --example first_message` prints
# that figure beside this one.)
#
# A second table puts waxseal's envelope beside graviola's bare operations on the same
# key and payload (`waxseal speed`'s "bare" figures, measured in alternating slices with
# the envelope figures): signing against graviola's bare RSA signature (what the
# envelope adds), the first message against three bare checks (its limit), and
# graviola's bare RSA operations against `openssl speed rsa2048` (the arithmetic).
#
# --markdown prints the table for README.md's "Speed" section, with the machine's load
# average before and after (figures from a shared, loaded machine are noisy).
set -euo pipefail
cd "$(dirname "$0")/.."
markdown=0
if [ "${1:-}" = "--markdown" ]; then
  markdown=1
  shift
fi
secs=${1:-2}
size=${2:-1024}
rounds=3
cargo build --release -q -p waxseal-cli
cc -O2 -o target/cms_peer bench/openssl-peer/cms_peer.c -lcrypto
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
osecs=${secs%.*}
[ "${osecs:-0}" -ge 1 ] 2>/dev/null || osecs=1   # `openssl speed -seconds` takes whole seconds
cat /proc/loadavg > "$work/load-before"
providers=${PROVIDERS:-rustcrypto graviola}
for r in $(seq 1 $rounds); do
  # A fresh PKI each round; each side signs and verifies that round's inputs (each
  # provider's run makes its own keys of the same types; OpenSSL uses the first one's).
  first=1
  for p in $providers; do
    if [ $first = 1 ]; then export_dir=(--export "$work/keys-$r"); else export_dir=(); fi
    ./target/release/waxseal speed --provider "$p" --seconds "$secs" --payload-size "$size" \
      --json "${export_dir[@]}" > "$work/waxseal-$p-$r.json"
    first=0
  done
  for alg in rsa2048 p256 p384; do
    ./target/cms_peer "$work/keys-$r/$alg" "$secs" > "$work/openssl-$alg-$r.json"
  done
  openssl speed -seconds "$osecs" -mr ed25519 2>/dev/null | grep '^+F6:' > "$work/openssl-ed25519-$r.txt"
  openssl speed -seconds "$osecs" -mr rsa2048 2>/dev/null | grep '^+F2:' > "$work/openssl-rsa2048-$r.txt"
done
cat /proc/loadavg > "$work/load-after"
nproc > "$work/nproc"
python3 - "$work" "$size" "$secs" "$rounds" "$markdown" "$providers" <<'PY'
import json, os, statistics, subprocess, sys
work, size, secs, rounds, markdown = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), sys.argv[5] == "1"
providers = sys.argv[6].split()
def load(name):
    return " ".join(open(os.path.join(work, name)).read().split()[:3])
ver = subprocess.run(["openssl", "version"], capture_output=True, text=True).stdout.split(" (")[0].strip()
cores = open(os.path.join(work, "nproc")).read().strip()

ours = {p: [{f["algorithm"]: f for f in json.load(open(os.path.join(work, f"waxseal-{p}-{r}.json")))}
            for r in range(1, rounds + 1)] for p in providers}
def theirs(alg, r):
    if alg == "ed25519":
        # +F6:<index>:<bits>:Ed25519:<sign/s>:<verify/s>
        f = open(os.path.join(work, f"openssl-ed25519-{r}.txt")).read().strip().split(":")
        return {"sign": float(f[4]), "verify": float(f[5])}
    return json.load(open(os.path.join(work, f"openssl-{alg}-{r}.json")))
def med(values):
    return statistics.median(values)

rows = []
for alg in ["rsa2048", "p256", "p384", "ed25519"]:
    t = [theirs(alg, r) for r in range(1, rounds + 1)]
    raw = alg == "ed25519"
    for certs in ["embedded", "omitted"]:
        ob = None if raw else t[0][f"envelope_bytes_{certs}"]
        for op, wkey, okey in [
            ("sign", f"sign_{certs}", "sign" if raw else f"sign_{certs}"),
            ("verify, first message from a signer (cold)", f"verify_{certs}_cold", "verify" if raw else f"verify_{certs}"),
            ("verify, later messages (warm)", f"verify_{certs}_warm", "verify" if raw else f"verify_{certs}"),
        ]:
            b = med([x[okey] for x in t])
            for p in providers:
                w = [o[alg] for o in ours[p]]
                wb = w[0][f"envelope_bytes_{certs}"]
                a = med([x[wkey] for x in w])
                # The backend that did the work (auto names what it chose for this row).
                backend = w[0]["backend_sign" if op == "sign" else "backend_verify"]
                prov = backend if p == backend else f"{p}: {backend}"
                note = "OpenSSL 3.0 has no Ed25519 CMS: raw `openssl speed ed25519` figure" if raw else ""
                if not raw and op.startswith("verify"):
                    note = "OpenSSL: no path cache, same measurement as cold" if "warm" in op else ""
                rows.append((alg, certs, op, prov, a, b, a / b, wb, ob, note))

head = ("algorithm", "certificates", "operation", "provider", "waxseal ops/s", "OpenSSL ops/s",
        "waxseal ÷ OpenSSL", "waxseal bytes", "OpenSSL bytes", "note")
def cells(r):
    alg, certs, op, prov, a, b, ratio, wb, ob, note = r
    return (alg, certs, op, prov, f"{a:,.0f}", f"{b:,.0f}", f"{ratio:.2f}x", f"{wb:,}",
            f"{ob:,}" if ob is not None else "n/a", note)
summary = (f"{size}-byte payload, {secs}s per figure, median of {rounds} rounds, {ver}, "
           f"{cores} cores, load average {load('load-before')} before and {load('load-after')} after")
# waxseal's envelope beside graviola's bare operations (where graviola did the work), and
# graviola's bare RSA beside OpenSSL's (`openssl speed rsa2048`: +F2:<i>:<bits>:<sign/s>:<verify/s>).
def openssl_rsa(r):
    f = open(os.path.join(work, f"openssl-rsa2048-{r}.txt")).read().strip().split(":")
    return {"sign": float(f[3]), "verify": float(f[4])}
bare = []
for p in providers:
    w = [o["rsa2048"] for o in ours[p]]
    if not w[0].get("sign_raw") or not w[0].get("verify_raw"):
        continue
    raw_sign = med([x["sign_raw"] for x in w])
    raw_verify = med([x["verify_raw"] for x in w])
    for certs in ["embedded", "omitted"]:
        a = med([x[f"sign_{certs}"] for x in w])
        bare.append((f"rsa2048 sign, certificates {certs}: envelope ÷ graviola's bare signature",
                     p, a, raw_sign, a / raw_sign))
    a = med([x["verify_omitted_cold"] for x in w])
    bare.append(("rsa2048 first message, certificates omitted: envelope ÷ (graviola's bare check ÷ 3)",
                 p, a, raw_verify / 3, a / (raw_verify / 3)))
    o_sign = med([openssl_rsa(r)["sign"] for r in range(1, rounds + 1)])
    o_verify = med([openssl_rsa(r)["verify"] for r in range(1, rounds + 1)])
    bare.append(("rsa2048 bare signature: graviola ÷ `openssl speed rsa2048`", p, raw_sign, o_sign, raw_sign / o_sign))
    bare.append(("rsa2048 bare check: graviola ÷ `openssl speed rsa2048`", p, raw_verify, o_verify, raw_verify / o_verify))
bare_head = ("measure", "provider", "ops/s", "yardstick ops/s", "ratio")
def bare_cells(r):
    what, p, a, b, ratio = r
    return (what, p, f"{a:,.0f}", f"{b:,.0f}", f"{ratio:.2f}")

if markdown:
    print(f"Measured with `PROVIDERS=\"{' '.join(providers)}\" bench/compare.sh --markdown {secs} {size}` ({summary}); "
          "operations per second, one figure per row:")
    print()
    print("| " + " | ".join(head) + " |")
    print("|---|---|---|---|---:|---:|---:|---:|---:|---|")
    for r in rows:
        print("| " + " | ".join(cells(r)) + " |")
    if bare:
        print()
        print("| " + " | ".join(bare_head) + " |")
        print("|---|---|---:|---:|---:|")
        for r in bare:
            print("| " + " | ".join(bare_cells(r)) + " |")
else:
    print(summary)
    print()
    table = [head] + [cells(r) for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(head))]
    for row in table:
        print("  ".join(c.rjust(wd) if 4 <= i <= 8 else c.ljust(wd)
                        for i, (c, wd) in enumerate(zip(row, widths))).rstrip())
    if bare:
        print()
        table = [bare_head] + [bare_cells(r) for r in bare]
        widths = [max(len(row[i]) for row in table) for i in range(len(bare_head))]
        for row in table:
            print("  ".join(c.rjust(wd) if i >= 2 else c.ljust(wd)
                            for i, (c, wd) in enumerate(zip(row, widths))).rstrip())
PY
