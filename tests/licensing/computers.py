"""A computer of its own for a child process running the real ``crystal-manager`` CLI.

Its own app folder; its own machine ID, bind-mounted over /etc/machine-id in a private user and mount
namespace (what ``unshare -rm`` makes), so the real fingerprint code reads it exactly as on another computer;
optionally its own clock (libfaketime preloaded with ``FAKETIME=SPEC``). No keyring: the user-only file
fallback holds the secrets. A run is forked from the CLI zygote, which makes the namespace and the mount in
the child itself (tests/support/cli_run.py, docs/decisions/0023-cli-fork-server.md); one with a clock of its
own is forked from a zygote that has libfaketime preloaded (``cli_run._ClockZygote``), or where that cannot
be, executed (``unshare -rm sh -c 'mount --bind …' && exec env LD_PRELOAD=… python -m crystal_manager``).
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.cli_run import namespaced_argv, run_cli
from tests.support.faketime import need_libfaketime, offset_env
from tests.support.servers import ReferenceServer

MACHINE_ID_FILE = Path("/etc/machine-id")


@functools.cache
def namespaces_work() -> bool:
    """True if an unprivileged private mount namespace can hide /etc/machine-id here."""
    if shutil.which("unshare") is None or not MACHINE_ID_FILE.exists():
        return False
    proc = subprocess.run(namespaced_argv("/dev/null", ["true"]), capture_output=True, timeout=30, check=False)
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
        machine_id = self.id_file if namespaces_work() else None
        if self.clock is not None:  # forked from the clock zygote, or executed (cli_run._ClockZygote)
            env.update(offset_env(self.clock))
        return run_cli(args, env=env, timeout=60, machine_id=machine_id)

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
