#!/usr/bin/env bash
# Sets up, builds and runs grove's main job: the demo web app (examples/demo_app.cpp) served
# by the green-thread HTTP server with compat on, the green bridge and the default engine,
# on 127.0.0.1:8000. Extra arguments go to grove-demo (see --help); Ctrl-C stops it
# gracefully.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh build
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build/release -j "${GROVE_JOBS:-$(nproc)}" --target grove-demo grove-info
build/release/tools/grove-info
cat <<'TXT'

grove-demo on http://127.0.0.1:8000 — try:
  curl http://127.0.0.1:8000/hello
  curl 'http://127.0.0.1:8000/async-sleep?ms=100'
  curl 'http://127.0.0.1:8000/fanout?n=3&ms=50'
TXT
exec build/release/examples/grove-demo "$@"
