#!/usr/bin/env bash
# Sets up, builds and runs grove's whole test suite:
#   release   the tree is formatted (scripts/format.sh --check), then every test on every
#             built engine (Release build)
#   smoke     the main job (scripts/run.sh) built with every test and bench package hidden,
#             then served and requested; a stop by SIGTERM must end it cleanly
#             (scripts/smoke.sh)
#   one-engine  builds with one engine only: libev (the conformance, aio, green, server and
#             web suites, on Boost.Context's green-thread switch), libevent and io_uring
#             (the conformance suite each); they take the objects they share with the
#             release build from the run's compiler cache (build/ccache)
#   asan      every test under AddressSanitizer + UndefinedBehaviorSanitizer, the coroutine
#             libraries at -O2
#   tsan      the cross-thread tests ([tsan]) under ThreadSanitizer (test code at -O0)
#   fuzz      each libFuzzer target (tests/fuzz) for 20 s under ASan+UBSan (scripts/fuzz.sh;
#             GROVE_FUZZ_SECONDS changes the time)
#   consumer  installs grove and builds a small project against it (CMake and pkg-config)
# Usage: scripts/test.sh [stage ...]   (default: every stage, in that order)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
jobs=${GROVE_JOBS:-$(nproc)}

scripts/install-deps.sh test

stage() { printf '\n=== %s ===\n' "$*"; }

# One compiler cache for the builds with the release flags (release, one-engine, consumer),
# kept in the clone (build/ccache: a clean clone starts it empty). The one-engine
# builds differ from the release build only in the files that see the engine list or the
# green-thread switch, and take every other object from it. Paths are hashed relative to
# the clone and the build directory (build/<name>), which is why they match. The sanitizer
# builds share no object with another stage and are configured without it.
export CCACHE_DIR=$root/build/ccache CCACHE_BASEDIR=$root CCACHE_NOHASHDIR=1 \
  CCACHE_SLOPPINESS=pch_defines,time_macros,include_file_mtime,include_file_ctime
cached=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)

# Ninja schedules all of a stage's targets together (make builds the goals named on its
# command line one after another, leaving a CPU idle at each goal's final link). A build
# directory made earlier with another generator is made anew.
build_and_test() {  # dir, cmake args...   (TARGETS / LABELS / EXCLUDE narrow the stage)
  local dir=$1; shift
  if [ -f "$dir/CMakeCache.txt" ] && ! grep -q '^CMAKE_GENERATOR:INTERNAL=Ninja$' "$dir/CMakeCache.txt"; then
    echo "test.sh: $dir was configured with another generator: configuring it anew with Ninja"
    rm -rf "$dir"
  fi
  cmake -G Ninja -S "$root" -B "$dir" -DGROVE_BUILD_TESTS=ON "$@" >/dev/null
  if [ -n "${TARGETS:-}" ]; then
    # shellcheck disable=SC2086
    cmake --build "$dir" -j "$jobs" --target $TARGETS
  else
    cmake --build "$dir" -j "$jobs"
  fi
  ctest --test-dir "$dir" -j "$jobs" --output-on-failure --timeout 300 \
    ${LABELS:+-L "$LABELS"} ${EXCLUDE:+-E "$EXCLUDE"}
}

run_release() {
  stage "Format: every tracked C++ file as scripts/format.sh leaves it"
  scripts/format.sh --check
  stage "Release: every test on every engine"
  build_and_test build/release -DCMAKE_BUILD_TYPE=Release "${cached[@]}"
}

run_smoke() {
  stage "Smoke: the main job without test packages: build, serve, request, SIGTERM"
  scripts/smoke.sh
}

# Build-time engine selection: grove built with one engine, which is also the default. Only
# the suites' targets are built (tests_<label>, tests/CMakeLists.txt); the conformance label
# includes grove-info's checks of the engines built and of the "not built here" error.
run_one_engine() {
  # This build also switches green threads with Boost.Context (GROVE_GREEN_CONTEXT=boost), the
  # portable switch, so that it runs the green, server and web suites too; every other stage
  # uses the native one.
  stage "One engine: libev only, Boost.Context switch (conformance, aio, green, server, web)"
  TARGETS="tests_conformance tests_aio tests_green tests_server tests_web" \
    LABELS="conformance|aio|green|server|web" \
    build_and_test build/one-engine-libev -DCMAKE_BUILD_TYPE=Release \
    -DGROVE_ENGINES=libev -DGROVE_DEFAULT_ENGINE=libev -DGROVE_GREEN_CONTEXT=boost "${cached[@]}"
  stage "One engine: libevent only (conformance suite)"
  TARGETS="tests_conformance" LABELS="conformance" \
    build_and_test build/one-engine-libevent -DCMAKE_BUILD_TYPE=Release \
    -DGROVE_ENGINES=libevent -DGROVE_DEFAULT_ENGINE=libevent -DGROVE_BUILD_EXAMPLES=OFF \
    "${cached[@]}"
  # io_uring as the sole engine and default: also the "no other engine to fall back to" case.
  stage "One engine: io_uring only (conformance suite)"
  TARGETS="tests_conformance" LABELS="conformance" \
    build_and_test build/one-engine-io_uring -DCMAKE_BUILD_TYPE=Release \
    -DGROVE_ENGINES=io_uring -DGROVE_DEFAULT_ENGINE=io_uring -DGROVE_BUILD_EXAMPLES=OFF \
    "${cached[@]}"
}

# One ASan+UBSan build runs every test. The libraries with coroutines (aio, pg, redis, web,
# tasks) and the examples are at -O2, where g++ 12's coroutine miscompiles show and where
# users run them; the libraries without (loop, green, compat, http, tls) at -O1
# (GROVE_COROUTINE_FREE_OPTIMIZATION); the test code at -O0 (GROVE_TEST_CODE_OPTIMIZATION),
# which compiles in about half the time of -O1. Line tables only (-g1): reports still name
# file and line, and it compiles and links faster than with full debug information. (Until
# December 2026 this was two builds, every test at -O0 and then the coroutine and
# green-thread suites at -O2.)
run_asan() {
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:detect_stack_use_after_return=0
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  stage "ASan+UBSan, coroutine libraries at -O2: every test on every engine"
  build_and_test build/asan -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g1" -DGROVE_SANITIZE=address,undefined \
    -DGROVE_COROUTINE_FREE_OPTIMIZATION=-O1 -DGROVE_TEST_CODE_OPTIMIZATION=-O0
}

# Only the executables with a [tsan] case are built (tests_tsan, tests/CMakeLists.txt); any
# label keeps the executables not built here out, and the umbrella checks (compile-only)
# ran in the other stages.
run_tsan() {
  stage "TSan: cross-thread tests on every engine"
  export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1
  TARGETS="tests_tsan" LABELS="." EXCLUDE="^umbrella: " \
    build_and_test build/tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g1 -DNDEBUG" -DGROVE_SANITIZE=thread \
    -DGROVE_TEST_CODE_OPTIMIZATION=-O0 -DGROVE_BUILD_EXAMPLES=OFF
}

run_fuzz() {
  stage "Fuzz: each libFuzzer target for ${GROVE_FUZZ_SECONDS:-20} s under ASan+UBSan"
  scripts/fuzz.sh --seconds "${GROVE_FUZZ_SECONDS:-20}"
}

run_consumer() {
  stage "Consumer: find_package(grove) and pkg-config against an installed copy"
  local prefix=$root/build/install
  rm -rf "$prefix" build/consumer build/consumer-pc
  cmake -S "$root" -B build/release -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX="$prefix" \
    "${cached[@]}" >/dev/null
  cmake --build build/release -j "$jobs"
  cmake --install build/release >/dev/null
  cmake -S tests/consumer -B build/consumer -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
  cmake --build build/consumer -j "$jobs"
  build/consumer/consumer
  export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
  mkdir -p build/consumer-pc
  # shellcheck disable=SC2046
  g++ -o build/consumer-pc/consumer tests/consumer/main.cpp $(pkg-config --cflags --libs grove-compat)
  build/consumer-pc/consumer
  echo "consumer: ok"
}

stages=("$@")
[ ${#stages[@]} -gt 0 ] || stages=(release smoke one-engine asan tsan fuzz consumer)
timings=()
for s in "${stages[@]}"; do
  started=$SECONDS
  case "$s" in
    release|smoke|one-engine|asan|tsan|fuzz|consumer) "run_${s//-/_}" ;;
    *) echo "unknown stage '$s' (release, smoke, one-engine, asan, tsan, fuzz, consumer)" >&2
       exit 2 ;;
  esac
  timings+=("$s $(( (SECONDS - started) / 60 ))m$(( (SECONDS - started) % 60 ))s")
done
printf '\nall stages passed: %s\n' "${stages[*]}"
printf 'stage times: %s; total %dm%ds\n' "$(IFS=,; echo "${timings[*]}" | sed 's/,/, /g')" \
  $((SECONDS / 60)) $((SECONDS % 60))
