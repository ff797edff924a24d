#!/usr/bin/env bash
# Builds grove's libFuzzer targets (tests/fuzz) with clang, ASan and UBSan into build/fuzz
# and runs each for a set time on a temporary copy of its seed corpus (the corpus in the
# repository is never written). Prints per target the executions and "no finding"; exits
# non-zero on any crash, leak, timeout or out-of-memory, naming the reproducer.
# Usage: scripts/fuzz.sh [--seconds N] [--fast] [target ...]   (default: 60 s, every target;
#   the targets run side by side, GROVE_JOBS (default: the CPU count) at a time)
#   --fast: UBSan without ASan (build/fuzz-fast), several times the executions per second,
#           for long coverage runs; CI runs the default ASan+UBSan build.
# Reproduce a finding: build/fuzz/tests/fuzz/<target> <reproducer>
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
jobs=${GROVE_JOBS:-$(nproc)}
all_targets=(fuzz_http_parser fuzz_http_response fuzz_router fuzz_query_form fuzz_tls_session
             fuzz_session_cookie fuzz_ws_frames fuzz_ws_deflate fuzz_redis_resp
             fuzz_multipart fuzz_task_message fuzz_byte_ranges)

seconds=60
fast=0
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds=$2; shift 2 ;;
    --seconds=*) seconds=${1#--seconds=}; shift ;;
    --fast) fast=1; shift ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    fuzz_*) targets+=("$1"); shift ;;
    *) echo "fuzz.sh: unknown argument '$1' (targets: ${all_targets[*]})" >&2; exit 2 ;;
  esac
done
[ ${#targets[@]} -gt 0 ] || targets=("${all_targets[@]}")

if ! command -v clang++ >/dev/null; then
  echo "fuzz.sh: clang++ not found: scripts/install-deps.sh test (clang, libclang-rt-14-dev)" >&2
  exit 2
fi

build=$root/build/fuzz
sanitizers=address,undefined
if [ "$fast" = 1 ]; then
  build=$root/build/fuzz-fast
  sanitizers=undefined
fi
CXX=clang++ cmake -S "$root" -B "$build" -DGROVE_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g" -DGROVE_FUZZ_SANITIZERS="$sanitizers" >/dev/null
cmake --build "$build" -j "$jobs" --target "${targets[@]}"

# Leaks count as findings; UBSan's reports abort (the targets build with
# -fno-sanitize-recover), so libFuzzer sees them as crashes.
export ASAN_OPTIONS=detect_leaks=1:detect_stack_use_after_return=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

# One target's run; its report goes to stdout (captured per target by the caller).
fuzz_one() {
  local t=$1 bin seeds work seeds_n args rc execs rate corpus_n finding
  bin=$build/tests/fuzz/$t
  seeds=$root/tests/fuzz/corpus/$t
  [ -x "$bin" ] || { echo "fuzz.sh: no target '$t'" >&2; exit 2; }
  work=$(mktemp -d "$build/run-$t.XXXXXX")
  mkdir -p "$work/corpus" "$work/artifacts"
  cp "$seeds"/* "$work/corpus/"
  seeds_n=$(ls "$seeds" | wc -l)
  args=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
        -artifact_prefix="$work/artifacts/")
  [ -f "$root/tests/fuzz/$t.dict" ] && args+=(-dict="$root/tests/fuzz/$t.dict")
  case "$t" in
    fuzz_router|fuzz_query_form|fuzz_byte_ranges) args+=(-max_len=256) ;;  # rules, paths, queries, Range: short
  esac
  echo "fuzz.sh: $t for ${seconds}s: $bin ${args[*]} $work/corpus"
  rc=0
  "$bin" "${args[@]}" "$work/corpus" >"$work/log" 2>&1 || rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$work/log" | tail -1)
  corpus_n=$(ls "$work/corpus" | wc -l)
  finding=$(ls "$work/artifacts" | head -1)
  if [ "$rc" -ne 0 ] || [ -n "$finding" ]; then
    echo "$t: FINDING after ${execs:-?} executions (exit $rc)"
    grep -m5 -E "ERROR:|runtime error|invariant broken|SUMMARY" "$work/log" || true
    for f in "$work"/artifacts/*; do [ -e "$f" ] && echo "  reproducer: $f"; done
    echo "  log: $work/log"
    rc=1
  else
    echo "$t: ${execs} executions in ${seconds}s (${rate} exec/s), corpus ${seeds_n} -> ${corpus_n} inputs: no finding"
    rm -rf "$work"
  fi
  return $rc
}

# The targets run side by side, one per CPU (each is single-threaded and CPU-bound), and
# their reports are printed in order.
reports=$(mktemp -d)
pids=()
for t in "${targets[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do sleep 0.2; done
  fuzz_one "$t" >"$reports/$t" 2>&1 &
  pids+=($!)
done
status=0
for k in "${!targets[@]}"; do
  wait "${pids[$k]}" || status=1
  cat "$reports/${targets[$k]}"
done
rm -rf "$reports"
exit $status
