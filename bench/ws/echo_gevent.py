#!/usr/bin/env python3
"""The gevent anchor of bench/run_ws.sh: gevent-websocket (Debian python3-gevent-websocket)
on gevent's pywsgi, the stack Flask-Sockets / gevent users port from. One greenlet per
connection, no compression, no access log.
  /ws/echo         every message back to its sender
  /ws/chat/<room>  every message to every connection on a /ws/chat/ path, sender included

  echo_gevent.py PORT
"""
from gevent import monkey

monkey.patch_all()

import sys  # noqa: E402

from gevent import pywsgi  # noqa: E402
from geventwebsocket.handler import WebSocketHandler  # noqa: E402

room = set()


def broadcast(message):
    for member in list(room):
        try:
            member.send(message)
        except Exception:  # a member that went away leaves the room
            room.discard(member)


def app(environ, start_response):
    ws = environ.get("wsgi.websocket")
    if ws is None:
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not a WebSocket\n"]
    chat = environ["PATH_INFO"].startswith("/ws/chat/")
    if chat:
        room.add(ws)
    try:
        while True:
            message = ws.receive()
            if message is None:
                break
            if chat:
                broadcast(message)
            else:
                ws.send(message)
    finally:
        room.discard(ws)
    return []


server = pywsgi.WSGIServer(("127.0.0.1", int(sys.argv[1])), app, handler_class=WebSocketHandler,
                           log=None, backlog=4096)
server.serve_forever()
