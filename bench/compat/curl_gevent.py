#!/usr/bin/python3
"""The gevent twin of compat_curl_proof: N greenlets each fetch a loopback endpoint that
answers after DELAY_MS, with Python's blocking urllib under gevent's monkey.patch_all().
The endpoint is plain blocking socket code in greenlets, as on the grove side.
Usage: curl_gevent.py [N] [DELAY_MS] [ROUNDS]; prints
"gevent_proof n=N delay_ms=D best_ms=B median_ms=M ok=K"."""
from gevent import monkey

monkey.patch_all()

import socket  # noqa: E402  (patched)
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import urllib.request  # noqa: E402

import gevent  # noqa: E402

n = int(sys.argv[1]) if len(sys.argv) > 1 else 50
delay_ms = int(sys.argv[2]) if len(sys.argv) > 2 else 100
rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 5

RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"


def serve(conn):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(2048)
        if not chunk:
            conn.close()
            return
        data += chunk
    time.sleep(delay_ms / 1000.0)
    conn.sendall(RESPONSE)
    conn.close()


listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind(("127.0.0.1", 0))
listener.listen(1024)
url = "http://127.0.0.1:%d/" % listener.getsockname()[1]


def accept_loop():
    while True:
        conn, _ = listener.accept()
        gevent.spawn(serve, conn)


acceptor = gevent.spawn(accept_loop)


def fetch():
    with urllib.request.urlopen(url, timeout=10) as r:
        return r.status == 200 and r.read() == b"ok"


times = []
ok = 0
for _ in range(rounds):
    start = time.perf_counter()
    jobs = [gevent.spawn(fetch) for _ in range(n)]
    gevent.joinall(jobs)
    times.append((time.perf_counter() - start) * 1000.0)
    ok = sum(1 for j in jobs if j.successful() and j.value)
acceptor.kill()
times.sort()
print("gevent_proof n=%d delay_ms=%d best_ms=%.1f median_ms=%.1f ok=%d gevent=%s"
      % (n, delay_ms, times[0], statistics.median(times), ok, gevent.__version__))
