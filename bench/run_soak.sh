#!/usr/bin/env bash
# Soak (not in CI): grove-demo served as scripts/run.sh serves it (Release, compat on, the
# default engine, one process), first driven flat out by wrk for a short run to measure its
# maximum rate on /hello, then restarted fresh and held at half that rate for MINUTES
# minutes by grove-loadgen (bench/http/loadgen.cpp: a fixed rate, open loop, 50 keep-alive
# connections, each closed and reopened after 100 requests so that connections churn too).
# Once per minute it records the server's RSS, open fds and threads (/proc/PID/status,
# /proc/PID/fd) and that minute's requests, errors and latency percentiles (counted from
# each request's scheduled time, so a stall is not hidden). At the end the server is
# stopped with SIGTERM and its own request count is compared with the client's.
#
#   bench/run_soak.sh [--minutes N] [--write]      (default 10 minutes)
#   BUILD=build-bench MAX_DURATION=10s REPORT=10 bench/run_soak.sh --minutes 1   (a quick try)
#
# Prints the results page; with --write it also replaces the generated part of
# bench/results/soak.md, keeping the notes below its "<!-- notes -->" line.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$root/build-bench}
case $build in /*) ;; *) build=$root/$build ;; esac
max_duration=${MAX_DURATION:-10s}
report=${REPORT:-60}  # seconds per row (60: once per minute)
minutes=10
write=0
python=/usr/bin/python3
while [ $# -gt 0 ]; do
  case $1 in
    --minutes) minutes=$2; shift 2 ;;
    --write) write=1; shift ;;
    *) echo "usage: bench/run_soak.sh [--minutes N] [--write]" >&2; exit 2 ;;
  esac
done

for tool in wrk curl "$python"; do
  command -v "$tool" >/dev/null || { echo "run_soak.sh: $tool is missing (scripts/install-deps.sh bench)" >&2; exit 2; }
done
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DGROVE_BUILD_BENCH=ON >/dev/null
make -C "$build" -j2 grove-demo grove-loadgen >/dev/null
demo=$build/examples/grove-demo
loadgen=$build/bench/http/grove-loadgen
engine=$("$demo" --version | sed -n 's/^default engine: //p')

work=$(mktemp -d /tmp/grove-bench-soak.XXXXXX)
server_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill -9 "$server_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { "$python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_http() {  # url
  for _ in $(seq 1 200); do
    curl -fsS -o /dev/null --max-time 1 "$1" 2>/dev/null && return 0
    sleep 0.05
  done
  echo "run_soak.sh: nothing answers at $1" >&2
  exit 1
}
start_demo() {  # log -> sets port, server_pid
  port=$(free_port)
  # As scripts/run.sh serves it: grove-demo's defaults (compat on, the default engine).
  "$demo" --bind "127.0.0.1:$port" >"$1" 2>&1 &
  server_pid=$!
  wait_http "http://127.0.0.1:$port/hello"
}
proc_status() {  # pid key
  awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
started=$(date -u +%Y-%m-%dT%H:%M:%SZ)

# 1. The maximum rate: wrk, one thread, 50 connections, flat out.
start_demo "$work/max.log"
wrk_out=$(wrk -t1 -c50 -d"$max_duration" --latency "http://127.0.0.1:$port/hello" 2>&1)
max_rate=$(echo "$wrk_out" | awk '/Requests\/sec:/ { printf "%d", $2 }')
kill "$server_pid"; wait "$server_pid" || true; server_pid=""
[ -n "$max_rate" ] && [ "$max_rate" -gt 0 ] || { echo "run_soak.sh: wrk measured no rate:"; echo "$wrk_out"; exit 1; } >&2
rate=$((max_rate / 2))
echo "maximum rate $max_rate req/s (wrk -t1 -c50 -d$max_duration); soaking at $rate req/s for $minutes minute(s)" >&2

# 2. The soak: a fresh server, half the maximum rate, one line per minute.
start_demo "$work/soak.log"
base_rss=$(proc_status "$server_pid" VmRSS)
base_fds=$(ls "/proc/$server_pid/fd" | wc -l)
base_threads=$(proc_status "$server_pid" Threads)
"$loadgen" --port "$port" --path /hello --rate "$rate" --duration "$((minutes * 60))" --connections 50 \
  --requests-per-connection 100 --report "$report" --watch-pid "$server_pid" | tee "$work/soak.jsonl" >&2
kill -TERM "$server_pid"
status=0
wait "$server_pid" || status=$?
server_pid=""
server_requests=$(sed -n 's/.*stopped after \([0-9]*\) request.*/\1/p' "$work/soak.log" | tail -1)
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

page=$("$python" - "$work/soak.jsonl" "$started" "$load_before" "$load_after" "$max_rate" "$rate" "$minutes" \
  "$max_duration" "$engine" "$base_rss" "$base_fds" "$base_threads" "${server_requests:-?}" "$status" "$report" <<'PY'
import json, platform, subprocess, sys

(jsonl, started, load_before, load_after, max_rate, rate, minutes, max_duration, engine, base_rss, base_fds,
 base_threads, server_requests, status, report) = sys.argv[1:16]
lines = [json.loads(l) for l in open(jsonl) if l.strip()]
iv = [d for d in lines if d["type"] == "interval"]
total = next(d for d in lines if d["type"] == "total")
cpu = "unknown"
for line in open("/proc/cpuinfo"):
    if line.startswith("model name"):
        cpu = line.split(":", 1)[1].strip()
        break
ncpu = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
wrk_v = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.splitlines()[0].strip()

out = []
out.append("# Soak: grove-demo at half its maximum rate")
out.append("")
out.append(f"Generated by `bench/run_soak.sh --minutes {minutes}` ({started}). Machine: {cpu}, {ncpu} CPUs, "
           f"Linux {platform.release()}; load average {load_before} before, {load_after} after. {wrk_v}.")
out.append(f"grove-demo (Release) as `scripts/run.sh` serves it: compat on, engine {engine}, one process. "
           f"Maximum rate: {int(max_rate):,} req/s on `/hello` (`wrk -t1 -c50 -d{max_duration}`, a server "
           f"started for it). Soak: a fresh server, `grove-loadgen --path /hello --rate {int(rate):,} "
           f"--connections 50 --requests-per-connection 100` (half the maximum, open loop, each connection "
           f"reopened after 100 requests), for {minutes} minute(s). Latency is counted from each request's "
           f"scheduled time. Server before the load: RSS {int(base_rss):,} KiB, {base_fds} fds, "
           f"{base_threads} thread(s).")
out.append("")
out.append("| minute | requests | req/s | errors | p50 (ms) | p99 (ms) | p99.9 (ms) | max (ms) | client backlog (max) | "
           "server CPU per request (µs) | RSS (KiB) | open fds | threads |")
out.append("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for d in iv:
    when = f"{d['t'] / 60:.0f}" if float(report) == 60 else f"{d['t'] / 60:.2f}"
    out.append(f"| {when} | {d['answered']:,} | {d['rate']:,.0f} | {d['failed']} | {d['p50_ms']:.2f} | {d['p99_ms']:.2f} | "
               f"{d['p999_ms']:.2f} | {d['max_ms']:.1f} | {d['max_queue']:,} | {d.get('cpu_us_per_request', -1):.1f} | {d.get('rss_kib', -1):,} | {d.get('fds', -1)} | "
               f"{d.get('threads', -1)} |")
out.append("")
errors = total["sent"] - total["answered"] + total["non200"]
served = "?" if server_requests == "?" else f"{int(server_requests) - 1:,}"  # minus the readiness probe
rates = [d["rate"] for d in iv]
worst = max(abs(r - float(rate)) / float(rate) for r in rates) if rates else float("nan")
out.append(f"Totals: {total['sent']:,} requests sent, {total['answered']:,} answered ({total['non200']} not 200), "
           f"{errors} errors (refused {total['refused_connect'] + total['refused_closed']}, reset {total['reset']}, "
           f"broken {total['broken']}, timed out {total['timeout']}); {total['connections_opened']:,} connections "
           f"opened; the server counted {served} responses (its readiness probe left out) and exited with status "
           f"{status} on SIGTERM. Rate: every row within {worst * 100:.2f}% of the target {int(rate):,} req/s.")
if len(iv) >= 2:
    a, b = iv[0], iv[-1]
    half = iv[len(iv) // 2:]
    rss = [d.get("rss_kib", 0) for d in iv]
    out.append("")
    out.append(f"First minute against last: RSS {a.get('rss_kib'):,} → {b.get('rss_kib'):,} KiB "
               f"({b.get('rss_kib') - a.get('rss_kib'):+,} KiB); over the second half "
               f"{half[0].get('rss_kib'):,} → {half[-1].get('rss_kib'):,} KiB (min {min(rss):,}, max {max(rss):,}); "
               f"fds {a.get('fds')} → {b.get('fds')}; threads {a.get('threads')} → {b.get('threads')}; "
               f"p99 {a['p99_ms']:.2f} → {b['p99_ms']:.2f} ms; req/s {a['rate']:,.0f} → {b['rate']:,.0f}.")
print("\n".join(out))
PY
)
echo "$page"
if [ $write -eq 1 ]; then
  page_file=$root/bench/results/soak.md
  notes=""
  if [ -f "$page_file" ] && grep -q '^<!-- notes -->' "$page_file"; then
    notes=$(sed -n '/^<!-- notes -->/,$p' "$page_file")
  fi
  { echo "$page"; echo; [ -n "$notes" ] && echo "$notes"; } >"$page_file"
  echo "wrote $page_file" >&2
fi
