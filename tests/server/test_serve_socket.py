"""Starting ``crystal-server serve``: small answers leave at once (no wait for the client's delayed ACK), and
the update timestamp is fresh before the first client is served."""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from crystal_server.cli import listen_socket
from tests.support.plain_http import no_tls
from tests.support.servers import admin_cli, init_server_dir, run_reference_server


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


def test_a_timestamp_due_at_start_is_re_signed_before_the_server_listens(tmp_path: Path) -> None:
    # A server stopped long enough for its timestamp to be due (here: a 1-second lifetime, less than half of
    # the usual day left): its first client already gets a fresh one, not the stale file, nor a race.
    server_dir = init_server_dir(tmp_path / "server")
    refreshed = admin_cli("tuf", "refresh", str(server_dir), "--expires-in", "1")
    assert refreshed.returncode == 0, refreshed.stderr
    with run_reference_server(server_dir) as server:
        signed = httpx.get(f"{server.url}/v1/updates/metadata/timestamp.json", timeout=10,
                           verify=no_tls()).json()["signed"]
    assert signed["version"] == 3  # 1 at init, 2 by the admin, 3 by the server before it listened
    expires = datetime.fromisoformat(signed["expires"].replace("Z", "+00:00"))
    assert expires - datetime.now(UTC) > timedelta(hours=1)


def test_the_refresher_s_first_pass_is_over_when_the_server_says_it_listens(tmp_path: Path) -> None:
    # What an operator (or a test freezing the server) does right after start is not undone by a first pass
    # still running in the background: the admin's short-lived timestamp is what clients get.
    server_dir = init_server_dir(tmp_path / "server")
    with run_reference_server(server_dir) as server:
        refreshed = admin_cli("tuf", "refresh", str(server_dir), "--expires-in", "60")
        assert refreshed.returncode == 0, refreshed.stderr
        signed = httpx.get(f"{server.url}/v1/updates/metadata/timestamp.json", timeout=10,
                           verify=no_tls()).json()["signed"]
    assert signed["version"] == 2
