#!/usr/bin/env bash
# Sets up, builds and runs grove's main job: the demo web app (examples/demo_app.cpp) served
# by the green-thread HTTP server with compat on, the green bridge and the default engine.
# It installs only the build packages (scripts/install-deps.sh build) and configures only
# what it builds: no tests, no benchmarks, no fuzzing, so it never needs Catch2, Google
# Benchmark, clang or nginx. Ctrl-C or SIGTERM stops the demo gracefully.
#
# Usage: scripts/run.sh [--bind HOST:PORT] [--quiet] [grove-demo flags ...]
#   --bind HOST:PORT   where to serve (default 127.0.0.1:8000); repeatable, as grove-demo's
#   --quiet            no engine report and no banner (also GROVE_QUIET=1): for scripts
# Other arguments go to grove-demo (build/main/examples/grove-demo --help lists them).
# Environment: GROVE_BUILD_DIR (default build/main), GROVE_JOBS (default nproc),
#   GROVE_CMAKE_ARGS (extra configure arguments: CI's smoke stage hides test packages).
set -euo pipefail
cd "$(dirname "$0")/.."

quiet=${GROVE_QUIET:-0}
binds=()
demo_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --quiet|-q) quiet=1 ;;
    --bind|-b)
      [ $# -ge 2 ] || { echo "run.sh: $1 needs HOST:PORT" >&2; exit 2; }
      binds+=("$2"); demo_args+=(--bind "$2"); shift ;;
    --bind=*) binds+=("${1#--bind=}"); demo_args+=("$1") ;;
    *) demo_args+=("$1") ;;
  esac
  shift
done
[ ${#binds[@]} -gt 0 ] || binds=(127.0.0.1:8000)

build=${GROVE_BUILD_DIR:-build/main}
scripts/install-deps.sh build
# shellcheck disable=SC2086  # GROVE_CMAKE_ARGS is a list of arguments
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DGROVE_BUILD_EXAMPLES=ON \
  -DGROVE_BUILD_TESTS=OFF -DGROVE_BUILD_BENCH=OFF -DGROVE_FUZZ=OFF \
  ${GROVE_CMAKE_ARGS:-} >/dev/null
cmake --build "$build" -j "${GROVE_JOBS:-$(nproc)}" --target grove-demo grove-info

if [ "$quiet" != 1 ]; then
  "$build"/tools/grove-info
  url="http://${binds[0]}"
  cat <<TXT

grove-demo on $url — try:
  curl $url/hello
  curl '$url/async-sleep?ms=100'
  curl '$url/fanout?n=3&ms=50'
TXT
fi
exec "$build"/examples/grove-demo ${demo_args[@]+"${demo_args[@]}"}
