#!/usr/bin/python3
"""The gevent anchor of compat_db_proof: 50 greenlets, each psycopg2.connect +
execute("SELECT pg_sleep(0.1)") + close, under gevent's monkey.patch_all(), over TCP.
With --psycogreen, psycogreen's wait callback makes psycopg2 cooperative; without it,
libpq blocks the hub and the greenlets run one after another.
Usage: db_gevent.py [--psycogreen] ROUNDS PG_PORT; prints
"gevent_db_proof psycogreen=yes|no n=50 best_ms=B median_ms=M ok=K"."""
from gevent import monkey

monkey.patch_all()

import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import gevent  # noqa: E402
import psycopg2  # noqa: E402

args = sys.argv[1:]
green = "--psycogreen" in args
args = [a for a in args if a != "--psycogreen"]
rounds, port = int(args[0]), int(args[1])
if green:
    from psycogreen.gevent import patch_psycopg
    patch_psycopg()

N = 50
DSN = "host=127.0.0.1 port=%d user=grove dbname=postgres" % port


def client():
    try:
        conn = psycopg2.connect(DSN)
        with conn.cursor() as cur:
            cur.execute("SELECT pg_sleep(0.1)")
            cur.fetchall()
        conn.close()
        return True
    except psycopg2.Error as e:
        sys.stderr.write(str(e))
        return False


times = []
ok = 0
for _ in range(rounds):
    start = time.monotonic()
    jobs = [gevent.spawn(client) for _ in range(N)]
    gevent.joinall(jobs)
    times.append((time.monotonic() - start) * 1000)
    ok = sum(1 for j in jobs if j.value)
times.sort()
print("gevent_db_proof psycogreen=%s n=%d best_ms=%.1f median_ms=%.1f ok=%d gevent=%s psycopg2=%s"
      % ("yes" if green else "no", N, times[0], statistics.median_low(times), ok,
         gevent.__version__, psycopg2.__version__.split()[0]))
