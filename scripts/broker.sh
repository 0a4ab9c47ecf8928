# Shell functions for a throwaway RabbitMQ broker, sourced by scripts/test-all.
#
# start_broker DIR PORT: starts rabbitmq-server as the current user (the /usr/lib script,
# not the /usr/sbin wrapper that switches user), in the foreground of a background job,
# on 127.0.0.1:PORT only (AMQP, distribution and epmd all bound to loopback), with its
# data and logs under DIR and no plugins; waits until the port accepts connections.
# It also writes DIR/rabbitmqctl (rabbitmqctl for this broker: its node name and Erlang
# cookie) and exports WAXSEAL_RABBITMQCTL naming it, for the tests that need a second
# broker user or a broker setting.
# stop_broker: stops it, and the epmd it started, by PID.
# bench_broker DIR: for the bench scripts: unless AMQP_ADDR names a running broker, starts
# one under DIR on 127.0.0.1:${WAXSEAL_BENCH_PORT:-5699}, sets AMQP_ADDR to it and
# started_broker=1 (the caller's cleanup then stops it).

broker_pid=""
broker_epmd=""

start_broker() {
  local dir=$1 port=$2
  mkdir -p "$dir/home" "$dir/mnesia" "$dir/log"
  echo "[]." > "$dir/enabled_plugins"
  local epmd_before
  epmd_before=$(pgrep -x epmd || true)
  (
    export HOME="$dir/home"
    export RABBITMQ_NODENAME="waxseal-test-$$@localhost"
    export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
    export RABBITMQ_NODE_PORT="$port"
    export RABBITMQ_DIST_PORT=$((port + 20000))
    export ERL_EPMD_ADDRESS=127.0.0.1
    export RABBITMQ_MNESIA_BASE="$dir/mnesia"
    export RABBITMQ_LOG_BASE="$dir/log"
    export RABBITMQ_ENABLED_PLUGINS_FILE="$dir/enabled_plugins"
    export RABBITMQ_PID_FILE="$dir/rabbitmq.pid"
    export RABBITMQ_CONFIG_FILE="$dir/rabbitmq"
    export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1} ${WAXSEAL_BROKER_ERL_ARGS:-}"
    exec /usr/lib/rabbitmq/bin/rabbitmq-server
  ) > "$dir/server.out" 2>&1 &
  broker_pid=$!
  printf '#!/bin/sh\nHOME=%s RABBITMQ_NODENAME=%s ERL_EPMD_ADDRESS=127.0.0.1 exec /usr/lib/rabbitmq/bin/rabbitmqctl "$@"\n' \
    "'$dir/home'" "'waxseal-test-$$@localhost'" > "$dir/rabbitmqctl"
  chmod +x "$dir/rabbitmqctl"
  export WAXSEAL_RABBITMQCTL="$dir/rabbitmqctl"
  for _ in $(seq 1 120); do
    if (echo > "/dev/tcp/127.0.0.1/$port") 2> /dev/null; then
      broker_epmd=$(comm -13 <(echo "$epmd_before" | sort) <(pgrep -x epmd | sort) | tr '\n' ' ')
      return 0
    fi
    if ! kill -0 "$broker_pid" 2> /dev/null; then
      echo "rabbitmq-server exited; its output:" >&2
      tail -20 "$dir/server.out" >&2
      return 1
    fi
    sleep 0.5
  done
  echo "rabbitmq-server did not open port $port within 60 s" >&2
  return 1
}

stop_broker() {
  if [ -n "$broker_pid" ]; then
    # The script exec'd erl, so this is the broker itself; its children go with it.
    kill "$broker_pid" 2> /dev/null || true
    for _ in $(seq 1 40); do kill -0 "$broker_pid" 2> /dev/null || break; sleep 0.25; done
    kill -9 "$broker_pid" 2> /dev/null || true
    pkill -P "$broker_pid" 2> /dev/null || true
    broker_pid=""
  fi
  for pid in $broker_epmd; do
    kill "$pid" 2> /dev/null || true
  done
  broker_epmd=""
}

# start_cluster DIR BASEPORT: starts three RabbitMQ nodes, waxseal-cN-$$@localhost on
# 127.0.0.1:BASEPORT, BASEPORT+1, BASEPORT+2 (distribution ports +20000), one HOME and so
# one Erlang cookie, data under DIR/nN; returns at once (they boot in the background).
# wait_cluster: waits until the three answer, joins nodes 2 and 3 to node 1
# (rabbitmqctl join_cluster), and exports AMQP_CLUSTER (the three URLs, comma-separated,
# in node order) and AMQP_CLUSTER_PIDS (the PIDs of their Erlang VMs, from the nodes' PID
# files, same order: what a failover test kills) for the failover tests.
# stop_cluster: stops the nodes (their start scripts, then the VMs), and the epmd they
# started, by PID.

cluster_dir=""
cluster_base=""
cluster_pids=()
cluster_vms=()
cluster_epmd_before=""
cluster_epmd=""

start_cluster() {
  cluster_dir=$1 cluster_base=$2
  cluster_pids=()
  mkdir -p "$cluster_dir/home"
  echo "[]." > "$cluster_dir/enabled_plugins"
  # Written before any node starts: the three read the same cookie.
  head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$cluster_dir/home/.erlang.cookie"
  chmod 400 "$cluster_dir/home/.erlang.cookie"
  cluster_epmd_before=$(pgrep -x epmd || true)
  local i
  for i in 1 2 3; do
    local port=$((cluster_base + i - 1)) node="waxseal-c$i-$$@localhost" d="$cluster_dir/n$i"
    mkdir -p "$d/mnesia" "$d/log"
    (
      export HOME="$cluster_dir/home"
      export RABBITMQ_NODENAME="$node"
      export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
      export RABBITMQ_NODE_PORT="$port"
      export RABBITMQ_DIST_PORT=$((port + 20000))
      export ERL_EPMD_ADDRESS=127.0.0.1
      export RABBITMQ_MNESIA_BASE="$d/mnesia"
      export RABBITMQ_LOG_BASE="$d/log"
      export RABBITMQ_ENABLED_PLUGINS_FILE="$cluster_dir/enabled_plugins"
      export RABBITMQ_PID_FILE="$d/rabbitmq.pid"
      export RABBITMQ_CONFIG_FILE="$d/rabbitmq"
      export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
      exec /usr/lib/rabbitmq/bin/rabbitmq-server
    ) > "$d/server.out" 2>&1 &
    cluster_pids+=($!)
    printf '#!/bin/sh\nHOME=%s RABBITMQ_NODENAME=%s ERL_EPMD_ADDRESS=127.0.0.1 exec /usr/lib/rabbitmq/bin/rabbitmqctl "$@"\n' \
      "'$cluster_dir/home'" "'$node'" > "$d/rabbitmqctl"
    chmod +x "$d/rabbitmqctl"
  done
}

wait_cluster() {
  local i
  for i in 1 2 3; do
    local d="$cluster_dir/n$i" pid=${cluster_pids[$((i - 1))]} port=$((cluster_base + i - 1)) up=""
    for _ in $(seq 1 240); do
      if (echo > "/dev/tcp/127.0.0.1/$port") 2> /dev/null; then up=1; break; fi
      kill -0 "$pid" 2> /dev/null || break
      sleep 0.5
    done
    if [ -z "$up" ] || ! timeout 120 "$d/rabbitmqctl" await_startup > "$d/await.out" 2>&1; then
      echo "cluster node $i did not start; its output:" >&2
      tail -n 20 "$d/server.out" "$d/await.out" >&2
      return 1
    fi
  done
  cluster_epmd=$(comm -13 <(echo "$cluster_epmd_before" | sort) <(pgrep -x epmd | sort) | tr '\n' ' ')
  for i in 2 3; do
    local ctl="$cluster_dir/n$i/rabbitmqctl"
    "$ctl" stop_app > /dev/null
    "$ctl" join_cluster "waxseal-c1-$$@localhost" > /dev/null
    "$ctl" start_app > /dev/null
  done
  local urls=() port
  cluster_vms=()
  for i in 0 1 2; do
    port=$((cluster_base + i))
    urls+=("amqp://guest:guest@127.0.0.1:$port/%2f")
    cluster_vms+=("$(cat "$cluster_dir/n$((i + 1))/rabbitmq.pid")")
  done
  AMQP_CLUSTER=$(IFS=,; echo "${urls[*]}")
  AMQP_CLUSTER_PIDS=$(IFS=,; echo "${cluster_vms[*]}")
  export AMQP_CLUSTER AMQP_CLUSTER_PIDS
}

stop_cluster() {
  local pid
  for pid in "${cluster_pids[@]}"; do
    kill "$pid" 2> /dev/null || true
  done
  for pid in "${cluster_pids[@]}" "${cluster_vms[@]}"; do
    for _ in $(seq 1 40); do kill -0 "$pid" 2> /dev/null || break; sleep 0.25; done
    kill -9 "$pid" 2> /dev/null || true
  done
  cluster_pids=()
  cluster_vms=()
  for pid in $cluster_epmd; do
    kill "$pid" 2> /dev/null || true
  done
  cluster_epmd=""
}

bench_broker() {
  [ -n "${AMQP_ADDR:-}" ] && return 0
  local port=${WAXSEAL_BENCH_PORT:-5699}
  start_broker "$1" "$port"
  started_broker=1
  AMQP_ADDR="amqp://guest:guest@127.0.0.1:$port/%2f"
}
