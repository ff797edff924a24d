#!/usr/bin/env bash
# Operations overheads of issue 18, each beside its anchor in the same run:
#   - metrics: grove-demo's GET /hello with --metrics-bind (the request figures, latency
#     histogram and run-queue timing on) against the same server without; target: at most
#     5% fewer req/s
#   - sessions: the read+write session view GET /visits with SESSION_TYPE "redis" (one Redis
#     on loopback, started by scripts/test-services.sh) against the signed-cookie session;
#     target: at least 0.8x the cookie session's req/s
# One grove-demo worker (Release, compat on) on CPU 1, Redis on CPU 1 too (the server side;
# REDIS_CPU=0 puts it beside wrk), wrk on CPU 0 (bench/lib.sh; PIN=0 turns it off). After
# the rounds, redis-benchmark measures Redis alone, to show what it allowed. Rounds alternate the two variants of a
# pair, each server started fresh; the medians are compared. Every wrk connection sends
# the same session cookie, so each request reads the session and writes it back.
# Prints the results page; with --write it replaces the generated part of
# bench/results/ops.md, keeping the notes below its "<!-- notes -->" line.
#
#   bench/run_ops.sh [--write]
#   DURATION=5s ROUNDS=5 CONNS=50 BUILD=build-bench-ops bench/run_ops.sh   (the defaults)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$root/build-bench-ops}
case $build in /*) ;; *) build=$root/$build ;; esac
duration=${DURATION:-5s}
rounds=${ROUNDS:-5}
conns=${CONNS:-50}
write=0
[ "${1:-}" = "--write" ] && write=1
for tool in wrk curl redis-server redis-benchmark; do
  command -v "$tool" >/dev/null || { echo "run_ops.sh: $tool is missing (scripts/install-deps.sh bench, test)" >&2; exit 2; }
done
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j2 --target grove-demo >/dev/null
demo=$build/examples/grove-demo

# shellcheck source=bench/lib.sh
source "$root/bench/lib.sh"
bench_setup ops
redis_dir=$work/redis
cleanup_ops() {
  "$root/scripts/test-services.sh" destroy "$redis_dir" >/dev/null 2>&1 || true
  bench_cleanup
}
trap cleanup_ops EXIT
redis=$("$root/scripts/test-services.sh" start redis "$redis_dir")
redis_port=$(sed -n 's/^port=//p' <<<"$redis")
redis_url="redis://127.0.0.1:$redis_port"
redis_cpu=${REDIS_CPU:-1}
if [ ${#server_cpu[@]} -gt 0 ]; then
  taskset -apc "$redis_cpu" "$(cat "$redis_dir/redis.pid")" >/dev/null
fi
echo '{"SECRET_KEY": "bench secret"}' >"$work/cookie.json"
echo "{\"SECRET_KEY\": \"bench secret\", \"SESSION_TYPE\": \"redis\", \"SESSION_REDIS_URL\": \"$redis_url\"}" >"$work/redis.json"

port=$(free_port)
metrics_port=$(free_port)
base=http://127.0.0.1:$port

start_demo() {  # extra args... -> server_pid
  "${server_cpu[@]}" "$demo" --bind "127.0.0.1:$port" --log-level warning "$@" 2>"$work/server.err" &
  server_pid=$!
  pids+=("$server_pid")
  wait_http "$base/hello"
}
stop_demo() {
  kill "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
}

# Prints the successful req/s of one wrk run (errors, when any, on stderr).
measure() {  # path [header]
  local out line
  out=$("${client_cpu[@]}" wrk -t1 -c"$conns" -d"$duration" --timeout 10s ${2:+-H "$2"} \
    -s "$root/bench/web/report.lua" "$base$1" 2>&1 || true)
  line=$(grep '^RESULT' <<<"$out" || echo "RESULT requests=0 seconds=1 status=0 connect=0 read=0 write=0 timeout=0")
  eval "$(sed 's/^RESULT //' <<<"$line" | tr ' ' '\n' | grep -v '_ms=' | sed 's/^/local r_/')"
  local errors=$((r_connect + r_read + r_write + r_status + r_timeout))
  [ "$errors" -gt 0 ] && echo "run_ops.sh: $1: $errors errors" >&2
  awk -v n="$((r_requests - r_status))" -v s="$r_seconds" 'BEGIN { printf "%.0f", n / s }'
}

# A session cookie from the server now running (the first /visits response).
session_cookie() {
  curl -fsS -D - -o /dev/null "$base/visits" | sed -n 's/^[Ss]et-[Cc]ookie: \([^;]*\).*/\1/p' | head -1
}

median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

started=$(date -u +%Y-%m-%dT%H:%M:%SZ)
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
plain=() metered=() cookie_rates=() redis_rates=()
for ((r = 1; r <= rounds; r++)); do
  start_demo; plain+=("$(measure /hello)"); stop_demo
  start_demo --metrics-bind "127.0.0.1:$metrics_port"
  metered+=("$(measure /hello)")
  curl -fsS "http://127.0.0.1:$metrics_port/metrics" | grep -q 'route="/hello"' ||
    { echo "run_ops.sh: the metrics do not count /hello" >&2; exit 1; }
  stop_demo
  start_demo --config "$work/cookie.json"; cookie_rates+=("$(measure /visits "Cookie: $(session_cookie)")"); stop_demo
  start_demo --config "$work/redis.json"; redis_rates+=("$(measure /visits "Cookie: $(session_cookie)")"); stop_demo
  echo "round $r: /hello ${plain[-1]} | with metrics ${metered[-1]} | cookie session ${cookie_rates[-1]} | redis session ${redis_rates[-1]}" >&2
done
# Redis's own pace on this machine now (GET and SET from 50 connections): what the Redis
# session view can expect of it at best (two commands per request).
redis_rates_own=$("${client_cpu[@]}" redis-benchmark -p "$redis_port" -c "$conns" -n 50000 -t get,set --csv 2>/dev/null |
  awk -F'","' '/^"(GET|SET)"/ { gsub(/"/, "", $1); printf "%s %.0f/s, ", $1, $2 }' | sed 's/, $//')
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
# The Redis session's data really is in Redis.
sessions_in_redis=$(redis-cli -p "$redis_port" --scan --pattern 'session:*' | wc -l)

pm=$(median "${plain[@]}") mm=$(median "${metered[@]}")
cm=$(median "${cookie_rates[@]}") rm_=$(median "${redis_rates[@]}")
cost=$(awk -v p="$pm" -v m="$mm" 'BEGIN { printf "%.1f", 100 * (p - m) / p }')
metrics_verdict=$(awk -v c="$cost" 'BEGIN { print (c <= 5 ? "pass" : "fail") }')
ratio=$(awk -v r="$rm_" -v c="$cm" 'BEGIN { printf "%.2f", r / c }')
sessions_verdict=$(awk -v x="$ratio" 'BEGIN { print (x >= 0.8 ? "pass" : "fail") }')
rows() {  # name array...
  local -n a=$2
  local i
  for i in "${!a[@]}"; do printf '| round %d | %s |\n' "$((i + 1))" "${a[$i]}"; done
}
pairs() {  # left right
  local -n left=$1 right=$2
  local i
  for i in "${!left[@]}"; do printf '| round %d | %s | %s |\n' "$((i + 1))" "${left[$i]}" "${right[$i]}"; done
}

page=$(cat <<PAGE
# Operations: the cost of metrics and of Redis sessions

Generated by \`bench/run_ops.sh\` (DURATION=$duration, ROUNDS=$rounds, CONNS=$conns), started $started.

- What: \`wrk -t1 -c$conns -d$duration\` against one grove-demo worker (Release, default
  engine, compat on), each server started fresh, rounds alternating the variants. The
  server on CPU 1, Redis (scripts/test-services.sh) on CPU $redis_cpu, wrk on CPU 0.
- Machine: $(nproc) CPUs shared with other engineers' builds; load average before the run
  $load_before, after $load_after.

## Metrics middleware on GET /hello (req/s)

| | without metrics | with \`--metrics-bind\` |
|---|---:|---:|
$(pairs plain metered)
| **median** | **$pm** | **$mm** |

Cost of the metrics: **$cost %** of the req/s (target: at most 5%): **$metrics_verdict**.

## Session read+write view GET /visits (req/s)

| | signed-cookie session | \`SESSION_TYPE=redis\` |
|---|---:|---:|
$(pairs cookie_rates redis_rates)
| **median** | **$cm** | **$rm_** |

Redis / cookie: **$ratio x** (target: at least 0.8x): **$sessions_verdict**. Sessions
found in Redis after the run: $sessions_in_redis (one per Redis round). Redis alone after
the rounds (\`redis-benchmark -c $conns -t get,set\`, on wrk's CPU): $redis_rates_own;
each Redis session request needs two commands (GET, then SET), so Redis caps the view at
half its command rate.
PAGE
)
echo "$page"
[ "$write" = 1 ] && write_page "$root/bench/results/ops.md" "$page"
exit 0
