"""``crystal-manager demo --headless`` shows a real activation against a fresh local server."""

from __future__ import annotations

import os
import re
import subprocess
import sys


def test_headless_demo_activates_for_real() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRYSTAL_MANAGER_")}
    env["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"
    proc = subprocess.run([sys.executable, "-m", "crystal_manager", "demo", "--headless"], env=env,
                          capture_output=True, text=True, timeout=180, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "License: active (Pro)" in proc.stdout
    assert "Seats used: 1 of 2" in proc.stdout and "(this machine)" in proc.stdout
    assert "License: not_activated" in proc.stdout.split("[7]")[1]
    # The key people type into the GUI's Activate… dialog is printed up front, and it is the one used.
    key = re.search(r"Demo license key \(for Activate…\): (CM3D-[0-9A-Z-]+)", proc.stdout)
    assert key is not None and f"$ crystal-manager activate {key.group(1)}" in proc.stdout
