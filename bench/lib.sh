# Helpers shared by bench/run_tls.sh and bench/run_ws.sh (sourced): a work directory removed
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
