#!/usr/bin/env bash
# The framework against the anchor: grove-demo's /hello (web::App on the green-thread
# server, one worker, default engine) beside Debian's nginx `return 200 "Hello, World!"`
# (bench/http/nginx.conf.in, one worker), driven by the same wrk commands in the same run,
# the two servers taking turns. Each server is pinned to CPU 1 and wrk to CPU 0 (taskset).
# Per scenario (50 and 500 connections, keep-alive): the median of REPS runs of req/s and
# p99, the ratios grove / nginx, and requests per server CPU-second (what a request costs,
# the figure that survives a machine shared with other work). Prints a Markdown table.
#
#   bench/run_demo_nginx.sh
#   DURATION=5s REPS=3 BUILD=build-bench bench/run_demo_nginx.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$root/build-bench}
case $build in /*) ;; *) build=$root/$build ;; esac
duration=${DURATION:-5s}
reps=${REPS:-3}
for tool in wrk nginx curl taskset python3; do
  command -v "$tool" >/dev/null || { echo "run_demo_nginx.sh: $tool is missing (scripts/install-deps.sh bench)" >&2; exit 2; }
done
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
. "$root/bench/lib.sh"  # free_port, wait_http, cpu_ticks

cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j2 --target grove-demo >/dev/null
demo=$build/examples/grove-demo

work=$(mktemp -d /tmp/grove-bench-demo.XXXXXX)
chmod 755 "$work"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

nginx_port=$(free_port)
mkdir -p "$work/nginx"
sed -e "s|@PREFIX@|$work/nginx|g" -e "s|@PORT@|$nginx_port|g" "$root/bench/http/nginx.conf.in" >"$work/nginx/nginx.conf"
taskset -c 1 nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" -e "$work/nginx/error.log" >/dev/null 2>&1 &
nginx_pid=$!
pids+=("$nginx_pid")
demo_port=$(free_port)
taskset -c 1 "$demo" --bind "127.0.0.1:$demo_port" --log-level warning --keepalive-timeout 120s \
  --max-connections 20000 2>"$work/demo.err" &
demo_pid=$!
pids+=("$demo_pid")
wait_http "http://127.0.0.1:$nginx_port/"
wait_http "http://127.0.0.1:$demo_port/hello"

results=$work/results.txt
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
for rep in $(seq 1 "$reps"); do
  for conns in 50 500; do
    for server in nginx grove; do
      if [ $server = nginx ]; then pid=$nginx_pid url="http://127.0.0.1:$nginx_port/"
      else pid=$demo_pid url="http://127.0.0.1:$demo_port/hello"; fi
      before=$(cpu_ticks "$pid")
      out=$(taskset -c 0 wrk -t1 -c"$conns" -d"$duration" --latency "$url" 2>&1) || true
      after=$(cpu_ticks "$pid")
      { echo "### $conns $server $((after - before))"; echo "$out"; } >>"$results"
    done
  done
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

python3 - "$results" "$duration" "$reps" "$load_before" "$load_after" <<'PY'
import os, re, statistics, sys
path, duration, reps, before, after = sys.argv[1:]
hz = os.sysconf("SC_CLK_TCK")
runs = {}
for block in open(path).read().split("### ")[1:]:
    head, _, text = block.partition("\n")
    conns, server, ticks = head.split()
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    m = re.search(r"99%\s+([\d.]+)(us|ms|s)", text)
    p99 = float(m.group(1)) * {"us": 1e-3, "ms": 1, "s": 1e3}[m.group(2)]
    total = float(re.search(r"(\d+) requests in", text).group(1))
    errs = sum(int(x) for x in re.findall(r"(?:connect|read|write|timeout) (\d+)", text))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    errs += int(non2xx.group(1)) if non2xx else 0
    per_cpu = total / (int(ticks) / hz) if int(ticks) else 0
    runs.setdefault((conns, server), []).append((rps, p99, errs, per_cpu))
med = lambda k, i: statistics.median(r[i] for r in runs[k])
print(f"wrk -t1 -c50|-c500 -d{duration} --latency, median of {reps} alternated runs; wrk on CPU 0, "
      f"each server on CPU 1; load average {before} before, {after} after.\n")
print("| connections | server | req/s | p99 (ms) | req/s vs nginx | p99 vs nginx | errors | req per server CPU-s | vs nginx |")
print("|---|---|---|---|---|---|---|---|---|")
for conns in ("50", "500"):
    n = (conns, "nginx")
    for server in ("nginx", "grove"):
        k = (conns, server)
        name = "nginx `return 200`" if server == "nginx" else "grove-demo `/hello`"
        print(f"| {conns} | {name} | {med(k,0):,.0f} | {med(k,1):.2f} | {med(k,0)/med(n,0):.2f} | "
              f"{med(k,1)/med(n,1):.2f} | {sum(r[2] for r in runs[k])} | {med(k,3):,.0f} | {med(k,3)/med(n,3):.2f} |")
PY
