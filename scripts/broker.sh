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
