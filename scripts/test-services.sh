#!/usr/bin/env bash
# Starts and stops the real database servers the tests and benchmarks talk to, each in a
# directory of its own, listening on loopback only (a free TCP port and a Unix socket).
#
#   scripts/test-services.sh start postgres DIR   PostgreSQL (Debian postgresql): initdb into
#                                                 DIR/data on first start, then postgres
#                                                 (TLS with GROVE_PG_TLS_CERT/GROVE_PG_TLS_KEY)
#   scripts/test-services.sh start redis DIR      Redis (Debian redis-server), no persistence
#   scripts/test-services.sh stop DIR             stops the server started in DIR (a later
#                                                 start restarts it on the same port)
#   scripts/test-services.sh destroy DIR          stops it and removes DIR
#   scripts/test-services.sh up POINTER           both, shared by a whole test run (below)
#   scripts/test-services.sh down POINTER         stops those and removes their directory
#
# start prints what a client needs, one key=value a line:
#   port=N  host=127.0.0.1  socket_dir=DIR/sock  user=grove  auth_user=grove_auth
#   password=grove  dbname=postgres
# (PostgreSQL trusts the superuser grove, over TCP too; grove_auth must give the password.)
# Exit status 77 means the server's program is not installed (the caller decides whether
# that skips or fails). PostgreSQL refuses to run as root, so as root the server runs as the
# unprivileged user `postgres` (created by Debian's package) or else `nobody`, which must be
# able to reach DIR (a directory from `mktemp -d` needs chmod a+x).
set -euo pipefail

die() { echo "test-services: $*" >&2; exit 1; }
missing() { echo "test-services: $1 is not installed: install $2 (scripts/install-deps.sh test)" >&2; exit 77; }

# A loopback port nobody listens on now (the server's start fails if another process takes
# it first, and the caller retries).
free_port() {
  local p
  for _ in $(seq 100); do
    p=$(( 20000 + RANDOM % 40000 ))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return; fi
  done
  die "no free loopback port found"
}

# Runs a command as the server's user: ourselves, or an unprivileged one when we are root.
server_user() {
  if [ "$(id -u)" -ne 0 ]; then id -un
  elif getent passwd postgres >/dev/null; then echo postgres
  else echo nobody; fi
}
as_user() {
  local u=$1; shift
  if [ "$u" = "$(id -un)" ]; then "$@"; else runuser -u "$u" -- "$@"; fi
}

pg_bindir() {
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)
  [ -n "$d" ] && [ -x "$d/postgres" ] || missing "PostgreSQL (postgres, initdb)" postgresql
  echo "$d"
}

start_postgres() {
  local dir=$1 bin user port
  bin=$(pg_bindir)
  user=$(server_user)
  mkdir -p "$dir/sock"
  as_user "$user" test -x "$dir/.." ||
    die "$user cannot reach $(dirname "$dir"): give the directories above DIR search permission (chmod a+x)"
  local fresh=0
  if [ ! -d "$dir/data" ]; then
    fresh=1
    echo grove > "$dir/pwfile"
    chown -R "$user" "$dir"
    as_user "$user" "$bin/initdb" -D "$dir/data" -U grove --pwfile="$dir/pwfile" \
      -E UTF8 --no-locale --no-sync \
      >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; die "initdb failed"; }
    # The superuser grove is trusted (connections cost no password hashing, as in the
    # issue's measurements); grove_auth must give its password over TCP, so a wrong one is a
    # real authentication failure.
    cat > "$dir/data/pg_hba.conf" <<'HBA'
local all all               trust
host  all grove_auth 127.0.0.1/32 scram-sha-256
host  all all        127.0.0.1/32 trust
HBA
  fi
  # TLS on request: GROVE_PG_TLS_CERT and GROVE_PG_TLS_KEY name PEM files, copied in for the
  # server's user (PostgreSQL refuses a key that others can read).
  local tls=""
  if [ -n "${GROVE_PG_TLS_CERT:-}" ]; then
    cp "$GROVE_PG_TLS_CERT" "$dir/server.crt"
    cp "$GROVE_PG_TLS_KEY" "$dir/server.key"
    chown "$user" "$dir/server.crt" "$dir/server.key"
    chmod 0600 "$dir/server.key"
    tls="-c ssl=on -c ssl_cert_file=$dir/server.crt -c ssl_key_file=$dir/server.key"
  fi
  port=$(cat "$dir/port" 2>/dev/null || free_port)
  for attempt in 1 2 3 4 5; do
    # fsync off: test data need not survive a crash. Enough connections for the 50-client
    # proofs and the benchmarks' pools at once.
    if as_user "$user" "$bin/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 30 start \
        -o "-k $dir/sock -p $port -h 127.0.0.1 -c fsync=off -c max_connections=300 -c shared_buffers=32MB $tls" \
        >>"$dir/pg_ctl.log" 2>&1; then
      echo "$port" > "$dir/port"
      if [ $fresh -eq 1 ]; then
        "$bin/psql" -h "$dir/sock" -p "$port" -U grove -d postgres -qAt \
          -c "CREATE ROLE grove_auth LOGIN PASSWORD 'grove'" >/dev/null ||
          die "could not create the role grove_auth"
      fi
      printf 'port=%s\nhost=127.0.0.1\nsocket_dir=%s\nuser=grove\nauth_user=grove_auth\npassword=grove\ndbname=postgres\n' \
        "$port" "$dir/sock"
      return
    fi
    [ -f "$dir/port" ] && break  # a restart keeps its port; don't move
    port=$(free_port)
  done
  cat "$dir/pg_ctl.log" >&2 || true
  tail -n 20 "$dir/postgres.log" >&2 || true
  die "postgres did not start (log: $dir/postgres.log)"
}

start_redis() {
  local dir=$1 port
  command -v redis-server >/dev/null || missing "Redis (redis-server)" redis-server
  mkdir -p "$dir/sock"
  port=$(cat "$dir/port" 2>/dev/null || free_port)
  for attempt in 1 2 3 4 5; do
    redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
      --unixsocket "$dir/sock/redis.sock" --dir "$dir" --daemonize yes \
      --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" >/dev/null || true
    for _ in $(seq 100); do
      if redis-cli -p "$port" ping 2>/dev/null | grep -q PONG; then
        echo "$port" > "$dir/port"
        printf 'port=%s\nhost=127.0.0.1\nsocket_dir=%s\n' "$port" "$dir/sock"
        return
      fi
      sleep 0.05
    done
    [ -f "$dir/port" ] && break
    port=$(free_port)
  done
  tail -n 20 "$dir/redis.log" >&2 || true
  die "redis-server did not start (log: $dir/redis.log)"
}

stop_server() {
  local dir=$1 pid
  if [ -f "$dir/data/postmaster.pid" ]; then
    as_user "$(stat -c %U "$dir/data")" "$(pg_bindir)/pg_ctl" -D "$dir/data" -m fast -w stop \
      >/dev/null 2>&1 || true
  fi
  if [ -f "$dir/redis.pid" ]; then
    pid=$(cat "$dir/redis.pid")
    kill "$pid" 2>/dev/null || true
    # Gone, or a zombie: redis-server daemonizes, so its parent is PID 1, which in some
    # containers reaps seconds late; a zombie holds no port, socket or file.
    for _ in $(seq 100); do
      case "$(ps -o stat= -p "$pid" 2>/dev/null)" in ''|Z*) break ;; esac
      sleep 0.02
    done
    rm -f "$dir/redis.pid"
  fi
}

# With GROVE_SERVICE_OWNER=PID, a watchdog destroys DIR's server once PID is gone, so a
# test process that crashes or is killed leaves no server behind.
watch_owner() {
  local dir=$1 owner=${GROVE_SERVICE_OWNER:-}
  [ -n "$owner" ] || return 0
  [ -f "$dir/watchdog.pid" ] && kill -0 "$(cat "$dir/watchdog.pid")" 2>/dev/null && return 0
  setsid bash -c 'while kill -0 "$1" 2>/dev/null; do sleep 1; done; exec "$2" destroy "$3"' \
    watchdog "$owner" "$0" "$dir" </dev/null >/dev/null 2>&1 &
  echo $! > "$dir/watchdog.pid"
}

# up POINTER: one PostgreSQL and one Redis for a whole test run (CTest's grove_services
# fixture, tests/CMakeLists.txt), in a new directory under /tmp (the server's unprivileged
# user must reach it, which a build directory under /root does not allow), whose path goes
# into the file POINTER; each server's start output into DIR/<server>/info. A server that is
# not installed is left out (the tests then decide, as for their own). The watchdogs belong
# to our parent, ctest, so an interrupted run leaves no server behind.
shared_up() {
  local pointer=$1 dir kind status
  [ -f "$pointer" ] && shared_down "$pointer"
  dir=$(mktemp -d /tmp/grove-services-XXXXXX)
  chmod 0711 "$dir"
  for kind in postgres redis; do
    mkdir -p "$dir/$kind"
    status=0
    ( "start_$kind" "$dir/$kind" ) > "$dir/$kind/info.new" || status=$?
    case $status in
      0) mv "$dir/$kind/info.new" "$dir/$kind/info"
         GROVE_SERVICE_OWNER=${GROVE_SERVICE_OWNER:-$PPID} watch_owner "$dir/$kind" ;;
      77) rm -rf "${dir:?}/$kind" ;;
      *) shared_down_dir "$dir"; die "could not start the shared $kind" ;;
    esac
  done
  echo "$dir" > "$pointer"
  echo "test-services: shared servers in $dir: $(ls "$dir" | tr '\n' ' ')"
}
shared_down_dir() {
  local dir=$1 kind
  for kind in postgres redis; do
    [ -d "$dir/$kind" ] || continue
    if [ -f "$dir/$kind/watchdog.pid" ]; then kill "$(cat "$dir/$kind/watchdog.pid")" 2>/dev/null || true; fi
    stop_server "$dir/$kind"
  done
  rm -rf "$dir"
}
shared_down() {
  local pointer=$1
  [ -f "$pointer" ] || return 0
  shared_down_dir "$(cat "$pointer")"
  rm -f "$pointer"
}

[ $# -ge 2 ] || die "usage: $0 start postgres|redis DIR | stop DIR | destroy DIR | up POINTER | down POINTER"
case "$1" in
  start)
    [ $# -eq 3 ] || die "usage: $0 start postgres|redis DIR"
    case "$2" in
      postgres) start_postgres "$3"; watch_owner "$3" ;;
      redis) start_redis "$3"; watch_owner "$3" ;;
      *) die "unknown server '$2' (postgres or redis)" ;;
    esac ;;
  stop) stop_server "$2" ;;
  up) shared_up "$2" ;;
  down) shared_down "$2" ;;
  destroy)
    if [ -f "$2/watchdog.pid" ] && [ "$(cat "$2/watchdog.pid")" != "$$" ]; then
      kill "$(cat "$2/watchdog.pid")" 2>/dev/null || true
    fi
    stop_server "$2"; rm -rf "$2" ;;
  *) die "unknown command '$1' (start, stop or destroy)" ;;
esac
