"""A wall clock that a test moves instead of waiting for: libfaketime in another process, set from a file.

A process started with ``MovableClock.env()`` (for example ``run_reference_server(dir, env=clock.env())``)
reads the offset file on every call for the time, so ``clock.move(timedelta(hours=13))`` moves its date at
once while it runs. Only the date moves: its monotonic clock (intervals, timeouts, the event loop) stays
real, and so do file times. The test process itself keeps the real clock.
"""

from __future__ import annotations

import os
import sys
import sysconfig
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest

#: Where distributions install the preload library (the ``faketime`` wrapper's own search path).
_LIBRARY_DIRS = (f"/usr/lib/{sysconfig.get_config_var('MULTIARCH') or ''}/faketime", "/usr/lib/faketime",
                 "/usr/local/lib/faketime", "/usr/lib64/faketime")


def libfaketime() -> Path | None:
    """The libfaketime preload library, if installed."""
    for folder in _LIBRARY_DIRS:
        path = Path(folder) / "libfaketime.so.1"
        if path.is_file():
            return path
    return None


def need_libfaketime() -> Path:
    """The library; skip the test without it (locally) or fail (in CI, which must install faketime)."""
    found = libfaketime() if sys.platform.startswith("linux") else None
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("CI must install faketime (libfaketime) for the clock tests")
        pytest.skip("libfaketime is not installed")
    return found


def offset_env(spec: str, library: Path | None = None) -> dict[str, str]:
    """Variables that start a program on real time moved by ``spec`` (libfaketime's ``+1h``, ``-10m``, ``+1d``).

    The library is preloaded directly rather than through the ``faketime`` wrapper: the wrapper names a
    shared-memory semaphore after its own pid (``/dev/shm/sem.faketime_sem_PID``), and one left behind by a
    killed wrapper makes a later wrapper with the same, reused pid fail with "sem_open: File exists".
    """
    found = library or need_libfaketime()
    preload = os.pathsep.join(p for p in (str(found), os.environ.get("LD_PRELOAD", "")) if p)
    return {"LD_PRELOAD": preload, "FAKETIME": spec, "FAKETIME_DONT_FAKE_MONOTONIC": "1"}


def offset_command(spec: str, argv: list[str]) -> list[str]:
    """``argv`` run on real time moved by ``spec``, with the library preloaded into that program alone.

    Not into the wrappers around it (``unshare``, ``sh``): a faked process shares its clock with its children
    through a semaphore in /dev/shm named in the environment, which a child in another mount namespace
    cannot open, and which is left behind when the faked process execs.
    """
    return ["env", *(f"{name}={value}" for name, value in offset_env(spec).items()), *argv]


@dataclass(frozen=True)
class MovableClock:
    """The offset file of processes started with ``env()``; ``move`` sets their clock's offset from real time."""

    file: Path
    library: Path

    @classmethod
    def create(cls, folder: Path, offset: timedelta = timedelta(0)) -> MovableClock:
        """A clock file in ``folder`` at ``offset`` (skips the test without libfaketime)."""
        clock = cls(folder / "faketime.rc", need_libfaketime())
        clock.move(offset)
        return clock

    def move(self, offset: timedelta) -> None:
        """From now on the processes see real time + ``offset`` (whole seconds)."""
        seconds = round(offset.total_seconds())
        spare = self.file.with_name(self.file.name + ".new")
        spare.write_text(f"{seconds:+d}\n", encoding="ascii")
        os.replace(spare, self.file)  # whole: a reader never sees a half-written offset

    def env(self) -> dict[str, str]:
        """Variables that put a process started with them on this clock."""
        preload = os.pathsep.join(p for p in (str(self.library), os.environ.get("LD_PRELOAD", "")) if p)
        return {"LD_PRELOAD": preload, "FAKETIME_TIMESTAMP_FILE": str(self.file),
                "FAKETIME_NO_CACHE": "1",  # read the file on every call (~5 µs): a move applies at once
                "FAKETIME_DONT_FAKE_MONOTONIC": "1", "NO_FAKE_STAT": "1"}
