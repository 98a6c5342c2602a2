"""``crystal-manager demo --headless`` shows a real activation and a real signed update against a fresh
local server."""

from __future__ import annotations

import os
import re

from tests.support.cli_run import run_cli


def test_headless_demo_activates_for_real() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRYSTAL_MANAGER_")}
    env["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"
    proc = run_cli(["demo", "--headless"], env=env, timeout=180)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "License: Active (Pro)" in proc.stdout
    assert proc.stdout.splitlines()[0].startswith("Demo license key")  # the key first, before the set-up lines
    assert "Seats used: 1 of 2" in proc.stdout and "(this machine)" in proc.stdout
    assert "License: Not activated" in proc.stdout.split("Deactivate:")[1]
    # The update walk: 1.1.0 installed as the product's installer would, 1.2.0 offered, installed, rolled back.
    assert "CrystalMe3D Pro 1.1.0 is installed" in proc.stdout
    assert "Version 1.2.0 is available." in proc.stdout
    assert "Genuine: the list of versions is signed by the vendor" in proc.stdout
    assert "Installed CrystalMe3D Pro 1.2.0" in proc.stdout and "Switched to CrystalMe3D Pro 1.1.0" in proc.stdout
    assert "CrystalMe3D Pro: 1.1.0 (version 1.2.0 is also on this computer)" in proc.stdout
    # The key people type into the GUI's Activate… dialog is printed up front, and it is the one used.
    key = re.search(r"Demo license key \(for Activate…\): (CM3D-[0-9A-Z-]+)", proc.stdout)
    assert key is not None and f"$ crystal-manager activate {key.group(1)}" in proc.stdout
