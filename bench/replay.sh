#!/usr/bin/env bash
# The replay store's cost in `waxseal gateway`, end to end through a real RabbitMQ, and on
# its own. Not a test (CI does not run it): figures for docs/gateway.md and the README.
#
#   bench/replay.sh [--markdown] [MESSAGES] [PAYLOAD_BYTES]
#
# P-256, certificates embedded; MESSAGES distinct signed messages published to the
# gateway's queue (quorum) first, then consumed by (each run its own queue and messages):
#
# - `1 gateway, file`: one process (--threads 1) with the file store (its default);
# - `1 gateway, Redis`: one process with --replay-store redis://...;
# - `2 gateways, file`: two processes of one host sharing the journal;
# - `2 gateways, Redis`: two processes with different state directories sharing only Redis
#   (as two hosts would; here on the same cores).
#
# Each round runs the four configurations in turn (ROUNDS, default 3); every figure is the
# median of the rounds, and the Redis loss is also given round by round (a shared machine
# is noisy). Rates are between the first and the last message out (bench_load's watcher, as in
# bench/gateway.sh); `÷ 1 file` is each rate over the one gateway with the file store,
# measured in the same run. Then the stores alone (the waxseal-message example
# replay_cost): µs per admit + settle of a new key, one thread, Redis on loopback (a round
# trip each: the gateway waits for it on a blocking thread while its worker verifies the
# next deliveries, so this latency is not its cost); and the issue's goal, the throughput
# one gateway loses to the Redis store against the file store (at most 10%).
#
# WAXSEAL_BENCH_PROFILE=dev builds with the dev profile (dependencies optimised, the
# workspace's crates not) instead of release: less disk and build time, slower gateways.
#
# Needs rabbitmq-server (started on 127.0.0.1:${WAXSEAL_BENCH_PORT:-5699} unless AMQP_ADDR
# names a running broker) and redis-server (started on 127.0.0.1:${WAXSEAL_BENCH_REDIS_PORT:-6399}
# with AOF, appendfsync everysec, by scripts/redis.sh; stopped by PID).
set -euo pipefail
cd "$(dirname "$0")/.."
markdown=""
if [ "${1:-}" = --markdown ]; then
  markdown=1
  shift
fi
count=${1:-5000}
size=${2:-1024}
rounds=${ROUNDS:-3}
profile=${WAXSEAL_BENCH_PROFILE:-release}
out=release
[ "$profile" = dev ] && out=debug
cargo build --profile "$profile" -q -p waxseal-cli
cargo build --profile "$profile" -q -p waxseal-gateway --example bench_load
cargo build --profile "$profile" -q -p waxseal-message --example replay_cost
bin=$PWD/target/$out/waxseal
load=$PWD/target/$out/examples/bench_load
work=$(mktemp -d)
gateways=()
. scripts/redis.sh
cleanup() {
  for p in "${gateways[@]}"; do kill "$p" 2> /dev/null || true; done
  stop_redis
  [ -n "${started_broker:-}" ] && stop_broker
  rm -rf "$work"
}
trap cleanup EXIT
. scripts/broker.sh
bench_broker "$work/broker"
redis_port=${WAXSEAL_BENCH_REDIS_PORT:-6399}
start_redis "$work/redis" "$redis_port"
redis_url="redis://127.0.0.1:$redis_port/0"

dir=$work/p256
mkdir -p "$dir"
"$bin" pki init --dir "$dir/pki" --algorithm p256 > /dev/null
"$bin" pki issue --dir "$dir/pki" bodhi-app01.example.org > /dev/null
cat > "$dir/bus.json" << JSON
{"trust": ["pki/root-ca.crt"], "certs": ["pki/signing-ca.crt"],
 "routing_policy": {"org.example.prod.bodhi.#": ["bodhi-*"]}}
JSON

# The CPU time redis-server has used, in ticks (1/100 s).
redis_ticks() { awk '{print $14 + $15}' "/proc/$redis_pid/stat"; }

# run PREFIX STORE PROCS: publishes, consumes with PROCS gateways; STORE is `file` (one
# state directory for all) or `redis` (a state directory each, the Redis store). Sets
# `rate` (messages/s), `cpu` (the gateways' CPU µs per message, all together) and
# `redis_cpu` (redis-server's CPU µs per message over the same run: a tick is 10 ms, so
# this is coarse; 0 for the file store, which does not use it).
run() {
  local prefix=$1 store=$2 procs=$3 i
  "$load" publish "$AMQP_ADDR" "$prefix" "$dir/pki" bodhi-app01.example.org "$count" "$size" embedded
  rm -f "$dir/pids"
  "$load" watch "$AMQP_ADDR" "$prefix" "$count" "$dir/pids" > "$dir/rate" &
  local watcher=$!
  gateways=()
  for i in $(seq 1 "$procs"); do
    local opts=(--state-dir "$dir/state.$prefix")
    [ "$store" = redis ] && opts=(--state-dir "$dir/state.$prefix.$i" --replay-store "$redis_url")
    "$bin" gateway --amqp "$AMQP_ADDR" --queue "$prefix.in" --bus "$dir/bus.json" \
      --verified-exchange "$prefix.ok" --rejected-exchange "$prefix.no" \
      --prefetch 256 --threads 1 "${opts[@]}" 2> "$dir/gw.$i.log" &
    gateways+=($!)
  done
  printf '%s\n' "${gateways[@]}" > "$dir/pids"
  local redis_before
  redis_before=$(redis_ticks)
  wait "$watcher"
  redis_cpu=$(( ($(redis_ticks) - redis_before) * 10000 / count ))
  for i in "${gateways[@]}"; do kill -TERM "$i"; wait "$i" || true; done
  gateways=()
  local refused
  read -r rate refused cpu < "$dir/rate"
  [ "$refused" = 0 ] || { echo "bench: $refused messages refused" >&2; cat "$dir"/gw.*.log >&2; exit 1; }
}

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg); $count messages of $size bytes, P-256, certificates embedded; profile $profile"
rows=$work/rows
: > "$rows"
for round in $(seq 1 "$rounds"); do
  for config in "1 file" "1 redis" "2 file" "2 redis"; do
    read -r procs store <<< "$config"
    run "bench.replay.$store.$procs.$round" "$store" "$procs"
    [ "$store" = redis ] || redis_cpu=0
    echo "$procs $store $rate $cpu $redis_cpu" >> "$rows"
  done
done
"$PWD/target/$out/examples/replay_cost" 20000 "$redis_url" > "$work/cost"
python3 - "$rows" "$work/cost" "$markdown" << 'PY'
import json, sys
rows, cost, markdown = sys.argv[1], json.load(open(sys.argv[2])), sys.argv[3] == "1"
names = {"file": "file", "redis": "Redis"}
from statistics import median
runs = {}
for p, s, r, c, rc in (l.split() for l in open(rows)):
    runs.setdefault((int(p), s), []).append((float(r), float(c), float(rc)))
# The median of the rounds, figure by figure (the configurations take turns in each round).
data = [(p, s, median(x[0] for x in v), median(x[1] for x in v), median(x[2] for x in v))
        for (p, s), v in runs.items()]
each = {k: [x[0] for x in v] for k, v in runs.items()}
base = next(r for p, s, r, _, _ in data if (p, s) == (1, "file"))
redis1 = next(r for p, s, r, _, _ in data if (p, s) == (1, "redis"))
head = ["gateways", "store", "messages/s", "÷ 1 file", "gateway CPU µs/msg", "redis-server CPU µs/msg"]
out = [[str(p), names[s], f"{r:,.0f}", f"{r / base:.2f}", f"{c:.0f}", f"{rc:.0f}" if s == "redis" else "-"]
       for p, s, r, c, rc in data]
per_msg = 1e6 / base
store = [
    ["file: admit + settle, one thread, µs/msg", f"{cost['file_us']:.1f}"],
    ["Redis: admit + settle, one thread (a round trip each), µs/msg", f"{cost['redis_us']:.1f}"],
    ["one gateway (file), µs/msg", f"{per_msg:.0f}"],
    ["one gateway's throughput lost to the Redis store (1 − Redis ÷ file, medians)", f"{max(0.0, 1 - redis1 / base):.1%}"],
    ["the same, round by round", ", ".join(f"{max(0.0, 1 - r / f):.1%}" for f, r in zip(each[(1, "file")], each[(1, "redis")]))],
]
if markdown:
    print("| " + " | ".join(head) + " |")
    print("|---:|---|" + "---:|" * (len(head) - 2))
    for r in out:
        print("| " + " | ".join(r) + " |")
    print()
    print("| store cost | figure |")
    print("|---|---:|")
    for r in store:
        print("| " + " | ".join(r) + " |")
else:
    for r in [head] + out:
        print("  ".join(c.rjust(12) for c in r))
    print()
    for k, v in store:
        print(f"{k:42} {v}")
PY
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
