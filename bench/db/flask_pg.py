"""The Flask + gevent + psycopg2 anchor of bench/run_db.sh: grove-demo's /db-sync?ms=N as a
plain Flask view on gevent's pywsgi server after monkey.patch_all(), on a pool of psycopg2
connections (grove-demo's pool size), running grove-demo's SQL. With --psycogreen,
psycogreen's wait callback makes psycopg2 cooperative; without it each query blocks the hub
(the whole process) until its answer.

    /usr/bin/python3 bench/db/flask_pg.py PORT PG_PORT POOL_SIZE [--psycogreen]
"""
from gevent import monkey

monkey.patch_all()

import sys  # noqa: E402

port, pg_port, pool_size = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
if "--psycogreen" in sys.argv[4:]:
    from psycogreen.gevent import patch_psycopg

    patch_psycopg()

import psycopg2  # noqa: E402
from flask import Flask, jsonify, request  # noqa: E402
from gevent.lock import BoundedSemaphore  # noqa: E402
from gevent.pywsgi import WSGIServer  # noqa: E402

SQL = "SELECT pg_sleep(%s::float8 / 1000) IS NULL AS slept, pg_backend_pid() AS pid"
DSN = "host=127.0.0.1 port=%d user=grove dbname=postgres" % pg_port


class Pool:
    """At most `size` connections, opened on demand, the most recently used first."""

    def __init__(self, size):
        self.slots = BoundedSemaphore(size)
        self.idle = []

    def query(self, sql, args):
        with self.slots:
            conn = self.idle.pop() if self.idle else psycopg2.connect(DSN)
            try:
                with conn.cursor() as cur:
                    cur.execute(sql, args)
                    row = cur.fetchone()
                conn.rollback()  # end the implicit transaction, as autocommit would
            except Exception:
                conn.close()
                raise
            self.idle.append(conn)
            return row


pool = Pool(pool_size)
app = Flask(__name__)


@app.route("/db-sync")
def db_sync():
    ms = min(max(int(request.args.get("ms", 0)), 0), 60000)
    _, pid = pool.query(SQL, (ms,))
    return jsonify(ms=ms, pid=pid)


WSGIServer(("127.0.0.1", port), app, log=None).serve_forever()
