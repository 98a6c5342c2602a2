"""Integration: secrets in a real Secret Service (gnome-keyring) inside a private D-Bus session."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = r"""
import sys
from pathlib import Path
from crystal_manager.storage.secrets import open_secret_store
store = open_secret_store(Path(sys.argv[1]) / "secrets.json")
print("backend", store.info.name, store.is_fallback)
store.set("license_key", "CM3D-INTEGRATION-TEST")
print("read", store.get("license_key"))
store.delete("license_key")
print("after-delete", store.get("license_key"))
"""


@pytest.mark.secret_service
def test_real_secret_service_round_trip(tmp_path: Path) -> None:
    tools = [shutil.which("dbus-run-session"), shutil.which("gnome-keyring-daemon")]
    if not all(tools):
        if os.environ.get("CI"):
            pytest.fail("CI must install dbus and gnome-keyring for this test")
        pytest.skip("dbus-run-session / gnome-keyring-daemon not installed")
    (tmp_path / "probe.py").write_text(SCRIPT)
    shell = (
        'export HOME="$1"; eval "$(printf \'\\n\' | gnome-keyring-daemon --unlock --components=secrets)"; '
        'PYTHON_KEYRING_BACKEND=keyring.backends.SecretService.Keyring "$2" "$1/probe.py" "$1"'
    )
    proc = subprocess.run(["dbus-run-session", "--", "bash", "-c", shell, "_", str(tmp_path), sys.executable],
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("backend keyring.backends.SecretService.Keyring False"), proc.stdout
    assert "read CM3D-INTEGRATION-TEST" in lines
    assert "after-delete None" in lines
    assert not (tmp_path / "secrets.json").exists()
