#!/usr/bin/env bash
# The whole picture of docs/deploy.md measured on loopback: nginx in front of two grove-demo
# instances (one worker each, Redis sessions, tasks on Redis), Redis and PostgreSQL started
# by scripts/test-services.sh, two grove-worker processes (--concurrency 50) recording each
# task's result in PostgreSQL. Every server process on CPU 1, wrk on CPU 0 (bench/lib.sh;
# PIN=0 turns it off). In one run:
#   - GET /hello straight to one instance (the anchor) and through nginx to both
#   - GET /visits (a Redis session read and written) through nginx
#   - GET /tasks/record?ms=0&key=<new> through nginx for DURATION (enqueue req/s), then the
#     time until the workers have recorded every accepted task in PostgreSQL (tasks/s from
#     the first enqueue to the last result), and that no key was recorded twice
# Prints the results page; with --write it replaces the generated part of
# bench/results/deploy.md, keeping the notes below its "<!-- notes -->" line.
#
#   bench/run_deploy.sh [--write]
#   DURATION=5s CONNS=50 BUILD=build-bench-deploy bench/run_deploy.sh   (the defaults)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$root/build-bench-deploy}
case $build in /*) ;; *) build=$root/$build ;; esac
duration=${DURATION:-5s}
conns=${CONNS:-50}
write=0
[ "${1:-}" = "--write" ] && write=1
for tool in wrk curl nginx psql redis-server; do
  command -v "$tool" >/dev/null || { echo "run_deploy.sh: $tool is missing (scripts/install-deps.sh bench, test)" >&2; exit 2; }
done
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j2 --target grove-demo grove-worker >/dev/null
demo=$build/examples/grove-demo
worker=$build/examples/grove-worker

# shellcheck source=bench/lib.sh
source "$root/bench/lib.sh"
bench_setup deploy
cleanup_deploy() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  sleep 0.5
  "$root/scripts/test-services.sh" destroy "$work/redis" >/dev/null 2>&1 || true
  "$root/scripts/test-services.sh" destroy "$work/pg" >/dev/null 2>&1 || true
  bench_cleanup
}
trap cleanup_deploy EXIT
pin_server() { [ ${#server_cpu[@]} -gt 0 ] && taskset -apc 1 "$1" >/dev/null || true; }

redis_port=$(sed -n 's/^port=//p' <<<"$("$root/scripts/test-services.sh" start redis "$work/redis")")
pin_server "$(cat "$work/redis/redis.pid")"
pg_port=$(sed -n 's/^port=//p' <<<"$("$root/scripts/test-services.sh" start postgres "$work/pg")")
for p in $(pgrep -f -- "-p $pg_port" || true); do pin_server "$p"; done
redis_url="redis://127.0.0.1:$redis_port"
conninfo="host=127.0.0.1 port=$pg_port user=grove dbname=postgres"
echo "{\"SECRET_KEY\": \"bench secret\", \"SESSION_TYPE\": \"redis\", \"SESSION_REDIS_URL\": \"$redis_url\"}" >"$work/config.json"

ports=()
for name in a b; do
  port=$(free_port)
  ports+=("$port")
  "${server_cpu[@]}" "$demo" --bind "127.0.0.1:$port" --log-level warning --config "$work/config.json" \
    --redis-url "$redis_url" --tasks-prefix bench --keepalive-timeout 75s 2>"$work/$name.err" &
  pids+=($!)
  wait_http "http://127.0.0.1:$port/hello"
done
for name in w1 w2; do
  "${server_cpu[@]}" "$worker" --redis "$redis_url" --prefix bench --database-url "$conninfo" \
    --concurrency 50 >"$work/$name.out" 2>&1 &
  pids+=($!)
done
for name in w1 w2; do
  for _ in $(seq 1 200); do grep -q ready "$work/$name.out" && break; sleep 0.05; done
  grep -q ready "$work/$name.out" || { cat "$work/$name.out" >&2; exit 1; }
done

proxy_port=$(free_port)
cat >"$work/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $work/nginx.pid;
error_log $work/nginx-error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $work/client_body;
  proxy_temp_path $work/proxy;
  fastcgi_temp_path $work/fastcgi;
  uwsgi_temp_path $work/uwsgi;
  scgi_temp_path $work/scgi;
  upstream grove {
    server 127.0.0.1:${ports[0]} max_fails=0;
    server 127.0.0.1:${ports[1]} max_fails=0;
    keepalive 64;
  }
  server {
    listen 127.0.0.1:$proxy_port;
    location / {
      proxy_pass http://grove;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host \$host;
    }
  }
}
CONF
"${server_cpu[@]}" nginx -p "$work" -c "$work/nginx.conf" -e "$work/nginx-error.log" &
pids+=($!)
front=http://127.0.0.1:$proxy_port
wait_http "$front/hello"

# One wrk run: prints "req/s p99_ms errors answered" (req/s of the successful requests).
measure() {  # url [header] [script]
  local out line
  out=$("${client_cpu[@]}" wrk -t1 -c"$conns" -d"$duration" --timeout 10s ${2:+-H "$2"} \
    -s "${3:-$root/bench/web/report.lua}" "$1" 2>&1 || true)
  line=$(grep '^RESULT' <<<"$out" || echo "RESULT requests=0 seconds=1 p50_ms=0 p99_ms=0 connect=0 read=0 write=0 status=0 timeout=0")
  eval "$(sed 's/^RESULT //' <<<"$line" | tr ' ' '\n' | sed 's/^/local r_/')"
  awk -v n="$((r_requests - r_status))" -v s="$r_seconds" -v p="$r_p99_ms" \
    -v e="$((r_connect + r_read + r_write + r_status + r_timeout))" \
    'BEGIN { printf "%.0f %s %d %d", n / s, p, e, n }'
}

started=$(date -u +%Y-%m-%dT%H:%M:%SZ)
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
read -r direct_rps direct_p99 direct_err _ <<<"$(measure "http://127.0.0.1:${ports[0]}/hello")"
read -r front_rps front_p99 front_err _ <<<"$(measure "$front/hello")"
cookie=$(curl -fsS -D - -o /dev/null "$front/visits" | sed -n 's/^[Ss]et-[Cc]ookie: \([^;]*\).*/\1/p' | head -1)
read -r visits_rps visits_p99 visits_err _ <<<"$(measure "$front/visits" "Cookie: $cookie")"
visits_after=$(curl -fsS -H "Cookie: $cookie" "$front/visits")

t0=$(date +%s%N)
read -r enqueue_rps enqueue_p99 enqueue_err accepted <<<"$(KEY_PREFIX="r$$-" measure "$front/tasks/record" "" "$root/bench/web/record_keys.lua")"
pg() { psql "$conninfo" -qAt -c "$1"; }
# A task's entry leaves the queue's stream once a worker acknowledged it.
for _ in $(seq 1 1200); do  # at most 120 s
  [ "$(redis-cli -p "$redis_port" XLEN bench:queue:default)" = 0 ] && break
  sleep 0.1
done
t1=$(date +%s%N)
recorded=$(pg "SELECT count(*) FROM grove_demo_task_results WHERE key LIKE 'r$$-%'")
runs=$(pg "SELECT count(*) FROM grove_demo_task_starts WHERE key LIKE 'r$$-%'")
task_rate=$(awk -v n="$recorded" -v ns="$((t1 - t0))" 'BEGIN { printf "%.0f", n / (ns / 1e9) }')
total_s=$(awk -v ns="$((t1 - t0))" 'BEGIN { printf "%.2f", ns / 1e9 }')
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
nginx_ratio=$(awk -v f="$front_rps" -v d="$direct_rps" 'BEGIN { printf "%.2f", f / d }')

page=$(cat <<PAGE
# The whole picture on loopback: nginx, two grove-demo instances, Redis, PostgreSQL, two workers

Generated by \`bench/run_deploy.sh\` (DURATION=$duration, CONNS=$conns), started $started.

- What: docs/deploy.md's topology on one machine: nginx (one worker process, keep-alive
  upstream) in front of two grove-demo instances (Release, one worker each, compat on,
  Redis sessions), one Redis and one PostgreSQL (scripts/test-services.sh), two
  grove-worker processes (\`--concurrency 50\`) whose record task writes each result to
  PostgreSQL under a unique key. \`wrk -t1 -c$conns -d$duration\`. Every server process
  on CPU 1, wrk on CPU 0: one core for the whole server side, so the figures say what the
  parts cost together, not what several machines would serve.
- Machine: $(nproc) CPUs shared with other engineers' builds; load average before the run
  $load_before, after $load_after.

| | req/s | p99 ms | errors |
|---|---:|---:|---:|
| GET /hello straight to instance A (anchor) | $direct_rps | $direct_p99 | $direct_err |
| GET /hello through nginx (both instances) | $front_rps | $front_p99 | $front_err |
| GET /visits through nginx, Redis session read + written | $visits_rps | $visits_p99 | $visits_err |
| GET /tasks/record through nginx (enqueue) | $enqueue_rps | $enqueue_p99 | $enqueue_err |

- nginx / straight: **$nginx_ratio x** on /hello (one core shared by nginx and grove).
- The session was found on whichever instance nginx chose: after the run, the next
  /visits answered $visits_after. (Far fewer than the requests made: the $conns connections
  share one session, and concurrent writes of one session overwrite each other, the last
  one winning, as with any Flask session.)
- Tasks: $accepted enqueues answered 202 (a request still in flight when wrk stopped may
  have enqueued one more), $recorded results recorded, $runs runs in all; the last result
  $total_s s after the first enqueue:
  **$task_rate tasks/s** enqueued through nginx and completed into PostgreSQL.
PAGE
)
echo "$page"
[ "$write" = 1 ] && write_page "$root/bench/results/deploy.md" "$page"
exit 0
