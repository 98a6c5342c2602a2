"""Real TCP servers on 127.0.0.1 that misbehave on purpose (fault injection without mocks).

Each behaviour is a function that receives the accepted socket after the request head was read.
Every connection is counted, so a test can prove that nothing was sent.
"""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field

Behaviour = Callable[[socket.socket, bytes], None]


def _read_head(conn: socket.socket) -> bytes:
    data = b""
    conn.settimeout(5)
    while b"\r\n\r\n" not in data and len(data) < 65536:
        chunk = conn.recv(4096)
        if not chunk:
            break
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(rest) < length:
        chunk = conn.recv(4096)
        if not chunk:
            break
        rest += chunk
    return head + b"\r\n\r\n" + rest


def http_response(status: str, body: bytes, content_type: str = "application/json",
                  extra: str = "") -> bytes:
    """A complete HTTP/1.1 response."""
    return (f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
            f"Connection: close\r\n{extra}\r\n").encode() + body


def respond(raw: bytes) -> Behaviour:
    """Answer with fixed bytes."""
    return lambda conn, _request: conn.sendall(raw)


def hang(seconds: float = 30.0) -> Behaviour:
    """Read the request and never answer (until ``seconds`` pass)."""
    return lambda conn, _request: time.sleep(seconds)


def trickle(interval: float = 0.5, total: float = 30.0) -> Behaviour:
    """Send headers for a large body, then one byte every ``interval`` seconds."""
    def behave(conn: socket.socket, _request: bytes) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n")
        end = time.monotonic() + total
        while time.monotonic() < end:
            conn.sendall(b" ")
            time.sleep(interval)
    return behave


def reset() -> Behaviour:
    """Close the connection abruptly without answering."""
    def behave(conn: socket.socket, _request: bytes) -> None:
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    return behave


def in_turn(*behaviours: Behaviour) -> Behaviour:
    """The first request gets the first behaviour, the next the next; the last one answers all after."""
    queue = list(behaviours)
    lock = threading.Lock()

    def behave(conn: socket.socket, request: bytes) -> None:
        with lock:
            behaviour = queue.pop(0) if len(queue) > 1 else queue[0]
        behaviour(conn, request)
    return behave


@dataclass
class MisbehavingServer:
    """A listening socket with a behaviour; ``requests`` holds every request head+body received."""

    behaviour: Behaviour
    tls: ssl.SSLContext | None = None
    requests: list[bytes] = field(default_factory=list)
    connections: int = 0

    def __post_init__(self) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self._sock.settimeout(0.02)  # how soon stop() is noticed
        self.port = int(self._sock.getsockname()[1])
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def url(self) -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except (TimeoutError, OSError):
                continue
            self.connections += 1
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        try:
            if self.tls is not None:
                conn = self.tls.wrap_socket(conn, server_side=True)
            request = _read_head(conn)
            self.requests.append(request)
            self.behaviour(conn, request)
        except (OSError, ssl.SSLError):
            pass
        finally:
            with suppress(OSError):
                conn.close()

    def start(self) -> MisbehavingServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self._sock.close()


@contextmanager
def misbehaving(behaviour: Behaviour, tls: ssl.SSLContext | None = None) -> Iterator[MisbehavingServer]:
    """Run a misbehaving server for the block."""
    server = MisbehavingServer(behaviour, tls=tls).start()
    try:
        yield server
    finally:
        server.stop()
