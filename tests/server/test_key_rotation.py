"""Rotating the license signing key in stages (``crystal-server keys``): a client never meets an answer
signed by a key it does not trust as a denial, and clients that trust the new key carry on throughout."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from crystal_manager.licensing.errors import UnknownSigningKey
from crystal_manager.services.license_service import LicenseService
from tests.support.keyring_memory import MemoryKeyring
from tests.support.licensing import context_at, issue, service
from tests.support.servers import admin_cli, run_reference_server


def keys_cli(*args: str) -> subprocess.CompletedProcess[str]:
    """``crystal-server keys ARGS``: the real CLI's ``main`` in this process (tests/support/servers.admin_cli:
    the same code, exit codes and output as the child process, without a fresh interpreter for each of the
    ~20 calls here)."""
    return admin_cli("keys", *args)


def roles(server_dir: Path) -> dict[str, str]:
    out = keys_cli("list", str(server_dir))
    assert out.returncode == 0, out.stderr
    return {line.split()[0]: line.split()[1] for line in out.stdout.splitlines()}


def machine(root: Path, profile: Path, url: str, name: str) -> LicenseService:
    return service(context_at(root, profile, url), name=name)


def lease_kid(root: Path) -> str:
    return str(json.loads((root / "state" / "license.json").read_text())["lease"]["kid"])


def test_staged_rotation_keeps_every_client_working_or_offline_never_denied(
        server_dir: Path, tmp_path: Path, memory_keyring: MemoryKeyring) -> None:
    profile = server_dir / "profile.json"
    old_profile = tmp_path / "old-profile.json"  # a client release that trusts K1 only
    shutil.copy(profile, old_profile)
    (k1, role), = roles(server_dir).items()
    assert role == "signing"
    with run_reference_server(server_dir) as server:
        lic = issue(server_dir, seats=3)
        assert machine(tmp_path / "a", old_profile, server.url, "alpha").activate(lic.key).state == "active"
        # Stage 1: a new key that does not sign yet; the development profile trusts it from now on.
        added = keys_cli("add", str(server_dir))
        assert added.returncode == 0, added.stderr
        k2 = next(kid for kid in roles(server_dir) if kid != k1)
        assert roles(server_dir) == {k1: "signing", k2: "standby"}
        assert set(json.loads(profile.read_text())["license_keys"]) == {k1, k2}
        assert machine(tmp_path / "b", profile, server.url, "beta").activate(lic.key).state == "active"
        assert lease_kid(tmp_path / "b") == k1  # still signed by the old key
    # Stage 2: the new key signs from the next start.
    assert keys_cli("activate", str(server_dir), k2).returncode == 0
    with run_reference_server(server_dir) as server:
        assert machine(tmp_path / "b", profile, server.url, "beta").verify().state == "active"
        assert lease_kid(tmp_path / "b") == k2
        # A client that was never updated: the answer is untrusted, so it is offline (grace), never denied,
        # and its stored lease (signed by the old key it trusts) is kept.
        stale = machine(tmp_path / "a", old_profile, server.url, "alpha")
        with pytest.raises(UnknownSigningKey):
            stale.verify()
        status = stale.status()
        assert status.state in ("active", "offline_grace") and lease_kid(tmp_path / "a") == k1
    # Stage 3: the old key leaves the profile and is never used again.
    assert keys_cli("retire", str(server_dir), k2).returncode == 3  # never the signing key
    early = keys_cli("retire", str(server_dir), k1)  # K1's leases may live 14 more days
    assert early.returncode == 3 and "may be in use until" in early.stderr, early.stderr
    assert keys_cli("retire", str(server_dir), k1, "--force").returncode == 0
    assert roles(server_dir) == {k2: "signing", k1: "retired"}
    assert set(json.loads(profile.read_text())["license_keys"]) == {k2}
    with run_reference_server(server_dir) as server:
        assert machine(tmp_path / "b", profile, server.url, "beta").status().state == "active"
    assert keys_cli("activate", str(server_dir), k1).returncode == 3  # a retired key never comes back


def test_a_key_clients_do_not_trust_cannot_be_activated(server_dir: Path) -> None:
    assert keys_cli("add", str(server_dir)).returncode == 0
    (k2,) = [kid for kid, role in roles(server_dir).items() if role == "standby"]
    profile = server_dir / "profile.json"
    data = json.loads(profile.read_text())
    del data["license_keys"][k2]  # as if the new key never reached the clients' trust anchors
    profile.write_text(json.dumps(data))
    refused = keys_cli("activate", str(server_dir), k2)
    assert refused.returncode == 3 and "do not trust" in refused.stderr
    assert roles(server_dir)[k2] == "standby"


def test_an_older_folder_keeps_its_key_signing_when_one_is_added(server_dir: Path) -> None:
    # Folders made before the signing key was recorded: the newest key file signed. Adding one must not
    # silently make the new, not yet trusted key the signing one.
    (k1,) = roles(server_dir)
    (server_dir / "keys" / "license.signing").unlink()
    assert keys_cli("add", str(server_dir)).returncode == 0
    assert roles(server_dir)[k1] == "signing"


def test_a_damaged_signing_record_is_one_line_not_a_guess(server_dir: Path) -> None:
    assert keys_cli("add", str(server_dir)).returncode == 0
    (server_dir / "keys" / "license.signing").write_text("")
    listed = keys_cli("list", str(server_dir))
    assert listed.returncode == 3 and listed.stderr.count("\n") == 1 and "damaged" in listed.stderr
    (server_dir / "keys" / "license.signing").write_text("0123456789abcdef 0\n")  # a key that is not there
    listed = keys_cli("list", str(server_dir))
    assert listed.returncode == 3 and "not in" in listed.stderr and "Traceback" not in listed.stderr
