"""The anchor: the grove-demo routes in Flask, served by gevent's pywsgi after
monkey.patch_all(), all from Debian (python3-flask, python3-gevent, python3-asgiref).

    /usr/bin/python3 bench/web/flask_app.py 127.0.0.1:8103 --upstream http://127.0.0.1:8101

Async views run through asgiref's AsyncToSync, as Flask 2.x does. Under a patched gevent
server that is the combination Flask's docs call "not supported": most /async-sleep requests
fail with "You cannot use AsyncToSync in the same thread as an async event loop".
The async fan-out uses asyncio streams (no third-party client is packaged); the sync one
uses urllib, which monkey.patch_all() makes cooperative.
"""
from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import asyncio  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402
import urllib.parse  # noqa: E402
import urllib.request  # noqa: E402

from flask import Flask, Response, jsonify, request, session  # noqa: E402
from gevent.pywsgi import WSGIServer  # noqa: E402

app = Flask("flask-gevent")
app.secret_key = "bench-secret"  # the signed session cookie of /visits
UPSTREAM = "http://127.0.0.1:8101"


def arg(name, default, lo, hi):
    try:
        v = int(request.args.get(name, default))
    except ValueError:
        v = default
    return max(lo, min(hi, v))


@app.route("/hello")
def hello():
    return Response("Hello, World!", mimetype="text/plain")


@app.route("/json")
def json_route():
    return jsonify(message="Hello, World!")


@app.route("/sleep")
def sleep_route():
    time.sleep(arg("ms", 0, 0, 60000) / 1000.0)
    return Response("ok", mimetype="text/plain")


@app.route("/async-sleep")
async def async_sleep():
    await asyncio.sleep(arg("ms", 0, 0, 60000) / 1000.0)
    return Response("ok", mimetype="text/plain")


@app.route("/delay")
def delay():
    time.sleep(arg("ms", 0, 0, 60000) / 1000.0)
    return Response("ok", mimetype="text/plain")


async def fetch_status(url):
    parts = urllib.parse.urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port or 80)
    path = parts.path + ("?" + parts.query if parts.query else "")
    writer.write(f"GET {path} HTTP/1.1\r\nHost: {parts.netloc}\r\nConnection: close\r\n\r\n".encode())
    await writer.drain()
    status_line = await reader.readline()
    await reader.read()
    writer.close()
    return int(status_line.split()[1])


@app.route("/fanout")
async def fanout():
    start = time.monotonic()
    n, ms = arg("n", 3, 0, 100), arg("ms", 50, 0, 60000)
    statuses = await asyncio.gather(*[fetch_status(f"{UPSTREAM}/delay?ms={ms}") for _ in range(n)])
    body = json.dumps({"statuses": list(statuses), "elapsed_ms": int((time.monotonic() - start) * 1000)},
                      separators=(",", ":"))
    return Response(body, mimetype="application/json")


@app.route("/fanout-sync")
def fanout_sync():
    start = time.monotonic()
    n, ms = arg("n", 3, 0, 100), arg("ms", 50, 0, 60000)
    statuses = []
    for _ in range(n):
        with urllib.request.urlopen(f"{UPSTREAM}/delay?ms={ms}", timeout=10) as r:
            r.read()
            statuses.append(r.status)
    body = json.dumps({"statuses": statuses, "elapsed_ms": int((time.monotonic() - start) * 1000)},
                      separators=(",", ":"))
    return Response(body, mimetype="application/json")


@app.route("/echo", methods=["POST"])
def echo():
    return Response(request.get_data(), mimetype=request.mimetype or "application/octet-stream")


@app.route("/stream")
def stream():
    n = arg("n", 10, 0, 100000)
    return Response((f"chunk {i}\n" for i in range(n)), mimetype="text/plain")


@app.route("/visits")
def visits():
    session["visits"] = session.get("visits", 0) + 1
    return Response(str(session["visits"]), mimetype="text/plain")


@app.route("/error")
def error():
    raise RuntimeError("the /error route always fails")


@app.errorhandler(500)
def on_500(e):
    return jsonify(error="Internal Server Error", detail=str(getattr(e, "original_exception", e)), status=500), 500


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("bind", nargs="?", default="127.0.0.1:8103")
    p.add_argument("--upstream", default=UPSTREAM)
    a = p.parse_args()
    UPSTREAM = a.upstream
    host, port = a.bind.rsplit(":", 1)
    WSGIServer((host, int(port)), app, log=None, error_log=None).serve_forever()
