"""The HTTP implementation the server runs under uvicorn, with the request head (request line and headers)
bounded.

uvicorn picks httptools when it is installed (the server extra; P8, decision 0015), and its protocol keeps a
request line, header or trailer in memory however long it grows: one connection sending a header without
end grew the server by as much (300 MB in as many MB sent). h11, uvicorn's other implementation, refuses a
head (or trailer) past 16 KiB; this keeps that bound under httptools.
"""

from __future__ import annotations

import asyncio
from typing import Literal

#: The most a request line and its headers may take together (h11's bound; our clients send under 1 KiB).
MAX_HEAD = 16 * 1024
_TOO_LARGE = (b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: text/plain; charset=utf-8\r\n"
              b"content-length: 31\r\nconnection: close\r\n\r\nRequest header fields too large")


def http_protocol() -> type[asyncio.Protocol] | Literal["h11"]:
    """What to give ``uvicorn.Config(http=...)``: httptools with a bounded head, or h11 without httptools."""
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    except ImportError:  # no httptools: h11 bounds the head itself
        return "h11"

    class BoundedHead(HttpToolsProtocol):
        """httptools' protocol that hangs up (431) once a request's head, or the trailer after a chunked
        body, passes MAX_HEAD bytes."""

        _in_head = True
        _head_bytes = 0

        def data_received(self, data: bytes) -> None:
            # Counted before parsing, checked after: a piece that completes a small head and carries a body
            # is not held against the head; a head still open past the bound is cut off.
            if self._in_head:
                self._head_bytes += len(data)
            super().data_received(data)
            if self._in_head and self._head_bytes > MAX_HEAD and not self.transport.is_closing():
                self.logger.warning("Request head over %d bytes: connection closed.", MAX_HEAD)
                self.transport.write(_TOO_LARGE)
                self.transport.close()

        def on_headers_complete(self) -> None:
            self._in_head = False
            super().on_headers_complete()

        def on_chunk_header(self) -> None:
            # Until the chunk's data arrives: after the last chunk (size 0) come trailer fields, which
            # httptools keeps in memory like headers (and on every route, read or not by the app).
            self._in_head, self._head_bytes = True, 0

        def on_body(self, body: bytes) -> None:
            self._in_head = False
            super().on_body(body)

        def on_message_complete(self) -> None:
            super().on_message_complete()
            self._in_head, self._head_bytes = True, 0  # the next request on this connection starts its head

    return BoundedHead
