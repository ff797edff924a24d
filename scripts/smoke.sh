#!/usr/bin/env bash
# CI's smoke stage: the main job as a new user runs it, on a machine without the test and
# bench packages. scripts/run.sh configures and builds grove-demo with every test- and
# bench-only lookup (test_only_lookups in scripts/install-deps.sh) invisible to CMake and to
# pkg-config; the stage fails if that configure looks any of them up, even optionally. Then
# it serves the demo on a free loopback port, requests each main route, checks status and
# body, and stops it with SIGTERM, which must end it with status 0 within 5 s.
# Usage: scripts/smoke.sh   (GROVE_SMOKE_DIR changes the build directory, default build/smoke)
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=install-deps.sh
source scripts/install-deps.sh   # the lists only
dir=${GROVE_SMOKE_DIR:-build/smoke}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
trace=$dir/configure-trace.json
log=$dir/grove-demo.log

# pkg-config that does not know the test-only modules.
real_pkg_config=$(command -v pkg-config)
cat >"$dir/pkg-config" <<SH
#!/bin/sh
# smoke: pkg-config with grove's test- and bench-only modules hidden
for a in "\$@"; do
  case "\${a%%[<>=]*}" in $(IFS='|'; echo "${test_only_lookups[*]}")) exit 1 ;; esac
done
exec $real_pkg_config "\$@"
SH
chmod +x "$dir/pkg-config"

hide=(-DPKG_CONFIG_EXECUTABLE="$dir/pkg-config")
for name in "${test_only_lookups[@]}"; do hide+=("-DCMAKE_DISABLE_FIND_PACKAGE_$name=ON"); done

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
base=http://127.0.0.1:$port
rm -f "$trace"
GROVE_BUILD_DIR=$dir GROVE_QUIET=1 \
  GROVE_CMAKE_ARGS="${hide[*]} --trace-format=json-v1 --trace-redirect=$trace" \
  scripts/run.sh --bind "127.0.0.1:$port" >"$log" 2>&1 &
pid=$!
stop() { kill -TERM "$pid" 2>/dev/null || true; }
trap stop EXIT

# run.sh configures, builds, then becomes grove-demo: wait for an answer or its end.
until curl -s -o /dev/null "$base/hello"; do
  if ! kill -0 "$pid" 2>/dev/null; then
    cat "$log"
    echo "smoke: scripts/run.sh ended before grove-demo answered on $base" >&2
    exit 1
  fi
  sleep 0.2
done

# The configure run.sh did must not have looked up a test- or bench-only name.
python3 - "$trace" "${test_only_lookups[@]}" <<'PY'
import json, sys
trace, hidden = sys.argv[1], set(sys.argv[2:])
lookups = {"find_package", "find_library", "find_path", "find_program", "find_file",
           "pkg_check_modules", "pkg_search_module"}
found = []
for line in open(trace):
    call = json.loads(line)
    if call.get("cmd", "").lower() not in lookups:
        continue
    names = {a.split(">")[0].split("<")[0].split("=")[0] for a in call.get("args", [])}
    for name in sorted(names & hidden):
        found.append(f"  {call['file']}:{call['line']}: {call['cmd']}({' '.join(call['args'])})")
if found:
    print("smoke: the main job's configure looks up test- or bench-only packages "
          "(test_only_lookups in scripts/install-deps.sh); move these under "
          "GROVE_BUILD_TESTS or GROVE_BUILD_BENCH:", *found, sep="\n", file=sys.stderr)
    sys.exit(1)
PY

fail=0
check() {  # name, expected status, body pattern (grep -E), curl arguments...
  local name=$1 want=$2 pattern=$3; shift 3
  local got body
  got=$(curl -s -o "$dir/body" -w '%{http_code}' --max-time 10 "$@") || got="curl failed ($?)"
  body=$(cat "$dir/body" 2>/dev/null || true)
  if [ "$got" = "$want" ] && grep -Eq -- "$pattern" <<<"$body"; then
    echo "smoke: $name: $got ok"
  else
    echo "smoke: $name: want $want and a body matching '$pattern'; got $got: $body" >&2
    fail=1
  fi
}
check "GET /hello" 200 '^Hello, World!$' "$base/hello"
check "GET /async-sleep?ms=50" 200 '^ok$' "$base/async-sleep?ms=50"
check "GET /fanout?n=3&ms=20" 200 '"statuses":\[200,200,200\]' "$base/fanout?n=3&ms=20"
check "POST /echo" 200 '^grove smoke body$' -H 'Content-Type: text/plain' \
  --data-binary 'grove smoke body' "$base/echo"
check "GET /error" 500 '"detail":"the /error route always fails"' "$base/error"

trap - EXIT
kill -TERM "$pid"
for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$pid" 2>/dev/null; then
  kill -KILL "$pid"
  echo "smoke: grove-demo still running 5 s after SIGTERM" >&2
  cat "$log"
  exit 1
fi
status=0
wait "$pid" || status=$?
if [ "$status" -ne 0 ]; then
  echo "smoke: grove-demo exited with status $status after SIGTERM (want 0)" >&2
  fail=1
fi
[ "$fail" -eq 0 ] || { cat "$log"; exit 1; }
echo "smoke: ok (grove-demo built without test packages, served, stopped cleanly)"
