"""The licensing flows through the service layer the GUI uses, against the real reference server."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from crystal_manager.cli.demo_server import free_port
from crystal_manager.licensing.errors import (
    KeyFormatError,
    LicenseRevoked,
    MachineNotFound,
    NotActivated,
    SeatLimitReached,
    SubscriptionExpired,
)
from crystal_manager.net.errors import ConnectFailed
from crystal_manager.services.context import AppContext
from crystal_manager.services.license_service import LicenseService
from crystal_manager.services.usertext import Outcome, explain
from tests.support.keyring_memory import MemoryKeyring
from tests.support.licensing import Clock, context_at, issue, machine, server_cli, service
from tests.support.servers import ReferenceServer


def kinds(ctx: AppContext) -> list[str]:
    return [e["kind"] for e in ctx.ledger.entries()]


def test_activate_then_status(lic_ctx: AppContext, reference_server: ReferenceServer,
                              memory_keyring: MemoryKeyring) -> None:
    lic = issue(reference_server.data_dir, plan="pro", seats=3, expires="2099-01-01", max_version="2.9")
    svc = service(lic_ctx)
    status = svc.activate(lic.key.lower().replace("-", " "))
    assert status.state == "active"
    assert (status.plan, status.seats_used, status.seats_total) == ("pro", 1, 3)
    assert status.expires_at == "2099-01-01T00:00:00Z" and status.renews_at == "2099-01-01T00:00:00Z"
    assert status.key_hint == lic.key[-4:] and status.max_version == "2.9"
    assert status.last_verified_at and status.next_check_at and status.lease_expires_at
    assert status.secrets_fallback is False
    # The key lives in the keyring only; the state file has the hint and the signed lease.
    assert lic.key in memory_keyring.store.values()
    state_text = lic_ctx.paths.license_state_file.read_text()
    assert lic.key not in state_text and lic.key[-4:] in state_text
    assert svc.status() == status
    entry = lic_ctx.ledger.entries()[-1]
    assert entry["kind"] == "license_activate" and entry["fields"]["key"] == "…" + lic.key[-4:]


def test_typo_is_caught_before_anything_is_sent(lic_ctx: AppContext, reference_server: ReferenceServer) -> None:
    lic = issue(reference_server.data_dir)
    typo = lic.key[:-1] + ("A" if lic.key[-1] != "A" else "B")
    with pytest.raises(KeyFormatError) as caught:
        service(lic_ctx).activate(typo)
    assert explain(caught.value)[1] is Outcome.BAD_INPUT
    assert "typo" in explain(caught.value)[0]
    assert kinds(lic_ctx) == []


def test_preview_shows_catalog_fields_with_the_key_masked(lic_ctx: AppContext,
                                                           reference_server: ReferenceServer) -> None:
    lic = issue(reference_server.data_dir)
    preview = service(lic_ctx).preview_activation(lic.key)
    shown = {f.name: f.shown_value for f in preview}
    assert shown["key"] == "…" + lic.key[-4:]
    assert shown["fingerprint"].startswith("v1:")
    assert {"environment", "os", "X-Crystal-Nonce"} <= set(shown)
    assert "components" not in shown  # no host name or CPU hashes any more
    assert all(f.purpose and f.policy for f in preview)
    assert kinds(lic_ctx) == []


def test_reactivation_of_a_known_machine_never_hits_the_seat_limit(
        lic_ctx: AppContext, reference_server: ReferenceServer) -> None:
    lic = issue(reference_server.data_dir, seats=1)
    first = service(lic_ctx, name="alpha").activate(lic.key)
    again = service(lic_ctx, name="alpha").activate(lic.key)  # e.g. after a reinstall of the app
    assert again.state == "active" and again.machine_id == first.machine_id and again.seats_used == 1


def test_changed_machine_id_is_another_machine(lic_ctx: AppContext, reference_server: ReferenceServer) -> None:
    """Same fingerprint method, new machine ID (or the files copied to a clone): a new machine, never the old
    seat; the way out is the usual one (free the old machine's seat)."""
    lic = issue(reference_server.data_dir, seats=1)
    first = service(lic_ctx, name="alpha").activate(lic.key)
    changed = service(lic_ctx, facts=machine("zulu", machine_id="completely-new-id"))
    with pytest.raises(MachineNotFound):
        changed.verify()
    sent = [e["fields"] for e in lic_ctx.ledger.entries() if e["kind"] == "license_validate"]
    assert "previous_fingerprint" not in sent[0] and "label" not in sent[0]
    with pytest.raises(SeatLimitReached):
        changed.activate(lic.key)
    changed.deactivate_with_key(lic.key, str(first.machine_id))
    status = changed.activate(lic.key)
    assert status.state == "active" and status.machine_id != first.machine_id and status.seats_used == 1


def test_seat_limit_is_solvable_from_the_new_machine(lic_ctx: AppContext, reference_server: ReferenceServer,
                                                     tmp_path: Path, memory_keyring: MemoryKeyring) -> None:
    lic = issue(reference_server.data_dir, seats=1)
    old = service(lic_ctx, name="old-laptop").activate(lic.key)
    new_ctx = context_at(tmp_path / "new-desktop", reference_server.profile_file, reference_server.url)
    new = service(new_ctx, name="new-desktop")
    with pytest.raises(SeatLimitReached) as caught:
        new.activate(lic.key)
    text, outcome = explain(caught.value)
    assert outcome is Outcome.DENIED and "the only seat of this license is in use" in text
    assert "Deactivate a machine you no longer use" in text
    listing = new.machines_for_key(lic.key)
    assert (listing.seats_used, listing.seats_total) == (1, 1)
    assert [m.machine_id for m in listing.machines] == [old.machine_id]
    assert not listing.machines[0].is_this_machine
    after = new.deactivate_with_key(lic.key, str(old.machine_id))
    assert after.seats_used == 0
    assert new.activate(lic.key).state == "active"
    new_ctx.close()


def test_verify_and_verify_if_due(lic_ctx: AppContext, reference_server: ReferenceServer) -> None:
    lic = issue(reference_server.data_dir)
    clock = Clock()
    svc = service(lic_ctx, clock=clock)
    svc.activate(lic.key)
    assert svc.verify().state == "active"
    count = len(kinds(lic_ctx))
    assert svc.verify_if_due().state == "active"
    assert len(kinds(lic_ctx)) == count  # not due: nothing sent
    record = json.loads(lic_ctx.paths.license_state_file.read_text())
    record["next_check_at"] = "2000-01-01T00:00:00Z"  # overdue (as after the app was closed for days)
    lic_ctx.paths.license_state_file.write_text(json.dumps(record))
    assert svc.verify_if_due().state == "active"
    last = lic_ctx.ledger.entries()[-1]
    assert last["kind"] == "license_validate" and last["trigger"] == "scheduled"


def test_next_check_is_about_a_day_with_jitter(lic_ctx: AppContext, reference_server: ReferenceServer) -> None:
    from crystal_protocol.signing import parse_time

    lic = issue(reference_server.data_dir)
    status = service(lic_ctx).activate(lic.key)
    assert status.next_check_at and status.last_verified_at
    gap = parse_time(status.next_check_at) - parse_time(status.last_verified_at)
    assert 0.9 * 86400 <= gap.total_seconds() <= 1.1 * 86400


def test_deactivate_frees_the_seat_and_forgets_secrets(lic_ctx: AppContext, reference_server: ReferenceServer,
                                                       memory_keyring: MemoryKeyring) -> None:
    lic = issue(reference_server.data_dir, seats=1)
    svc = service(lic_ctx)
    svc.activate(lic.key)
    status = svc.deactivate()
    assert status.state == "not_activated" and status.key_hint is None
    # No secret is left; only the guard (the deactivated lease may never come back) stays in the keyring.
    assert [name for _service, name in memory_keyring.store] == ["license_guard"]
    assert "lease" not in lic_ctx.paths.license_state_file.read_text() or \
        json.loads(lic_ctx.paths.license_state_file.read_text())["lease"] is None
    assert service(lic_ctx, name="other").machines_for_key(lic.key).seats_used == 0
    with pytest.raises(NotActivated):
        svc.verify()


def test_trial_license(lic_ctx: AppContext, reference_server: ReferenceServer) -> None:
    lic = issue(reference_server.data_dir, trial_days=10, expires="never")
    status = service(lic_ctx).activate(lic.key)
    assert status.state == "trial" and status.trial_days_left == 10
    assert status.renews_at is None


def test_signed_revocation_locks_and_reinstatement_unlocks(lic_ctx: AppContext,
                                                           reference_server: ReferenceServer) -> None:
    lic = issue(reference_server.data_dir)
    svc = service(lic_ctx)
    svc.activate(lic.key)
    assert server_cli("license", "revoke", str(reference_server.data_dir), lic.license_id).returncode == 0
    with pytest.raises(LicenseRevoked) as caught:
        svc.verify()
    assert explain(caught.value)[1] is Outcome.DENIED
    assert svc.status().state == "revoked"
    assert server_cli("license", "update", str(reference_server.data_dir), lic.license_id,
                      "--status", "active").returncode == 0
    assert svc.verify().state == "active"


def test_expired_subscription_and_past_due(lic_ctx: AppContext, reference_server: ReferenceServer) -> None:
    lic = issue(reference_server.data_dir)
    svc = service(lic_ctx)
    svc.activate(lic.key)
    server_cli("license", "update", str(reference_server.data_dir), lic.license_id, "--status", "past_due")
    status = svc.verify()
    assert status.state == "active" and status.message and "past due" in status.message
    server_cli("license", "update", str(reference_server.data_dir), lic.license_id, "--expires", "2020-01-01")
    with pytest.raises(SubscriptionExpired) as caught:
        svc.verify()
    text, outcome = explain(caught.value)
    assert outcome is Outcome.DENIED and "2020-01-01" in text and "account" in text
    status = svc.status()
    assert status.state == "expired"
    assert status.expires_at is not None and status.expires_at.startswith("2020-01-01")  # the signed end date
    assert status.renews_at is None  # the old lease's "renews" date is no longer true
    server_cli("license", "update", str(reference_server.data_dir), lic.license_id, "--expires", "2099-01-01")
    renewed = svc.verify()
    assert renewed.state == "active" and renewed.expires_at is not None and renewed.expires_at.startswith("2099")


def test_deactivated_elsewhere_becomes_not_activated(lic_ctx: AppContext, reference_server: ReferenceServer,
                                                     memory_keyring: MemoryKeyring) -> None:
    lic = issue(reference_server.data_dir, seats=2)
    here = service(lic_ctx, name="alpha")
    mine = here.activate(lic.key)
    other = service(lic_ctx, name="beta")  # same keyring: stands in for the user's other machine
    assert other.machines_for_key(lic.key).seats_used == 1
    other.deactivate_with_key(lic.key, str(mine.machine_id))
    with pytest.raises(Exception) as caught:
        here.verify()
    assert explain(caught.value)[1] is Outcome.DENIED
    status = here.status()
    assert status.state == "not_activated" and status.message and "deactivated" in status.message


def test_offline_grace_then_locked_then_back(lic_ctx: AppContext, reference_server: ReferenceServer) -> None:
    lic = issue(reference_server.data_dir)
    clock = Clock()
    online = service(lic_ctx, clock=clock)
    online.activate(lic.key)
    lease_before = json.loads(lic_ctx.paths.license_state_file.read_text())["lease"]
    down = service(lic_ctx, clock=clock, url=f"http://127.0.0.1:{free_port()}")
    with pytest.raises(ConnectFailed) as caught:
        down.verify()
    assert explain(caught.value)[1] is Outcome.OFFLINE
    status = down.status()
    assert status.state == "offline_grace"
    assert status.grace_days_left is not None and 13.9 < status.grace_days_left <= 14
    assert status.message and "cannot be reached" in status.message
    assert json.loads(lic_ctx.paths.license_state_file.read_text())["lease"] == lease_before  # nothing lost
    clock.advance(days=10)
    assert down.status().grace_days_left == pytest.approx(4, abs=0.01)
    clock.advance(days=5)
    assert down.status().state == "locked"
    clock.value = clock.value.replace(year=clock.value.year)  # still 15 days ahead
    back = service(lic_ctx, clock=Clock())  # the clock is right again and the server answers
    assert back.verify().state == "active"


def test_clock_set_back_is_detected_and_does_not_extend_grace(lic_ctx: AppContext,
                                                              reference_server: ReferenceServer) -> None:
    clock = Clock()
    start = clock.value
    down = _offline_for_12_days(lic_ctx, reference_server, clock)
    clock.advance(minutes=-59)  # a daylight-saving-sized step back is not tampering
    assert down.status().clock_set_back is False
    clock.value = start + timedelta(days=1)  # set back 11 days
    status = down.status()
    assert status.clock_set_back is True
    assert status.grace_days_left is not None and status.grace_days_left <= 2.01
    clock.value = start + timedelta(days=15)
    assert down.status().state == "locked"
    clock.value = start + timedelta(days=2)
    assert down.status().state == "locked"  # going back does not unlock


def test_clock_kept_set_back_does_not_freeze_the_grace_countdown(lic_ctx: AppContext,
                                                                 reference_server: ReferenceServer) -> None:
    """Set back a month and leave it there: time still passes on the clock, so grace still runs out."""
    clock = Clock()
    down = _offline_for_12_days(lic_ctx, reference_server, clock)
    clock.advance(days=-30)
    status = down.status()
    assert status.clock_set_back is True and status.grace_days_left == pytest.approx(2, abs=0.01)
    clock.advance(days=1)  # a day passes while the clock stays a month behind
    assert down.status().grace_days_left == pytest.approx(1, abs=0.01)
    clock.advance(days=1, hours=1)
    assert down.status().state == "locked"


def _offline_for_12_days(ctx: AppContext, server: ReferenceServer, clock: Clock) -> LicenseService:
    """Activate, then 12 days later find the server unreachable: 2 days of the 14-day lease left."""
    lic = issue(server.data_dir)
    service(ctx, clock=clock).activate(lic.key)
    down = service(ctx, clock=clock, url=f"http://127.0.0.1:{free_port()}")
    clock.advance(days=12)
    with pytest.raises(ConnectFailed):
        down.verify()
    assert down.status().grace_days_left == pytest.approx(2, abs=0.01)
    return down


def test_paused_background_checks_send_nothing(lic_ctx: AppContext, reference_server: ReferenceServer) -> None:
    lic = issue(reference_server.data_dir)
    svc = service(lic_ctx)
    svc.activate(lic.key)
    record = json.loads(lic_ctx.paths.license_state_file.read_text())
    record["next_check_at"] = "2000-01-01T00:00:00Z"  # overdue
    lic_ctx.paths.license_state_file.write_text(json.dumps(record))
    lic_ctx.settings.background_checks_paused = True
    count = len(kinds(lic_ctx))
    assert svc.verify_if_due().state == "active"
    assert len(kinds(lic_ctx)) == count  # paused: nothing sent
    lic_ctx.settings.background_checks_paused = False
    svc.verify_if_due()
    assert kinds(lic_ctx)[-1] == "license_validate"
