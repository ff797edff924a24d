#!/usr/bin/env bash
# Installs every Debian package grove needs to build, test and benchmark.
# Usage: scripts/install-deps.sh [build|test|bench]   (default: test)
# Packages already present are left alone; apt-get runs only when something is missing.
set -euo pipefail

# libssl-dev: OpenSSL 3, the server's TLS (issue 14) and the WebSocket handshake's SHA-1.
# zlib1g-dev: WebSocket permessage-deflate (issue 15).
# liburing-dev: the io_uring engine (built when present, like the other engines' packages).
# libunwind-dev: the stack traces of suspended green threads in the green-thread dump
# (GET /debug/green, SIGUSR1); without it the dump lists the threads without stacks.
# libkainjow-mustache-dev: the framework's templates (header-only Mustache, issue 16).
build_pkgs=(cmake g++ make pkg-config libev-dev libevent-dev libasio-dev
            libboost-context-dev libcurl4-openssl-dev libcli11-dev curl
            libssl-dev zlib1g-dev liburing-dev libunwind-dev libkainjow-mustache-dev)
# postgresql and redis-server: real servers the database tests start on loopback
# (scripts/test-services.sh); libpq-dev and libhiredis-dev: the clients those tests drive.
# openssl: the command the TLS tests use as an independent verifier and client (s_client).
# python3-websockets: a real WebSocket client (with permessage-deflate) for the server tests.
# python3-prometheus-client: the Prometheus project's own parser of the text format, which
# scrapes the server's metrics endpoint in the tests.
# ninja-build: the test builds (scripts/test.sh) schedule every target of a stage together.
# chromium: the real browser grove-demo's /chat page is tested in (headless, driven over the
# DevTools protocol with python3-websockets; it downloads nothing of its own).
# python3-requests: a real multipart client for the framework's upload tests.
# ccache: scripts/test.sh's one-engine builds take the objects they share with the release
# build from it (a cache in the clone, empty at the start of a clean clone's run).
test_pkgs=(openssl catch2 python3 clang libclang-rt-14-dev nginx-light clang-format-14
           postgresql redis-server libpq-dev libhiredis-dev python3-websockets
           python3-prometheus-client ninja-build chromium
           python3-requests ccache)
# libwebsocketpp-dev, node-ws and python3-gevent-websocket: the WebSocket echo anchors of
# bench/run_ws.sh (websocketpp on Asio, Node's ws, gevent-websocket). node-ws runs on the
# installed nodejs (it needs no particular build of it; it lives in /usr/share/nodejs).
# python3-asyncpg: the asyncio anchor of bench/run_db.sh (asyncpg on a minimal asyncio HTTP
# server).
bench_pkgs=(libbenchmark-dev libboost-fiber-dev libst-dev wrk nginx-light
            python3-gevent python3-flask python3-asgiref
            python3-psycopg2 python3-psycogreen python3-celery python3-redis
            libwebsocketpp-dev node-ws python3-gevent-websocket python3-asyncpg)

# The test and bench groups as a configure would look them up: find_package names (and
# components), pkg-config modules, find_library/find_path/find_program names. CI's smoke
# stage (scripts/test.sh) makes each invisible to the main job's configure and fails if that
# configure looks one up. A package the main job builds with belongs in build_pkgs and
# nowhere here; a new test- or bench-only package adds its lookup names here.
test_only_lookups=(Catch2 benchmark fiber st st.h clang clang++ clang-format-14 nginx wrk
                   libpq hiredis websocketpp)

# Sourced (scripts/test.sh reads the lists above): define, install nothing.
[[ "${BASH_SOURCE[0]}" == "$0" ]] || return 0

want=("${build_pkgs[@]}")
case "${1:-test}" in
  build) ;;
  test)  want+=("${test_pkgs[@]}" libbenchmark-dev) ;;
  bench) want+=("${test_pkgs[@]}" "${bench_pkgs[@]}") ;;
  *) echo "usage: $0 [build|test|bench]" >&2; exit 2 ;;
esac

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
$sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
