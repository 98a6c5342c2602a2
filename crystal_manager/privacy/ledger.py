"""The ledger: one JSON line for every request the gateway sent, secrets masked.

Written before the request leaves: ``begin`` appends the entry as ``pending`` (if that fails, the gateway
sends nothing), ``complete`` appends its outcome under the same id once the answer is in (or the request
failed or was interrupted), and ``entries`` merges the two. An entry still pending after its process
ended is a request whose outcome was never known (killed, power cut).

Appends are single ``write`` calls on an ``O_APPEND`` descriptor under a lock, so concurrent writers
(tray and CLI) never interleave; a torn last line from a crash is cut off before the next append and
skipped by readers. The file is capped in size and rotated (``ledger.jsonl.1`` … ``.N``).
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # Windows: the thread lock still serialises this process
    fcntl = None  # type: ignore[assignment]

PENDING = "pending"
DONE = "done"
DEFAULT_MAX_BYTES = 2 * 1024 * 1024
DEFAULT_KEEP = 3


def mask_secret(value: str) -> str:
    """Show only the last four characters: ``…7F3A``."""
    tail = value[-4:] if len(value) > 4 else ""
    return f"…{tail}"


@dataclass
class Ledger:
    """Append and read ledger entries at ``path``."""

    path: Path
    max_bytes: int = DEFAULT_MAX_BYTES
    keep: int = DEFAULT_KEEP

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._repaired = False

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with self._lock:
            lock_path = self.path.with_name(self.path.name + ".lock")
            fd = os.open(lock_path, os.O_CREAT | os.O_RDWR, 0o600)
            try:
                if fcntl is not None:
                    fcntl.flock(fd, fcntl.LOCK_EX)
                yield
            finally:
                os.close(fd)

    def append(self, entry: dict[str, Any]) -> None:
        """Append one entry as a single JSON line."""
        line = (json.dumps(entry, ensure_ascii=False, sort_keys=True, separators=(",", ":")) + "\n").encode()
        with self._locked():
            self._repair_tail()
            self._rotate_if_needed(len(line))
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            try:
                os.write(fd, line)
                os.fsync(fd)
            finally:
                os.close(fd)

    def begin(self, entry: dict[str, Any]) -> str:
        """Record a request about to be sent, as pending; returns its id. OSError means: do not send."""
        import secrets  # here: nothing on the path to the tray writes the ledger

        entry_id = secrets.token_hex(8)
        self.append({**entry, "id": entry_id, "state": PENDING})
        return entry_id

    def complete(self, entry_id: str, outcome: dict[str, Any]) -> None:
        """Record the outcome of the pending entry ``entry_id`` (status, error, bytes received, duration)."""
        self.append({**outcome, "id": entry_id, "completes": True})

    def _repair_tail(self) -> None:
        # A crash mid-write can leave a line without its newline: cut it so the file stays parseable.
        try:
            with open(self.path, "rb+") as handle:
                size = handle.seek(0, os.SEEK_END)
                if size == 0:
                    return
                handle.seek(size - 1)
                if handle.read(1) == b"\n":
                    return
                back = min(size, 1024 * 1024)
                handle.seek(size - back)
                tail = handle.read(back)
                cut = tail.rfind(b"\n")
                handle.truncate(size - back + cut + 1 if cut >= 0 else 0)
        except FileNotFoundError:
            return

    def _rotate_if_needed(self, incoming: int) -> None:
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            return
        if size + incoming <= self.max_bytes:
            return
        for index in range(self.keep, 0, -1):
            src = self.path if index == 1 else self.path.with_name(f"{self.path.name}.{index - 1}")
            dst = self.path.with_name(f"{self.path.name}.{index}")
            if src.exists():
                os.replace(src, dst)

    def clear(self) -> int:
        """Delete every ledger file; returns how many requests they recorded."""
        with self._locked():
            count = len(self.entries())
            for path in self.files():
                path.unlink(missing_ok=True)
        return count

    def files(self) -> list[Path]:
        """Ledger files, oldest first."""
        rotated = [self.path.with_name(f"{self.path.name}.{i}") for i in range(self.keep, 0, -1)]
        return [p for p in [*rotated, self.path] if p.exists()]

    def entries(self) -> list[dict[str, Any]]:
        """Every readable entry, oldest first; unparseable lines are skipped."""
        result: list[dict[str, Any]] = []
        for path in self.files():
            with open(path, "rb") as handle:
                for raw in handle:
                    try:
                        value = json.loads(raw)
                    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
                        continue
                    if isinstance(value, dict):
                        result.append(value)
        return _merged(result)


def _merged(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One entry per request: each completion line folded into the pending entry it completes."""
    result: list[dict[str, Any]] = []
    by_id: dict[str, dict[str, Any]] = {}
    for line in lines:
        entry_id = line.get("id")
        if line.get("completes") is True:
            target = by_id.get(entry_id) if isinstance(entry_id, str) else None
            if target is not None:  # an outcome whose entry was rotated away is dropped
                target.update({k: v for k, v in line.items() if k != "completes"})
                target["state"] = DONE
            continue
        if isinstance(entry_id, str):
            by_id[entry_id] = line
        result.append(line)
    return result
