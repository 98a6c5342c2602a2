"""Attacks on the hardened licensing client (issue 9), tried as a user with full control of their disk and
clock: replayed offline answers, restored files, a clock frozen for the app alone, the file fallback.

Real parts only: the reference server as a child process, the real CLI in child processes (``Computer``:
its own machine ID, the 0600 file fallback for secrets, libfaketime), the in-memory keyring backend for
in-process services. A defence that holds is a passing test; a hole is ``xfail(strict=True)`` naming it.
"""

from __future__ import annotations

import contextlib
import json
import shutil
from datetime import timedelta
from pathlib import Path

import pytest

from crystal_manager.cli.demo_server import free_port
from crystal_manager.cli.exit_codes import EXIT_DENIED, EXIT_OK
from crystal_manager.licensing.errors import LicenseRevoked, LicensingOffline, OfflineFileError
from crystal_manager.net.errors import TransportError
from crystal_manager.services.context import AppContext
from crystal_manager.storage.secrets import keyring_service
from crystal_protocol.signing import parse_time
from tests.licensing.computers import Computer, need_faketime
from tests.support.keyring_memory import MemoryKeyring
from tests.support.licensing import BootClock, Clock, issue, server_cli, service
from tests.support.servers import ReferenceServer

NOT_ACTIVE = ("revoked", "expired", "not_activated", "locked")


def _entry(ctx: AppContext, name: str) -> tuple[str, str]:
    """The keyring entry ``name`` of this context's home (each CRYSTAL_MANAGER_HOME has its own service)."""
    return (keyring_service(ctx.paths.home_root), name)


def _answer(server: ReferenceServer, request: Path, response: Path) -> None:
    proc = server_cli("license", "answer", str(server.data_dir), str(request), str(response))
    assert proc.returncode == 0, proc.stderr


def _offline_activation_kept(ctx: AppContext, server: ReferenceServer, tmp_path: Path,
                             key: str) -> tuple[bytes, Path]:
    """Activate offline and keep what a user would keep: license.json as it was while the request was pending,
    and the signed response file."""
    svc = service(ctx)
    request, response = tmp_path / "request.json", tmp_path / "response.json"
    svc.write_offline_request(key, request)
    pending = ctx.paths.license_state_file.read_bytes()
    _answer(server, request, response)
    assert svc.install_offline_response(response).state == "active"
    return pending, response


def _reinstall(ctx: AppContext, pending: bytes, response: Path) -> str:
    """Restore the pending license.json and install the kept response again; the state it leaves."""
    ctx.paths.license_state_file.write_bytes(pending)
    svc = service(ctx)
    with contextlib.suppress(OfflineFileError):
        svc.install_offline_response(response)
    return svc.status().state


def test_replayed_offline_response_does_not_lift_a_signed_revocation(
        lic_ctx: AppContext, reference_server: ReferenceServer, tmp_path: Path) -> None:
    """Fixed: a lease that a remembered signed denial voids is refused (offline.install_response:
    guard.void), and supersede drops only denials signed before the lease was issued."""
    lic = issue(reference_server.data_dir)
    pending, response = _offline_activation_kept(lic_ctx, reference_server, tmp_path, lic.key)
    svc = service(lic_ctx)
    assert server_cli("license", "revoke", str(reference_server.data_dir), lic.license_id).returncode == 0
    with pytest.raises(LicenseRevoked):
        svc.verify()
    assert svc.status().state == "revoked"
    # Keyring untouched: only license.json restored and a kept file installed again.
    assert _reinstall(lic_ctx, pending, response) in NOT_ACTIVE


def test_replayed_offline_response_does_not_undo_an_online_deactivation(
        lic_ctx: AppContext, reference_server: ReferenceServer, memory_keyring: MemoryKeyring,
        tmp_path: Path) -> None:
    """Fixed: the remembered deactivation voids the old response's lease (issued before it); the
    response is refused and the freed seat stays free."""
    lic = issue(reference_server.data_dir, seats=1)
    pending, response = _offline_activation_kept(lic_ctx, reference_server, tmp_path, lic.key)
    assert service(lic_ctx).deactivate().state == "not_activated"
    assert not any(m["machine_id"] for m in json.loads(
        server_cli("license", "show", str(reference_server.data_dir), lic.license_id, "--json").stdout)["machines"])
    memory_keyring.store[_entry(lic_ctx, "license_key")] = lic.key  # the user's own key, typed back in
    assert _reinstall(lic_ctx, pending, response) in NOT_ACTIVE


def test_a_hand_written_pending_request_does_not_reinstall_an_old_response(
        lic_ctx: AppContext, reference_server: ReferenceServer, tmp_path: Path) -> None:
    """Fixed: the pending nonce is kept in the keyring copy as well (a hand-written pending record does
    not match it), and the revocation voids the old lease anyway."""
    lic = issue(reference_server.data_dir)
    _pending, response = _offline_activation_kept(lic_ctx, reference_server, tmp_path, lic.key)
    svc = service(lic_ctx)
    server_cli("license", "revoke", str(reference_server.data_dir), lic.license_id)
    with pytest.raises(LicenseRevoked):
        svc.verify()
    payload = json.loads(json.loads(response.read_text())["payload"])
    path = lic_ctx.paths.license_state_file
    data = json.loads(path.read_text())
    data["pending_offline"] = {"nonce": payload["request_nonce"], "fingerprint": payload["fingerprint"],
                               "key_hint": lic.key[-4:]}
    assert _reinstall(lic_ctx, json.dumps(data).encode(), response) in NOT_ACTIVE


def test_replayed_offline_response_of_another_request_is_refused_after_revocation(
        lic_ctx: AppContext, reference_server: ReferenceServer, tmp_path: Path) -> None:
    """Holds: without the pending record of its own request, a kept response is refused (nonce)."""
    lic = issue(reference_server.data_dir)
    _pending, response = _offline_activation_kept(lic_ctx, reference_server, tmp_path, lic.key)
    svc = service(lic_ctx)
    server_cli("license", "revoke", str(reference_server.data_dir), lic.license_id)
    with pytest.raises(LicenseRevoked):
        svc.verify()
    svc.write_offline_request(lic.key, tmp_path / "new-request.json")
    with pytest.raises(OfflineFileError, match="different request"):
        svc.install_offline_response(response)
    assert svc.status().state in NOT_ACTIVE


def test_restoring_the_guard_entry_from_before_the_denial_is_caught_online(
        lic_ctx: AppContext, reference_server: ReferenceServer, memory_keyring: MemoryKeyring) -> None:
    """Holds (documented limit): restoring both copies from before a revocation runs offline only; the first
    check denies again and both copies remember it."""
    lic = issue(reference_server.data_dir)
    svc = service(lic_ctx)
    svc.activate(lic.key)
    file_before = lic_ctx.paths.license_state_file.read_bytes()
    guard_before = memory_keyring.store.get(_entry(lic_ctx, "license_guard"))
    server_cli("license", "revoke", str(reference_server.data_dir), lic.license_id)
    with pytest.raises(LicenseRevoked):
        svc.verify()
    lic_ctx.paths.license_state_file.write_bytes(file_before)
    if guard_before is None:
        memory_keyring.store.pop(_entry(lic_ctx, "license_guard"), None)
    else:
        memory_keyring.store[_entry(lic_ctx, "license_guard")] = guard_before
    assert svc.status().state == "active"  # the documented limit: offline, until the next check
    with pytest.raises(LicenseRevoked):
        svc.verify()
    assert svc.status().state == "revoked"
    assert "revoked" in memory_keyring.store[_entry(lic_ctx, "license_guard")]


@pytest.mark.parametrize("garbage", ["{{{", "[]", json.dumps({"v": 1, "denials": "x" * 100000})])
def test_garbage_in_the_guard_entry_does_not_unlock_an_edited_file(
        garbage: str, lic_ctx: AppContext, reference_server: ReferenceServer, memory_keyring: MemoryKeyring) -> None:
    """Holds: a damaged guard entry counts as none, but the lease was deleted from the file, so editing the
    denial away leaves nothing to run on."""
    lic = issue(reference_server.data_dir)
    svc = service(lic_ctx)
    svc.activate(lic.key)
    server_cli("license", "revoke", str(reference_server.data_dir), lic.license_id)
    with pytest.raises(LicenseRevoked):
        svc.verify()
    memory_keyring.store[_entry(lic_ctx, "license_guard")] = garbage
    path = lic_ctx.paths.license_state_file
    data = json.loads(path.read_text())
    data["denial"] = None
    path.write_text(json.dumps(data))
    assert svc.status().state in NOT_ACTIVE
    assert svc.verify_if_due().state in NOT_ACTIVE


def test_a_clock_frozen_for_the_app_alone_does_not_stretch_the_lease(
        lic_ctx: AppContext, reference_server: ReferenceServer) -> None:
    """Fixed: within one boot the time since boot (read from /proc, which libfaketime does not fake) is
    the time elapsed; the model: the injected wall clock frozen, the injected boot clock running on."""
    clock, boot = Clock(), BootClock()
    frozen = clock.value
    lic = issue(reference_server.data_dir)
    service(lic_ctx, clock=clock, boot=boot).activate(lic.key)
    # 30 days of use, one start a day, the app always seeing the same instant (what `faketime '<date>'`
    # gives one program while the rest of the computer keeps the right time). Each start is a new service.
    for _day in range(30):
        clock.value = frozen
        boot.advance(days=1)
        down = service(lic_ctx, clock=clock, boot=boot, url=f"http://127.0.0.1:{free_port()}")
        with pytest.raises((LicensingOffline, TransportError)):
            down.verify()
        down.status()  # what a start shows
    status = down.status()
    assert status.state == "locked" and status.clock_set_back


def test_a_clock_frozen_across_reboots_is_set_back(lic_ctx: AppContext, reference_server: ReferenceServer) -> None:
    """Fixed: across boots only the wall clock is left; one that is not past the last reading counts as
    set back (the clock set to the same instant before every start)."""
    clock, boot = Clock(), BootClock(boot_id="boot-one")
    frozen = clock.value
    lic = issue(reference_server.data_dir)
    service(lic_ctx, clock=clock, boot=boot).activate(lic.key)
    assert service(lic_ctx, clock=clock, boot=boot).status().clock_set_back is False
    rebooted = BootClock(boot_id="boot-two", uptime=60.0)
    clock.value = frozen
    assert service(lic_ctx, clock=clock, boot=rebooted).status().clock_set_back


def test_file_fallback_guard_survives_a_restored_license_file(tmp_path: Path,
                                                              reference_server: ReferenceServer) -> None:
    """Holds: no keyring (the 0600 secrets file), real CLI child: a restored license.json after a signed
    revocation is still revoked, and the damaged-looking edits are not active either."""
    lic = issue(reference_server.data_dir)
    pc = Computer(tmp_path / "pc", "a" * 32, reference_server)
    assert pc.run("activate", lic.key).returncode == EXIT_OK
    before = pc.license_file.read_bytes()
    server_cli("license", "revoke", str(reference_server.data_dir), lic.license_id)
    assert pc.run("verify").returncode == EXIT_DENIED
    guard = json.loads((pc.home / "state" / "secrets.json").read_text())["license_guard"]
    assert "revoked" in guard
    pc.license_file.write_bytes(before)
    assert pc.status()["state"] == "revoked"
    pc.license_file.unlink()
    assert pc.status()["state"] in NOT_ACTIVE
    pc.license_file.write_bytes(before)
    assert pc.status()["state"] == "revoked"


def test_restoring_the_whole_app_folder_is_caught_at_the_next_check(tmp_path: Path,
                                                                     reference_server: ReferenceServer) -> None:
    """Holds (documented limit of the file fallback): a whole-folder restore runs until the next check,
    which denies again; nothing can make the online answer anything but 'revoked'."""
    lic = issue(reference_server.data_dir)
    pc = Computer(tmp_path / "pc", "b" * 32, reference_server)
    assert pc.run("activate", lic.key).returncode == EXIT_OK
    backup = tmp_path / "backup"
    shutil.copytree(pc.home, backup)
    server_cli("license", "revoke", str(reference_server.data_dir), lic.license_id)
    assert pc.run("verify").returncode == EXIT_DENIED
    shutil.rmtree(pc.home)
    shutil.copytree(backup, pc.home)
    assert pc.run("verify").returncode == EXIT_DENIED
    assert pc.status()["state"] == "revoked"


@pytest.mark.xdist_group("faked-clock")  # the worker with the clock zygote (tests/support/cli_run.py)
def test_clock_games_during_an_online_check_grant_nothing(tmp_path: Path,
                                                          reference_server: ReferenceServer) -> None:
    """Holds: re-validating under a clock ten years ahead, then putting it right, neither extends the lease
    (the server's time dates it) nor gets a revoked license back."""
    need_faketime()
    spec = "+3650d"
    lic = issue(reference_server.data_dir, seats=1)
    pc = Computer(tmp_path / "pc", "c" * 32, reference_server)
    assert pc.run("activate", lic.key).returncode == EXIT_OK
    honest = pc.status()
    pc.clock = spec
    assert pc.run("verify").returncode == EXIT_OK
    pc.clock = None
    shown = pc.status()
    assert shown["state"] == "active"
    assert shown["lease_expires_at"] is not None and honest["lease_expires_at"] is not None
    moved = parse_time(shown["lease_expires_at"]) - parse_time(honest["lease_expires_at"])
    assert timedelta(0) <= moved < timedelta(minutes=5)  # only the seconds between the two checks
    server_cli("license", "revoke", str(reference_server.data_dir), lic.license_id)
    pc.clock = spec
    assert pc.run("verify").returncode == EXIT_DENIED
    pc.clock = None
    assert pc.status()["state"] == "revoked"


@pytest.mark.xdist_group("faked-clock")  # the worker with the clock zygote (tests/support/cli_run.py)
def test_a_clock_corrected_forward_after_a_check_does_not_lock(tmp_path: Path,
                                                              reference_server: ReferenceServer) -> None:
    """Fixed (Linux): within one boot the time since boot, not the corrected wall clock, is what elapsed."""
    need_faketime()
    lic = issue(reference_server.data_dir, seats=1)
    pc = Computer(tmp_path / "pc", "d" * 32, reference_server, clock="-3650d")
    assert pc.run("activate", lic.key).returncode == EXIT_OK
    pc.clock = None  # the clock put right; status reads local state only
    assert pc.status()["state"] == "active"


def test_a_saw_tooth_clock_does_not_stretch_the_lease(lic_ctx: AppContext, reference_server: ReferenceServer) -> None:
    """Fixed: the keyring copy sums the clock's backward steps since the last server answer; past one hour
    in total the clock counts as set back (guard.copy_clock), however small each step."""
    clock = Clock()
    start = clock.value
    lic = issue(reference_server.data_dir)
    service(lic_ctx, clock=clock).activate(lic.key)
    down = service(lic_ctx, clock=clock, url=f"http://127.0.0.1:{free_port()}")
    hours = 0
    while hours < 16 * 24:  # 16 real days: past the 14-day lease
        hours += 3
        # The wall clock the app sees: real time minus 59 minutes for every hour passed.
        clock.value = start + timedelta(hours=hours) - timedelta(minutes=59 * hours)
        clock.value += timedelta(minutes=(hours * 7) % 59)  # wherever the saw tooth is at this sample
        down.verify_if_due()  # what the running app does on its schedule (the server is unreachable)
    status = down.status()
    assert status.state == "locked" or status.clock_set_back


def test_a_damaged_secrets_file_after_a_revocation_gives_nothing(tmp_path: Path,
                                                                  reference_server: ReferenceServer) -> None:
    """Holds: garbling the 0600 secrets file (where the guard lives without a keyring) and restoring
    license.json loses the key with it: not activated, and the next activation asks the server."""
    lic = issue(reference_server.data_dir)
    pc = Computer(tmp_path / "pc", "f" * 32, reference_server)
    assert pc.run("activate", lic.key).returncode == EXIT_OK
    before = pc.license_file.read_bytes()
    server_cli("license", "revoke", str(reference_server.data_dir), lic.license_id)
    assert pc.run("verify").returncode == EXIT_DENIED
    (pc.home / "state" / "secrets.json").write_text("x")
    pc.license_file.write_bytes(before)
    assert pc.status()["state"] in NOT_ACTIVE
    assert pc.run("verify").returncode != EXIT_OK
    assert pc.status()["state"] in NOT_ACTIVE


def test_removing_only_the_guard_entry_from_the_secrets_file_is_caught_online(
        tmp_path: Path, reference_server: ReferenceServer) -> None:
    """Holds (the documented limit, without a keyring): the old lease is back offline, the next check denies
    it and the entry is written again."""
    lic = issue(reference_server.data_dir)
    pc = Computer(tmp_path / "pc", "9" * 32, reference_server)
    assert pc.run("activate", lic.key).returncode == EXIT_OK
    before = pc.license_file.read_bytes()
    server_cli("license", "revoke", str(reference_server.data_dir), lic.license_id)
    assert pc.run("verify").returncode == EXIT_DENIED
    secrets_file = pc.home / "state" / "secrets.json"
    kept = json.loads(secrets_file.read_text())
    kept.pop("license_guard")
    secrets_file.write_text(json.dumps(kept))
    pc.license_file.write_bytes(before)
    assert pc.status()["state"] == "active"
    assert pc.run("verify").returncode == EXIT_DENIED
    assert pc.status()["state"] == "revoked"
    assert "revoked" in json.loads(secrets_file.read_text())["license_guard"]


@pytest.mark.parametrize("kind", ["symlink to a victim file", "symlink to /dev/null", "huge but valid"])
def test_odd_license_files_are_recovered_without_writing_through_them(
        kind: str, lic_ctx: AppContext, reference_server: ReferenceServer, tmp_path: Path) -> None:
    """Holds: a license.json that is a symlink (to another file, to /dev/null) or 64 MiB of padding is read
    as damaged or as what it says, never written through, and the stored key recovers the license."""
    lic = issue(reference_server.data_dir)
    svc = service(lic_ctx)
    machine_id = svc.activate(lic.key).machine_id
    path = lic_ctx.paths.license_state_file
    good = path.read_bytes()
    victim = tmp_path / "victim.txt"
    victim.write_text("not yours to write")
    path.unlink()
    if kind == "symlink to a victim file":
        path.symlink_to(victim)
    elif kind == "symlink to /dev/null":
        path.symlink_to("/dev/null")
    else:
        path.write_bytes(b" " * (64 << 20) + good)
    assert svc.status().state in ("locked", "active")
    recovered = svc.verify_if_due()
    assert recovered.state == "active" and recovered.machine_id == machine_id
    assert victim.read_text() == "not yours to write"
    assert not path.is_symlink()


def _revoked_then_restored(ctx: AppContext, server: ReferenceServer, keyring: MemoryKeyring, clock: Clock,
                           *, drop_key: bool) -> None:
    """Activate, keep license.json, get revoked, then restore the file and delete the guard entry (and the
    key, if ``drop_key``) from the keyring; 13 days pass (past the next check, inside the 14-day lease)."""
    lic = issue(server.data_dir)
    svc = service(ctx, clock=clock)
    svc.activate(lic.key)
    before = ctx.paths.license_state_file.read_bytes()
    server_cli("license", "revoke", str(server.data_dir), lic.license_id)
    with pytest.raises(LicenseRevoked):
        svc.verify()
    keyring.store.pop(_entry(ctx, "license_guard"))
    if drop_key:
        keyring.store.pop(_entry(ctx, "license_key"))
    ctx.paths.license_state_file.write_bytes(before)
    clock.advance(days=13)


def test_a_restore_without_the_guard_is_denied_at_the_scheduled_check(
        lic_ctx: AppContext, reference_server: ReferenceServer, memory_keyring: MemoryKeyring) -> None:
    """Holds (the documented limit's cost): online, the scheduled check denies the restored lease."""
    clock = Clock()
    _revoked_then_restored(lic_ctx, reference_server, memory_keyring, clock, drop_key=False)
    assert service(lic_ctx, clock=clock).verify_if_due().state == "revoked"


def test_a_restore_without_the_guard_and_the_key_is_not_active_online(
        lic_ctx: AppContext, reference_server: ReferenceServer, memory_keyring: MemoryKeyring) -> None:
    """Fixed: a stored lease with no stored key fails closed (locked, "activate again"), so the scheduled
    check that cannot ask the server does not leave the restored lease running."""
    clock = Clock()
    _revoked_then_restored(lic_ctx, reference_server, memory_keyring, clock, drop_key=True)
    svc = service(lic_ctx, clock=clock)
    checked = svc.verify_if_due()
    assert checked.state == "locked" and checked.message is not None and "activate again" in checked.message
    assert svc.status().state == "locked"

