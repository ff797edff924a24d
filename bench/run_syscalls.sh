#!/usr/bin/env bash
# System calls per request: grove-hello on each engine (ENGINES, default: every built one),
# one worker pinned to CPU 1, `strace -c -f` attached for a fixed number of keep-alive
# requests (wrk on CPU 0, bench/http/stop_after.lua). strace slows the server down, so the
# req/s of this run mean nothing; the counts do. Prints a markdown table; the table and the
# command go into bench/results/ by hand (the count is a property of the code, not a timing).
#
#   REQUESTS=20000 CONNS=50 ENGINES="io_uring asio" BUILD=build-bench bench/run_syscalls.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$root/build-bench}
case $build in /*) ;; *) build=$root/$build ;; esac
requests=${REQUESTS:-20000}
conns=${CONNS:-50}
for tool in wrk strace curl python3; do
  command -v "$tool" >/dev/null || { echo "run_syscalls.sh: $tool is missing" >&2; exit 2; }
done
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
make -C "$build" -j2 grove-hello >/dev/null
hello=$build/examples/grove-hello
engines=${ENGINES:-$("$hello" --version | sed -n 's/^engines: //p' | tr -d ',')}
work=$(mktemp -d /tmp/grove-bench-syscalls.XXXXXX)
server=""
trap '[ -n "$server" ] && kill "$server" 2>/dev/null; rm -rf "$work"' EXIT

echo "| engine | requests | system calls | per request | most frequent (count per request) |"
echo "|---|---:|---:|---:|---|"
for engine in $engines; do
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  taskset -c 1 "$hello" --backend "$engine" --bind "127.0.0.1:$port" --log-level warning >/dev/null 2>&1 &
  server=$!
  for _ in $(seq 1 100); do curl -fsS -o /dev/null "http://127.0.0.1:$port/" 2>/dev/null && break; sleep 0.05; done
  # Warm up the connections' first requests outside the count.
  taskset -c 0 wrk -t1 -c"$conns" -d1s "http://127.0.0.1:$port/" >/dev/null
  strace -c -f -p "$server" -o "$work/$engine.strace" &
  tracer=$!
  sleep 0.5
  out=$(taskset -c 0 wrk -t1 -c"$conns" -d120s -s "$root/bench/http/stop_after.lua" "http://127.0.0.1:$port/" -- "$requests")
  kill -INT "$tracer"; wait "$tracer" 2>/dev/null || true
  kill "$server"; wait "$server" 2>/dev/null || true
  server=""
  done_n=$(echo "$out" | sed -n 's/^ *\([0-9]*\) requests in.*/\1/p')
  python3 - "$work/$engine.strace" "$engine" "$done_n" <<'PY'
import sys
path, engine, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
calls = {}
for line in open(path):  # % time, seconds, usecs/call, calls, [errors], syscall
    f = line.split()
    if len(f) >= 5 and f[0][0].isdigit() and f[-1] != "total":
        calls[f[-1]] = int(f[3])
total = sum(calls.values())
top = sorted(calls.items(), key=lambda kv: -kv[1])[:4]
print(f"| {engine} | {n:,} | {total:,} | {total / n:.2f} | "
      + ", ".join(f"`{k}` {v / n:.2f}" for k, v in top) + " |")
PY
done
