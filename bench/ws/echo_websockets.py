# The anchor for bench/run_ws.sh: an echo server on Python's `websockets` (Debian
# python3-websockets, asyncio), without compression, as one would write it.
#   python3 bench/ws/echo_websockets.py PORT
import asyncio
import sys

import websockets


async def echo(ws, path=None):
    async for message in ws:
        await ws.send(message)


async def main(port):
    async with websockets.serve(echo, "127.0.0.1", port, compression=None, ping_interval=None):
        await asyncio.Future()


asyncio.run(main(int(sys.argv[1])))
