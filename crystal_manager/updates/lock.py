"""One process at a time: an exclusive, non-blocking lock on ``data_dir/updates/lock``.

ngclient's metadata folder must not be used by two processes at once, and two installs must never race;
the lock is held for the whole check, download or install. The OS drops it when the process dies (a
crashed update never leaves a stale lock behind), so no lock file is ever "cleaned up" by hand.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from types import TracebackType

from crystal_manager.updates.errors import UpdateBusy


class UpdatesLock:
    """``with UpdatesLock(path):`` — raise UpdateBusy at once when another process holds it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock or raise UpdateBusy (never waits)."""
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            _lock(fd)
        except OSError as exc:
            os.close(fd)
            raise UpdateBusy("another CrystalMe3D Pro Manager is checking, downloading or installing an "
                             "update right now; try again when it has finished") from exc
        self._fd = fd

    def release(self) -> None:
        """Give the lock back (closing the descriptor releases it)."""
        if self._fd is not None:
            fd, self._fd = self._fd, None
            try:
                _unlock(fd)
            finally:
                os.close(fd)

    def __enter__(self) -> UpdatesLock:
        self.acquire()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()


if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
    import msvcrt

    def _lock(fd: int) -> None:
        # One byte is enough: every Manager locks the same first byte of the same file.
        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)

    def _unlock(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
else:
    import fcntl

    def _lock(fd: int) -> None:
        # flock, not fcntl record locks: these belong to the open file, so a second open in this very
        # process (another thread's service) is refused too, as another process would be.
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)
