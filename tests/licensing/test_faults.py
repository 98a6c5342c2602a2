"""Fault suite: real misbehaving servers. Each gives "offline" with a clear message; nothing stored is lost."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import trustme

from crystal_manager.cli.demo_server import free_port
from crystal_manager.licensing.errors import CaptivePortal, MalformedAnswer, RateLimited, ServerFailed
from crystal_manager.net.errors import ConnectFailed, TimedOut, TLSFailed
from crystal_manager.services.context import AppContext
from crystal_manager.services.usertext import Outcome, explain
from tests.support.keyring_memory import MemoryKeyring
from tests.support.licensing import issue, service
from tests.support.misbehaving import hang, http_response, misbehaving, respond, trickle
from tests.support.servers import ReferenceServer


@pytest.fixture
def activated(lic_ctx: AppContext, reference_server: ReferenceServer) -> AppContext:
    service(lic_ctx).activate(issue(reference_server.data_dir).key)
    return lic_ctx


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def _tls(ca: trustme.CA, host: str) -> Any:
    import ssl

    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(host).configure_cert(ctx)
    return ctx


def check(ctx: AppContext, keyring: MemoryKeyring, url: str, expected: type[Exception], words: str,
          ca_file: Path | None = None) -> None:
    before = json.loads(ctx.paths.license_state_file.read_text())
    secrets_before = dict(keyring.store)
    with pytest.raises(expected) as caught:
        service(ctx, url=url, ca_file=ca_file).verify()
    text, outcome = explain(caught.value)
    assert outcome is Outcome.OFFLINE
    assert words.lower() in text.lower(), text
    after = json.loads(ctx.paths.license_state_file.read_text())
    assert after["lease"] == before["lease"] and after["machine_id"] == before["machine_id"]
    assert keyring.store == secrets_before
    status = service(ctx).status()
    assert status.state == "offline_grace" and status.message == text


def test_server_down(activated: AppContext, memory_keyring: MemoryKeyring) -> None:
    check(activated, memory_keyring, f"http://127.0.0.1:{free_port()}", ConnectFailed, "cannot be reached")


def test_timeout(activated: AppContext, memory_keyring: MemoryKeyring) -> None:
    with misbehaving(hang(5)) as server:
        check(activated, memory_keyring, server.url, TimedOut, "did not answer in time")


def test_http_500(activated: AppContext, memory_keyring: MemoryKeyring) -> None:
    with misbehaving(respond(http_response("500 Internal Server Error", b'{"oops": 1}'))) as server:
        check(activated, memory_keyring, server.url, ServerFailed, "HTTP 500")


def test_429_with_retry_after(activated: AppContext, memory_keyring: MemoryKeyring) -> None:
    raw = http_response("429 Too Many Requests", b"{}", extra="Retry-After: 120\r\n")
    with misbehaving(respond(raw)) as server:
        check(activated, memory_keyring, server.url, RateLimited, "wait 120 seconds")


def test_captive_portal(activated: AppContext, memory_keyring: MemoryKeyring) -> None:
    page = b"<!DOCTYPE html><html><body>Please sign in to HotelWiFi</body></html>"
    with misbehaving(respond(http_response("200 OK", page, content_type="text/html"))) as server:
        check(activated, memory_keyring, server.url, CaptivePortal, "captive portal")


def test_malformed_json(activated: AppContext, memory_keyring: MemoryKeyring) -> None:
    with misbehaving(respond(http_response("200 OK", b'{"lease": '))) as server:
        check(activated, memory_keyring, server.url, MalformedAnswer, "garbled")


def test_tls_untrusted_certificate(activated: AppContext, memory_keyring: MemoryKeyring, ca: trustme.CA) -> None:
    with misbehaving(respond(http_response("200 OK", b"{}")), tls=_tls(ca, "127.0.0.1")) as server:
        check(activated, memory_keyring, server.url, TLSFailed, "proxy or TLS inspection")


def test_tls_wrong_host_name(activated: AppContext, memory_keyring: MemoryKeyring, ca: trustme.CA,
                             tmp_path: Path) -> None:
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    with misbehaving(respond(http_response("200 OK", b"{}")), tls=_tls(ca, "other-vendor.example")) as server:
        check(activated, memory_keyring, server.url, TLSFailed, "secure connection", ca_file=ca_file)


def test_trickle_that_never_finishes(activated: AppContext, memory_keyring: MemoryKeyring) -> None:
    with misbehaving(trickle(interval=0.2, total=6)) as server:
        check(activated, memory_keyring, server.url, TimedOut, "trickling")


def test_activation_through_a_fault_stores_nothing(lic_ctx: AppContext, reference_server: ReferenceServer,
                                                   memory_keyring: MemoryKeyring) -> None:
    lic = issue(reference_server.data_dir)
    with misbehaving(respond(http_response("502 Bad Gateway", b"<html>proxy</html>", "text/html"))) as server, \
            pytest.raises(CaptivePortal):
        service(lic_ctx, url=server.url).activate(lic.key)
    assert lic.key not in memory_keyring.store.values()
    assert service(lic_ctx).status().state == "not_activated"



def test_deeply_nested_json_from_a_man_in_the_middle(activated: AppContext, memory_keyring: MemoryKeyring) -> None:
    """JSON nested deeper than the parser's recursion limit is garbage (offline), not a crash."""
    with misbehaving(respond(http_response("200 OK", b"[" * 200_000))) as server:
        check(activated, memory_keyring, server.url, MalformedAnswer, "garbled")
