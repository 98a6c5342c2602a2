"""A huge licensing request body is refused once it passes 64 KiB, without waiting for (or holding) the rest:
a client announcing 1 GiB and sending a little at a time cannot make the server read it all into memory
(the licensing endpoints read the body themselves, crystal_server/licensing.py ``_read_body``)."""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

from crystal_protocol.wire import LICENSE_PATHS
from tests.support.servers import ReferenceServer


def _answer_head(sock: socket.socket) -> bytes:
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(4096)
        if not chunk:
            break
        head += chunk
    return head


def test_a_body_announced_as_a_gibibyte_is_refused_after_64_kib(reference_server: ReferenceServer) -> None:
    parts = urlsplit(reference_server.url)
    with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80), timeout=20) as sock:
        sock.sendall(f"POST {LICENSE_PATHS['activate']} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
                     f"Content-Type: application/json\r\nContent-Length: {1 << 30}\r\n"
                     "X-Crystal-Nonce: huge-body-nonce\r\n\r\n".encode())
        sock.sendall(b"{" + b" " * (96 * 1024))  # past the limit, far short of what was announced
        head = _answer_head(sock)
    assert head.startswith(b"HTTP/1.1 413"), head[:200]
    assert b"x-crystal-signature" in head.lower()  # refused like every licensing answer: signed
