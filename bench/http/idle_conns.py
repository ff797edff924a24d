#!/usr/bin/env python3
"""Resident memory per idle keep-alive connection.

Opens COUNT connections to 127.0.0.1:PORT, sends one GET on each and reads its response
(so every connection has served a request and sits idle in keep-alive), then compares the
resident set of the server's processes (PIDS, comma-separated) before and after. With
`tls`, each connection is HTTPS (a full handshake, the certificate not checked).
Prints one JSON object. Needs `ulimit -n` above COUNT.

  idle_conns.py PORT PIDS [COUNT] [tls]
"""
import json
import socket
import ssl
import sys
import time


def rss_kib(pids):
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total


def main():
    port = int(sys.argv[1])
    pids = [int(p) for p in sys.argv[2].split(",") if p]
    count = int(sys.argv[3]) if len(sys.argv) > 3 else 10000
    tls = None
    if len(sys.argv) > 4 and sys.argv[4] == "tls":
        tls = ssl.create_default_context()
        tls.check_hostname = False
        tls.verify_mode = ssl.CERT_NONE

    def connect(timeout=None):
        s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        return tls.wrap_socket(s, server_hostname="localhost") if tls else s

    request = b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n"
    # One warm-up connection, so that lazily created state (the first buffers, the stack
    # pool, nginx's first request) is in the "before" figure.
    warm = connect()
    warm.sendall(request)
    warm.recv(4096)
    time.sleep(0.5)
    before = rss_kib(pids)
    socks = []
    failed = 0
    for _ in range(count):
        try:
            s = connect(timeout=10)
            s.sendall(request)
            data = s.recv(4096)
            if not data.startswith(b"HTTP/1.1 200"):
                failed += 1
            socks.append(s)
        except OSError:
            failed += 1
    time.sleep(1.0)
    after = rss_kib(pids)
    # Still open and idle: prove it by using a few of them again.
    alive = 0
    for s in socks[:: max(1, len(socks) // 100)]:
        try:
            s.sendall(request)
            if s.recv(4096).startswith(b"HTTP/1.1 200"):
                alive += 1
        except OSError:
            pass
    sampled = len(socks[:: max(1, len(socks) // 100)])
    for s in socks:
        s.close()
    print(json.dumps({
        "connections": len(socks), "failed": failed,
        "rss_before_kib": before, "rss_after_kib": after,
        "per_connection_bytes": round((after - before) * 1024 / max(1, len(socks))),
        "still_alive_sampled": f"{alive}/{sampled}",
    }))


if __name__ == "__main__":
    main()
