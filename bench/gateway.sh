#!/usr/bin/env bash
# `waxseal gateway` end to end through a real RabbitMQ, against `waxseal speed`'s verify
# throughput measured in the same run.
#
#   bench/gateway.sh [MESSAGES] [PAYLOAD_BYTES]
#
# For P-256 and RSA-2048, certificates embedded (the message's certificate field carries
# the signer and its signing CA) and omitted (the signer only; the CA comes from the bus
# configuration's certs): MESSAGES distinct signed fedmsg-style messages are published to
# the gateway's queue first (quorum, as deployed), then 1 gateway process (--threads 1),
# then 2 processes sharing the queue and a --replay-cache journal, consume them; the rate
# is measured between the first and the last message out (the gateway's start-up is not
# counted). Warm caches: one signer, so its certificate path is validated once; every
# message is new, so each costs its own signature check and replay-journal entry.
#
# `waxseal speed --algorithm ALG --payload-size N` gives the in-process verify rate with
# a warm cache (same algorithm, payload size and certificates embedded or omitted) for the
# ratio. The broker, the load tool and the gateways share the machine's cores: the ratio
# includes the broker's work, which `speed` does not have.
#
# Needs rabbitmq-server (started here on 127.0.0.1:${WAXSEAL_BENCH_PORT:-5699}, unless
# AMQP_ADDR names a running broker). Builds waxseal-cli (release) and the load tool (the
# waxseal-gateway example bench_load, release).
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-3000}
size=${2:-1024}
cargo build --release -q -p waxseal-cli
cargo build --release -q -p waxseal-gateway --example bench_load
bin=$PWD/target/release/waxseal
load=$PWD/target/release/examples/bench_load
work=$(mktemp -d)
gateways=()
cleanup() {
  for p in "${gateways[@]}"; do kill "$p" 2> /dev/null || true; done
  [ -n "${started_broker:-}" ] && stop_broker
  rm -rf "$work"
}
trap cleanup EXIT
if [ -z "${AMQP_ADDR:-}" ]; then
  . scripts/broker.sh
  port=${WAXSEAL_BENCH_PORT:-5699}
  start_broker "$work/broker" "$port"
  started_broker=1
  AMQP_ADDR="amqp://guest:guest@127.0.0.1:$port/%2f"
fi
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-9s %-8s %14s %12s %7s %12s %7s %7s\n' algorithm certs speed-verify 1-gateway ratio 2-gateways ratio 2/1
for alg in p256 rsa2048; do
  dir=$work/$alg
  mkdir -p "$dir"
  "$bin" pki init --dir "$dir/pki" --algorithm "$alg" > /dev/null
  "$bin" pki issue --dir "$dir/pki" bodhi-app01.example.org > /dev/null
  cat > "$dir/bus.json" << JSON
{"trust": ["pki/root-ca.crt"], "certs": ["pki/signing-ca.crt"],
 "routing_policy": {"org.example.prod.bodhi.#": ["bodhi-*"]}}
JSON
  for certs in embedded omitted; do
    speed=$("$bin" speed --algorithm "$alg" --payload-size "$size" --seconds 1 --json \
      | python3 -c "import json,sys; d=json.load(sys.stdin); d=d[0] if isinstance(d,list) else d; print(round(d['verify_${certs}_warm']))")
    rates=()
    for procs in 1 2; do
      prefix=bench.$alg.$certs.$procs
      "$load" publish "$AMQP_ADDR" "$prefix" "$dir/pki" bodhi-app01.example.org "$count" "$size" "$certs"
      rm -f "$dir/seen.$procs"
      "$load" watch "$AMQP_ADDR" "$prefix" "$count" > "$dir/rate" &
      watcher=$!
      gateways=()
      for _ in $(seq 1 "$procs"); do
        "$bin" gateway --amqp "$AMQP_ADDR" --queue "$prefix.in" --bus "$dir/bus.json" \
          --verified-exchange "$prefix.ok" --rejected-exchange "$prefix.no" \
          --prefetch 256 --threads 1 --replay-cache "$dir/seen.$procs" 2> "$dir/gw.log" &
        gateways+=($!)
      done
      wait "$watcher"
      for p in "${gateways[@]}"; do kill -TERM "$p"; wait "$p" || true; done
      gateways=()
      read -r rate refused < "$dir/rate"
      [ "$refused" = 0 ] || { echo "bench: $refused messages refused" >&2; cat "$dir/gw.log" >&2; exit 1; }
      rates+=("$rate")
    done
    python3 - "$alg" "$certs" "$speed" "${rates[0]}" "${rates[1]}" << 'PY'
import sys
alg, certs, speed, one, two = sys.argv[1], sys.argv[2], *map(float, sys.argv[3:])
print(f"{alg:<9} {certs:<8} {speed:>12.0f}/s {one:>10.0f}/s {one/speed:>7.2f} {two:>10.0f}/s {two/speed:>7.2f} {two/one:>7.2f}")
PY
  done
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
