#!/usr/bin/env bash
# Streaming: waxseal signs and verifies content of any size in one pass and bounded memory.
#
#   bench/stream.sh [SIZE_MIB...]          (default: 1024 4096)
#
# For each size, makes a file of random bytes, then times, on the same file in the same
# run: `sha256sum` (the machine's SHA-256 speed, the yardstick), waxseal detached sign and
# verify, attached sign (from the file: definite lengths, the file read twice; from a pipe:
# indefinite lengths) and verify --out, and `openssl cms` doing the same for comparison.
# One row per figure: seconds, throughput (MiB/s), ratio to sha256sum's throughput, and
# peak resident memory (`/usr/bin/time -f %M`). The file is read once before the rows so
# every row sees it in the page cache. Big files are deleted as soon as they are done with
# (and at exit, whatever happens). Needs GNU time and openssl; builds the release CLI only.
set -euo pipefail
cd "$(dirname "$0")/.."
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(1024 4096)
cargo build --release -q -p waxseal-cli
ws="$PWD/target/release/waxseal"
work=$(mktemp -d "${TMPDIR:-/tmp}/waxseal-stream.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"
"$ws" speed --algorithm p256 --seconds 0.05 --payload-size 16 --export keys > /dev/null
k=keys/p256
signer=(--cert "$k/leaf.pem" --key "$k/leaf.key" --chain "$k/ca.pem")
ossl_signer=(-signer "$k/leaf.pem" -inkey "$k/leaf.key" -certfile "$k/ca.pem")

# run NAME CMD...: runs CMD under GNU time; prints a row (and remembers sha256sum's speed).
base=""
run() {
  local name=$1
  shift
  /usr/bin/time -f "%e %M" -o time.txt "$@" > /dev/null 2> stderr.txt || { cat stderr.txt >&2; exit 1; }
  read -r secs kib < time.txt
  python3 - "$name" "$secs" "$kib" "$mib" "$base" <<'PY'
import sys
name, secs, kib, mib, base = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
speed = mib / max(secs, 0.005)
ratio = f"{speed / float(base):.2f}" if base else "1.00"
print(f"| {mib} MiB | {name} | {secs:.2f} | {speed:.0f} | {ratio} | {kib / 1024:.1f} |")
PY
  if [ -z "$base" ]; then
    base=$(python3 -c "import sys; print($mib / max(float('$secs'), 0.005))")
  fi
}

echo "| size | operation | seconds | MiB/s | x sha256sum | peak RSS (MiB) |"
echo "|---|---|---|---|---|---|"
for mib in "${sizes[@]}"; do
  base=""
  head -c "$((mib << 20))" /dev/urandom > big
  cat big > /dev/null
  run "sha256sum" sha256sum big
  run "waxseal sign --detached" "$ws" sign "${signer[@]}" --detached --in big --out big.p7s
  run "waxseal verify (detached)" "$ws" verify --trust "$k/root.pem" --in big.p7s --content big --json
  run "waxseal sign (attached, file: definite)" "$ws" sign "${signer[@]}" --in big --out big.p7m
  run "waxseal verify --out (attached, definite)" "$ws" verify --trust "$k/root.pem" --in big.p7m --out out.bin
  cmp -s big out.bin || { echo "verified output differs" >&2; exit 1; }
  rm -f big.p7m out.bin
  run "waxseal sign (attached, pipe: indefinite)" sh -c "cat big | '$ws' sign $(printf "'%s' " "${signer[@]}") --out big.p7m"
  run "waxseal verify --out (attached, indefinite)" "$ws" verify --trust "$k/root.pem" --in big.p7m --out out.bin
  cmp -s big out.bin || { echo "verified output differs" >&2; exit 1; }
  rm -f big.p7m out.bin
  run "openssl cms -sign (detached)" openssl cms -sign -binary -outform DER -in big "${ossl_signer[@]}" -out o.p7s
  run "openssl cms -verify (detached)" openssl cms -verify -binary -inform DER -in o.p7s -content big -CAfile "$k/root.pem" -out /dev/null
  run "openssl cms -sign -stream (attached)" openssl cms -sign -stream -binary -nodetach -outform DER -in big "${ossl_signer[@]}" -out o.p7m
  run "openssl cms -verify -out (attached)" openssl cms -verify -binary -inform DER -in o.p7m -CAfile "$k/root.pem" -out out.bin
  rm -f big big.p7s o.p7s o.p7m out.bin
done
echo
echo "Load average: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores; $(openssl version | cut -d' ' -f1-2)."
