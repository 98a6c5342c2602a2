"""A computer of its own for a child process running the real ``crystal-manager`` CLI.

Its own app folder; its own machine ID, bind-mounted over /etc/machine-id in a private mount namespace
(``unshare -rm``), so the real fingerprint code reads it exactly as on another computer; optionally its own
clock (libfaketime preloaded with ``FAKETIME=SPEC``). No keyring: the user-only file fallback holds the secrets.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.faketime import need_libfaketime, offset_command
from tests.support.servers import ReferenceServer

MACHINE_ID_FILE = Path("/etc/machine-id")
# The mount happens inside the namespace; "$0" is the file to show as this computer's machine ID.
_MOUNT = 'mount --bind "$0" /etc/machine-id && exec "$@"'


@functools.cache
def namespaces_work() -> bool:
    """True if an unprivileged private mount namespace can hide /etc/machine-id here."""
    unshare = shutil.which("unshare")
    if unshare is None or not MACHINE_ID_FILE.exists():
        return False
    proc = subprocess.run([unshare, "-rm", "sh", "-c", _MOUNT, "/dev/null", "true"], capture_output=True,
                          timeout=30, check=False)
    return proc.returncode == 0


def need_namespaces() -> None:
    """Skip (locally) or fail (in CI) when this machine cannot give a child its own machine ID."""
    if not namespaces_work():
        if os.environ.get("CI"):
            pytest.fail("CI must allow unprivileged user namespaces (unshare -rm) for the seat tests")
        pytest.skip("unshare -rm is not available here")


def need_faketime() -> None:
    """Skip (locally) or fail (in CI) without libfaketime."""
    need_libfaketime()


@dataclass
class Computer:
    """One simulated computer: a folder, a machine ID and (optionally) a clock offset like ``+10m``."""

    home: Path
    machine_id: str
    server: ReferenceServer
    clock: str | None = None

    def __post_init__(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        self.id_file.write_text(self.machine_id + "\n", encoding="ascii")

    @property
    def id_file(self) -> Path:
        return self.home.parent / f"{self.home.name}.machine-id"

    @property
    def license_file(self) -> Path:
        return self.home / "state" / "license.json"

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        """``crystal-manager ARGS`` on this computer."""
        env = {**os.environ, "CRYSTAL_MANAGER_HOME": str(self.home),
               "CRYSTAL_MANAGER_PROFILE": str(self.server.profile_file),
               "CRYSTAL_MANAGER_SERVER": self.server.url,
               "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}
        command = [sys.executable, "-m", "crystal_manager", *args]
        if self.clock is not None:
            command = offset_command(self.clock, command)
        if namespaces_work():
            command = ["unshare", "-rm", "sh", "-c", _MOUNT, str(self.id_file), *command]
        return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, check=False)

    def status(self) -> dict[str, Any]:
        """The license part of ``status --json``."""
        proc = self.run("status", "--json")
        assert proc.returncode == 0, proc.stderr
        report: dict[str, Any] = json.loads(proc.stdout)["license"]
        return report

    def clone_into(self, other: Computer) -> None:
        """Copy this computer's app folder over ``other``'s (a cloned virtual machine: same files, its own ID)."""
        shutil.rmtree(other.home)
        shutil.copytree(self.home, other.home)
