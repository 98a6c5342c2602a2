"""Nothing leaves unrecorded: the ledger entry is written before the request is sent and completed after;
an unwritable ledger means nothing is sent; ctrl-C, a kill or a hanging server still leave the entry; the
byte count is what went over the wire."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from crystal_manager.net.errors import LedgerUnwritable, TimedOut
from crystal_manager.net.gateway import Gateway, GatewayConfig
from crystal_manager.net.request import OutboundRequest
from crystal_manager.privacy.ledger import Ledger
from crystal_protocol.wire import NONCE_HEADER
from tests.support.misbehaving import hang, http_response, misbehaving, respond

HASH = "cd" * 32
BODY: dict[str, Any] = {"key": "CM3D-7QK2M-X9RTA-4HV0C-Q7F3A", "fingerprint": "v1:" + HASH,
                        "fingerprint_version": "v1", "environment": "physical", "os": "Linux"}


def _wait_for(condition: Any, timeout: float = 10.0) -> None:
    end = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < end, "timed out waiting"
        time.sleep(0.02)


def test_unwritable_ledger_means_nothing_is_sent(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the ledger's folder should be")
    with misbehaving(respond(http_response("200 OK", b"{}"))) as server:
        with Gateway(base_url=server.url, ledger=Ledger(blocker / "ledger.jsonl")) as gateway, \
                pytest.raises(LedgerUnwritable, match=r"could not be recorded.*not sent"):
            gateway.send(OutboundRequest(kind="health"))
        # The same listening socket counts a request from a gateway whose ledger works.
        with Gateway(base_url=server.url, ledger=Ledger(tmp_path / "ledger.jsonl")) as gateway:
            gateway.send(OutboundRequest(kind="health"))
        assert server.connections == 1


def test_the_entry_exists_when_the_request_arrives(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.jsonl")
    seen_at_arrival: list[list[dict[str, Any]]] = []

    def behave(conn, _request):  # type: ignore[no-untyped-def]
        seen_at_arrival.append(ledger.entries())  # read by the server the moment the request arrived
        conn.sendall(http_response("200 OK", b'{"status":"ok"}'))

    with misbehaving(behave) as server, Gateway(base_url=server.url, ledger=ledger) as gateway:
        gateway.send(OutboundRequest(kind="health"))
    [[pending]] = seen_at_arrival
    assert pending["state"] == "pending" and pending["kind"] == "health" and pending["status"] is None
    [done] = ledger.entries()
    assert done["state"] == "done" and done["status"] == 200 and done["id"] == pending["id"]


@pytest.mark.parametrize("kind", ["health", "license_validate"])
def test_bytes_sent_are_the_bytes_on_the_wire(kind: str, tmp_path: Path) -> None:
    request = OutboundRequest(kind=kind, body=BODY if kind != "health" else None,
                              headers={NONCE_HEADER: "q3b1Zp0m9yS6JxkQ2c1vYw"} if kind != "health" else {})
    with misbehaving(respond(http_response("200 OK", b'{"status":"ok"}'))) as server, \
            Gateway(base_url=server.url, ledger=Ledger(tmp_path / "ledger.jsonl")) as gateway:
        gateway.send(request)
    [entry] = gateway.ledger.entries()
    assert entry["bytes_sent"] == len(server.requests[0])  # request line, headers, blank line and body
    assert entry["bytes_received"] == len(b'{"status":"ok"}')


def test_a_hanging_server_leaves_an_entry(tmp_path: Path) -> None:
    with misbehaving(hang(5)) as server, \
            Gateway(base_url=server.url, ledger=Ledger(tmp_path / "ledger.jsonl"),
                    config=GatewayConfig(read_timeout=0.5, max_attempts=1)) as gateway, pytest.raises(TimedOut):
        gateway.send(OutboundRequest(kind="health"))
    [entry] = gateway.ledger.entries()
    assert entry["state"] == "done" and entry["error"] == "TimedOut" and entry["bytes_sent"] > 0


def test_ctrl_c_from_the_write_callback_leaves_an_entry(tmp_path: Path) -> None:
    def interrupt(_chunk: bytes) -> None:
        raise KeyboardInterrupt

    payload = b"x" * 50_000
    raw = http_response("200 OK", payload, content_type="application/octet-stream")
    with misbehaving(respond(raw)) as server, \
            Gateway(base_url=server.url, ledger=Ledger(tmp_path / "ledger.jsonl")) as gateway, \
            pytest.raises(KeyboardInterrupt):
        gateway.download(OutboundRequest(kind="update_target", path_params={"name": "a.tar.gz"}), interrupt,
                         max_bytes=len(payload))
    [entry] = gateway.ledger.entries()
    assert entry["state"] == "done" and entry["error"] == "KeyboardInterrupt" and entry["status"] == 200


CHILD = """
import sys
from pathlib import Path
from crystal_manager.net.gateway import Gateway, GatewayConfig
from crystal_manager.net.request import OutboundRequest
from crystal_manager.privacy.ledger import Ledger
gateway = Gateway(base_url=sys.argv[1], ledger=Ledger(Path(sys.argv[2])), config=GatewayConfig(max_attempts=1))
gateway.send(OutboundRequest(kind="health"))
"""


@pytest.mark.parametrize(("signum", "state", "error"), [(signal.SIGINT, "done", "KeyboardInterrupt"),
                                                        (signal.SIGKILL, "pending", None)])
def test_a_signal_mid_request_still_leaves_an_entry(signum: int, state: str, error: str | None,
                                                    tmp_path: Path) -> None:
    ledger_path = tmp_path / "ledger.jsonl"
    with misbehaving(hang(20)) as server:
        child = subprocess.Popen([sys.executable, "-c", CHILD, server.url, str(ledger_path)],
                                 stderr=subprocess.PIPE, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        try:
            _wait_for(lambda: len(server.requests) == 1)
            child.send_signal(signum)
            child.wait(timeout=15)
        finally:
            child.kill()
            child.wait()
    assert child.returncode != 0
    [entry] = Ledger(ledger_path).entries()
    assert entry["kind"] == "health" and entry["state"] == state and entry["error"] == error
    lines = [json.loads(line) for line in ledger_path.read_bytes().splitlines()]
    assert len(lines) == (2 if state == "done" else 1)
