"""The gateway against real servers on loopback: the reference server and misbehaving ones."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crystal_manager.net.errors import (
    ConnectFailed,
    InsecureTransportError,
    MissingFieldError,
    ProtocolFailed,
    ResponseTooLarge,
    TimedOut,
    UndeclaredFieldError,
    UnknownRequestTypeError,
    ValueShapeError,
)
from crystal_manager.net.gateway import Gateway, GatewayConfig
from crystal_manager.net.request import OutboundRequest
from crystal_manager.privacy.ledger import Ledger
from tests.support.misbehaving import hang, http_response, misbehaving, reset, respond, trickle
from tests.support.servers import ReferenceServer


def make_gateway(url: str, tmp_path: Path, **config: float) -> Gateway:
    return Gateway(base_url=url, ledger=Ledger(tmp_path / "ledger.jsonl"),
                   config=GatewayConfig(**config), sleep=lambda _s: None)  # type: ignore[arg-type]


def test_health_reaches_reference_server_and_is_recorded(reference_server: ReferenceServer,
                                                         tmp_path: Path) -> None:
    with make_gateway(reference_server.url, tmp_path) as gateway:
        response = gateway.send(OutboundRequest(kind="health"))
    assert response.status == 200
    assert json.loads(response.body)["status"] == "ok"
    [entry] = gateway.ledger.entries()
    assert entry["kind"] == "health" and entry["status"] == 200 and entry["path"] == "/v1/health"
    assert entry["trigger"] == "user"
    assert entry["bytes_received"] == len(response.body)
    assert set(entry["headers"]) == {"host", "user-agent", "accept", "accept-encoding", "connection"}
    assert entry["headers"]["user-agent"].startswith("CrystalMe3DProManager/")


def test_undeclared_field_is_refused_and_nothing_is_sent(tmp_path: Path) -> None:
    with misbehaving(respond(http_response("200 OK", b"{}"))) as server, \
            make_gateway(server.url, tmp_path) as gateway:
        with pytest.raises(UndeclaredFieldError, match="'hostname' is not declared"):
            gateway.send(OutboundRequest(kind="health", query={"hostname": "my-laptop"}))
        with pytest.raises(UndeclaredFieldError, match="header 'X-Tracking'"):
            gateway.send(OutboundRequest(kind="health", headers={"X-Tracking": "1"}))
        with pytest.raises(UndeclaredFieldError):
            gateway.send(OutboundRequest(kind="update_target", path_params={"name": "a", "user": "b"}))
        with pytest.raises(UnknownRequestTypeError):
            gateway.send(OutboundRequest(kind="telemetry"))
        with pytest.raises(MissingFieldError):
            gateway.send(OutboundRequest(kind="update_target"))
        assert server.connections == 0
        assert gateway.ledger.entries() == []
        # The same server does receive a declared request: the refusals above were the gateway's doing.
        gateway.send(OutboundRequest(kind="health"))
        assert server.connections == 1


@pytest.mark.parametrize("url", ["http://example.com", "http://10.0.0.1:8080", "ftp://127.0.0.1", "https://",
                                 "https://user:pass@licensing.example", "http://u@127.0.0.1:1",
                                 "https://licensing.example/?track=1", "https://licensing.example/#x"])
def test_plain_http_only_to_loopback(url: str, tmp_path: Path) -> None:
    with pytest.raises(InsecureTransportError):
        make_gateway(url, tmp_path)


@pytest.mark.parametrize("url", ["http://127.0.0.1:1", "http://localhost:1", "http://[::1]:1",
                                 "https://licensing.example"])
def test_allowed_base_urls(url: str, tmp_path: Path) -> None:
    make_gateway(url, tmp_path).close()


def test_server_down_is_connect_failed_after_retries(tmp_path: Path) -> None:
    from crystal_manager.cli.demo_server import free_port

    with make_gateway(f"http://127.0.0.1:{free_port()}", tmp_path) as gateway, pytest.raises(ConnectFailed):
        gateway.send(OutboundRequest(kind="health"))
    entries = gateway.ledger.entries()
    assert [e["attempt"] for e in entries] == [1, 2, 3]
    assert all(e["error"] == "ConnectFailed" and e["status"] is None for e in entries)
    # finding 7: a refused connection sent nothing, and the log says 0 bytes (the pending entry said more)
    assert [e["bytes_sent"] for e in entries] == [0, 0, 0]


def test_timeout(tmp_path: Path) -> None:
    with misbehaving(hang(5)) as server, \
            make_gateway(server.url, tmp_path, read_timeout=0.3, max_attempts=1) as gateway, \
            pytest.raises(TimedOut):
        gateway.send(OutboundRequest(kind="health"))


def test_trickle_hits_the_deadline(tmp_path: Path) -> None:
    with misbehaving(trickle(0.05, 10)) as server, \
            make_gateway(server.url, tmp_path, deadline=0.5, max_attempts=1) as gateway, \
            pytest.raises(TimedOut, match="trickling"):
        gateway.send(OutboundRequest(kind="health"))
    assert gateway.ledger.entries()[-1]["error"] == "TimedOut"


def test_reset_is_protocol_failure(tmp_path: Path) -> None:
    with misbehaving(reset()) as server, make_gateway(server.url, tmp_path, max_attempts=1) as gateway, \
            pytest.raises((ProtocolFailed, ConnectFailed)):
        gateway.send(OutboundRequest(kind="health"))


def test_endless_answer_is_cut(tmp_path: Path) -> None:
    body = b"x" * 3_000_000
    with misbehaving(respond(http_response("200 OK", body))) as server, \
            make_gateway(server.url, tmp_path) as gateway, pytest.raises(ResponseTooLarge):
        gateway.send(OutboundRequest(kind="health"))


def test_429_with_retry_after_is_retried_then_answered(tmp_path: Path) -> None:
    answers = [http_response("429 Too Many Requests", b"{}", extra="Retry-After: 1\r\n"),
               http_response("200 OK", b'{"status":"ok"}')]

    def behave(conn, _request):  # type: ignore[no-untyped-def]
        conn.sendall(answers.pop(0))

    waits: list[float] = []
    with misbehaving(behave) as server:
        gateway = Gateway(base_url=server.url, ledger=Ledger(tmp_path / "l.jsonl"), sleep=waits.append)
        response = gateway.send(OutboundRequest(kind="health"))
        gateway.close()
    assert response.status == 200 and waits == [1.0]
    assert [e["status"] for e in gateway.ledger.entries()] == [429, 200]


def test_long_retry_after_is_returned_not_waited(tmp_path: Path) -> None:
    raw = http_response("429 Too Many Requests", b"{}", extra="Retry-After: 3600\r\n")
    with misbehaving(respond(raw)) as server, make_gateway(server.url, tmp_path) as gateway:
        response = gateway.send(OutboundRequest(kind="health"))
    assert response.status == 429 and response.header("retry-after") == "3600"


def test_no_cookies_are_kept(tmp_path: Path) -> None:
    raw = http_response("200 OK", b"{}", extra="Set-Cookie: track=1; Path=/\r\n")
    with misbehaving(respond(raw)) as server, make_gateway(server.url, tmp_path) as gateway:
        gateway.send(OutboundRequest(kind="health"))
        gateway.send(OutboundRequest(kind="health"))
        assert all(b"cookie" not in r.lower() for r in server.requests)


def test_proxy_env_is_ignored_for_loopback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                           reference_server: ReferenceServer) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("ALL_PROXY", "http://127.0.0.1:9")
    with make_gateway(reference_server.url, tmp_path) as gateway:
        assert gateway.send(OutboundRequest(kind="health")).status == 200


def test_download_resumes_with_range(reference_server: ReferenceServer, tmp_path: Path) -> None:
    payload = bytes(range(256)) * 4096
    (reference_server.data_dir / "repository" / "targets" / "blob.bin").write_bytes(payload)
    out = bytearray()
    with make_gateway(reference_server.url, tmp_path) as gateway:
        first = gateway.download(OutboundRequest(kind="update_target", path_params={"name": "blob.bin"}),
                                 out.extend, max_bytes=len(payload))
        assert first.status == 200 and bytes(out) == payload
        tail = bytearray()
        second = gateway.download(OutboundRequest(kind="update_target", path_params={"name": "blob.bin"}),
                                  tail.extend, offset=1000, max_bytes=len(payload))
    assert second.status == 206 and second.resumed and bytes(tail) == payload[1000:]
    assert gateway.ledger.entries()[-1]["headers"]["range"] == "bytes=1000-"


def test_path_parameters_cannot_escape(tmp_path: Path) -> None:
    with misbehaving(respond(http_response("200 OK", b"{}"))) as server, \
            make_gateway(server.url, tmp_path) as gateway:
        with pytest.raises(ValueShapeError, match="path field 'name' does not have the declared format"):
            gateway.send(OutboundRequest(kind="update_target", path_params={"name": "../../server.sqlite3"}))
        gateway.send(OutboundRequest(kind="health"))
        assert server.connections == 1
    assert [e["kind"] for e in gateway.ledger.entries()] == ["health"]
