"""What each installed Manager version looked like when it was verified, so a kept version is only gone back
to while it is still exactly that (decision 0013, threat model U31).

A self-update records, right after the signed archive was installed and passed ``--version``, every file of
``versions/<v>/`` (its SHA-256, and whether it may be run) and every link (its target) in
``root/verified/<v>.json`` — outside the version folder, so nothing the version itself runs can rewrite
its own record by accident. Before a rollback makes a kept version current again, its folder is compared
with that record; a missing record, a changed, added or removed file refuses the rollback in plain words.

This catches a program rewritten on disk (another tool, malware running as someone else with write access
to the folder only); it cannot stop a program running as this very user, which could rewrite the record too.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
from pathlib import Path

from crystal_manager.storage.atomic import StorageError, read_json, write_json_atomic
from crystal_manager.updates.errors import InstallFailed
from crystal_manager.updates.layout import InstallRoot, canonical_version

RECORDS = "verified"
_CHUNK = 1 << 20


class KeptVersionChanged(InstallFailed):
    """A kept Manager version no longer matches what was verified when it was installed (or was never
    recorded): it is not made current, nor started."""


def _record_file(root: Path, version: str) -> Path:
    return root / RECORDS / f"{canonical_version(version)}.json"


def _digest(path: Path) -> str:
    sha = hashlib.sha256()
    # O_NOFOLLOW: a file swapped for a link after the walk saw it is an error, never followed.
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    with os.fdopen(fd, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            sha.update(chunk)
    return sha.hexdigest()


def tree_facts(folder: Path) -> dict[str, str]:
    """Every entry under ``folder`` by relative path: ``file:<x|->:<sha256>``, ``link:<target>`` or ``dir``."""
    facts: dict[str, str] = {}
    for top, dirs, files in os.walk(folder, followlinks=False):
        for name in [*dirs, *files]:
            path = Path(top) / name
            rel = path.relative_to(folder).as_posix()
            info = path.lstat()
            if stat.S_ISLNK(info.st_mode):
                facts[rel] = f"link:{os.readlink(path)}"
            elif stat.S_ISDIR(info.st_mode):
                facts[rel] = "dir"
            elif stat.S_ISREG(info.st_mode):
                runs = "x" if info.st_mode & 0o111 else "-"
                facts[rel] = f"file:{runs}:{_digest(path)}"
            else:
                facts[rel] = "other"  # a fifo or device: never in an archive we install, so it differs
    return facts


def record_verified(root: Path, version: str) -> Path:
    """Write ``root/verified/<version>.json`` from the installed folder; drop records of versions gone."""
    records = root / RECORDS
    records.mkdir(mode=0o700, exist_ok=True)
    target = _record_file(root, version)
    folder = InstallRoot(root).version_dir(version)
    write_json_atomic(target, {"version": version, "entries": tree_facts(folder)})
    for old in records.glob("*.json"):  # a pruned version's record is no use; keep the folder tidy
        with contextlib.suppress(ValueError):
            if not (root / "versions" / canonical_version(old.stem)).is_dir():
                old.unlink(missing_ok=True)
    return target


def check_verified(root: Path, version: str) -> None:
    """Raise KeptVersionChanged unless ``versions/<version>/`` is exactly what was recorded at install."""
    refused = (f"the kept version {version} was changed on this computer since it was installed (or its "
               "record of what was installed is missing), so it is not used; install a new version instead")
    try:
        data = read_json(_record_file(root, version))
    except (StorageError, OSError, ValueError) as exc:
        raise KeptVersionChanged(refused) from exc
    recorded = data.get("entries") if isinstance(data, dict) and data.get("version") == version else None
    try:
        found = tree_facts(InstallRoot(root).version_dir(version))
    except OSError as exc:
        raise KeptVersionChanged(refused) from exc
    # Sorted JSON of both sides: a record that is not a mapping of strings simply never matches.
    if not isinstance(recorded, dict) or json.dumps(recorded, sort_keys=True) != json.dumps(found, sort_keys=True):
        raise KeptVersionChanged(refused)
