"""The GUI's log file (``<log_dir>/manager.log``, the folder the About page names): warnings and errors
of a long-running tray app, kept small by rotation. Nothing sent or stored secretly is logged here: the
privacy ledger records requests, with secrets masked."""

from __future__ import annotations

import logging
import logging.handlers
import os
import sys
from io import TextIOWrapper
from pathlib import Path
from types import TracebackType

LOG_NAME = "manager.log"
MAX_BYTES = 512 * 1024
BACKUPS = 2  # manager.log.1, manager.log.2
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class PrivateRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """A rotating log whose files (the first and each one after a rollover) are the user's alone: errors
    name folders and servers, which other local users have no business reading."""

    def _open(self) -> TextIOWrapper:
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.fchmod(fd, 0o600)  # a log made by an older version may be readable by others
        return open(fd, "a", encoding=self.encoding, errors=self.errors)


def start_log_file(log_dir: Path, level: int = logging.INFO) -> Path | None:
    """Log the app's ``crystal_manager`` loggers and uncaught exceptions to ``log_dir/manager.log``.
    Returns the file, or None when the folder cannot be written (the app runs on without a log)."""
    path = log_dir / LOG_NAME
    logger = logging.getLogger("crystal_manager")
    if any(getattr(h, "baseFilename", None) == str(path.absolute()) for h in logger.handlers):
        return path  # already logging there (a second start in the same process)
    try:
        log_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        log_dir.chmod(0o700)  # also when it existed before
        handler = PrivateRotatingFileHandler(path, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8")
    except OSError:
        return None
    handler.setFormatter(logging.Formatter(FORMAT))
    logger.addHandler(handler)
    logger.setLevel(level)
    previous = sys.excepthook

    def log_uncaught(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        # Exceptions in Qt slots land here: PySide prints them and goes on, so the log must keep them.
        logger.error("uncaught exception", exc_info=(kind, exc, tb))
        previous(kind, exc, tb)

    sys.excepthook = log_uncaught
    return path
