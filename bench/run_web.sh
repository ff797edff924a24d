#!/usr/bin/env bash
# The web framework benchmark: grove-demo (Release, one worker, compat on, green bridge)
# beside Flask 2.2 + gevent pywsgi with monkey.patch_all() (Debian's python3-flask,
# python3-gevent, python3-asgiref; bench/web/flask_app.py), driven by the same wrk commands
# in the same run, each server started fresh for each scenario:
#   - /async-sleep?ms=10 at 50 connections   (bound: 50 / 10 ms = 5,000 req/s), beside the
#     same wait without a bridge (/delay) and on the libevent engine (timerfd timeouts)
#   - /sleep?ms=10 at 500 connections        (bound: 50,000 req/s, or the CPU)
#   - /fanout?n=3&ms=50 and /fanout-sync?n=3&ms=50 at 10 connections (p50; the upstream is a
#     separate grove-demo serving /delay, the same one for both)
#   - /hello through the framework, against grove-hello's bare trivial handler
# Also grove-demo --bridge thread on /async-sleep (asgiref's model: works, one request at a
# time). Records errors (socket errors + non-2xx), successful req/s, p50 and p99.
# Prints the results page; with --write it replaces the generated part of
# bench/results/web.md, keeping the notes below its "<!-- notes -->" line.
#
#   bench/run_web.sh [--write]
#   DURATION=10s BUILD=build-bench-web bench/run_web.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$root/build-bench-web}
case $build in /*) ;; *) build=$root/$build ;; esac
duration=${DURATION:-10s}
python=${PYTHON:-/usr/bin/python3}  # Debian's, with flask/gevent/asgiref (not a pyenv one)
write=0
[ "${1:-}" = "--write" ] && write=1

for tool in wrk curl; do
  command -v "$tool" >/dev/null || { echo "run_web.sh: $tool is missing (scripts/install-deps.sh bench)" >&2; exit 2; }
done
"$python" -c "import flask, gevent, asgiref" 2>/dev/null ||
  { echo "run_web.sh: $python lacks flask/gevent/asgiref (apt-get install python3-flask python3-gevent python3-asgiref)" >&2; exit 2; }
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DGROVE_BUILD_BENCH=ON >/dev/null
make -C "$build" -j2 grove-demo grove-hello web_bench >/dev/null
demo=$build/examples/grove-demo
hello=$build/examples/grove-hello
engine=$("$demo" --version | sed -n 's/^default engine: //p')

work=$(mktemp -d /tmp/grove-bench-web.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  sleep 0.3
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

wait_http() {  # url
  for _ in $(seq 1 200); do
    curl -fsS -o /dev/null --max-time 1 "$1" 2>/dev/null && return 0
    sleep 0.05
  done
  echo "run_web.sh: nothing answers at $1" >&2
  exit 1
}

upstream_port=8201
port=8202
upstream=http://127.0.0.1:$upstream_port

# The shared upstream for the fan-outs.
"$demo" --bind 127.0.0.1:$upstream_port --log-level warning 2>"$work/upstream.err" &
pids+=($!)
wait_http "$upstream/hello"

start_server() {  # kind -> sets server_pid
  case $1 in
    grove)        "$demo" --bind 127.0.0.1:$port --upstream "$upstream" --log-level warning 2>"$work/server.err" & ;;
    grove-thread) "$demo" --bind 127.0.0.1:$port --upstream "$upstream" --bridge thread --log-level warning 2>"$work/server.err" & ;;
    grove-libevent) "$demo" --bind 127.0.0.1:$port --upstream "$upstream" --engine libevent --log-level warning 2>"$work/server.err" & ;;
    grove-hello)  "$hello" --bind 127.0.0.1:$port --log-level warning 2>"$work/server.err" & ;;
    flask)        "$python" "$root/bench/web/flask_app.py" 127.0.0.1:$port --upstream "$upstream" 2>"$work/server.err" & ;;
  esac
  server_pid=$!
  pids+=("$server_pid")
  if [ "$1" = grove-hello ]; then wait_http "http://127.0.0.1:$port/"; else wait_http "http://127.0.0.1:$port/hello"; fi
}
stop_server() {
  kill "$server_pid" 2>/dev/null || true
  for _ in $(seq 1 40); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.05; done
  kill -9 "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
}

cpu_ticks() {  # pid -> utime+stime in clock ticks
  awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0
}
runq_ns() {  # pid -> ns its main thread spent runnable but waiting for a CPU
  awk '{print $2}' "/proc/$1/schedstat" 2>/dev/null || echo 0
}

rows=()
last_rps=0
run() {  # label kind path connections [quiet]
  local label=$1 kind=$2 path=$3 conns=$4 quiet=${5:-}
  start_server "$kind"
  local out t0 t1 w0 w1 q0 q1
  t0=$(cpu_ticks "$server_pid")
  q0=$(runq_ns "$server_pid")
  w0=$(date +%s%N)
  out=$(wrk -t1 -c"$conns" -d"$duration" --timeout 10s -s "$root/bench/web/report.lua" "http://127.0.0.1:$port$path" 2>&1 || true)
  w1=$(date +%s%N)
  t1=$(cpu_ticks "$server_pid")
  q1=$(runq_ns "$server_pid")
  local cpu runq
  runq=$(awk -v q="$((q1 - q0))" -v ns="$((w1 - w0))" 'BEGIN { printf "%.0f", 100 * q / ns }')
  cpu=$(awk -v t="$((t1 - t0))" -v hz="$(getconf CLK_TCK)" -v ns="$((w1 - w0))" 'BEGIN { printf "%.0f", 100 * t / hz / (ns / 1e9) }')
  local line
  line=$(grep '^RESULT' <<<"$out" || echo "RESULT requests=0 seconds=1 p50_ms=0 p99_ms=0 connect=0 read=0 write=0 status=0 timeout=0")
  local warned=no
  grep -q "warning" "$work/server.err" && warned=yes
  stop_server
  eval "$(sed 's/^RESULT //' <<<"$line" | tr ' ' '\n' | sed 's/^/local r_/')"
  local errors=$((r_connect + r_read + r_write + r_status + r_timeout))
  local ok=$((r_requests - r_status))
  local rps
  rps=$(awk -v n="$ok" -v s="$r_seconds" 'BEGIN { printf "%.0f", n / s }')
  last_rps=$rps
  printf '%-34s %-28s c=%-4s errors=%-7s ok req/s=%-8s p50=%-8s p99=%-8s cpu=%s%% runq=%s%%\n' "$label" "$path" "$conns" "$errors" "$rps" "$r_p50_ms" "$r_p99_ms" "$cpu" "$runq" >&2
  [ -n "$quiet" ] && return 0
  rows+=("| $label | \`$path\` | $conns | $errors | $rps | $r_p50_ms | $r_p99_ms | $cpu | $runq | $warned |")
}

median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

load=$(cut -d' ' -f1-3 /proc/loadavg)

run "grove (green bridge)"        grove        "/async-sleep?ms=10" 50
run "grove, control: sync green::sleep, no bridge" grove "/delay?ms=10" 50
if "$demo" --version | grep -q '^engines:.*libevent'; then
  run "grove (green bridge), engine libevent" grove-libevent "/async-sleep?ms=10" 50
fi
run "grove (--bridge thread)"     grove-thread "/async-sleep?ms=10" 50
run "Flask + gevent (asgiref)"    flask        "/async-sleep?ms=10" 50
run "grove"                       grove        "/sleep?ms=10" 500
run "Flask + gevent"              flask        "/sleep?ms=10" 500
run "grove (aio client + gather)" grove        "/fanout?n=3&ms=50" 10
run "Flask + gevent (asgiref)"    flask        "/fanout?n=3&ms=50" 10
run "grove (libcurl easy)"        grove        "/fanout-sync?n=3&ms=50" 10
run "Flask + gevent (urllib)"     flask        "/fanout-sync?n=3&ms=50" 10
run "Flask + gevent"              flask        "/hello" 50
# The framework's overhead: /hello through it against the bare server's trivial handler,
# alternated REPS times (median of each).
reps=${REPS:-3}
fw=() bare=()
for _ in $(seq 1 "$reps"); do
  run "grove-demo (framework)"     grove       "/hello" 50 quiet; fw+=("$last_rps")
  run "grove-hello (bare handler)" grove-hello "/"      50 quiet; bare+=("$last_rps")
done
fw_m=$(median "${fw[@]}")
bare_m=$(median "${bare[@]}")
ratio=$(awk -v a="$fw_m" -v b="$bare_m" 'BEGIN { printf "%.2f", a / b }')
rows+=("| grove-demo (framework), median of $reps | \`/hello\` | 50 | | $fw_m | | | | | |")
rows+=("| grove-hello (bare handler), median of $reps | \`/\` | 50 | | $bare_m | | | | | |")

# In process, no sockets: the framework's own cost per request and each bridge's per coroutine.
micro=$("$build/bench/web/web_bench" --benchmark_min_time=1 2>/dev/null |
  awk '/^BM_/ { printf "| %s | %s %s | %s %s |\n", $1, $2, $3, $4, $5 }')

cpu=$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')
page=$(cat <<EOF2
# Web framework: grove-demo beside Flask + gevent

Generated by \`bench/run_web.sh\` ($(date -u +%Y-%m-%d)): wrk -t1, $duration per row, every
server started fresh for its row, one worker each, loopback. grove: Release build, engine
$engine, compat on, green bridge unless the row says otherwise. Flask $("$python" -c 'import flask; print(flask.__version__)') +
gevent $("$python" -c 'import gevent; print(gevent.__version__)') pywsgi with monkey.patch_all(), asgiref $("$python" -c 'import asgiref; print(asgiref.__version__)')
(Debian). Machine: $cpu, $(nproc) cores, shared with the client. "errors" counts wrk's socket
errors and non-2xx answers; "ok req/s" counts 2xx answers only; "CPU %" is the server
process's CPU time over the run (100 = one core); "run-queue %" is how long its main thread
was ready to run but waited for a CPU (from /proc/PID/schedstat: contention from other
processes, the client included); "warned" is whether the server printed a warning. Load
average when the run began: $load.

| server | route | conns | errors | ok req/s | p50 ms | p99 ms | CPU % | run-queue % | warned |
|---|---|---|---|---|---|---|---|---|---|
$(printf '%s\n' "${rows[@]}")

/hello through the framework ÷ the bare server's trivial handler: **$ratio** (target ≥ 0.8).

In process (\`bench/web/web_bench\`, Google Benchmark, no sockets): the framework's own cost
per request beside a bare gateway handler, and the cost of a coroutine view that completes
without suspending, per bridge (the thread bridge's wall time includes starting a thread).

| benchmark | wall | CPU |
|---|---|---|
$micro
EOF2
)

echo "$page"
if [ $write -eq 1 ]; then
  results=$root/bench/results/web.md
  notes=""
  [ -f "$results" ] && notes=$(sed -n '/^<!-- notes -->/,$p' "$results")
  { echo "$page"; echo; [ -n "$notes" ] && echo "$notes"; } > "$results"
  echo "wrote $results" >&2
fi
