"""Tamper suite: a real man in the middle edits, replays, re-routes and strips real signed answers.

Each attack must be rejected as "no answer" with the license unchanged (no lock-out, no unlock); only a
correctly signed denial locks.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from crystal_manager.licensing.errors import (
    BadSignature,
    LicenseRevoked,
    LicensingOffline,
    ReplayedAnswer,
    UnknownSigningKey,
    UnsignedAnswer,
    WrongPathAnswer,
)
from crystal_manager.services.context import AppContext
from crystal_manager.services.license_service import LicenseService
from crystal_manager.services.usertext import Outcome, explain
from crystal_protocol.signing import SIGNATURE_HEADER
from crystal_protocol.wire import LICENSE_PATHS, NONCE_HEADER
from tests.support.licensing import Clock, Issued, issue, server_cli, service
from tests.support.mitm import Exchange, Mitm, forward, mitm
from tests.support.servers import ReferenceServer, init_server_dir, run_reference_server


@dataclass
class Setup:
    ctx: AppContext
    server: ReferenceServer
    lic: Issued
    proxy: Mitm
    via_proxy: LicenseService

    def snapshot(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.ctx.paths.license_state_file.read_text())
        return data


@pytest.fixture
def setup(lic_ctx: AppContext, reference_server: ReferenceServer) -> Iterator[Setup]:
    lic = issue(reference_server.data_dir)
    service(lic_ctx).activate(lic.key)
    with mitm(reference_server.url) as proxy:
        yield Setup(lic_ctx, reference_server, lic, proxy, service(lic_ctx, url=proxy.url))


def assert_unchanged(setup: Setup, before: dict[str, Any]) -> None:
    after = setup.snapshot()
    assert after["lease"] == before["lease"]
    assert after["denial"] is None and after["machine_id"] == before["machine_id"]
    status = setup.via_proxy.status()
    assert status.state == "offline_grace"  # not revoked, not locked, and not silently "fine"
    assert status.plan == "pro" and status.grace_days_left is not None and status.grace_days_left > 13


def attack(setup: Setup, tamper: Any, expected: type[LicensingOffline]) -> None:
    before = setup.snapshot()
    setup.proxy.tamper = tamper
    with pytest.raises(expected) as caught:
        setup.via_proxy.verify()
    assert explain(caught.value)[1] is Outcome.OFFLINE
    assert_unchanged(setup, before)


def test_passthrough_proxy_is_harmless(setup: Setup) -> None:
    assert setup.via_proxy.verify().state == "active"


def test_edited_body(setup: Setup) -> None:
    def edit(_m: Mitm, ex: Exchange) -> Exchange:
        edited = ex.body.replace(b'\\"plan\\":\\"pro\\"', b'\\"plan\\":\\"max\\"')
        assert edited != ex.body
        return ex.with_answer(body=edited)
    attack(setup, edit, BadSignature)


def test_replayed_older_answer(setup: Setup) -> None:
    setup.via_proxy.verify()
    old = setup.proxy.history[-1]
    attack(setup, lambda _m, ex: ex.with_answer(status=old.status, headers=old.headers, body=old.body),
           ReplayedAnswer)


def test_answer_for_another_nonce(setup: Setup) -> None:
    def other_nonce(m: Mitm, ex: Exchange) -> Exchange:
        headers = {**ex.request_headers, NONCE_HEADER: "attackerchosen0001"}
        status, answer_headers, body = forward(m.upstream, "POST", ex.path, headers, ex.request_body)
        return ex.with_answer(status=status, headers=answer_headers, body=body)
    attack(setup, other_nonce, ReplayedAnswer)


def test_answer_signed_for_another_path(setup: Setup) -> None:
    def reroute(m: Mitm, ex: Exchange) -> Exchange:
        status, headers, body = forward(m.upstream, "POST", LICENSE_PATHS["machines"], ex.request_headers,
                                        ex.request_body)
        return ex.with_answer(status=status, headers=headers, body=body)
    attack(setup, reroute, WrongPathAnswer)


def test_unsigned_denial_does_not_lock(setup: Setup) -> None:
    forged = json.dumps({"error": {"code": "revoked", "message": "revoked"}}).encode()
    attack(setup, lambda _m, ex: ex.with_answer(status=403, headers={"Content-Type": "application/json"},
                                                body=forged), UnsignedAnswer)


def test_stripped_signature(setup: Setup) -> None:
    def strip(_m: Mitm, ex: Exchange) -> Exchange:
        return ex.with_answer(headers={k: v for k, v in ex.headers.items() if k.lower() != SIGNATURE_HEADER.lower()})
    attack(setup, strip, UnsignedAnswer)


def test_answer_signed_by_an_unknown_key(setup: Setup, tmp_path: Path) -> None:
    # A real server with its own keys (an attacker's) signs a denial: it must not lock.
    rogue_dir = init_server_dir(tmp_path / "rogue")
    with run_reference_server(rogue_dir) as rogue:
        def rogue_answer(_m: Mitm, ex: Exchange) -> Exchange:
            status, headers, body = forward(rogue.url, "POST", ex.path, ex.request_headers, ex.request_body)
            assert status == 404  # the rogue server signs "license_not_found"
            return ex.with_answer(status=status, headers=headers, body=body)
        attack(setup, rogue_answer, UnknownSigningKey)


def test_answer_is_fresh_by_its_nonce_not_the_clock(setup: Setup) -> None:
    """A clock 6 minutes off no longer turns a good answer into "no answer": the nonce proves it fresh."""
    clock = Clock()
    clock.advance(minutes=6)
    status = service(setup.ctx, url=setup.proxy.url, clock=clock).verify()
    assert status.state == "active" and status.clock_wrong is True
    assert status.clock_offset_seconds is not None and 300 < status.clock_offset_seconds < 420


def test_old_answer_replayed_to_a_wrong_clock_is_refused(setup: Setup) -> None:
    """Without the date check a replay must still fail: an earlier signed answer does not carry this nonce."""
    saved: list[Exchange] = []

    def record(_m: Mitm, ex: Exchange) -> Exchange:
        saved.append(ex)
        return ex
    setup.proxy.tamper = record
    setup.via_proxy.verify()
    first = saved[0]

    def replay(_m: Mitm, ex: Exchange) -> Exchange:
        return ex.with_answer(status=first.status, headers=first.headers, body=first.body)
    clock = Clock()
    clock.advance(days=-3)  # a clock set to the day the answer was recorded does not make it fresh
    before = setup.snapshot()
    setup.proxy.tamper = replay
    with pytest.raises(ReplayedAnswer):
        service(setup.ctx, url=setup.proxy.url, clock=clock).verify()
    assert setup.snapshot()["lease"] == before["lease"]


def test_signed_denial_locks(setup: Setup) -> None:
    assert server_cli("license", "revoke", str(setup.server.data_dir), setup.lic.license_id).returncode == 0
    with pytest.raises(LicenseRevoked):
        setup.via_proxy.verify()  # the proxy passes the real signed answer through
    assert setup.via_proxy.status().state == "revoked"


def test_edited_stored_lease_is_not_trusted(setup: Setup) -> None:
    path = setup.ctx.paths.license_state_file
    record = json.loads(path.read_text())
    record["lease"]["payload"] = record["lease"]["payload"].replace('"seats_total":2', '"seats_total":200')
    path.write_text(json.dumps(record))
    status = setup.via_proxy.status()
    assert status.state == "locked" and status.seats_total is None
    assert status.message and "failed verification" in status.message
    assert setup.via_proxy.verify().seats_total == 2  # the server restores the real lease
