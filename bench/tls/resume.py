#!/usr/bin/env python3
"""Resumed TLS handshakes per second against one HTTPS server (bench/run_tls.sh).

    resume.py PORT SECONDS CLIENTS VERSION      (VERSION: 1.2 or 1.3)

CLIENTS processes each connect over and over to 127.0.0.1:PORT for SECONDS, every time
offering the session (ticket) of their previous connection, send `GET /` with
`Connection: close` and read the response to the end (a TLS 1.3 server sends its tickets
after the handshake, so a session is only complete once the response is read). wrk keeps
no sessions, hence this client. Prints, as wrk would name them, connections per second
(`Requests/sec: N`) and then how many connections were not resumed (`Not resumed: N`). The client is Python: the figure is the same client against each
server, a ratio between servers, not the server's limit.
"""
import multiprocessing
import socket
import ssl
import sys
import time

REQUEST = b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"


def one(ctx, port, session):
    with socket.create_connection(("127.0.0.1", port)) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost", session=session) as s:
            s.sendall(REQUEST)
            while s.recv(65536):
                pass
            return s.session, s.session_reused


def client(port, seconds, version, out):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    v = ssl.TLSVersion.TLSv1_3 if version == "1.3" else ssl.TLSVersion.TLSv1_2
    ctx.minimum_version = ctx.maximum_version = v
    session, _ = one(ctx, port, None)  # the first, full handshake is not counted
    done = resumed = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        session, reused = one(ctx, port, session)
        done += 1
        resumed += reused
    out.put((done, resumed))


def main():
    port, seconds, clients, version = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    out = multiprocessing.Queue()
    procs = [multiprocessing.Process(target=client, args=(port, seconds, version, out)) for _ in range(clients)]
    start = time.monotonic()
    for p in procs:
        p.start()
    results = [out.get() for _ in procs]
    for p in procs:
        p.join()
    elapsed = time.monotonic() - start
    done = sum(r[0] for r in results)
    print(f"Connections: {done}")
    print(f"Requests/sec: {done / max(elapsed, 1e-9):.2f}")
    print(f"Not resumed: {done - sum(r[1] for r in results)}")


if __name__ == "__main__":
    main()
