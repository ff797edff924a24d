#!/usr/bin/env bash
# Builds loop_bench (Release) and runs it once: every grove engine beside its raw library,
# plus the hand-written epoll ping-pong (bench/loop/main.cpp says what each row does).
# Prints the results page (machine, command, table with ratios and targets) computed from
# that one run's JSON; with --write it also replaces the generated part of
# bench/results/loop.md, keeping the notes below its "<!-- notes -->" line.
#
#   bench/run_loop.sh [--write]
#   REPS=25 MIN_TIME=0.1 BUILD=build-bench RT=1 CPU=<last> bench/run_loop.sh   (the defaults)
#
# With RT=1 (and root) the benchmark runs pinned to CPU with SCHED_FIFO priority 10
# (taskset + chrt): on a machine shared with other builds that takes the CPU competition
# out of the measurement, for the grove and the raw sides alike (the kernel's RT throttle
# still leaves 5% of that CPU to others; the other CPUs are untouched). RT=0 runs it plainly.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$root/build-bench}
case $build in /*) ;; *) build=$root/$build ;; esac
reps=${REPS:-25}
min_time=${MIN_TIME:-0.1}
write=0
[ "${1:-}" = "--write" ] && write=1

# REUSE=1: format the page again from the last run's JSON, without building or running.
if [ "${REUSE:-0}" != 1 ]; then
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DGROVE_BUILD_BENCH=ON >/dev/null
make -C "$build" -j2 loop_bench >/dev/null
fi

json=$build/loop_bench.json
args=(--benchmark_repetitions="$reps" --benchmark_min_time="$min_time"
      --benchmark_enable_random_interleaving=true --benchmark_display_aggregates_only=true
      --benchmark_out="$json" --benchmark_out_format=json)
nice_cmd=()
if [ "$(id -u)" = 0 ] && [ "${RT:-1}" = 1 ]; then
  nice_cmd=(taskset -c "${CPU:-$(($(nproc) - 1))}" chrt -f 10)
fi
if [ "${REUSE:-0}" = 1 ]; then
  read -r started load_before load_after <"$build/loop_bench.meta"
  load_before=${load_before//,/ }
  load_after=${load_after//,/ }
else
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
started=$(date -u +%Y-%m-%dT%H:%M:%SZ)
"${nice_cmd[@]}" "$build/bench/loop/loop_bench" "${args[@]}" >"$build/loop_bench.txt" 2>&1
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
echo "$started ${load_before// /,} ${load_after// /,}" >"$build/loop_bench.meta"
fi

page=$(python3 - "$json" "$started" "$load_before" "$load_after" "${nice_cmd[*]}${nice_cmd:+ }bench/loop/loop_bench ${args[*]/#--benchmark_out=*/--benchmark_out=loop_bench.json}" <<'PY'
import json, platform, re, subprocess, sys

path, started, load_before, load_after, command = sys.argv[1:6]
data = json.load(open(path))
unit = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}

# run_name "<row>/<engine>/<side>/real_time" -> {(row, engine, side): {aggregate: value}}
# run_name "<row>/<engine>/<side>/real_time"; every repetition is in the JSON.
# ns/op from real time (items_per_second where the row sets it, as the timer rows do,
# whose iterations are 100k timers) and from the benchmark thread's CPU time.
reps = {}
for b in data["benchmarks"]:
    if b.get("run_type") != "iteration":
        continue
    key = tuple(b["run_name"].split("/")[:3])
    r = reps.setdefault(key, {"real": [], "cpu": [], "error": None})
    if b.get("error_occurred"):
        r["error"] = b.get("error_message", "error")
        continue
    real = b["real_time"] * unit[b["time_unit"]]
    cpu_t = b["cpu_time"] * unit[b["time_unit"]]
    per_op = 1e9 / b["items_per_second"] if b.get("items_per_second") else real
    r["real"].append(per_op)
    r["cpu"].append(per_op * cpu_t / real)

def median(v):
    v = sorted(v)
    n = len(v)
    return (v[n // 2] + v[(n - 1) // 2]) / 2

runs = {}
for key, r in reps.items():
    real = r["real"] or [float("nan")]
    mean = sum(real) / len(real)
    sd = (sum((x - mean) ** 2 for x in real) / max(len(real) - 1, 1)) ** 0.5
    runs[key] = {"best": min(real), "median": median(real), "cv": sd / mean,
                 "cpu_median": median(r["cpu"] or [float("nan")]), "n": len(real)}
    if r["error"]:
        runs[key]["error"] = r["error"]

def ns(key):  # the verdicts use the median repetition
    return runs[key]["median"]

def fastest(key):
    return runs[key]["best"]

def cv(key):
    return runs[key]["cv"] * 100

def cpu_ns(key):
    return runs[key]["cpu_median"]

def fmt(v):
    return f"{v:,.1f}" if v < 1000 else f"{v:,.0f}"

rows = ["post", "pingpong", "timers_fire", "timers_cancel", "wakeup"]
engines = [e for e in ["asio", "libev", "libevent"] if (rows[0], e, "grove") in runs]
what = {
    "post": "queue 1000 callbacks, run until done; per callback",
    "pingpong": "1 byte each way over a socketpair; per round trip",
    "timers_fire": "100k timers, random deadlines, all fire; per timer",
    "timers_cancel": "100k timers scheduled then cancelled; per timer",
    "wakeup": "cross-thread post to a loop blocked in its poller; per round trip",
}

out = []
def p(s=""):
    out.append(s)

cpu = ""
for line in open("/proc/cpuinfo"):
    if line.startswith("model name"):
        cpu = line.split(":", 1)[1].strip()
        break
def sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True).stdout.strip()
    except Exception:
        return "?"
ctx = data.get("context", {})

p("# Event loop: grove engines vs their raw libraries")
p()
p("Generated by `bench/run_loop.sh` from one run of `loop_bench` (all numbers below come from")
p(f"that run, started {started}). Times are real time per operation, the median over the")
p("repetitions (interleaved at random with the other rows', so that load changes during the")
p("run hit grove and raw alike), with the best repetition and the coefficient of variation")
p("(cv) beside it. Verdicts use the medians; the ratio of the best repetitions and the ratio")
p("of CPU time are shown as cross-checks.")
p("Ratio = grove / raw (lower is better). What each side does in each row is documented at the")
p("top of `bench/loop/main.cpp`.")
p()
p("## Machine and command")
p()
p(f"- CPU: {cpu}, nproc {sh('nproc')} ({ctx.get('num_cpus', '?')} CPUs seen by the benchmark)")
p(f"- Kernel: {platform.release()}; {sh('g++ --version | head -1')}")
def version(pkg):
    return sh("dpkg-query -W -f='${Version}' " + pkg) or "?"
versions = ", ".join(f"{name} {version(pkg)}" for name, pkg in [
    ("libev", "libev4"), ("libevent", "libevent-core-2.1-7"), ("asio", "libasio-dev"),
    ("Google Benchmark", "libbenchmark-dev")])
p(f"- Libraries (Debian packages): {versions}")
p(f"- Load average (1/5/15 min) before the run: {load_before}; after: {load_after} "
  "(2 vCPUs shared with other engineers' builds)")
p(f"- Build: `cmake -DCMAKE_BUILD_TYPE=Release -DGROVE_BUILD_BENCH=ON`, target `loop_bench`")
if command.startswith("taskset"):
    p("- Run pinned to one CPU with SCHED_FIFO priority (`taskset`/`chrt`, see the command), which")
    p("  takes the competition from other processes for that CPU out of the measurement, for both")
    p("  sides alike; `wakeup`'s two threads share that CPU.")
p(f"- Command: `{command}`")
p()
p("## grove engine vs raw library (target: ratio <= 1.10 on every row)")
p()
p("| row | engine | grove ns/op (best, cv) | raw ns/op (best, cv) | ratio | target | result | ratio of bests | CPU-time ratio |")
p("|---|---|---:|---:|---:|---:|---|---:|---:|")
fails = []
for row in rows:
    for e in engines:
        g, r = (row, e, "grove"), (row, e, "raw")
        if g not in runs or r not in runs:
            continue
        ratio = ns(g) / ns(r)
        ok = ratio <= 1.10 and "error" not in runs[g] and "error" not in runs[r]
        if not ok:
            fails.append(f"{row}/{e}")
        cpu_ratio = "-" if row == "wakeup" else f"{cpu_ns(g) / cpu_ns(r):.2f}"
        p(f"| {row} | {e} | {fmt(ns(g))} ({fmt(fastest(g))}, {cv(g):.0f}%) | "
          f"{fmt(ns(r))} ({fmt(fastest(r))}, {cv(r):.0f}%) | "
          f"{ratio:.2f} | 1.10 | {'pass' if ok else '**FAIL**'} | {fastest(g) / fastest(r):.2f} | {cpu_ratio} |")
p()
p("Rows: " + "; ".join(f"`{r}`: {what[r]}" for r in rows) + ".")
p()
p("The CPU-time ratio uses the benchmark thread's CPU time (median); it is not given for")
p("`wakeup`, whose work is split between two threads.")
p()
p("## Best engine's ping-pong vs a hand-written epoll loop (target: <= 1.15)")
p()
ep = ("pingpong", "epoll", "raw")
p("| loop | ns per round trip (best, cv) | ratio to epoll | ratio of bests |")
p("|---|---:|---:|---:|")
p(f"| hand-written epoll | {fmt(ns(ep))} ({fmt(fastest(ep))}, {cv(ep):.0f}%) | 1.00 | 1.00 |")
best = None
for e in engines:
    g = ("pingpong", e, "grove")
    p(f"| grove {e} | {fmt(ns(g))} ({fmt(fastest(g))}, {cv(g):.0f}%) | {ns(g) / ns(ep):.2f} | {fastest(g) / fastest(ep):.2f} |")
    if best is None or ns(g) < ns(best):
        best = g
for e in engines:
    r = ("pingpong", e, "raw")
    p(f"| raw {e} | {fmt(ns(r))} ({fmt(fastest(r))}, {cv(r):.0f}%) | {ns(r) / ns(ep):.2f} | {fastest(r) / fastest(ep):.2f} |")
best_ratio = ns(best) / ns(ep)
ok = best_ratio <= 1.15
if not ok:
    fails.append("pingpong vs epoll")
p()
p(f"Best engine: {best[1]}, {best_ratio:.2f}x the epoll loop: {'pass' if ok else '**FAIL**'}.")
p()
p(f"Summary: {'all targets met' if not fails else 'missed: ' + ', '.join(fails)}.")
print("\n".join(out))
PY
)
echo "$page"
if [ $write = 1 ]; then
  page_file=$root/bench/results/loop.md
  notes=""
  if [ -f "$page_file" ] && grep -q '^<!-- notes -->' "$page_file"; then
    notes=$(sed -n '/^<!-- notes -->/,$p' "$page_file")
  fi
  { echo "$page"; echo; [ -n "$notes" ] && echo "$notes"; } >"$page_file"
  echo "wrote $page_file" >&2
fi
