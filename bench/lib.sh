# Helpers shared by bench/run_tls.sh, bench/run_ws.sh, bench/run_demo_nginx.sh and
# bench/run_web_files.sh (sourced): a work directory removed
# at exit together with the servers started, CPU pinning as bench/run_http.sh does it (the
# client on CPU 0, each server on CPU 1; PIN=0 turns it off), free ports, and writing a
# results page that keeps the notes below its "<!-- notes -->" line.

bench_setup() {  # name -> work, pids, client_cpu, server_cpu
  work=$(mktemp -d "/tmp/grove-bench-$1.XXXXXX")
  chmod 755 "$work"
  pids=()
  trap bench_cleanup EXIT
  client_cpu=() server_cpu=()
  if [ "${PIN:-1}" = 1 ] && [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null; then
    client_cpu=(taskset -c 0)
    server_cpu=(taskset -c 1)
  fi
}

bench_cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  sleep 0.3
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  rm -rf "$work"
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

write_page() {  # file page
  local notes=""
  if [ -f "$1" ] && grep -q '^<!-- notes -->' "$1"; then
    notes=$(sed -n '/^<!-- notes -->/,$p' "$1")
  fi
  { echo "$2"; echo; [ -n "$notes" ] && echo "$notes"; } >"$1"
  echo "wrote $1" >&2
}

wait_http() {  # url: waits up to 10 s for a 2xx answer there
  for _ in $(seq 1 200); do curl -fsS -o /dev/null --max-time 1 "$1" 2>/dev/null && return 0; sleep 0.05; done
  echo "$(basename "$0"): nothing answers at $1" >&2
  exit 1
}

cpu_ticks() {  # pid: user + system clock ticks of it and its children
  local total=0 p t
  for p in $1 $(pgrep -P "$1" || true); do
    # A process may exit between pgrep and the read (PostgreSQL's autovacuum workers do).
    t=$(sed 's/^.*) //' "/proc/$p/stat" 2>/dev/null | awk '{print $12 + $13}') || true
    [ -n "$t" ] && total=$((total + t))
  done
  echo "$total"
}
