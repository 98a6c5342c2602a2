"""A child process for the delta tests: ``python -m tests.support.patch_kill_child ROOT PROFILE URL N`` runs
the update service's download for the app folder ROOT and kills itself (SIGKILL) at the Nth ``os.pread``,
which is while the patch is applied: the result is half written. Run with
``tests.support.cli_run.run_module`` (forked from the CLI zygote; os.pread is replaced in the child only).
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Any

from crystal_manager.services.status import LicenseStatus
from crystal_manager.services.update_service import UpdateService
from tests.support.licensing import context_at


def main(root: str, profile: str, url: str, kill_at: str) -> None:
    """Download the offered update, killed at the ``kill_at``-th positioned read."""
    calls = 0
    original = os.pread

    def pread(*args: Any) -> bytes:
        nonlocal calls
        calls += 1
        if calls == int(kill_at):
            os.kill(os.getpid(), signal.SIGKILL)  # while patching: the result is half written
        return original(*args)

    os.pread = pread
    ctx = context_at(Path(root), Path(profile), url)
    UpdateService(ctx, license_status=lambda: LicenseStatus(state="active")).download()


if __name__ == "__main__":
    main(*sys.argv[1:5])
