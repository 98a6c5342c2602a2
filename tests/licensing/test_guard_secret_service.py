"""The guard copy in a real Secret Service (gnome-keyring in a private D-Bus session): clearing or restoring
license.json undoes neither a detected clock set-back nor a signed revocation."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.licensing import issue
from tests.support.servers import ReferenceServer

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.secret_service
def test_guard_in_a_real_secret_service(tmp_path: Path, reference_server: ReferenceServer) -> None:
    tools = [shutil.which("dbus-run-session"), shutil.which("gnome-keyring-daemon")]
    if not all(tools):
        if os.environ.get("CI"):
            pytest.fail("CI must install dbus and gnome-keyring for this test")
        pytest.skip("dbus-run-session / gnome-keyring-daemon not installed")
    lic = issue(reference_server.data_dir)
    shell = (
        'export HOME="$1"; eval "$(printf \'\\n\' | gnome-keyring-daemon --unlock --components=secrets)"; '
        'shift; PYTHON_KEYRING_BACKEND=keyring.backends.SecretService.Keyring exec "$@"'
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    args = [str(tmp_path / "app"), str(reference_server.profile_file), reference_server.url,
            str(reference_server.data_dir), lic.key, lic.license_id]
    proc = subprocess.run(["dbus-run-session", "--", "bash", "-c", shell, "_", str(tmp_path), sys.executable,
                           "-m", "tests.licensing.guard_child", *args], capture_output=True, text=True,
                          timeout=120, check=False, env=env, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    seen = json.loads(proc.stdout.strip().splitlines()[-1])
    assert seen["backend"] == "keyring.backends.SecretService.Keyring" and seen["fallback"] is False
    assert seen["set_back"] is True
    assert seen["set_back_after_clearing"] is True
    assert seen["set_back_after_restoring"] is True
    assert seen["state_3_days_later"] == "locked"
    assert seen["revoked"] is True
    assert seen["state_after_restore"] == "revoked"
    assert seen["state_after_delete"] in ("revoked", "not_activated")
    assert not (tmp_path / "app" / "state" / "secrets.json").exists()  # all of it in the keyring
