"""Atomic state files: write a temporary file, fsync, rename; a crash leaves the old or the new file."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


class StorageError(Exception):
    """A state file could not be read or written."""


class CorruptStateError(StorageError):
    """A state file exists but does not parse; it is left untouched for inspection."""


def write_bytes_atomic(path: Path, data: bytes, *, mode: int = 0o600) -> None:
    """Replace ``path`` with ``data`` so that readers never see a partial file."""
    import tempfile  # only writers need it (docs/decisions/0012-start-up-tricks.md)

    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    # The rename is durable only once the directory entry is on disk.
    try:
        dir_fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


def damaged_copy_name(path: Path, stamp: str, n: int = 1) -> Path:
    """Where the ``n``-th copy of a damaged ``path`` set aside at ``stamp`` goes: ``NAME.damaged-STAMP``, then
    ``-2``, ``-3``… (a copy never replaces an earlier one; the callers take a name by a link that fails if
    it is taken)."""
    return path.with_name(f"{path.name}.damaged-{stamp}" + (f"-{n}" if n > 1 else ""))


def write_json_atomic(path: Path, value: Any, *, mode: int = 0o600) -> None:
    """Serialise ``value`` as pretty JSON and write it atomically."""
    text = json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    write_bytes_atomic(path, text.encode("utf-8"), mode=mode)


def read_json(path: Path) -> Any | None:
    """Return the parsed JSON in ``path``, ``None`` if absent; raise CorruptStateError if unparseable."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StorageError(f"cannot read {path}: {exc.strerror}") from exc
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:  # deep nesting
        raise CorruptStateError(f"{path} is not valid JSON ({exc})") from exc
