# An anchor of bench/run_ws.sh: a server on Python's `websockets` (Debian
# python3-websockets, asyncio), without compression or pings, as one would write it.
#   /ws/echo         every message back to its sender
#   /ws/chat/<room>  every message to every connection on a /ws/chat/ path, sender included
#
#   python3 bench/ws/echo_websockets.py PORT
import asyncio
import logging
import sys

import websockets

room = set()
# The load client drops its connections without a close handshake: no traceback for each.
logging.getLogger("websockets").setLevel(logging.CRITICAL)


async def serve(ws, path=None):
    path = path or ws.path
    if not path.startswith("/ws/chat/"):
        async for message in ws:
            await ws.send(message)
        return
    room.add(ws)
    try:
        async for message in ws:
            websockets.broadcast(room, message)
    finally:
        room.discard(ws)


async def main(port):
    async with websockets.serve(serve, "127.0.0.1", port, compression=None, ping_interval=None,
                                backlog=4096):
        await asyncio.Future()


asyncio.run(main(int(sys.argv[1])))
