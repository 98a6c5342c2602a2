"""A starting state made once per test run and read by every pytest-xdist worker.

Some modules start each test from the same state made through the real code (a release installed through
the update service, patches published…) and copy it per test (tests/support/update_attack.py's
``scene_template``, tests/updates/test_delta_service.py). As a module fixture that state is made again in
every worker that draws one of the module's tests (up to one per worker: 6 under ``./dev test``), or, as
tests/conftest.py now does for module fixtures, the module's tests all wait for one worker. Made here, by a
session fixture, it is made once, by the first worker that asks, in the run's own temporary folder (the leak
scan reads it with the rest), while the others wait on a lock and then use it; the tests stay spread over the
workers. Nobody changes it after: tests copy it.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import pytest


def once_per_run(factory: pytest.TempPathFactory, name: str, make: Callable[[Path], object]) -> Path:
    """The folder ``name`` made by ``make(folder)`` once per run (once per process where flock is missing)."""
    if not os.environ.get("PYTEST_XDIST_WORKER") or sys.platform == "win32":
        folder = factory.mktemp(name)
        make(folder)
        return folder
    import fcntl

    base = factory.getbasetemp().parent  # the run's folder, above every worker's popen-gwK
    folder = base / f"once-{name}"
    done = base / f"once-{name}.done"
    with open(base / f"once-{name}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, also if ``make`` fails
        if not done.exists():
            shutil.rmtree(folder, ignore_errors=True)  # a worker that failed half way
            folder.mkdir()
            make(folder)
            done.touch()
    return folder
