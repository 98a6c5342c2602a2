"""The clock guard is kept twice (license.json and the keyring beside the key); the stricter copy wins, so
clearing or restoring the file alone does not undo a detected set-back. A damaged license.json is kept
aside and recovered with the stored key, without asking for the key again."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from crystal_manager.cli.demo_server import free_port
from crystal_manager.licensing.errors import LicensingOffline
from crystal_manager.net.errors import TransportError
from crystal_manager.services.context import AppContext
from crystal_manager.services.license_service import LicenseService
from tests.support.licensing import Clock, issue, service
from tests.support.servers import ReferenceServer


def offline_for_12_days(ctx: AppContext, server: ReferenceServer, clock: Clock) -> LicenseService:
    """Activate, then 12 days later find the server unreachable: 2 days of the 14-day lease left."""
    lic = issue(server.data_dir)
    service(ctx, clock=clock).activate(lic.key)
    down = service(ctx, clock=clock, url=f"http://127.0.0.1:{free_port()}")
    clock.advance(days=12)
    with pytest.raises((LicensingOffline, TransportError)):
        down.verify()
    assert down.status().grace_days_left == pytest.approx(2, abs=0.01)
    return down


def edit(ctx: AppContext, **fields: object) -> None:
    path = ctx.paths.license_state_file
    data = json.loads(path.read_text())
    data.update(fields)
    path.write_text(json.dumps(data))


def test_clearing_the_file_copy_does_not_undo_a_set_back(lic_ctx: AppContext,
                                                        reference_server: ReferenceServer) -> None:
    clock = Clock()
    start = clock.value
    down = offline_for_12_days(lic_ctx, reference_server, clock)
    clock.value = start + timedelta(days=1)  # set back 11 days
    assert down.status().clock_set_back is True
    edit(lic_ctx, high_water=None, high_water_seen_at=None, clock_set_back_at=None)
    status = down.status()
    assert status.clock_set_back is True
    assert status.grace_days_left is not None and status.grace_days_left <= 2.01  # not 13 days again


def test_restoring_an_older_file_does_not_undo_a_set_back(lic_ctx: AppContext,
                                                         reference_server: ReferenceServer) -> None:
    clock = Clock()
    start = clock.value
    lic = issue(reference_server.data_dir)
    service(lic_ctx, clock=clock).activate(lic.key)
    young = lic_ctx.paths.license_state_file.read_bytes()  # a backup taken on the day of activation
    down = service(lic_ctx, clock=clock, url=f"http://127.0.0.1:{free_port()}")
    clock.advance(days=12)
    with pytest.raises((LicensingOffline, TransportError)):
        down.verify()
    clock.value = start + timedelta(days=1)
    assert down.status().clock_set_back is True
    lic_ctx.paths.license_state_file.write_bytes(young)
    status = down.status()
    assert status.clock_set_back is True and status.state != "locked"
    # Three more days on the set-back clock: trusted time is day 15, past the lease (day 14), though the
    # restored file alone would say day 4.
    clock.value = start + timedelta(days=4)
    assert down.status().state == "locked"


def test_a_keyring_copy_alone_restores_the_file_copy(lic_ctx: AppContext, reference_server: ReferenceServer) -> None:
    clock = Clock()
    down = offline_for_12_days(lic_ctx, reference_server, clock)
    edit(lic_ctx, high_water=None, high_water_seen_at=None)
    clock.advance(days=-11)
    down.status()
    data = json.loads(lic_ctx.paths.license_state_file.read_text())
    assert data["high_water"] is not None and data["clock_set_back_at"] is not None  # repaired from the keyring


@pytest.mark.parametrize("damage", ["{{{ not json", json.dumps({"lease": 5, "key_hint": ["x"]}), "[]"])
def test_damaged_license_file_is_kept_and_recovered_with_the_stored_key(
        damage: str, lic_ctx: AppContext, reference_server: ReferenceServer) -> None:
    lic = issue(reference_server.data_dir)
    svc = service(lic_ctx)
    machine_id = svc.activate(lic.key).machine_id
    path = lic_ctx.paths.license_state_file
    path.write_text(damage)
    status = svc.status()
    assert status.state != "active"
    assert status.message is not None and "damaged" in status.message and "stored key" in status.message
    copies = list(path.parent.glob("license.json.damaged-*"))
    assert [c.read_text() for c in copies] == [damage]
    if damage.startswith("{\""):
        assert "lease" in status.message  # says what was damaged
    assert svc.status().state == status.state and len(list(path.parent.glob("license.json.damaged-*"))) == 1
    recovered = svc.verify_if_due()  # what the app does at start and on its schedule: no key typed
    assert recovered.state == "active" and recovered.machine_id == machine_id
    assert recovered.message is None


def test_damaged_file_without_a_stored_key_asks_for_activation(lic_ctx: AppContext, tmp_path: Path) -> None:
    lic_ctx.paths.ensure()
    lic_ctx.paths.license_state_file.write_text("garbage")
    status = service(lic_ctx).verify_if_due()
    assert status.state == "not_activated" and status.message is not None and "damaged" in status.message


def test_damaged_license_file_through_the_cli(tmp_path: Path, reference_server: ReferenceServer) -> None:
    from crystal_manager.cli.exit_codes import EXIT_OK
    from tests.licensing.computers import Computer

    lic = issue(reference_server.data_dir)
    pc = Computer(tmp_path / "pc", "7" * 32, reference_server)
    assert pc.run("activate", lic.key).returncode == EXIT_OK
    pc.license_file.write_text('{"lease": {"payload": 1}')
    shown = pc.run("status")
    assert shown.returncode == EXIT_OK and "damaged" in shown.stdout and "license.json.damaged-" in shown.stdout
    again = pc.run("verify")  # no key typed: the stored one is used
    assert again.returncode == EXIT_OK, again.stderr
    assert pc.status()["state"] == "active"


def test_the_guard_keeps_its_new_fields_and_refuses_odd_ones() -> None:
    from crystal_manager.licensing.guard import Guard

    kept = Guard(high_water="2026-01-01T00:00:00Z", seen_at="2026-01-01T00:00:00Z", pending="n" * 22,
                 back_seconds=120.0, boot_id="b" * 36, boot_at=55.5)
    assert Guard.from_text(kept.to_text()) == kept
    odd = json.dumps({"v": 1, "pending": "x" * 500, "back_seconds": -5, "boot_at": "soon", "boot_id": 7})
    assert Guard.from_text(odd) == Guard()


def test_with_a_boot_clock_the_lease_still_ends_when_both_clocks_agree(
        lic_ctx: AppContext, reference_server: ReferenceServer) -> None:
    """The boot source changes nothing for an honest clock: 15 days on both, offline, is locked."""
    from tests.support.licensing import BootClock

    clock, boot = Clock(), BootClock()
    lic = issue(reference_server.data_dir)
    service(lic_ctx, clock=clock, boot=boot).activate(lic.key)
    clock.advance(days=15)
    boot.advance(days=15)
    assert service(lic_ctx, clock=clock, boot=boot).status().state == "locked"


def test_a_wall_clock_jumping_forward_within_one_boot_ages_nothing(
        lic_ctx: AppContext, reference_server: ReferenceServer) -> None:
    """The wall clock jumps 20 days ahead while one hour passes since boot: the lease has 14 days less an
    hour left, not none, and the jump is no set-back; a drift under ten minutes is left alone."""
    from tests.support.licensing import BootClock

    clock, boot = Clock(), BootClock()
    lic = issue(reference_server.data_dir)
    first = service(lic_ctx, clock=clock, boot=boot).activate(lic.key)
    assert first.lease_expires_at is not None
    clock.advance(days=20)
    boot.advance(hours=1)
    after = service(lic_ctx, clock=clock, boot=boot).status()
    assert after.state == "active" and not after.clock_set_back
    clock.advance(minutes=5)  # NTP-sized drift against boot time: not re-expressed, counted as it is
    assert service(lic_ctx, clock=clock, boot=boot).status().state == "active"



def test_the_same_boot_gone_back_in_time_does_not_turn_trusted_time_back(
        lic_ctx: AppContext, reference_server: ReferenceServer) -> None:
    """A virtual machine restored from a snapshot (the same boot id, less time since boot than last seen)
    with its wall clock put right: the reading starts again, trusted time does not go back."""
    from tests.support.licensing import BootClock

    clock, boot = Clock(), BootClock(uptime=5000.0)
    lic = issue(reference_server.data_dir)
    service(lic_ctx, clock=clock, boot=boot).activate(lic.key)
    clock.advance(days=2)
    boot.advance(days=2)
    assert service(lic_ctx, clock=clock, boot=boot).status().clock_set_back is False
    clock.advance(hours=1)
    restored = service(lic_ctx, clock=clock, boot=BootClock(uptime=5000.0))  # the snapshot's boot time
    assert restored.engine.evaluate(open_keyring=True).trusted_now >= clock.value - timedelta(minutes=1)
    assert restored.status().clock_set_back is False
