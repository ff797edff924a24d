#!/usr/bin/env bash
# The WebSocket benchmark: grove against its anchors, all in one run, on loopback, every
# server driven by the same client (bench/ws/ws_load.cpp, grove-wsload):
#   - idle memory (first, on fresh servers): CONNS (10,000) connections each upgraded and used
#     once, then idle: the growth of each server's resident set per connection; grove also
#     with permessage-deflate;
#   - echo: N connections, each sends a 32-byte text message and waits for its echo, at 100
#     and 1,000 connections (closed loop), the servers taking turns, REPS times, with each
#     server's CPU time meanwhile;
#   - broadcast: CONNS clients in one room, one of them sends: the time until the last client
#     has a message, and the deliveries per second of a burst of 10.
# Servers: grove-hello's /ws/echo (one worker, every built engine) and grove-demo's
# /ws/chat/<room> (web::Hub, the default engine); websocketpp (bench/ws/echo_websocketpp.cpp,
# Debian libwebsocketpp-dev), Node's ws (bench/ws/echo_ws.js, Debian node-ws),
# gevent-websocket (bench/ws/echo_gevent.py) and Python's websockets (echo_websockets.py).
# An anchor whose package is missing is left out and named. Pinned as bench/run_http.sh: the
# client on CPU 0, each server on CPU 1. Prints the results page; with --write it also writes
# bench/results/ws.md. About 5 minutes once built (7 with DURATION=3 REPS=3 under load 10).
#
#   bench/run_ws.sh [--write]
#   DURATION=2 REPS=2 CONNS=10000 ENGINES="asio libev" BUILD=build/bench bench/run_ws.sh
#   KEEP_RESULTS=/tmp/ws.txt bench/run_ws.sh     # also keeps the client's raw JSON lines
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$root/build-bench}
case $build in /*) ;; *) build=$root/$build ;; esac
duration=${DURATION:-2}
reps=${REPS:-2}
conns=${CONNS:-10000}
write=0
[ "${1:-}" = "--write" ] && write=1

# Debian's python3 (with its websockets and gevent-websocket), not one earlier on PATH.
py=python3
[ -x /usr/bin/python3 ] && py=/usr/bin/python3
"$py" -c 'import websockets' 2>/dev/null ||
  { echo "run_ws.sh: python3-websockets is missing (scripts/install-deps.sh test)" >&2; exit 2; }
# Each side holds CONNS sockets: the client in its process, the server in its own.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt $((conns + 200)) ]; then
  echo "run_ws.sh: ulimit -n is $(ulimit -n), below CONNS=$conns + 200 (raise it or lower CONNS)" >&2
  exit 2
fi

cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DGROVE_BUILD_BENCH=ON >/dev/null
targets=(grove-hello grove-demo grove-wsload)
grep -q '^websocketpp_DIR:.*-NOTFOUND' "$build/CMakeCache.txt" || targets+=(grove-ws-websocketpp)
cmake --build "$build" -j2 --target "${targets[@]}" >/dev/null
hello=$build/examples/grove-hello
demo=$build/examples/grove-demo
load=$build/bench/ws/grove-wsload
wspp=$build/bench/ws/grove-ws-websocketpp
engines=${ENGINES:-$("$hello" --version | sed -n 's/^engines: //p' | tr -d ',')}
default_engine=$(set -- $engines; echo "$1")

source "$root/bench/lib.sh"
bench_setup ws

wait_port() {  # port
  for _ in $(seq 1 200); do
    "$py" -c "import socket,sys; socket.create_connection(('127.0.0.1', $1), 1)" 2>/dev/null && return 0
    sleep 0.05
  done
  echo "run_ws.sh: nothing listens on port $1" >&2
  exit 1
}

# name -> port and pid; echo_servers/room_servers: who serves /ws/echo, /ws/chat/<room>.
declare -A port_of pid_of
echo_servers=() room_servers=() missing=()
start() {  # name port command...
  local name=$1 port=$2; shift 2
  "${server_cpu[@]}" "$@" >"$work/$name.log" 2>&1 &
  pids+=($!)
  pid_of[$name]=$!
  port_of[$name]=$port
  wait_port "$port"
}

if [ -x "$wspp" ]; then
  p=$(free_port)
  start websocketpp "$p" "$wspp" "$p"
  echo_servers+=(websocketpp) room_servers+=(websocketpp)
else missing+=("websocketpp (libwebsocketpp-dev)"); fi
if command -v node >/dev/null && [ -f /usr/share/nodejs/ws/package.json ]; then
  p=$(free_port)
  start ws "$p" env NODE_PATH=/usr/share/nodejs node "$root/bench/ws/echo_ws.js" "$p"
  echo_servers+=(ws) room_servers+=(ws)
else missing+=("Node's ws (node-ws)"); fi
if "$py" -c 'import geventwebsocket' 2>/dev/null; then
  p=$(free_port)
  start gevent "$p" "$py" "$root/bench/ws/echo_gevent.py" "$p"
  echo_servers+=(gevent) room_servers+=(gevent)
else missing+=("gevent-websocket (python3-gevent-websocket)"); fi
p=$(free_port)
start websockets "$p" "$py" "$root/bench/ws/echo_websockets.py" "$p"
echo_servers+=(websockets) room_servers+=(websockets)
grove_flags=(--log-level warning --max-connections $((conns + 1000)) --ws-ping-interval 0)
for e in $engines; do
  p=$(free_port)
  start "grove_$e" "$p" "$hello" --engine "$e" --bind "127.0.0.1:$p" "${grove_flags[@]}"
  echo_servers+=("grove_$e")
done
p=$(free_port)
start "grove-demo_$default_engine" "$p" "$demo" --engine "$default_engine" --bind "127.0.0.1:$p" \
  "${grove_flags[@]}"
room_servers+=("grove-demo_$default_engine")

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
started=$(date -u +%Y-%m-%dT%H:%M:%SZ)
t0=$SECONDS
results=$work/results.txt
: >"$results"
cpu_ticks() {  # pid -> user + system CPU ticks of the process, all its threads
  awk '{print $14 + $15}' "/proc/$1/stat"
}
hz=$(getconf CLK_TCK)
run() {  # kind server args...: one client run; adds the server's CPU seconds meanwhile
  local kind=$1 name=$2; shift 2
  local out before
  before=$(cpu_ticks "${pid_of[$name]}")
  out=$("${client_cpu[@]}" "$load" --port "${port_of[$name]}" "$@" 2>>"$work/client.log") || out='{}'
  out=${out%\}}
  [ "$out" = "{" ] && out='{"failed": 1' || out="$out,"
  out="$out \"server_cpu_s\": $(awk -v a="$before" -v b="$(cpu_ticks "${pid_of[$name]}")" -v hz="$hz" \
    'BEGIN { printf "%.3f", (b - a) / hz }')}"
  echo "$kind $name $out" >>"$results"
}
# Idle memory first, on servers that have served nothing: memory an earlier run freed
# (a pooled stack, a malloc arena) would otherwise make the growth read low.
for s in "${echo_servers[@]}"; do
  run idle "$s" --mode idle --connections "$conns" --pids "${pid_of[$s]}"
done
run idle_deflate "grove_$default_engine" --mode idle --connections "$conns" --deflate 1 \
  --pids "${pid_of[grove_$default_engine]}"
for _ in $(seq 1 "$reps"); do
  for n in 100 1000; do
    for s in "${echo_servers[@]}"; do run "echo$n" "$s" --connections "$n" --duration "$duration"; done
  done
done
for s in "${room_servers[@]}"; do
  run broadcast "$s" --mode broadcast --path /ws/chat/bench --connections "$conns" \
    --pids "${pid_of[$s]}" --rounds 10 --burst 10
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
elapsed=$((SECONDS - t0))
[ -s "$work/client.log" ] && { echo "run_ws.sh: the client said:" >&2; sort "$work/client.log" | uniq -c >&2; }

versions="websocketpp $(dpkg-query -W -f='${Version}' libwebsocketpp-dev 2>/dev/null || echo -),"
versions+=" ws $(sed -n 's/.*"version": *"\([^"]*\)".*/\1/p' /usr/share/nodejs/ws/package.json 2>/dev/null | head -1) on Node $(node --version 2>/dev/null || echo -),"
versions+=" gevent-websocket $(dpkg-query -W -f='${Version}' python3-gevent-websocket 2>/dev/null || echo -)"
versions+=" with gevent $("$py" -c 'import gevent; print(gevent.__version__)' 2>/dev/null || echo -),"
versions+=" websockets $("$py" -c 'import websockets; print(websockets.__version__)') on Python $("$py" -c 'import platform; print(platform.python_version())')"
missing_list=$(IFS=';'; echo "${missing[*]:-}")

cp "$results" "${KEEP_RESULTS:-/dev/null}"
page=$("$py" - "$results" "$started" "$load_before" "$load_after" "$duration" "$reps" \
  "${#client_cpu[@]}" "$conns" "$elapsed" "$versions" "$missing_list" "$default_engine" <<'PY'
import json, platform, statistics, subprocess, sys

(results, started, load_before, load_after, duration, reps, pinned, conns, elapsed, versions,
 missing, default_engine) = sys.argv[1:13]
conns = int(conns)
runs = {}
for line in open(results):
    kind, server, js = line.split(" ", 2)
    runs.setdefault((kind, server), []).append(json.loads(js))

def med(kind, server, key):
    v = [r[key] for r in runs.get((kind, server), []) if key in r]
    return statistics.median(v) if v else float("nan")

def one(kind, server):
    r = runs.get((kind, server), [{}])
    return r[0]

anchors = ["websocketpp", "ws", "gevent", "websockets"]
def label(s):
    names = {"websocketpp": "websocketpp (C++, Asio)", "ws": "ws (Node)",
             "gevent": "gevent-websocket (Python)", "websockets": "websockets (Python, asyncio)"}
    if s in names:
        return names[s]
    kind, engine = s.split("_", 1)
    return f"grove-demo, web::Hub ({engine})" if kind == "grove-demo" else f"grove ({engine})"

def order(names):
    return sorted(names, key=lambda s: (not s in anchors, anchors.index(s) if s in anchors else 0, s))

def per_cpu(kind, server):
    """Echoes per second of the server's CPU time (its handshakes included), median of runs."""
    v = [r["messages"] / r["server_cpu_s"] for r in runs.get((kind, server), [])
         if r.get("server_cpu_s") and "messages" in r]
    return statistics.median(v) if v else float("nan")

def ratio(a, b):
    return f"{a / b:.2f}" if a == a and b == b and b else "–"

cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "unknown")
ncpu = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
out = ["# WebSocket: grove against websocketpp, Node's ws, gevent-websocket and websockets", ""]
out.append(f"Generated by `bench/run_ws.sh` ({started}, {elapsed} s). Machine: {cpu}, {ncpu} CPUs, "
           f"Linux {platform.release()}; load average {load_before} before, {load_after} after "
           "(2 vCPUs shared with other engineers' work). Anchors: " + versions + "; none compresses "
           "or pings (grove-hello and grove-demo run with `--ws-ping-interval 0`)." +
           (f" Not run (package missing): {missing.replace(';', ', ')}." if missing else ""))
out.append(("The client (bench/ws/ws_load.cpp, `grove-wsload`, one thread, epoll) ran on CPU 0 and "
            "each server on CPU 1 (taskset); " if pinned != "0" else "Nothing pinned; ") +
           "all servers ran side by side, taking turns.")
out.append("")
out.append(f"## Echo: {reps} runs of {duration} s each, medians")
out.append("")
out.append("Each connection sends a 32-byte text message and waits for its echo (closed loop). "
           "Ratios are the row's figure over the anchor's: the issue asks grove for at least 1.5x "
           "websocketpp's and 2x ws's echoes per second, and a p99 at most each anchor's. Server CPU "
           "is the server process's user+system time during the client's run (all its threads; "
           "the upgrades of the run's connections included) over the measured seconds; echoes "
           "per CPU-second is the server's cost per echo, which still compares servers when the "
           "one-thread client, not the server, sets the pace (a server below 100% CPU waits for it).")
out.append("")
out.append("| connections | server | echoes/s | p50 (ms) | p99 (ms) | echoes/s ÷ websocketpp | echoes/s ÷ ws | "
           "p99 ÷ websocketpp | p99 ÷ ws | server CPU | echoes per CPU-second | ÷ websocketpp | errors |")
out.append("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
echo_servers = order({s for (k, s) in runs if k.startswith("echo")})
for n in (100, 1000):
    k = f"echo{n}"
    wr, wp = med(k, "websocketpp", "per_second"), med(k, "websocketpp", "p99_ms")
    nr, np_ = med(k, "ws", "per_second"), med(k, "ws", "p99_ms")
    we = per_cpu(k, "websocketpp")
    for s in echo_servers:
        rate, p50, p99 = med(k, s, "per_second"), med(k, s, "p50_ms"), med(k, s, "p99_ms")
        errs = sum(r.get("errors", 0) for r in runs.get((k, s), []))
        busy = med(k, s, "server_cpu_s") / med(k, s, "seconds")
        out.append(f"| {n:,} | {label(s)} | {rate:,.0f} | {p50:.2f} | {p99:.2f} | {ratio(rate, wr)} | "
                   f"{ratio(rate, nr)} | {ratio(p99, wp)} | {ratio(p99, np_)} | {busy:.0%} | "
                   f"{per_cpu(k, s):,.0f} | {ratio(per_cpu(k, s), we)} | {errs} |")
out.append("")
out.append(f"## Memory per idle WebSocket: {conns:,} connections")
out.append("")
out.append(f"`grove-wsload --mode idle --connections {conns}` (bench/ws/ws_idle.cpp): each connection is "
           "upgraded and echoes one message, then stays open and idle; the figure is the growth "
           "of the server's resident set (VmRSS) over the number of connections, after a warm-up "
           "connection. A sample of 1 in 100 echoes again afterwards (all alive). The issue asks "
           "grove for at most 8 KiB (8,192 bytes) per idle WebSocket without deflate.")
out.append("")
out.append("| server | connections | RSS before (MiB) | RSS after (MiB) | bytes per connection | ÷ websocketpp | alive (sampled) |")
out.append("|---|---:|---:|---:|---:|---:|---:|")
wm = one("idle", "websocketpp").get("per_connection_bytes", float("nan"))
for kind, s in [("idle", s) for s in order({s for (k, s) in runs if k == "idle"})] + \
               [("idle_deflate", s) for s in order({s for (k, s) in runs if k == "idle_deflate"})]:
    r = one(kind, s)
    name = label(s) + (", permessage-deflate" + ("" if r.get("deflate") else " (not agreed)")
                       if kind == "idle_deflate" else "")
    if not r:
        out.append(f"| {name} | – | – | – | failed | – | – |")
        continue
    out.append(f"| {name} | {r['connections'] - r['failed']:,} | {r['rss_before_kib'] / 1024:.1f} | "
               f"{r['rss_after_kib'] / 1024:.1f} | {r['per_connection_bytes']:,.0f} | "
               f"{ratio(r['per_connection_bytes'], wm)} | {r['alive_sampled']} |")
out.append("")
out.append(f"## Broadcast to {conns:,} clients")
out.append("")
out.append(f"`grove-wsload --mode broadcast --connections {conns} --rounds 10 --burst 10` "
           "(bench/ws/ws_broadcast.cpp): every client joins one room (`/ws/chat/bench`), and the "
           "first one sends; the server sends each message to every member, the sender included. "
           "Ten single messages, each when every client has the previous one (time until the last "
           "client has it: the first message, the median and the worst of the ten), then ten back "
           "to back (deliveries per second: clients x 10 over the time until every client has all "
           "ten). grove is grove-demo's `/ws/chat/<room>` (web::Hub: a queue and a sender green "
           "thread per member); the anchors loop over their room's connections. RSS per member is the "
           "server's growth over the room's connections before the first message; the anchors "
           "ran the idle and echo measurements before and reuse the memory they freed, so theirs reads "
           "low (use the table above for them).")
out.append("")
out.append("| server | clients | first (ms) | median (ms) | worst (ms) | deliveries/s | "
           "median ÷ websocketpp | median ÷ ws | RSS per member (bytes) | missing |")
out.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
bw = one("broadcast", "websocketpp").get("median_ms", float("nan"))
bn = one("broadcast", "ws").get("median_ms", float("nan"))
for s in order({s for (k, s) in runs if k == "broadcast"}):
    r = one("broadcast", s)
    if not r:
        out.append(f"| {label(s)} | – | – | – | – | failed | – | – | – | – |")
        continue
    out.append(f"| {label(s)} | {r['connections'] - r['dead']:,} | {r['first_ms']:.1f} | "
               f"{r['median_ms']:.1f} | {r['max_ms']:.1f} | {r['deliveries_per_second']:,.0f} | "
               f"{ratio(r['median_ms'], bw)} | {ratio(r['median_ms'], bn)} | "
               f"{r['per_connection_bytes']:,.0f} | {r['missing']} |")
print("\n".join(out))
PY
)
echo "$page"
if [ $write -eq 1 ]; then write_page "$root/bench/results/ws.md" "$page"; fi
