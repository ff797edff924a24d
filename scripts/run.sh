#!/usr/bin/env bash
# Sets up, builds and runs grove's main job on the default engine.
# Until the HTTP server lands, the main job is grove-info and the loop demo (a repeating
# timer and a socketpair echo).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh build
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build/release -j "${GROVE_JOBS:-$(nproc)}" --target grove-info loop-demo
build/release/tools/grove-info
build/release/examples/loop-demo
