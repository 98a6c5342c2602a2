"""The load process of bench/server_bench.py: C keep-alive HTTP/1.1 connections in a closed loop.

    _load.py URL PATH BODIES_JSON CONNECTIONS SECONDS [NAME]  ->  one JSON line: latencies (s), took (s), cpu (s),
                                                          errors, first_error

Plain asyncio streams and pre-built requests, so that the client costs as little CPU as possible (it shares
the machine with the server it measures; the bench reports its CPU per request). BODIES_JSON is a list:
each connection sends them in turn, starting at its own place. Each answer must be 200
and carry a signature header. The bench may run several of these at once and merge their latencies.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from urllib.parse import urlsplit


async def connection(host: str, port: int, path: str, bodies: list[bytes], until: float, latencies: list[float],
                     errors: list[str], tag: str, first: int) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    requests = [(f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
                 f"Content-Length: {len(body)}\r\nX-Crystal-Nonce: bench{tag}n").encode() for body in bodies]
    count = 0
    try:
        while time.perf_counter() < until:
            count += 1
            at = (first + count) % len(bodies)
            start = time.perf_counter()
            writer.write(b"%s%010d\r\n\r\n%s" % (requests[at], count, bodies[at]))
            headers = await reader.readuntil(b"\r\n\r\n")
            where = headers.lower().find(b"content-length:")
            length = int(headers[where + 15:headers.index(b"\r\n", where)]) if where >= 0 else 0
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - start)
            if not headers.startswith(b"HTTP/1.1 200") or b"x-crystal-signature" not in headers.lower():
                errors.append(headers.split(b"\r\n", 1)[0].decode(errors="replace"))
    finally:
        writer.close()


async def run(url: str, path: str, bodies: list[bytes], connections: int, seconds: float,
              name: str) -> dict[str, object]:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    latencies: list[float] = []
    errors: list[str] = []
    cpu = time.process_time()  # the start-up's imports are not the load's cost
    start = time.perf_counter()
    until = start + seconds
    spread = len(bodies) // max(1, connections) or 1
    await asyncio.gather(*(connection(host, port, path, bodies, until, latencies, errors, f"{name}x{n:03d}",
                                      n * spread) for n in range(connections)))
    return {"latencies": latencies, "took": time.perf_counter() - start, "cpu": time.process_time() - cpu,
            "errors": len(errors), "first_error": errors[0] if errors else ""}


def main() -> int:
    url, path, body, connections, seconds = sys.argv[1:6]
    name = sys.argv[6] if len(sys.argv) > 6 else "0"
    bodies = [json.dumps(one).encode() for one in json.loads(body)]
    print(json.dumps(asyncio.run(run(url, path, bodies, int(connections), float(seconds), name))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
