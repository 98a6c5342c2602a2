"""The server's listening socket: small answers leave at once (no wait for the client's delayed ACK)."""

from __future__ import annotations

import socket

from crystal_server.cli import listen_socket


def test_accepted_connections_have_nagle_off_where_asyncio_expects_it() -> None:
    with listen_socket("127.0.0.1", 0) as listener, \
            socket.create_connection(listener.getsockname()[:2], timeout=5) as _client:
        accepted, _ = listener.accept()
        with accepted:
            # asyncio's transports set TCP_NODELAY themselves only on sockets whose proto is IPPROTO_TCP;
            # the accepted socket also has it from the listener, whatever the event loop does.
            assert accepted.proto == socket.IPPROTO_TCP
            assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0


def test_a_port_in_use_is_a_clear_error() -> None:
    from crystal_server.cli import ServerCliError

    with listen_socket("127.0.0.1", 0) as taken:
        port = taken.getsockname()[1]
        try:
            listen_socket("127.0.0.1", port).close()
        except ServerCliError as exc:
            assert f"cannot listen on 127.0.0.1:{port}" in str(exc)
        else:
            raise AssertionError("a second socket bound a port in use")
