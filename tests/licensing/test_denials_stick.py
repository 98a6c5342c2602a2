"""Signed denials stick: after a signed revocation, expiry or deactivation the lease is deleted, and no edit,
deletion or restore of license.json (or of any other app file) brings back an active license. The denial
is also kept in the keyring beside the key (here the in-memory keyring backend; the real Secret Service in
test_guard_secret_service.py)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from crystal_manager.licensing.errors import LicenseRevoked, MachineNotFound, SubscriptionExpired
from crystal_manager.services.context import AppContext
from crystal_manager.services.license_service import LicenseService
from crystal_manager.storage.secrets import keyring_service
from tests.support.keyring_memory import MemoryKeyring
from tests.support.licensing import context_at, issue, server_cli, service
from tests.support.servers import ReferenceServer

NOT_ACTIVE = ("revoked", "expired", "not_activated", "locked")


def record(ctx: AppContext) -> dict[str, object]:
    data: dict[str, object] = json.loads(ctx.paths.license_state_file.read_text())
    return data


def every_other_app_file(ctx: AppContext) -> list[Path]:
    roots = {ctx.paths.config_dir, ctx.paths.data_dir, ctx.paths.state_dir, ctx.paths.cache_dir}
    return [p for root in roots if root.exists() for p in root.rglob("*")
            if p.is_file() and p != ctx.paths.license_state_file]


def assert_never_active(ctx: AppContext, svc: LicenseService, before: bytes, denied: str) -> None:
    path = ctx.paths.license_state_file
    after = path.read_bytes()
    # 1. edit the denial away
    edited = json.loads(after)
    edited["denial"] = None
    edited["denial_message"] = None
    path.write_text(json.dumps(edited))
    assert svc.status().state in NOT_ACTIVE
    # 2. delete the file
    path.unlink()
    assert svc.status().state in NOT_ACTIVE
    # 3. restore the copy taken while the license was active
    path.write_bytes(before)
    state = svc.status().state
    assert state == denied, state
    assert record(ctx)["lease"] is None  # the restored lease was removed again
    # 4. restore it again with every other app file deleted (settings, ledger, caches…)
    for other in every_other_app_file(ctx):
        other.unlink()
    path.write_bytes(before)
    assert svc.status().state == denied


def test_signed_revocation_deletes_the_lease_and_sticks(lic_ctx: AppContext,
                                                         reference_server: ReferenceServer) -> None:
    lic = issue(reference_server.data_dir)
    svc = service(lic_ctx)
    svc.activate(lic.key)
    before = lic_ctx.paths.license_state_file.read_bytes()
    assert server_cli("license", "revoke", str(reference_server.data_dir), lic.license_id).returncode == 0
    with pytest.raises(LicenseRevoked):
        svc.verify()
    assert record(lic_ctx)["lease"] is None and record(lic_ctx)["denial"] == "revoked"
    assert_never_active(lic_ctx, svc, before, "revoked")
    # The vendor reinstates: a newer signed lease is valid again (the denial covered only older ones).
    assert server_cli("license", "update", str(reference_server.data_dir), lic.license_id,
                      "--status", "active").returncode == 0
    assert svc.verify().state == "active"
    assert svc.status().state == "active"


def test_signed_expiry_deletes_the_lease_and_sticks(lic_ctx: AppContext, reference_server: ReferenceServer) -> None:
    lic = issue(reference_server.data_dir)
    svc = service(lic_ctx)
    svc.activate(lic.key)
    before = lic_ctx.paths.license_state_file.read_bytes()
    server_cli("license", "update", str(reference_server.data_dir), lic.license_id, "--expires", "2020-01-01")
    with pytest.raises(SubscriptionExpired):
        svc.verify()
    assert_never_active(lic_ctx, svc, before, "expired")


def test_signed_deactivation_elsewhere_sticks(lic_ctx: AppContext, reference_server: ReferenceServer,
                                              tmp_path: Path) -> None:
    lic = issue(reference_server.data_dir)
    svc = service(lic_ctx)
    mine = svc.activate(lic.key)
    before = lic_ctx.paths.license_state_file.read_bytes()
    other_ctx = context_at(tmp_path / "other", reference_server.profile_file, reference_server.url)
    service(other_ctx, name="other").deactivate_with_key(lic.key, str(mine.machine_id))
    with pytest.raises(MachineNotFound):
        svc.verify()
    lic_ctx.paths.license_state_file.write_bytes(before)
    status = svc.status()
    assert status.state == "not_activated" and status.message and "deactivated" in status.message
    other_ctx.close()


def test_own_deactivation_sticks(lic_ctx: AppContext, reference_server: ReferenceServer) -> None:
    lic = issue(reference_server.data_dir)
    svc = service(lic_ctx)
    svc.activate(lic.key)
    before = lic_ctx.paths.license_state_file.read_bytes()
    assert svc.deactivate().state == "not_activated"
    lic_ctx.paths.license_state_file.write_bytes(before)
    assert svc.status().state == "not_activated"


def test_without_the_keyring_copy_a_restore_is_caught_online(lic_ctx: AppContext, reference_server: ReferenceServer,
                                                             memory_keyring: MemoryKeyring) -> None:
    """The documented limit: a user who also deletes the keyring copy gets the old lease back offline, until
    the next check (at most the lease's TTL) — and the next check denies again."""
    lic = issue(reference_server.data_dir)
    svc = service(lic_ctx)
    svc.activate(lic.key)
    before = lic_ctx.paths.license_state_file.read_bytes()
    server_cli("license", "revoke", str(reference_server.data_dir), lic.license_id)
    with pytest.raises(LicenseRevoked):
        svc.verify()
    memory_keyring.store.pop((keyring_service(lic_ctx.paths.home_root), "license_guard"))
    lic_ctx.paths.license_state_file.write_bytes(before)
    assert svc.status().state == "active"  # the limit, written in docs/threat-model.md
    with pytest.raises(LicenseRevoked):
        svc.verify()
    assert svc.status().state == "revoked"


def test_copying_the_app_folder_to_another_machine_gives_nothing(lic_ctx: AppContext,
                                                                 reference_server: ReferenceServer,
                                                                 tmp_path: Path) -> None:
    lic = issue(reference_server.data_dir, seats=1)
    service(lic_ctx).activate(lic.key)
    other = tmp_path / "clone"
    shutil.copytree(lic_ctx.paths.state_dir, other / "state")
    clone_ctx = context_at(other, reference_server.profile_file, reference_server.url)
    clone = service(clone_ctx, name="clone")
    assert clone.status().state == "locked"  # the lease names another machine
    clone_ctx.close()


def test_activating_again_after_a_proof_never_imported_works(lic_ctx: AppContext, reference_server: ReferenceServer,
                                                             tmp_path: Path) -> None:
    """Deactivated offline, the proof never reached the vendor, so the server still holds this machine: a new
    activation gets the same machine's fresh lease, which the remembered deactivation must not void."""
    lic = issue(reference_server.data_dir, seats=1)
    svc = service(lic_ctx)
    first = svc.activate(lic.key)
    svc.deactivate_offline(tmp_path / "proof.json")
    again = svc.activate(lic.key)
    assert again.state == "active" and again.machine_id == first.machine_id
    assert svc.status().state == "active"
