# Shell functions for a throwaway Redis server, sourced by scripts/test-all.
#
# start_redis DIR PORT: starts redis-server (Debian's package) as the current user, in the
# background, on 127.0.0.1:PORT only, with its data under DIR and append-only persistence
# (appendonly yes, appendfsync everysec: a restart keeps the replay window); waits until
# it answers PING. stop_redis: stops it by PID (SIGTERM, which writes the AOF), then waits.
# restart_redis: stop_redis, then the same server again on the same DIR and PORT.

redis_pid=""
redis_dir=""
redis_port=""

start_redis() {
  redis_dir=$1 redis_port=$2
  mkdir -p "$redis_dir"
  redis-server --bind 127.0.0.1 --port "$redis_port" --dir "$redis_dir" \
    --appendonly yes --appendfsync everysec --save "" --daemonize no \
    --protected-mode yes --logfile "$redis_dir/redis.log" > /dev/null 2>&1 &
  redis_pid=$!
  for _ in $(seq 1 100); do
    if redis-cli -h 127.0.0.1 -p "$redis_port" ping 2> /dev/null | grep -q PONG; then
      return 0
    fi
    if ! kill -0 "$redis_pid" 2> /dev/null; then
      echo "redis-server exited; its log:" >&2
      tail -20 "$redis_dir/redis.log" >&2
      return 1
    fi
    sleep 0.1
  done
  echo "redis-server did not answer on port $redis_port within 10 s" >&2
  return 1
}

stop_redis() {
  if [ -n "$redis_pid" ]; then
    kill "$redis_pid" 2> /dev/null || true
    for _ in $(seq 1 50); do kill -0 "$redis_pid" 2> /dev/null || break; sleep 0.1; done
    kill -9 "$redis_pid" 2> /dev/null || true
    redis_pid=""
  fi
}

restart_redis() {
  stop_redis
  start_redis "$redis_dir" "$redis_port"
}
