#!/usr/bin/env bash
# The database benchmark (issue 17's performance section): one PostgreSQL and one Redis
# server (scripts/test-services.sh, on free loopback ports, stopped at exit), and against
# them, one server process at a time, driven by the same wrk commands:
#   - grove-demo (one worker, pool of POOL connections): /db?ms=10 (coroutine view, grove::pg)
#     and /db-sync?ms=10 (plain view, unmodified libpq under compat) at 200 connections;
#   - SELECT 1-style queries (/db?ms=0, /db-sync?ms=0: one round trip, no wait) and
#     pg_sleep(10 ms) at 50 connections, for grove-demo's two views, Flask + gevent + psycopg2
#     with psycogreen and without it (bench/db/flask_pg.py), and asyncpg on a minimal asyncio
#     HTTP server (bench/db/asyncpg_server.py), all running grove-demo's SQL on a pool of POOL;
#   - Redis SET and GET round trips per second from 100 clients, one command in flight each:
#     grove::redis from 100 green threads and from 100 coroutines, unmodified hiredis in 100
#     green threads under compat (bench/db/redis_roundtrips.cpp), beside
#     `redis-benchmark -c 100 -P 1 -t set,get`.
# Pinning as bench/run_http.sh: load generators (wrk, redis-benchmark, db_redis_roundtrips) on
# CPU 0, each HTTP server and redis-server on CPU 1 (PIN=0 turns it off); PostgreSQL's
# processes are not pinned. Every run is bounded (wrk -d DURATION, SECONDS per Redis test);
# the whole run takes about 3 minutes after the build. Prints the results page; with --write
# it also writes bench/results/db.md (keeping its notes) and bench/RESULTS.md.
#
#   bench/run_db.sh [--write]
#   DURATION=5s SECONDS_PER_TEST=3 POOL=100 ENGINE=<the build's default> BUILD=build-bench bench/run_db.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$root/build-bench}
case $build in /*) ;; *) build=$root/$build ;; esac
duration=${DURATION:-5s}
redis_seconds=${SECONDS_PER_TEST:-3}
pool=${POOL:-100}
write=0
[ "${1:-}" = "--write" ] && write=1
command_line="bench/run_db.sh${1:+ $1}"

for tool in wrk curl redis-benchmark redis-cli; do
  command -v "$tool" >/dev/null || { echo "run_db.sh: $tool is missing (scripts/install-deps.sh bench)" >&2; exit 2; }
done
python=/usr/bin/python3  # Debian's, which has the python3-* packages (not a pyenv one on PATH)
"$python" -c "import flask, gevent, psycopg2, psycogreen, asyncpg" 2>/dev/null || {
  echo "run_db.sh: $python cannot import flask, gevent, psycopg2, psycogreen and asyncpg:" \
       "scripts/install-deps.sh bench" >&2
  exit 2
}
ulimit -n 65536 2>/dev/null || true

cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DGROVE_BUILD_BENCH=ON \
  -DGROVE_BUILD_CLIENTS=ON >/dev/null
cmake --build "$build" -j2 --target grove-demo db_redis_roundtrips >/dev/null
demo=$build/examples/grove-demo
roundtrips=$build/bench/db/db_redis_roundtrips
engine=${ENGINE:-$("$demo" --version | sed -n 's/^default engine: //p')}

source "$root/bench/lib.sh"
bench_setup db
services=$work/services
mkdir -p "$services"
chmod 0711 "$services"  # PostgreSQL's unprivileged user must reach it
cleanup() {  # the HTTP servers first (their pools' connections), then the databases, then work
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  "$root/scripts/test-services.sh" destroy "$services/postgres" >/dev/null 2>&1 || true
  "$root/scripts/test-services.sh" destroy "$services/redis" >/dev/null 2>&1 || true
  bench_cleanup
}
trap cleanup EXIT
# Their watchdogs stop the servers should this script die without running its trap (kill -9).
export GROVE_SERVICE_OWNER=$$
pg=$("$root/scripts/test-services.sh" start postgres "$services/postgres")
redis=$("$root/scripts/test-services.sh" start redis "$services/redis")
pg_port=$(sed -n 's/^port=//p' <<<"$pg")
redis_port=$(sed -n 's/^port=//p' <<<"$redis")
if [ ${#server_cpu[@]} -gt 0 ]; then taskset -pc 1 "$(cat "$services/redis/redis.pid")" >/dev/null; fi
conninfo="host=127.0.0.1 port=$pg_port user=grove dbname=postgres"

# Starts one HTTP server on CPU 1 (its command's "@PORT@" becomes a free port), waits until
# `probe` answers through the database, and warms its pool up for a second.
server_pid=""
start_server() {  # name probe command...
  local name=$1 probe=$2 arg; shift 2
  port=$(free_port)
  local cmd=()
  for arg in "$@"; do cmd+=("${arg//@PORT@/$port}"); done
  "${server_cpu[@]}" "${cmd[@]}" >"$work/$name.log" 2>&1 &
  server_pid=$!
  pids+=("$server_pid")
  wait_http "http://127.0.0.1:$port$probe"
  "${client_cpu[@]}" wrk -t1 -c200 -d1s "http://127.0.0.1:$port$probe" >/dev/null 2>&1 || true
}
stop_server() {
  kill "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
}

# CPU time per request (bench/lib.sh's cpu_ticks: the HTTP server, or PostgreSQL's
# postmaster and backends, which the pools keep for the whole run) is the figure that survives
# a machine shared with other work: it measures what each request costs.
postmaster=$(head -n1 "$services/postgres/data/postmaster.pid")

results=$work/results.txt
: >"$results"
run_wrk() {  # label conns path
  local out server_before pg_before
  server_before=$(cpu_ticks "$server_pid") pg_before=$(cpu_ticks "$postmaster")
  out=$("${client_cpu[@]}" wrk -t1 -c"$2" -d"$duration" --timeout 10s \
        -s "$root/bench/web/report.lua" "http://127.0.0.1:$port$3" 2>&1 || true)
  out=$(grep '^RESULT' <<<"$out" ||
        echo 'RESULT requests=0 seconds=1 p50_ms=0 p99_ms=0 connect=0 read=0 write=0 status=0 timeout=0 failed=1')
  echo "$1 $out server_ticks=$(($(cpu_ticks "$server_pid") - server_before))" \
       "pg_ticks=$(($(cpu_ticks "$postmaster") - pg_before))" >>"$results"
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
started=$(date -u +%Y-%m-%dT%H:%M:%SZ)

start_server grove '/db?ms=0' "$demo" --workers 1 --engine "$engine" --log-level warning --database-url "$conninfo" \
  --db-pool-size "$pool" --bind 127.0.0.1:@PORT@
run_wrk "bound grove-db" 200 '/db?ms=10'
run_wrk "bound grove-db-sync" 200 '/db-sync?ms=10'
for ms in 0 10; do
  run_wrk "c50-ms$ms grove-db" 50 "/db?ms=$ms"
  run_wrk "c50-ms$ms grove-db-sync" 50 "/db-sync?ms=$ms"
done
stop_server

for side in flask_green flask_plain asyncpg_server; do
  case $side in
    flask_green) path=/db-sync; cmd=(bench/db/flask_pg.py @PORT@ "$pg_port" "$pool" --psycogreen) ;;
    flask_plain) path=/db-sync; cmd=(bench/db/flask_pg.py @PORT@ "$pg_port" "$pool") ;;
    asyncpg_server) path=/db; cmd=(bench/db/asyncpg_server.py @PORT@ "$pg_port" "$pool") ;;
  esac
  start_server "$side" "$path?ms=0" "$python" "$root/${cmd[0]}" "${cmd[@]:1}"
  for ms in 0 10; do run_wrk "c50-ms$ms $side" 50 "$path?ms=$ms"; done
  [ $side = asyncpg_server ] && run_wrk "bound asyncpg_server" 200 "$path?ms=10"
  stop_server
done

# Redis: the anchor first, then grove's clients, all on CPU 0 against redis-server on CPU 1.
redis_out=$work/redis.txt
# Its CPU time (user + system, both tests) goes to the last line, as the grove clients report theirs.
"${client_cpu[@]}" "$python" -c 'import resource, subprocess, sys
subprocess.run(sys.argv[1:], check=True)
r = resource.getrusage(resource.RUSAGE_CHILDREN)
print("cpu_seconds=%f" % (r.ru_utime + r.ru_stime))' \
  redis-benchmark -p "$redis_port" -c 100 -P 1 -t set,get -n 300000 --csv -q >"$redis_out.anchor" 2>&1
for client in native-green native-coro hiredis; do
  GROVE_LOOP=$engine "${client_cpu[@]}" "$roundtrips" "$redis_seconds" "$redis_port" "$client" >>"$redis_out"
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

if [ ${#client_cpu[@]} -gt 0 ]; then
  pinning="Load generators (wrk, redis-benchmark, db_redis_roundtrips) ran on CPU 0, each HTTP server and redis-server on CPU 1 (taskset); PostgreSQL's processes were not pinned."
else
  pinning="Nothing was pinned (PIN=0 or one CPU)."
fi
versions=$(
  echo "grove-demo $("$demo" --version | head -n1 | awk '{print $NF}'), engine $engine"
  echo "PostgreSQL $("$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)/postgres" --version | awk '{print $3}')"
  echo "Redis $(redis-server --version | sed -n 's/.*v=\([0-9.]*\).*/\1/p')"
  echo "$(wrk -v 2>&1 | head -n1 | awk '{print $1, $2}')"
  "$python" -c 'import platform, flask, gevent, psycopg2, psycogreen, asyncpg
from importlib.metadata import version
print("Python %s, Flask %s, gevent %s, psycopg2 %s, psycogreen %s, asyncpg %s" % (platform.python_version(),
      version("flask"), gevent.__version__, psycopg2.__version__.split()[0], version("psycogreen"), asyncpg.__version__))'
)
page=$("$python" "$root/bench/db/report.py" "$results" "$redis_out" "$redis_out.anchor" "$started" \
       "$load_before" "$load_after" "$duration" "$redis_seconds" "$pool" "$pinning" "$versions" \
       "$command_line")
echo "$page"
if [ $write -eq 1 ]; then
  write_page "$root/bench/results/db.md" "$page"
  "$root/bench/collect_results.sh" >&2
fi
