#!/usr/bin/env bash
# The HTTP server benchmark: Debian's nginx (bench/http/nginx.conf.in: one worker,
# `return 200`) and grove-hello (one worker, every built engine) on loopback, driven by the
# same wrk commands in the same run, in alternation:
#   - 50 and 500 connections, keep-alive: req/s and p99 latency;
#   - pipelining, depth 16 (bench/http/pipeline.lua), 50 connections;
#   - grove with --workers 1 and --workers 2 at 500 connections (scaling);
#   - resident memory per idle keep-alive connection with IDLE (10,000) open
#     (bench/http/idle_conns.py), for fresh nginx and grove processes.
# Every run is bounded (wrk -d DURATION). Prints the results page; with --write it also
# replaces the generated part of bench/results/http.md, keeping the notes below its
# "<!-- notes -->" line.
#
#   bench/run_http.sh [--write]
#   DURATION=5s REPS=3 IDLE=10000 ENGINES="asio libev libevent" BUILD=build-bench bench/run_http.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$root/build-bench}
case $build in /*) ;; *) build=$root/$build ;; esac
duration=${DURATION:-5s}
reps=${REPS:-3}
idle=${IDLE:-10000}
write=0
[ "${1:-}" = "--write" ] && write=1

for tool in wrk nginx python3 curl; do
  command -v "$tool" >/dev/null || { echo "run_http.sh: $tool is missing (scripts/install-deps.sh bench)" >&2; exit 2; }
done
# 10,000 idle connections need that many descriptors in the client and in each server.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
if [ "$(ulimit -n)" -le "$((idle + 100))" ]; then
  echo "run_http.sh: ulimit -n is $(ulimit -n); the idle test needs more than $idle (run as root, or lower IDLE)" >&2
  exit 2
fi

cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
make -C "$build" -j2 grove-hello >/dev/null
hello=$build/examples/grove-hello
engines=${ENGINES:-$("$hello" --version | sed -n 's/^engines: //p' | tr -d ',')}
default_engine=$("$hello" --version | sed -n 's/^default engine: //p')

work=$(mktemp -d /tmp/grove-bench-http.XXXXXX)
chmod 755 "$work"
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
  echo "run_http.sh: nothing answers at $1" >&2
  exit 1
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# With two CPUs or more, wrk runs on CPU 0 and each one-worker server on CPU 1, so that the
# scheduler does not move them onto one CPU mid-run (PIN=0 turns this off). The workers
# comparison (grove with 1 and 2 workers) is not pinned at all: there the workers must be
# free to use every CPU.
pin=${PIN:-1}
ncpu=$(nproc)
client_cpu=() server_cpu=()
if [ "$pin" = 1 ] && [ "$ncpu" -ge 2 ] && command -v taskset >/dev/null; then
  client_cpu=(taskset -c 0)
  server_cpu=(taskset -c 1)
fi

start_nginx() {  # name -> sets port_<name>, pid_<name>
  local name=$1 dir=$work/$1 port
  port=$(free_port)
  mkdir -p "$dir"
  sed -e "s|@PREFIX@|$dir|g" -e "s|@PORT@|$port|g" "$root/bench/http/nginx.conf.in" >"$dir/nginx.conf"
  "${server_cpu[@]}" nginx -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log" >"$dir/out.log" 2>&1 &
  pids+=($!)
  eval "port_$name=$port pid_$name=$!"
  wait_http "http://127.0.0.1:$port/"
}

start_grove() {  # name engine workers [unpinned]
  local name=$1 engine=$2 workers=$3 port
  port=$(free_port)
  local cpus=("${server_cpu[@]}")
  [ -n "${4:-}" ] && cpus=()
  "${cpus[@]}" "$hello" --engine "$engine" --workers "$workers" --bind "127.0.0.1:$port" --log-level warning \
    --keepalive-timeout 120s --max-connections 20000 >"$work/$name.log" 2>&1 &
  pids+=($!)
  eval "port_$name=$port pid_$name=$!"
  wait_http "http://127.0.0.1:$port/"
}

# All the processes of a server: nginx's worker(s), grove's master and workers.
server_pids() {  # pid
  local p=$1
  { echo "$p"; pgrep -P "$p" || true; } | paste -sd, -
}

# CPU time (clock ticks, user + system) used so far by a server: the process and its
# children (nginx's worker, grove's workers). Throughput per CPU-second is the figure that
# survives a machine shared with other work: it measures what each request costs.
cpu_ticks() {  # pid
  local total=0 p
  for p in $1 $(pgrep -P "$1" || true); do
    [ -r "/proc/$p/stat" ] || continue
    total=$((total + $(sed 's/^.*) //' "/proc/$p/stat" | awk '{print $12 + $13}')))
  done
  echo "$total"
}

results=$work/results.txt
: >"$results"
run_wrk() {  # label server args...
  local label=$1 server=$2; shift 2
  local out pid_var before after
  pid_var=pid_$server
  before=$(cpu_ticks "${!pid_var}")
  local cpus=("${client_cpu[@]}")
  [ "$label" = workers ] && cpus=()
  out=$("${cpus[@]}" wrk "$@" 2>&1) || true
  after=$(cpu_ticks "${!pid_var}")
  { echo "### $label $server"; echo "$out"; echo "server_cpu_ticks: $((after - before))"; } >>"$results"
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
started=$(date -u +%Y-%m-%dT%H:%M:%SZ)

start_nginx nginx
servers=(nginx)
for e in $engines; do
  start_grove "grove_$e" "$e" 1
  servers+=("grove_$e")
done
start_grove grove_w1 "$default_engine" 1 unpinned
start_grove grove_w2 "$default_engine" 2 unpinned

for rep in $(seq 1 "$reps"); do
  for s in "${servers[@]}"; do
    port_var=port_$s
    url="http://127.0.0.1:${!port_var}/"
    run_wrk c50 "$s" -t1 -c50 -d"$duration" --latency "$url"
    run_wrk c500 "$s" -t1 -c500 -d"$duration" --latency "$url"
    run_wrk pipe16 "$s" -t1 -c50 -d"$duration" --latency -s "$root/bench/http/pipeline.lua" "$url" -- 16
  done
  for s in grove_w1 grove_w2; do
    port_var=port_$s
    run_wrk workers "$s" -t1 -c500 -d"$duration" --latency "http://127.0.0.1:${!port_var}/"
  done
done

# Memory: fresh processes, so that nothing from the load above is counted.
for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
sleep 1
pids=()
memory=$work/memory.txt
: >"$memory"
start_nginx mem_nginx
nginx_workers=$(pgrep -P "$pid_mem_nginx" | paste -sd, -)
echo "nginx $(python3 "$root/bench/http/idle_conns.py" "$port_mem_nginx" "$nginx_workers" "$idle")" >>"$memory"
for e in $engines; do
  start_grove "mem_$e" "$e" 1
  pid_var=pid_mem_$e port_var=port_mem_$e
  echo "grove_$e $(python3 "$root/bench/http/idle_conns.py" "${!port_var}" "$(server_pids "${!pid_var}")" "$idle")" >>"$memory"
  kill "${!pid_var}"
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

if [ ${#client_cpu[@]} -gt 0 ]; then
  pinning="wrk ran on CPU 0 and each server on CPU 1 (taskset), except in the workers comparison, where nothing is pinned."
else
  pinning="wrk, the servers and the kernel shared the CPUs without pinning."
fi
page=$(python3 - "$results" "$memory" "$started" "$load_before" "$load_after" "$duration" "$reps" "$idle" "$default_engine" "$pinning" <<'PY'
import json, platform, re, statistics, subprocess, sys

results, memory, started, load_before, load_after, duration, reps, idle, default_engine, pinning = sys.argv[1:11]

def ms(text):
    m = re.match(r"([\d.]+)(us|ms|s)", text)
    v = float(m.group(1))
    return v / 1000 if m.group(2) == "us" else v * 1000 if m.group(2) == "s" else v

hz = int(subprocess.run(["getconf", "CLK_TCK"], capture_output=True, text=True).stdout.strip() or 100)
runs = {}  # (label, server) -> [ {rps, p99, errors, per_cpu} ]
for block in open(results).read().split("### ")[1:]:
    head, _, body = block.partition("\n")
    label, server = head.split()
    rps = re.search(r"Requests/sec:\s+([\d.]+)", body)
    p99 = re.search(r"^\s+99%\s+(\S+)", body, re.M)
    errs = 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", body)
    if m:
        errs += sum(int(x) for x in m.groups())
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", body)
    if m:
        errs += int(m.group(1))
    total = re.search(r"(\d+) requests in", body)
    ticks = re.search(r"server_cpu_ticks: (\d+)", body)
    cpu_s = int(ticks.group(1)) / hz if ticks else 0
    runs.setdefault((label, server), []).append({
        "rps": float(rps.group(1)) if rps else 0.0,
        "p99": ms(p99.group(1)) if p99 else float("nan"),
        "errors": errs,
        "per_cpu": int(total.group(1)) / cpu_s if total and cpu_s else float("nan"),
    })

def med(label, server, key):
    v = [r[key] for r in runs.get((label, server), [])]
    return statistics.median(v) if v else float("nan")

def errors(label, server):
    return sum(r["errors"] for r in runs.get((label, server), []))

servers = sorted({s for (_, s) in runs if s.startswith("grove_") and s not in ("grove_w1", "grove_w2")})
cpu = "unknown"
try:
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
except OSError:
    pass
ncpu = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
nginx_v = subprocess.run(["nginx", "-v"], capture_output=True, text=True).stderr.strip()
wrk_v = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.splitlines()[0].strip()

out = []
out.append("# HTTP server: grove-hello against nginx")
out.append("")
out.append(f"Generated by `bench/run_http.sh` ({started}). Machine: {cpu}, {ncpu} CPUs, Linux "
           f"{platform.release()}; load average {load_before} before, {load_after} after. {nginx_v}; {wrk_v}.")
out.append(f"{pinning} Each figure is the median of {reps} runs of "
           f"`wrk -t1 -d{duration} --latency` (pipelining adds `-s bench/http/pipeline.lua -- 16`), "
           "the servers taking turns. Ratios are grove / nginx.")
out.append("")
out.append("## Throughput and latency, one worker each")
out.append("")
out.append("| scenario | server | req/s | p99 (ms) | req/s vs nginx | p99 vs nginx | errors | target | req per server CPU-s | vs nginx |")
out.append("|---|---|---:|---:|---:|---:|---:|---|---:|---:|")
targets = {"c50": ("≥ 1.0x req/s, p99 ≤ 1.5x", 1.0, 1.5), "c500": ("≥ 1.0x req/s, p99 ≤ 1.5x", 1.0, 1.5),
           "pipe16": ("≥ 2.0x req/s", 2.0, None)}
names = {"c50": "50 connections", "c500": "500 connections", "pipe16": "pipelined ×16, 50 conns"}
for label in ("c50", "c500", "pipe16"):
    # wrk times a pipelined batch as one request: its latency figures are not per request.
    lat = label != "pipe16"
    n_rps, n_p99 = med(label, "nginx", "rps"), med(label, "nginx", "p99")
    n_p99_text = f"{n_p99:.2f}" if lat else "—"
    n_cpu = med(label, "nginx", "per_cpu")
    out.append(f"| {names[label]} | nginx | {n_rps:,.0f} | {n_p99_text} | 1.00 | {'1.00' if lat else '—'} | "
               f"{errors(label, 'nginx')} | | {n_cpu:,.0f} | 1.00 |")
    for s in servers:
        rps, p99 = med(label, s, "rps"), med(label, s, "p99")
        rr, pr = rps / n_rps if n_rps else float("nan"), p99 / n_p99 if n_p99 else float("nan")
        text, rmin, pmax = targets[label]
        ok = rr >= rmin and (pmax is None or pr <= pmax)
        p99_text, pr_text = (f"{p99:.2f}", f"{pr:.2f}") if lat else ("—", "—")
        cpu = med(label, s, "per_cpu")
        out.append(f"| {names[label]} | grove ({s[6:]}) | {rps:,.0f} | {p99_text} | {rr:.2f} | {pr_text} | "
                   f"{errors(label, s)} | {text}: {'met' if ok else 'NOT met'} | {cpu:,.0f} | "
                   f"{cpu / n_cpu if n_cpu else float('nan'):.2f} |")
out.append("")
out.append(f"## Workers: grove-hello ({default_engine}), 500 connections")
out.append("")
out.append("| workers | req/s | p99 (ms) | scaling | req per server CPU-s |")
out.append("|---|---:|---:|---:|---:|")
w1 = med("workers", "grove_w1", "rps")
for s, n in (("grove_w1", 1), ("grove_w2", 2)):
    rps = med("workers", s, "rps")
    out.append(f"| {n} | {rps:,.0f} | {med('workers', s, 'p99'):.2f} | {rps / w1 if w1 else float('nan'):.2f}x | "
               f"{med('workers', s, 'per_cpu'):,.0f} |")
out.append("")
out.append(f"## Memory per idle keep-alive connection ({int(idle):,} open, each after one request)")
out.append("")
out.append("| server | RSS before (KiB) | RSS after (KiB) | per connection | still alive (sampled) | target |")
out.append("|---|---:|---:|---:|---:|---|")
for line in open(memory):
    name, _, js = line.partition(" ")
    d = json.loads(js)
    per = d["per_connection_bytes"]
    target = "" if name == "nginx" else f"≤ 16 KiB: {'met' if per <= 16384 else 'NOT met'}"
    label = "nginx" if name == "nginx" else f"grove ({name[6:]})"
    out.append(f"| {label} | {d['rss_before_kib']:,} | {d['rss_after_kib']:,} | {per / 1024:.1f} KiB | "
               f"{d['still_alive_sampled']} | {target} |")
print("\n".join(out))
PY
)
echo "$page"
if [ $write -eq 1 ]; then
  page_file=$root/bench/results/http.md
  notes=""
  if [ -f "$page_file" ] && grep -q '^<!-- notes -->' "$page_file"; then
    notes=$(sed -n '/^<!-- notes -->/,$p' "$page_file")
  fi
  { echo "$page"; echo; [ -n "$notes" ] && echo "$notes"; } >"$page_file"
  echo "wrote $page_file" >&2
fi
