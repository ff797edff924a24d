#!/usr/bin/env bash
# Issue 16's benchmarks, each beside its anchor in the same run: grove-demo (one worker,
# default engine, compat on, green bridge) against
#   - Debian's nginx serving the same files from disk with sendfile (bench/web/nginx_static.conf.in):
#     a 4 KiB file at 50 connections and a 10 MiB file at 10 connections, GET /static/...;
#   - Flask + gevent's pywsgi (bench/web/flask_app.py, monkey.patch_all()) on the same
#     session view: /visits reads the signed session cookie, adds one, writes it back;
#   - its own raw-body view: a 10 MiB multipart/form-data upload to /upload (parsed: the
#     file kept in memory by a second grove-demo with UPLOAD_SPOOL_THRESHOLD at 16 MiB, and
#     spooled to a temporary file in $TMPDIR by the first, the default threshold of
#     500 KiB), the same bytes to /upload-raw (request.read() in 64 KiB pieces, the anchor
#     the issue names) and to /upload-stream (a coroutine view, co_await
#     request.stream().read()), at 4 connections (bench/web/upload.lua).
# Servers on CPU 1, wrk on CPU 0 (bench/lib.sh), every row DURATION long, the rows of a
# comparison alternating; grove's blocking detector on (GROVE_BLOCKING_WARN_MS, 100 ms unless
# BLOCKING_WARN_MS says otherwise) and its reports counted per row. Prints the page and writes
# bench/results/web_files.md.
#
#   BUILD=build/rel bench/run_web_files.sh
#   DURATION=5s BUILD=build-bench bench/run_web_files.sh     # the defaults; about 1.5 min
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$root/build-bench}
case $build in /*) ;; *) build=$root/$build ;; esac
duration=${DURATION:-5s}
for tool in wrk nginx curl python3; do
  command -v "$tool" >/dev/null || { echo "run_web_files.sh: $tool is missing (scripts/install-deps.sh bench)" >&2; exit 2; }
done
/usr/bin/python3 -c 'import flask, gevent' 2>/dev/null ||
  { echo "run_web_files.sh: python3-flask and python3-gevent are missing (scripts/install-deps.sh bench)" >&2; exit 2; }
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
. "$root/bench/lib.sh"

cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j2 --target grove-demo >/dev/null
demo=$build/examples/grove-demo

bench_setup web-files

# The files, written once: the servers read them from the page cache after the first request.
mkdir -p "$work/static"
head -c 4096 /dev/urandom >"$work/static/small.bin"
head -c $((10 << 20)) /dev/urandom >"$work/static/big.bin"

nginx_port=$(free_port)
mkdir -p "$work/nginx"
sed -e "s|@PREFIX@|$work/nginx|g" -e "s|@PORT@|$nginx_port|g" -e "s|@ROOT@|$work/static|g" \
  "$root/bench/web/nginx_static.conf.in" >"$work/nginx/nginx.conf"
"${server_cpu[@]}" nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" -e "$work/nginx/error.log" >/dev/null 2>&1 &
nginx_pid=$!
pids+=("$nginx_pid")

printf '{"STATIC_FOLDER": "%s", "SECRET_KEY": "bench-secret"}\n' "$work/static" >"$work/demo.json"
demo_port=$(free_port)
# The blocking detector watches the hub throughout (docs/green.md): a static file or an
# upload that held the hub past the threshold is counted in its row.
GROVE_BLOCKING_WARN_MS=${BLOCKING_WARN_MS:-100} "${server_cpu[@]}" "$demo" --bind "127.0.0.1:$demo_port" --config "$work/demo.json" --log-level warning \
  --keepalive-timeout 120s --max-connections 20000 --max-body 64M 2>"$work/demo.err" &
demo_pid=$!
pids+=("$demo_pid")
# The same with a request's files kept in memory up to 16 MiB (docs/web.md, "Uploads").
printf '{"STATIC_FOLDER": "%s", "SECRET_KEY": "bench-secret", "UPLOAD_SPOOL_THRESHOLD": %d}\n' \
  "$work/static" $((16 << 20)) >"$work/demo_mem.json"
mem_port=$(free_port)
GROVE_BLOCKING_WARN_MS=${BLOCKING_WARN_MS:-100} "${server_cpu[@]}" "$demo" --bind "127.0.0.1:$mem_port" --config "$work/demo_mem.json" --log-level warning \
  --keepalive-timeout 120s --max-connections 20000 --max-body 64M 2>"$work/demo_mem.err" &
mem_pid=$!
pids+=("$mem_pid")

flask_port=$(free_port)
"${server_cpu[@]}" /usr/bin/python3 "$root/bench/web/flask_app.py" "127.0.0.1:$flask_port" 2>"$work/flask.err" &
flask_pid=$!
pids+=("$flask_pid")

wait_http "http://127.0.0.1:$nginx_port/static/small.bin"
wait_http "http://127.0.0.1:$demo_port/static/small.bin"
wait_http "http://127.0.0.1:$mem_port/hello"
wait_http "http://127.0.0.1:$flask_port/hello"
# The files each server sends must be the files on disk.
for f in small.bin big.bin; do
  for port in "$nginx_port" "$demo_port"; do
    curl -fsS "http://127.0.0.1:$port/static/$f" | cmp -s - "$work/static/$f" ||
      { echo "run_web_files.sh: 127.0.0.1:$port/static/$f differs from the file" >&2; exit 1; }
  done
done
# A session cookie from each server (visits = 1): every measured request reads it and
# writes visits = 2 back.
cookie_of() {
  curl -fsS -c - -o /dev/null "$1" | awk '$6 == "session" {print "session=" $7}'
}
demo_cookie=$(cookie_of "http://127.0.0.1:$demo_port/visits")
flask_cookie=$(cookie_of "http://127.0.0.1:$flask_port/visits")
[ -n "$demo_cookie" ] && [ -n "$flask_cookie" ] || { echo "run_web_files.sh: no session cookie" >&2; exit 1; }
[ "$(curl -fsS -H "Cookie: $demo_cookie" "http://127.0.0.1:$demo_port/visits")" = 2 ] &&
  [ "$(curl -fsS -H "Cookie: $flask_cookie" "http://127.0.0.1:$flask_port/visits")" = 2 ] ||
  { echo "run_web_files.sh: a session does not round-trip" >&2; exit 1; }
upload_bytes=$((10 << 20))
for url in "$demo_port/upload" "$demo_port/upload-raw" "$demo_port/upload-stream" "$mem_port/upload"; do
  out=$(UPLOAD_BYTES=1000 wrk -t1 -c1 -d1s -s "$root/bench/web/upload.lua" "http://127.0.0.1:$url" 2>&1)
  echo "$out" | grep -q "Non-2xx" && { echo "run_web_files.sh: 127.0.0.1:$url fails: $out" >&2; exit 1; }
done

results=$work/results.txt
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
row() {  # name pid conns url [wrk args...]
  local name=$1 pid=$2 conns=$3 url=$4
  shift 4
  local before after out reports
  before=$(cpu_ticks "$pid")
  reports=$(cat "$work/demo.err" "$work/demo_mem.err" | grep -c "blocking detector" || true)
  out=$("${client_cpu[@]}" wrk -t1 -c"$conns" -d"$duration" --latency "$@" "$url" 2>&1) || true
  after=$(cpu_ticks "$pid")
  reports=$(($(cat "$work/demo.err" "$work/demo_mem.err" | grep -c "blocking detector" || true) - reports))
  [ "$pid" = "$demo_pid" ] || [ "$pid" = "$mem_pid" ] || reports=""
  { echo "### $name|$conns|$((after - before))|$reports"; echo "$out"; } >>"$results"
}
row "static 4 KiB: nginx" "$nginx_pid" 50 "http://127.0.0.1:$nginx_port/static/small.bin"
row "static 4 KiB: grove" "$demo_pid" 50 "http://127.0.0.1:$demo_port/static/small.bin"
row "static 10 MiB: nginx" "$nginx_pid" 10 "http://127.0.0.1:$nginx_port/static/big.bin"
row "static 10 MiB: grove" "$demo_pid" 10 "http://127.0.0.1:$demo_port/static/big.bin"
row "session: Flask + gevent" "$flask_pid" 50 "http://127.0.0.1:$flask_port/visits" -H "Cookie: $flask_cookie"
row "session: grove" "$demo_pid" 50 "http://127.0.0.1:$demo_port/visits" -H "Cookie: $demo_cookie"
export UPLOAD_BYTES=$upload_bytes
row "upload: raw body (request.read)" "$demo_pid" 4 "http://127.0.0.1:$demo_port/upload-raw" -s "$root/bench/web/upload.lua"
row "upload: multipart (request.files), in memory" "$mem_pid" 4 "http://127.0.0.1:$mem_port/upload" -s "$root/bench/web/upload.lua"
row "upload: multipart (request.files), spooled to a file" "$demo_pid" 4 "http://127.0.0.1:$demo_port/upload" -s "$root/bench/web/upload.lua"
row "upload: coroutine (request.stream)" "$demo_pid" 4 "http://127.0.0.1:$demo_port/upload-stream" -s "$root/bench/web/upload.lua"
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

page=$(python3 - "$results" "$duration" "$load_before" "$load_after" "$upload_bytes" "${BLOCKING_WARN_MS:-100}" <<'PY'
import re, sys
path, duration, load_before, load_after, upload_bytes, warn_ms = sys.argv[1:]
rows, cur = [], None
for line in open(path):
    if line.startswith("### "):
        name, conns, ticks, reports = line[4:].rstrip("\n").split("|")
        cur = {"name": name, "conns": conns, "ticks": int(ticks), "rps": 0.0, "p99": "", "errors": 0,
               "reports": reports}
        rows.append(cur)
        continue
    m = re.match(r"\s*Requests/sec:\s*([\d.]+)", line)
    if m: cur["rps"] = float(m.group(1))
    m = re.match(r"\s*99%\s+([\d.]+)(us|ms|s)", line)
    if m: cur["p99"] = "%.2f" % (float(m.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[m.group(2)])
    m = re.match(r"\s*Non-2xx or 3xx responses:\s*(\d+)", line)
    if m: cur["errors"] += int(m.group(1))
    m = re.match(r"\s*Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", line)
    if m: cur["errors"] += sum(int(g) for g in m.groups())
by = {r["name"]: r for r in rows}
secs = float(duration.rstrip("s"))
body = int(upload_bytes) + 200  # the multipart framing around the file
def mib_s(r, size): return r["rps"] * size / (1 << 20)
def cpu(r): return "%.0f" % (r["ticks"] / secs)  # clock ticks of 10 ms: % of one core
# What a request costs the server: the figure that survives a machine shared with other work.
def per_cpu(r): return r["rps"] * secs / (r["ticks"] / 100) if r["ticks"] else float("nan")
out = []
out.append("# Web framework: static files, sessions and uploads beside their anchors")
out.append("")
out.append("Generated by `bench/run_web_files.sh` (issue 16): wrk -t1 pinned to CPU 0, each server")
out.append("pinned to CPU 1 (one worker/process each), %s per row, loopback. grove: grove-demo, Release," % duration)
out.append("default engine, compat on, green bridge. Anchors: Debian's nginx (sendfile on) for the files,")
out.append("Flask 2.2 + gevent pywsgi (monkey.patch_all()) for the session view, grove's own raw-body")
out.append("view for the upload. \"errors\" counts wrk's socket errors and non-2xx answers; \"server CPU %\"")
out.append("is the server's CPU time over the row (100 = one core); \"blocking reports\" counts grove's blocking")
out.append("detector lines during the row (GROVE_BLOCKING_WARN_MS=%s)." % warn_ms)
out.append("Load average before/after: %s / %s (the machine was shared with other work; the lead" % (load_before, load_after))
out.append("reruns quietly with the same command).")
out.append("")
out.append("| row | conns | req/s | MiB/s | p99 ms | errors | server CPU % | req per server CPU-s | blocking reports |")
out.append("|---|---|---|---|---|---|---|---|---|")
sizes = {"static 4 KiB": 4096, "static 10 MiB": 10 << 20, "upload": body}
for r in rows:
    size = next((v for k, v in sizes.items() if r["name"].startswith(k)), 0)
    out.append("| %s | %s | %.0f | %s | %s | %d | %s | %.0f | %s |" % (r["name"], r["conns"], r["rps"],
               ("%.0f" % mib_s(r, size)) if size else "", r["p99"], r["errors"], cpu(r), per_cpu(r),
               r["reports"]))
out.append("")
def ratio(a, b, f=lambda r: r["rps"]):
    return f(by[a]) / f(by[b]) if f(by[b]) else float("nan")
def both(a, b):
    return "**%.2f** | %.2f" % (ratio(a, b), ratio(a, b, per_cpu))
out.append("| comparison | ratio (req/s, throughput) | ratio per server CPU-s | target |")
out.append("|---|---|---|---|")
out.append("| 4 KiB static, grove / nginx | %s | ≥ 1.0 |" % both("static 4 KiB: grove", "static 4 KiB: nginx"))
out.append("| 10 MiB static, grove / nginx | %s | ≥ 0.9 |" % both("static 10 MiB: grove", "static 10 MiB: nginx"))
out.append("| session read+write, grove / Flask + gevent | %s | ≥ 20 |" % both("session: grove", "session: Flask + gevent"))
out.append("| 10 MiB multipart upload in memory (UPLOAD_SPOOL_THRESHOLD 16 MiB) / raw body | %s | ≥ 0.8 |" % both("upload: multipart (request.files), in memory", "upload: raw body (request.read)"))
out.append("| 10 MiB multipart upload spooled to $TMPDIR (the default 500 KiB threshold) / raw body | %s | ≥ 0.8 |" % both("upload: multipart (request.files), spooled to a file", "upload: raw body (request.read)"))
out.append("| 10 MiB coroutine request.stream() / raw body | %s | |" % both("upload: coroutine (request.stream)", "upload: raw body (request.read)"))
print("\n".join(out))
PY
)
echo "$page"
write_page "$root/bench/results/web_files.md" "$page"
