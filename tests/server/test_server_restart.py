"""The reference server restarts on the same port at once (SO_REUSEADDR), even right after it served a
client: the closed connections' TIME_WAIT no longer blocks the port for a minute."""

from __future__ import annotations

import http.client
from pathlib import Path
from urllib.parse import urlsplit

from crystal_protocol.wire import API_PREFIX
from tests.support.servers import admin_cli, run_reference_server


def _ask_health(url: str) -> http.client.HTTPConnection:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=10)
    conn.request("GET", f"{API_PREFIX}/health")
    response = conn.getresponse()
    response.read()
    assert response.status == 200
    return conn  # kept open: the server closes it when it stops, and its side waits in TIME_WAIT


def test_serve_stop_serve_again_on_the_same_port(tmp_path: Path) -> None:
    data = tmp_path / "server"
    assert admin_cli("init", str(data)).returncode == 0
    # Each ``serve`` is its own process (forked from the tests' server zygote: the same ``serve`` code and
    # listening socket as ``python -m crystal_server serve``), stopped and gone before the block ends.
    with run_reference_server(data) as first:
        port = urlsplit(first.url).port
        assert port is not None
        conn = _ask_health(first.url)
    conn.close()
    # "Address already in use" for about a minute without the option:
    with run_reference_server(data, port=port) as second:
        assert urlsplit(second.url).port == port
        _ask_health(second.url).close()
