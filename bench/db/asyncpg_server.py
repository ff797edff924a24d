"""The asyncio anchor of bench/run_db.sh: grove-demo's /db?ms=N as a coroutine on a minimal
asyncio HTTP/1.1 server (keep-alive, GET only: enough for wrk), on an asyncpg pool
(grove-demo's pool size), running grove-demo's SQL. Debian's python3-asyncpg on the standard
asyncio loop.

    /usr/bin/python3 bench/db/asyncpg_server.py PORT PG_PORT POOL_SIZE
"""
import asyncio
import json
import sys
from urllib.parse import parse_qs, urlsplit

import asyncpg

SQL = "SELECT pg_sleep($1::float8 / 1000) IS NULL AS slept, pg_backend_pid() AS pid"


async def db(pool, target):
    query = parse_qs(urlsplit(target).query)
    ms = min(max(int(query.get("ms", ["0"])[0]), 0), 60000)
    row = await pool.fetchrow(SQL, float(ms))
    return 200, json.dumps({"ms": ms, "pid": row["pid"]})


async def serve_connection(pool, reader, writer):
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            target = head.split(b" ", 2)[1].decode()
            if urlsplit(target).path == "/db":
                status, body = await db(pool, target)
            else:
                status, body = 404, json.dumps({"error": "Not Found"})
            data = body.encode()
            writer.write(b"HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
                         b"Content-Length: %d\r\n\r\n%s"
                         % (status, b"OK" if status == 200 else b"Not Found", len(data), data))
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def main():
    port, pg_port, pool_size = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    pool = await asyncpg.create_pool(host="127.0.0.1", port=pg_port, user="grove",
                                     database="postgres", min_size=1, max_size=pool_size)
    server = await asyncio.start_server(lambda r, w: serve_connection(pool, r, w),
                                        "127.0.0.1", port, backlog=1024)
    async with server:
        await server.serve_forever()


asyncio.run(main())
