"""A real man-in-the-middle on loopback: forwards requests to the reference server and lets a test edit,
replay, re-route or strip the answers (tamper tests without mocking our code)."""

from __future__ import annotations

import http.client
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Exchange:
    """One request and the answer that will be returned for it."""

    method: str
    path: str
    request_headers: dict[str, str]
    request_body: bytes
    status: int
    headers: dict[str, str]
    body: bytes

    def with_answer(self, **changes: object) -> Exchange:
        return replace(self, **changes)  # type: ignore[arg-type]


Tamper = Callable[["Mitm", Exchange], Exchange]


def forward(upstream: str, method: str, path: str, headers: dict[str, str],
            body: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send one request to the upstream server."""
    parts = urlsplit(upstream)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=10)
    try:
        sent = {k: v for k, v in headers.items() if k.lower() not in ("host", "connection")}
        conn.request(method, path, body=body, headers=sent)
        response = conn.getresponse()
        return response.status, {k: v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


@dataclass
class Mitm:
    """The proxy; ``tamper`` decides what each answer becomes; ``history`` keeps every real exchange."""

    upstream: str
    tamper: Tamper | None = None
    history: list[Exchange] = field(default_factory=list)

    def __post_init__(self) -> None:
        mitm = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                return

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                headers = {k: v for k, v in self.headers.items()}
                status, answer_headers, answer = forward(mitm.upstream, "POST", self.path, headers, body)
                exchange = Exchange("POST", self.path, headers, body, status, answer_headers, answer)
                mitm.history.append(exchange)
                if mitm.tamper is not None:
                    exchange = mitm.tamper(mitm, exchange)
                self.send_response(exchange.status)
                for name, value in exchange.headers.items():
                    if name.lower() not in ("content-length", "connection", "date", "server", "transfer-encoding"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(exchange.body)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(exchange.body)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        # shutdown() waits for the serving loop to look again: every 0.5 s by default, 0.5 s per test.
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02},
                                        daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> Mitm:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@contextmanager
def mitm(upstream: str, tamper: Tamper | None = None) -> Iterator[Mitm]:
    """Run a man-in-the-middle in front of ``upstream`` for the block."""
    proxy = Mitm(upstream, tamper).start()
    try:
        yield proxy
    finally:
        proxy.stop()
