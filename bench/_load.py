"""The load process of bench/server_bench.py: C keep-alive HTTP/1.1 connections in a closed loop.

    _load.py URL PATH BODY_JSON CONNECTIONS SECONDS   ->  one JSON line: rate, p50_ms, p99_ms, count, errors

Plain asyncio streams and pre-built requests, so that the client costs as little CPU as possible (it shares
the machine with the server it measures). Each answer must be 200 and carry a signature header.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import time
from urllib.parse import urlsplit


async def connection(host: str, port: int, path: str, body: bytes, until: float, latencies: list[float],
                     errors: list[str], tag: int) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    count = 0
    try:
        while time.perf_counter() < until:
            count += 1
            head = (f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
                    f"X-Crystal-Nonce: bench{tag:04d}n{count:010d}\r\nContent-Length: {len(body)}\r\n\r\n")
            start = time.perf_counter()
            writer.write(head.encode() + body)
            headers = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in headers.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - start)
            if not headers.startswith(b"HTTP/1.1 200") or b"x-crystal-signature" not in headers.lower():
                errors.append(headers.split(b"\r\n", 1)[0].decode(errors="replace"))
    finally:
        writer.close()


async def run(url: str, path: str, body: bytes, connections: int, seconds: float) -> dict[str, float | str]:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    latencies: list[float] = []
    errors: list[str] = []
    start = time.perf_counter()
    until = start + seconds
    await asyncio.gather(*(connection(host, port, path, body, until, latencies, errors, n) for n in range(connections)))
    took = time.perf_counter() - start
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] if ordered else 0.0
    return {"rate": len(ordered) / took, "client_cpu_ms": time.process_time() * 1000 / max(1, len(ordered)),
 "p50_ms": statistics.median(ordered) * 1000 if ordered else 0.0,
            "p99_ms": p99 * 1000, "count": float(len(ordered)), "errors": float(len(errors)),
            "first_error": errors[0] if errors else ""}


def main() -> int:
    url, path, body, connections, seconds = sys.argv[1:6]
    print(json.dumps(asyncio.run(run(url, path, body.encode(), int(connections), float(seconds)))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
