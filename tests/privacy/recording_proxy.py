"""A recording proxy on loopback: a plain TCP relay between the app and the reference server that keeps
every byte the app sends, cut into HTTP requests exactly as they crossed the wire (request line, headers,
blank line, body). Answers are relayed untouched. No parsing of ours sits between the app and the server."""

from __future__ import annotations

import re
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field

_LENGTH = re.compile(rb"(?im)^content-length:[ \t]*([0-9]+)[ \t]*\r?$")


@dataclass(frozen=True)
class WireRequest:
    """One request as it crossed the wire."""

    raw: bytes

    @property
    def head(self) -> str:
        """Request line and headers (ASCII on the wire)."""
        return self.raw.split(b"\r\n\r\n", 1)[0].decode("ascii")

    @property
    def method(self) -> str:
        return self.head.split(" ", 1)[0]

    @property
    def target(self) -> str:
        """The path and query as sent."""
        return self.head.split(" ", 2)[1]

    @property
    def headers(self) -> dict[str, str]:
        lines = self.head.split("\r\n")[1:]
        return {name: value.strip() for name, _, value in (line.partition(":") for line in lines)}

    @property
    def body(self) -> bytes:
        return self.raw.split(b"\r\n\r\n", 1)[1]


@dataclass
class RecordingProxy:
    """Listens on 127.0.0.1, relays each connection to ``upstream_port``, records what the app sent."""

    upstream_port: int
    requests: list[WireRequest] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._threads: list[threading.Thread] = []
        self._open: list[socket.socket] = []
        self._stopping = False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._listener.getsockname()[1]}"

    def start(self) -> RecordingProxy:
        self._spawn(self._accept)
        return self

    def stop(self) -> None:
        self._stopping = True
        self._listener.close()
        for sock in list(self._open):
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        for thread in self._threads:
            thread.join(timeout=5)

    def _spawn(self, target: object, *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)  # type: ignore[arg-type]
        self._threads.append(thread)
        thread.start()

    def _accept(self) -> None:
        while not self._stopping:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=30)
            self._open += [client, upstream]
            self._spawn(self._from_app, client, upstream)
            self._spawn(self._to_app, upstream, client)

    def _from_app(self, client: socket.socket, upstream: socket.socket) -> None:
        buffer = b""
        while True:
            try:
                data = client.recv(65536)
            except OSError:
                data = b""
            if not data:
                _close_write(upstream)
                return
            buffer += data
            buffer = self._cut(buffer)
            try:
                upstream.sendall(data)
            except OSError:
                return

    def _cut(self, buffer: bytes) -> bytes:
        """Record every complete request at the front of ``buffer``; return the rest."""
        while b"\r\n\r\n" in buffer:
            head_end = buffer.index(b"\r\n\r\n") + 4
            match = _LENGTH.search(buffer[:head_end])
            end = head_end + (int(match.group(1)) if match else 0)
            if len(buffer) < end:
                break
            with self._lock:
                self.requests.append(WireRequest(buffer[:end]))
            buffer = buffer[end:]
        return buffer

    def _to_app(self, upstream: socket.socket, client: socket.socket) -> None:
        while True:
            try:
                data = upstream.recv(65536)
            except OSError:
                data = b""
            if not data:
                _close_write(client)
                return
            try:
                client.sendall(data)
            except OSError:
                return


def _close_write(sock: socket.socket) -> None:
    with suppress(OSError):
        sock.shutdown(socket.SHUT_WR)


@contextmanager
def recording(upstream_port: int) -> Iterator[RecordingProxy]:
    """A recording proxy in front of ``upstream_port`` for the block."""
    proxy = RecordingProxy(upstream_port).start()
    try:
        yield proxy
    finally:
        proxy.stop()
