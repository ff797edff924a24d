#!/usr/bin/env bash
# System calls per request, per engine (ENGINES, default: every built one): `strace -c -f`
# attached to one server process for a fixed number of requests (wrk -t1 with
# bench/http/stop_after.lua), after a one-second warm-up outside the count.
#  - grove-hello, keep-alive (MODES has keepalive) and with `Connection: close` (close): the
#    server's wait path, and with close the cost of a new connection;
#  - with DB=1, grove-demo's /db?ms=0 (one grove::pg query from a coroutine per request) and
#    /db-sync?ms=0 (one query through unmodified libpq under compat), keep-alive, against a
#    PostgreSQL started by scripts/test-services.sh on a free loopback port.
# strace slows the servers down, so the req/s of these runs mean nothing; the counts do.
# HELLO=/path and DEMO=/path measure other builds of the two servers (e.g. before a change);
# LABEL names them in the table. Prints a markdown table.
#
#   REQUESTS=20000 CONNS=50 ENGINES="io_uring asio" MODES="keepalive close" DB=1 \
#     BUILD=build-bench bench/run_syscalls.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$root/build-bench}
case $build in /*) ;; *) build=$root/$build ;; esac
requests=${REQUESTS:-20000}
conns=${CONNS:-50}
modes=${MODES:-keepalive close}
db=${DB:-0}
label=${LABEL:-}
for tool in wrk strace curl python3; do
  command -v "$tool" >/dev/null || { echo "run_syscalls.sh: $tool is missing" >&2; exit 2; }
done
hello=${HELLO:-}
demo=${DEMO:-}
if [ -z "$hello" ] || { [ "$db" = 1 ] && [ -z "$demo" ]; }; then
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DGROVE_BUILD_CLIENTS=ON >/dev/null
  targets=(grove-hello)
  [ "$db" = 1 ] && targets+=(grove-demo)
  cmake --build "$build" -j2 --target "${targets[@]}" >/dev/null
  hello=${hello:-$build/examples/grove-hello}
  demo=${demo:-$build/examples/grove-demo}
fi
engines=${ENGINES:-$("$hello" --version | sed -n 's/^engines: //p' | tr -d ',')}
work=$(mktemp -d /tmp/grove-bench-syscalls.XXXXXX)
server=""
cleanup() {
  [ -n "$server" ] && kill "$server" 2>/dev/null
  [ "$db" = 1 ] && "$root/scripts/test-services.sh" destroy "$work/postgres" >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

conninfo=""
if [ "$db" = 1 ]; then
  chmod 0711 "$work"  # PostgreSQL's unprivileged user must reach it
  export GROVE_SERVICE_OWNER=$$
  pg=$("$root/scripts/test-services.sh" start postgres "$work/postgres")
  conninfo="host=127.0.0.1 port=$(sed -n 's/^port=//p' <<<"$pg") user=grove dbname=postgres"
fi

# count <engine> <what> <url> <wrk options...>: one table row for the server in $server.
count() {
  local engine=$1 what=$2 url=$3 out done_n
  shift 3
  for _ in $(seq 1 200); do curl -fsS -o /dev/null "$url" 2>/dev/null && break; sleep 0.05; done
  taskset -c 0 wrk -t1 -c"$conns" -d1s "$@" "$url" >/dev/null
  strace -c -f -p "$server" -o "$work/trace" &
  local tracer=$!
  sleep 0.5
  out=$(taskset -c 0 wrk -t1 -c"$conns" -d60s "$@" -s "$root/bench/http/stop_after.lua" "$url" -- "$requests")
  kill -INT "$tracer"
  wait "$tracer" 2>/dev/null || true
  kill "$server"
  wait "$server" 2>/dev/null || true
  server=""
  done_n=$(echo "$out" | sed -n 's/^ *\([0-9]*\) requests in.*/\1/p')
  python3 - "$work/trace" "$engine" "$what" "$done_n" "$label" <<'PY'
import sys
path, engine, what, n, label = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
calls = {}
for line in open(path):  # % time, seconds, usecs/call, calls, [errors], syscall
    f = line.split()
    if len(f) >= 5 and f[0][0].isdigit() and f[-1] != "total":
        calls[f[-1]] = int(f[3])
total = sum(calls.values())
top = sorted(calls.items(), key=lambda kv: -kv[1])[:6]
print(f"| {label + ' ' if label else ''}{engine} | {what} | {n:,} | {total / n:.2f} | "
      + ", ".join(f"`{k}` {v / n:.2f}" for k, v in top) + " |")
PY
}

echo "| engine | workload | requests | system calls per request | most frequent (per request) |"
echo "|---|---|---:|---:|---|"
for engine in $engines; do
  for mode in $modes; do
    port=$(free_port)
    taskset -c 1 "$hello" --engine "$engine" --bind "127.0.0.1:$port" --log-level warning >/dev/null 2>&1 &
    server=$!
    if [ "$mode" = close ]; then
      count "$engine" "grove-hello, Connection: close" "http://127.0.0.1:$port/" -H "Connection: close"
    else
      count "$engine" "grove-hello, keep-alive" "http://127.0.0.1:$port/"
    fi
  done
  if [ "$db" = 1 ]; then
    for path in "/db?ms=0" "/db-sync?ms=0"; do
      port=$(free_port)
      taskset -c 1 "$demo" --workers 1 --engine "$engine" --log-level warning \
        --database-url "$conninfo" --db-pool-size "$conns" --bind "127.0.0.1:$port" >/dev/null 2>&1 &
      server=$!
      count "$engine" "grove-demo $path (one query), keep-alive" "http://127.0.0.1:$port$path"
    done
  fi
done
