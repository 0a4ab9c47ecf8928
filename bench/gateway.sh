#!/usr/bin/env bash
# `waxseal gateway` end to end through a real RabbitMQ, against `waxseal speed`'s verify
# throughput measured in the same run, and against what the broker lets any consumer reach.
#
#   bench/gateway.sh [--markdown] [MESSAGES] [PAYLOAD_BYTES]
#
# For P-256 and RSA-2048, certificates embedded (the message's certificate field carries
# the signer and its signing CA) and omitted (the signer only; the CA comes from the bus
# configuration's certs): MESSAGES distinct signed fedmsg-style messages are published to
# the gateway's queue first (a quorum queue, as deployed; QUEUE_TYPE=classic to compare),
# then consumed by:
#
# - `forwarder`: the unchecked forwarder (bench_load forward: consume, republish with
#   publisher confirms, acknowledge each input once its copy is confirmed; one thread of
#   its own, prefetch 256) on lapin. Its rate F is the reference: what the broker and an
#   AMQP client on this machine allow when nothing is checked.
# - `amqprs forwarder`: the same forwarder on amqprs, the client the gateway uses; its
#   rate and CPU per message beside the lapin forwarder's are the figures the gateway's
#   client was chosen by.
# - `1 gateway`: one process (--threads 1) validating every message;
# - `1 gateway, 2 threads`: one process with --threads 2 (verification on both cores);
# - `2 gateways`: two --threads 1 processes sharing the queue and a file replay store.
#
# Rates are measured between the first and the last message out (start-up is not
# counted), by a watcher that polls the depth of the two output queues without consuming
# them. Warm caches: one signer, so its certificate path is validated once; every message
# is new, so each costs its own signature check and replay-journal entry.
#
# The limit: on two cores, with one verification per message on one core and the rest of
# the work as the forwarder does it, a verifying gateway can at best move
# 1 / (1/F + (1/V)/2) messages per second, V `speed`'s warm verification rate.
#
# Printed per row: the rates; `1 ÷ limit` and `2 threads ÷ limit` (the issue's goal: one
# gateway at least 0.85 of the limit); `1 ÷ speed`;
# `1 ÷ fwd` (the one gateway against the forwarder); the one gateway's own CPU time per message
# (user + system, from /proc, between the first and the last message out) against
# `speed`'s time per verification (`cpu ÷ speed`: 1.00 would mean the gateway spends
# nothing besides the verification); the two gateways' rate, CPU per message and `2 ÷ limit`;
# the two forwarders' CPU per message and the amqprs forwarder's rate.
#
# `waxseal speed --algorithm ALG --payload-size N` gives the in-process verify rate with a
# warm cache (same algorithm, payload size, certificates embedded or omitted). The broker,
# the watcher and the gateways share the machine's cores; `speed` has them to itself.
#
# Needs rabbitmq-server (started here on 127.0.0.1:${WAXSEAL_BENCH_PORT:-5699}, unless
# AMQP_ADDR names a running broker). Builds waxseal-cli (release) and the load tool (the
# waxseal-gateway example bench_load, release).
set -euo pipefail
cd "$(dirname "$0")/.."
markdown=""
if [ "${1:-}" = --markdown ]; then
  markdown=1
  shift
fi
count=${1:-5000}
size=${2:-1024}
export QUEUE_TYPE=${QUEUE_TYPE:-quorum}
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
. scripts/broker.sh
bench_broker "$work/broker"

# run PREFIX BUS PROCS [THREADS]: publishes, consumes with PROCS gateways on BUS (or, BUS
# `forward`, with the unchecked forwarder); sets `rate` (messages/s) and `cpu` (the
# consumers' CPU µs per message, all processes together).
run() {
  local prefix=$1 bus=$2 procs=$3 threads=${4:-1} p
  "$load" publish "$AMQP_ADDR" "$prefix" "$dir/pki" bodhi-app01.example.org "$count" "$size" "$certs"
  rm -f "$dir/seen.$prefix" "$dir/pids"
  "$load" watch "$AMQP_ADDR" "$prefix" "$count" "$dir/pids" > "$dir/rate" &
  local watcher=$!
  gateways=()
  for _ in $(seq 1 "$procs"); do
    if [ "$bus" = forward ] || [ "$bus" = forward-amqprs ]; then
      "$load" "$bus" "$AMQP_ADDR" "$prefix" 256 2> "$dir/gw.log" &
    else
      "$bin" gateway --amqp "$AMQP_ADDR" --queue "$prefix.in" --bus "$bus" \
        --verified-exchange "$prefix.ok" --rejected-exchange "$prefix.no" --queue-type "$QUEUE_TYPE" \
        --prefetch 256 --threads "$threads" --replay-store "file:$dir/seen.$prefix" 2> "$dir/gw.log" &
    fi
    gateways+=($!)
  done
  printf '%s\n' "${gateways[@]}" > "$dir/pids"
  if ! wait "$watcher"; then
    # Say which consumer fell short, with its log, before the clean-up removes it.
    echo "bench: $prefix ($bus, $procs process(es), --threads $threads): not every message came out" >&2
    cat "$dir/gw.log" >&2
    exit 1
  fi
  for p in "${gateways[@]}"; do kill -TERM "$p"; wait "$p" || true; done
  gateways=()
  local refused
  read -r rate refused cpu < "$dir/rate"
  [ "$refused" = 0 ] || { echo "bench: $refused messages refused" >&2; cat "$dir/gw.log" >&2; exit 1; }
}

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg); queue type: $QUEUE_TYPE; $count messages of $size bytes"
rows=$work/rows
: > "$rows"
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
    run "bench.$alg.$certs.forward" forward 1
    forward=$rate forward_cpu=$cpu
    run "bench.$alg.$certs.forward-amqprs" forward-amqprs 1
    amqprs=$rate amqprs_cpu=$cpu
    run "bench.$alg.$certs.1" "$dir/bus.json" 1
    one=$rate one_cpu=$cpu
    run "bench.$alg.$certs.1t2" "$dir/bus.json" 1 2
    one_t2=$rate
    run "bench.$alg.$certs.2" "$dir/bus.json" 2
    echo "$alg $certs $speed $forward $one $one_cpu $one_t2 $rate $cpu $forward_cpu $amqprs $amqprs_cpu" >> "$rows"
  done
done
python3 - "$rows" "$markdown" << 'PY'
import sys
rows, markdown = sys.argv[1], sys.argv[2] == "1"
names = {"p256": "P-256", "rsa2048": "RSA-2048"}
head = ["algorithm", "certificates", "speed verify/s", "forwarder/s", "limit/s", "1 gateway/s",
        "1 ÷ limit", "1 gateway, 2 threads/s", "2 threads ÷ limit", "1 ÷ speed", "1 ÷ fwd",
        "1 gateway CPU µs/msg", "speed µs/msg", "cpu ÷ speed", "2 gateways/s",
        "2 gateways CPU µs/msg", "2 ÷ limit", "forwarder CPU µs/msg", "amqprs forwarder/s",
        "amqprs forwarder CPU µs/msg"]
out = []
for line in open(rows):
    alg, certs, *figures = line.split()
    speed, forward, one, cpu1, one_t2, two, cpu2, fcpu, amqprs, acpu = map(float, figures)
    speed_us = 1e6 / speed
    # One verification per message on one of the two cores, the rest as the forwarder.
    limit = 1 / (1 / forward + (1 / speed) / 2)
    out.append([names[alg], certs, f"{speed:,.0f}", f"{forward:,.0f}", f"{limit:,.0f}",
                f"{one:,.0f}", f"{one / limit:.2f}", f"{one_t2:,.0f}", f"{one_t2 / limit:.2f}",
                f"{one / speed:.2f}", f"{one / forward:.2f}", f"{cpu1:.0f}", f"{speed_us:.0f}",
                f"{cpu1 / speed_us:.2f}", f"{two:,.0f}", f"{cpu2:.0f}", f"{two / limit:.2f}",
                f"{fcpu:.0f}", f"{amqprs:,.0f}", f"{acpu:.0f}"])
if markdown:
    print("| " + " | ".join(head) + " |")
    print("|---|---|" + "---:|" * (len(head) - 2))
    for r in out:
        print("| " + " | ".join(r) + " |")
else:
    widths = [max(len(h), *(len(r[i]) for r in out)) for i, h in enumerate(head)]
    for r in [head] + out:
        print("  ".join(c.rjust(w) if i > 1 else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))))
PY
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
