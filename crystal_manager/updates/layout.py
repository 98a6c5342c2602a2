"""The install root: versions side by side, and one pointer file that says which is current.

    root/versions/<version>/   one complete product folder per version (moved in whole, never edited)
    root/staging/<random>/      extraction and deletion happen here, never under versions/
    root/current.json           {"current": v, "previous": v|null, "switching": null|{from, to, started_at}}
    root/current -> versions/v  (POSIX) a symlink for launchers; current.json is the truth

current.json is replaced atomically, so a crash leaves the old or the new pointer, never half of one.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from crystal_manager.storage.atomic import CorruptStateError, StorageError, read_json, write_json_atomic
from crystal_manager.updates.errors import InstallFailed, UpdateStateDamaged
from crystal_protocol.releases import PRODUCT_MANIFEST, ProductManifest, ReleaseFormatError, Version

POINTER = "current.json"
LINK = "current"


def canonical_version(text: object) -> str:
    """A version string as folder names use it; ValueError for anything else (names from files are paths)."""
    if not isinstance(text, str):
        raise ValueError(f"not a version: {text!r}")
    if str(Version.parse(text)) != text:
        raise ValueError(f"not a canonical version: {text!r}")
    return text


@dataclass(frozen=True)
class Switch:
    """A switch under way: written before the symlink flips, cleared once the new version passed."""

    from_version: str | None
    to_version: str
    started_at: str


@dataclass(frozen=True)
class Pointer:
    """What current.json says."""

    current: str | None = None
    previous: str | None = None
    switching: Switch | None = None

    def to_json(self) -> dict[str, object]:
        """The file's form."""
        switching = None if self.switching is None else {
            "from": self.switching.from_version, "to": self.switching.to_version,
            "started_at": self.switching.started_at}
        return {"current": self.current, "previous": self.previous, "switching": switching}

    @classmethod
    def from_json(cls, data: object) -> Pointer:
        """Parse and validate; ValueError when the file says something unusable."""
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")

        def optional(value: object) -> str | None:
            return None if value is None else canonical_version(value)

        raw = data.get("switching")
        switching = None
        if raw is not None:
            if not isinstance(raw, dict) or not isinstance(raw.get("started_at"), str):
                raise ValueError("'switching' is malformed")
            switching = Switch(optional(raw.get("from")), canonical_version(raw.get("to")), raw["started_at"])
        return cls(optional(data.get("current")), optional(data.get("previous")), switching)


def now_iso() -> str:
    """The time in ISO 8601 UTC, for started_at."""
    return datetime.now(UTC).isoformat(timespec="seconds")


class InstallRoot:
    """The folders and pointer under one install root."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.versions = root / "versions"
        self.staging = root / "staging"
        self.pointer_file = root / POINTER
        self.link = root / LINK

    def read_pointer(self) -> Pointer:
        """current.json, or an empty pointer when nothing is installed; UpdateStateDamaged if unusable."""
        try:
            data = read_json(self.pointer_file)
            return Pointer() if data is None else Pointer.from_json(data)
        except (CorruptStateError, ValueError, ReleaseFormatError) as exc:
            raise UpdateStateDamaged(f"{self.pointer_file} is damaged ({exc})") from exc
        except StorageError as exc:
            raise InstallFailed(str(exc)) from exc

    def write_pointer(self, pointer: Pointer) -> None:
        """Replace current.json atomically."""
        try:
            write_json_atomic(self.pointer_file, pointer.to_json(), mode=0o644)
        except OSError as exc:
            raise InstallFailed(f"cannot write {self.pointer_file}: {exc.strerror or exc}") from exc

    def current_version(self) -> str | None:
        """The version current.json names as current."""
        return self.read_pointer().current

    def previous_version(self) -> str | None:
        """The version kept for rollback."""
        return self.read_pointer().previous

    def version_dir(self, version: str) -> Path:
        """Where ``version`` lives (the version is checked: it becomes a path)."""
        try:
            return self.versions / canonical_version(version)
        except ValueError as exc:
            raise UpdateStateDamaged(f"not a version: {version!r}") from exc

    def manifest(self, version: str) -> ProductManifest | None:
        """The product.json of a complete folder for ``version``; None if missing or not that version."""
        path = self.version_dir(version) / PRODUCT_MANIFEST
        if path.is_symlink():
            return None
        try:
            manifest = ProductManifest.from_json(read_json(path))
        except (StorageError, ValueError):
            return None
        return manifest if manifest.version == version else None

    def new_staging(self, prefix: str = "x-") -> Path:
        """A fresh random path under staging/ (not created)."""
        self.staging.mkdir(parents=True, exist_ok=True, mode=0o700)
        return self.staging / f"{prefix}{secrets.token_hex(8)}"

    def drop_staging(self) -> None:
        """Remove the staging folder once it is empty, so a finished (or refused) install leaves no trace."""
        with contextlib.suppress(OSError):  # absent, or holds something still to be cleaned
            self.staging.rmdir()

    def link_target(self) -> str | None:
        """The version the ``current`` symlink points at, or None."""
        try:
            target = os.readlink(self.link)
        except OSError:
            return None
        parts = Path(target).parts
        return parts[1] if len(parts) == 2 and parts[0] == self.versions.name else None

    def point_link(self, version: str | None) -> None:
        """Flip the ``current`` symlink to ``version`` atomically (POSIX only; removed for None)."""
        if os.name != "posix":
            return
        try:
            if version is None:
                if self.link.is_symlink():
                    self.link.unlink()
                return
            temp = self.root / f".{LINK}-{secrets.token_hex(6)}.tmp"
            os.symlink(os.path.join(self.versions.name, canonical_version(version)), temp)
            try:
                os.replace(temp, self.link)
            except BaseException:
                temp.unlink(missing_ok=True)
                raise
        except OSError as exc:
            raise InstallFailed(f"cannot point {self.link} at version {version}: {exc.strerror or exc}") from exc
