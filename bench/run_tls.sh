#!/usr/bin/env bash
# The HTTPS benchmark: Debian's nginx (bench/tls/nginx.conf.in: one worker, `return 200`)
# and grove-hello (one worker, every built engine) serving TLS on loopback with the same
# ECDSA P-256 certificate (made here with `openssl`, in a temporary directory) and the same
# OpenSSL, so the same TLS 1.3 suite and group (checked with `openssl s_client` and shown),
# driven by the same wrk commands in the same run, the servers taking turns:
#   - keep-alive, 50 connections: req/s and p99;
#   - a new connection per request (`Connection: close`), 50 connections: every request
#     is a full handshake (wrk keeps no sessions), so req/s is handshakes per second; with
#     the ECDSA P-256 certificate and again with an RSA-2048 one (a second nginx and grove
#     per engine serve it);
#   - resumed handshakes, TLS 1.3 and TLS 1.2: bench/tls/resume.py (RESUME_CLIENTS Python
#     processes, 4 by default, each offering its previous connection's session ticket);
#   - resident memory per idle TLS keep-alive connection with IDLE (10,000) open
#     (bench/http/idle_conns.py ... tls), for fresh nginx and grove processes.
# Pinned as bench/run_http.sh: wrk on CPU 0, each server on CPU 1. Prints the results page;
# with --write it also writes bench/results/tls.md.
#
#   bench/run_tls.sh [--write]
#   DURATION=5s REPS=3 IDLE=10000 ENGINES="asio libev" BUILD=build/bench bench/run_tls.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$root/build-bench}
case $build in /*) ;; *) build=$root/$build ;; esac
duration=${DURATION:-5s}
reps=${REPS:-3}
write=0
[ "${1:-}" = "--write" ] && write=1

for tool in wrk nginx openssl python3 curl; do
  command -v "$tool" >/dev/null || { echo "run_tls.sh: $tool is missing (scripts/install-deps.sh bench)" >&2; exit 2; }
done
ulimit -n 65536 2>/dev/null || true

cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j2 --target grove-hello >/dev/null
hello=$build/examples/grove-hello
engines=${ENGINES:-$("$hello" --version | sed -n 's/^engines: //p' | tr -d ',')}

source "$root/bench/lib.sh"
bench_setup tls

# One self-signed ECDSA P-256 certificate for both servers, and an RSA-2048 one for the
# RSA handshake row.
cert=$work/cert.pem key=$work/key.pem
rsa_cert=$work/rsa_cert.pem rsa_key=$work/rsa_key.pem
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=localhost \
  -addext subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout "$key" -out "$cert" 2>/dev/null
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost \
  -addext subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout "$rsa_key" -out "$rsa_cert" 2>/dev/null
chmod 644 "$key" "$rsa_key"  # nginx's worker runs as www-data when started as root

wait_https() {  # url
  for _ in $(seq 1 200); do
    curl -fsS -k -o /dev/null --max-time 1 "$1" 2>/dev/null && return 0
    sleep 0.05
  done
  echo "run_tls.sh: nothing answers at $1" >&2
  exit 1
}

start_nginx() {  # [cert key name]: the ECDSA pair by default
  local dir=$work/${3:-nginx}
  port_nginx=$(free_port)
  mkdir -p "$dir"
  sed -e "s|@PREFIX@|$dir|g" -e "s|@PORT@|$port_nginx|g" -e "s|@CERT@|${1:-$cert}|g" \
    -e "s|@KEY@|${2:-$key}|g" "$root/bench/tls/nginx.conf.in" >"$dir/nginx.conf"
  "${server_cpu[@]}" nginx -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log" >"$dir/out.log" 2>&1 &
  pids+=($!)
  wait_https "https://127.0.0.1:$port_nginx/"
}

start_grove() {  # engine [cert key]: sets port_grove_ENGINE
  local port
  port=$(free_port)
  "${server_cpu[@]}" "$hello" --engine "$1" --bind "https://127.0.0.1:$port" --certfile "${2:-$cert}" \
    --keyfile "${3:-$key}" --log-level warning --keepalive-timeout 120s --max-connections 20000 \
    >"$work/grove_$1_$port.log" 2>&1 &
  pids+=($!)
  eval "port_grove_$1=$port"
  wait_https "https://127.0.0.1:$port/"
}

# What a client negotiates with each server: "TLSv1.3 TLS_AES_256_GCM_SHA384 X25519, 253
# bits, ECDSA signature" (the signature says which certificate answered).
negotiated() {  # port
  echo | timeout 10 openssl s_client -brief -connect "127.0.0.1:$1" 2>&1 |
    awk -F': ' '/^Protocol version/{v=$2} /^Ciphersuite/{c=$2} /^Negotiated TLS1.3 group/{g=$2}
      /^Server Temp Key/{g=$2} /^Signature type/{t=$2} END{print v, c, g ", " t " signature"}'
}

results=$work/results.txt
: >"$results"
run_wrk() {  # label server port args...
  local label=$1 server=$2 port=$3 out; shift 3
  out=$("${client_cpu[@]}" wrk -t1 -c50 -d"$duration" --latency "$@" "https://127.0.0.1:$port/" 2>&1) || true
  { echo "### $label $server"; echo "$out"; } >>"$results"
}
# Resumed handshakes: resume.py prints connections per second as wrk's "Requests/sec".
run_resume() {  # label server port version
  local out
  out=$("${client_cpu[@]}" python3 "$root/bench/tls/resume.py" "$3" "${duration%s}" \
    "${RESUME_CLIENTS:-4}" "$4" 2>&1) || true
  { echo "### $1 $2"; echo "$out"; } >>"$results"
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
started=$(date -u +%Y-%m-%dT%H:%M:%SZ)
start_nginx
servers=(nginx)
ports=("$port_nginx")
for e in $engines; do
  start_grove "$e"
  port_var=port_grove_$e
  servers+=("grove_$e")
  ports+=("${!port_var}")
done
# The same servers again with the RSA-2048 pair, for the RSA handshake row.
start_nginx "$rsa_cert" "$rsa_key" nginx_rsa
rsa_ports=("$port_nginx")
for e in $engines; do
  start_grove "$e" "$rsa_cert" "$rsa_key"
  port_var=port_grove_$e
  rsa_ports+=("${!port_var}")
done
tls_facts=$work/facts.txt
: >"$tls_facts"
for i in "${!servers[@]}"; do echo "${servers[$i]} $(negotiated "${ports[$i]}")" >>"$tls_facts"; done
rsa_facts=$work/rsa_facts.txt
: >"$rsa_facts"
for i in "${!servers[@]}"; do echo "${servers[$i]} $(negotiated "${rsa_ports[$i]}")" >>"$rsa_facts"; done

for _ in $(seq 1 "$reps"); do
  for i in "${!servers[@]}"; do
    run_wrk keepalive "${servers[$i]}" "${ports[$i]}"
    run_wrk handshake "${servers[$i]}" "${ports[$i]}" -H "Connection: close"
    run_wrk handshake_rsa "${servers[$i]}" "${rsa_ports[$i]}" -H "Connection: close"
    run_resume resumed13 "${servers[$i]}" "${ports[$i]}" 1.3
    run_resume resumed12 "${servers[$i]}" "${ports[$i]}" 1.2
  done
done

# Memory per idle TLS keep-alive connection: fresh processes (nothing from the load above
# counted), IDLE connections each after one request (bench/http/idle_conns.py ... tls).
for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
sleep 1
pids=()
idle=${IDLE:-10000}
memory=$work/memory.txt
: >"$memory"
start_nginx
echo "nginx $(python3 "$root/bench/http/idle_conns.py" "$port_nginx" "$(pgrep -P "${pids[-1]}" | paste -sd, -)" "$idle" tls)" >>"$memory"
for e in $engines; do
  start_grove "$e"
  port_var=port_grove_$e
  echo "grove_$e $(python3 "$root/bench/http/idle_conns.py" "${!port_var}" "${pids[-1]}" "$idle" tls)" >>"$memory"
  kill "${pids[-1]}"
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

page=$(python3 - "$results" "$tls_facts" "$started" "$load_before" "$load_after" "$duration" "$reps" \
  "${#client_cpu[@]}" "$memory" "$idle" "$rsa_facts" "${RESUME_CLIENTS:-4}" <<'PY'
import json, platform, re, statistics, subprocess, sys

results, facts, started, load_before, load_after, duration, reps, pinned, memory, idle, rsa_facts, resume_clients = sys.argv[1:13]

def ms(text):
    m = re.match(r"([\d.]+)(us|ms|s)", text)
    v = float(m.group(1))
    return v / 1000 if m.group(2) == "us" else v * 1000 if m.group(2) == "s" else v

runs = {}
for block in open(results).read().split("### ")[1:]:
    head, _, body = block.partition("\n")
    label, server = head.split()
    rps = re.search(r"Requests/sec:\s+([\d.]+)", body)
    p99 = re.search(r"^\s+99%\s+(\S+)", body, re.M)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", body)
    errs = sum(int(x) for x in socket_errors.groups()) if socket_errors else 0
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", body)
    not_resumed = re.search(r"Not resumed: (\d+)", body)
    errs += int(not_resumed.group(1)) if not_resumed else 0
    runs.setdefault((label, server), []).append({
        "rps": float(rps.group(1)) if rps else 0.0,
        "p99": ms(p99.group(1)) if p99 else float("nan"),
        "errors": errs + (int(non2xx.group(1)) if non2xx else 0),
    })

def med(label, server, key):
    v = [r[key] for r in runs.get((label, server), [])]
    return statistics.median(v) if v else float("nan")

cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "unknown")
ncpu = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
nginx_v = subprocess.run(["nginx", "-v"], capture_output=True, text=True).stderr.strip()
wrk_v = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.splitlines()[0].strip()
ssl_v = subprocess.run(["openssl", "version"], capture_output=True, text=True).stdout.strip()
servers = [l.split()[0] for l in open(facts)]
negotiated = {l.split(" ", 1)[0]: l.split(" ", 1)[1].strip() for l in open(facts)}
negotiated_rsa = {l.split(" ", 1)[0]: l.split(" ", 1)[1].strip() for l in open(rsa_facts)}

out = ["# HTTPS server: grove-hello against nginx", ""]
out.append(f"Generated by `bench/run_tls.sh` ({started}). Machine: {cpu}, {ncpu} CPUs, Linux "
           f"{platform.release()}; load average {load_before} before, {load_after} after "
           f"(2 vCPUs shared with other engineers' builds). {nginx_v}; {wrk_v}; {ssl_v} on both sides.")
out.append(("wrk ran on CPU 0 and each server on CPU 1 (taskset). " if pinned != "0" else "Nothing pinned. ") +
           f"Each figure is the median of {reps} runs of `wrk -t1 -c50 -d{duration} --latency`, the servers "
           "taking turns. Both servers use one ECDSA P-256 certificate made for the run (the RSA row: "
           "one RSA-2048 certificate, served by a second set of servers); what a client "
           "negotiates with each (`openssl s_client`) is in the last column. The resumed rows are "
           f"`bench/tls/resume.py PORT {duration.rstrip('s')} {resume_clients} 1.3|1.2` ({resume_clients} Python "
           "clients each offering its previous session's ticket; connections per second, no p99; "
           "a connection that was not resumed counts as an error). Ratios are grove / nginx.")
out.append("")
out.append("| scenario | server | req/s | p99 (ms) | req/s vs nginx | p99 vs nginx | errors | target | negotiated |")
out.append("|---|---|---:|---:|---:|---:|---:|---|---|")
names = {"keepalive": "keep-alive, 50 conns", "handshake": "full handshake per request, 50 conns",
         "handshake_rsa": "full handshake per request, RSA-2048, 50 conns",
         "resumed13": f"resumed handshake (ticket), TLS 1.3, {resume_clients} clients",
         "resumed12": f"resumed handshake (ticket), TLS 1.2, {resume_clients} clients"}
hs_target = ("≥ 0.9x req/s", 0.9, None)
targets = {"keepalive": ("≥ 1.0x req/s, p99 ≤ 1.5x", 1.0, 1.5), "handshake": hs_target,
           "handshake_rsa": hs_target, "resumed13": hs_target, "resumed12": hs_target}
def p99_text(v):
    return "—" if v != v else f"{v:.2f}"
def facts_of(label, s):
    if label == "handshake_rsa":
        return negotiated_rsa[s]
    if label == "resumed12":
        return "TLSv1.2 (forced by the client)"
    return negotiated[s]
for label in names:
    n_rps, n_p99 = med(label, "nginx", "rps"), med(label, "nginx", "p99")
    for s in servers:
        rps, p99 = med(label, s, "rps"), med(label, s, "p99")
        errs = sum(r["errors"] for r in runs.get((label, s), []))
        if s == "nginx":
            out.append(f"| {names[label]} | nginx | {rps:,.0f} | {p99_text(p99)} | 1.00 | {p99_text(p99 / p99)} | "
                       f"{errs} | | {facts_of(label, s)} |")
            continue
        rr, pr = rps / n_rps, p99 / n_p99
        text, rmin, pmax = targets[label]
        ok = rr >= rmin and (pmax is None or pr <= pmax)
        out.append(f"| {names[label]} | grove ({s[6:]}) | {rps:,.0f} | {p99_text(p99)} | {rr:.2f} | "
                   f"{p99_text(pr)} | {errs} | {text}: {'met' if ok else 'NOT met'} | {facts_of(label, s)} |")
out.append("")
out.append(f"## Memory per idle TLS keep-alive connection ({int(idle):,} open, each after one request)")
out.append("")
out.append("Fresh processes, the same pinning; `bench/http/idle_conns.py PORT PIDS COUNT tls` (Python's "
           "`ssl`, a full handshake each) compares the servers' resident memory before and after.")
out.append("")
out.append("| server | RSS before (KiB) | RSS after (KiB) | per connection | still alive (sampled) | target |")
out.append("|---|---:|---:|---:|---:|---|")
mem = {}
for line in open(memory):
    name, _, js = line.partition(" ")
    mem[name] = json.loads(js)
nginx_per = mem.get("nginx", {}).get("per_connection_bytes", float("nan"))
for name, d in mem.items():
    per = d["per_connection_bytes"]
    target = "" if name == "nginx" else f"≤ nginx + 4 KiB: {'met' if per <= nginx_per + 4096 else 'NOT met'}"
    label = "nginx" if name == "nginx" else f"grove ({name[6:]})"
    out.append(f"| {label} | {d['rss_before_kib']:,} | {d['rss_after_kib']:,} | {per / 1024:.1f} KiB | "
               f"{d['still_alive_sampled']} | {target} |")
print("\n".join(out))
PY
)
echo "$page"
if [ $write -eq 1 ]; then write_page "$root/bench/results/tls.md" "$page"; fi
