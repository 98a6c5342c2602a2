"""Release facts shared by the update server and the app: versions, the archive manifest, target metadata.

A release archive is a tar (plain, gzip or zstd) of the product folder with ``product.json`` at its root.
Each release is one TUF target whose ``custom`` metadata is a :class:`ReleaseInfo`. Both sides parse with
these functions, so a field means the same thing on both ends.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

PRODUCT_MANIFEST = "product.json"
CHANNELS = ("stable", "beta")
#: The product this Manager installs.
PRODUCT = "crystalme3d-pro"
ARCHIVE_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.zst")

_VERSION = re.compile(r"^(0|[1-9]\d{0,5})\.(0|[1-9]\d{0,5})\.(0|[1-9]\d{0,5})(?:-([0-9A-Za-z]+(?:\.[0-9A-Za-z]+)*))?$")
_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
_PLATFORM = re.compile(r"^[a-z0-9]+-[a-z0-9_]+$")


class ReleaseFormatError(ValueError):
    """A version, manifest or release record does not have the agreed form."""


@dataclass(frozen=True, order=False)
class Version:
    """MAJOR.MINOR.PATCH with an optional pre-release tag (``1.3.0-beta.1``), ordered as SemVer orders."""

    major: int
    minor: int
    patch: int
    pre: tuple[int | str, ...] = ()

    @classmethod
    def parse(cls, text: str) -> Version:
        """Parse strictly; ReleaseFormatError says what is wrong."""
        match = _VERSION.fullmatch(text) if isinstance(text, str) else None
        if match is None:
            raise ReleaseFormatError(f"not a version (expected e.g. 1.2.0 or 1.3.0-beta.1): {text!r}")
        pre = tuple(int(p) if p.isdigit() else p for p in match.group(4).split(".")) if match.group(4) else ()
        return cls(int(match.group(1)), int(match.group(2)), int(match.group(3)), pre)

    def _key(self) -> tuple[Any, ...]:
        # A release sorts after its pre-releases; numeric tags before alphanumeric ones (SemVer §11).
        tags = tuple((0, p, "") if isinstance(p, int) else (1, 0, p) for p in self.pre)
        return (self.major, self.minor, self.patch, 1 if not self.pre else 0, tags)

    def __lt__(self, other: Version) -> bool:
        return self._key() < other._key()

    def __le__(self, other: Version) -> bool:
        return self._key() <= other._key()

    def __gt__(self, other: Version) -> bool:
        return self._key() > other._key()

    def __ge__(self, other: Version) -> bool:
        return self._key() >= other._key()

    def __str__(self) -> str:
        core = f"{self.major}.{self.minor}.{self.patch}"
        return core + ("-" + ".".join(str(p) for p in self.pre) if self.pre else "")


def _text(data: dict[str, Any], name: str, where: str) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value:
        raise ReleaseFormatError(f"{where}: {name!r} must be a non-empty string")
    return value


def check_product(name: str) -> str:
    """A product name: lower-case letters, digits and dashes."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ReleaseFormatError(f"not a product name (lower-case letters, digits, dashes): {name!r}")
    return name


def check_platform(name: str) -> str:
    """A platform name such as ``linux-x86_64``."""
    if not isinstance(name, str) or not _PLATFORM.fullmatch(name):
        raise ReleaseFormatError(f"not a platform name (e.g. linux-x86_64): {name!r}")
    return name


@dataclass(frozen=True)
class ProductManifest:
    """``product.json`` at the root of a release archive (and of every installed version folder)."""

    product: str
    version: str
    platform: str
    health_check: tuple[str, ...]

    @classmethod
    def from_json(cls, data: Any) -> ProductManifest:
        """Validate a parsed ``product.json``."""
        where = PRODUCT_MANIFEST
        if not isinstance(data, dict):
            raise ReleaseFormatError(f"{where} must be a JSON object")
        check = data.get("health_check")
        if (not isinstance(check, list) or not check or not all(isinstance(a, str) and a for a in check)
                or check[0].startswith("/") or ".." in check[0].split("/") or "\\" in check[0]):
            raise ReleaseFormatError(f"{where}: 'health_check' must be a command relative to the version folder, "
                                     "e.g. [\"bin/crystalme3d\", \"--version\"]")
        version = _text(data, "version", where)
        Version.parse(version)
        return cls(product=check_product(_text(data, "product", where)), version=version,
                   platform=check_platform(_text(data, "platform", where)), health_check=tuple(check))

    def to_json(self) -> dict[str, Any]:
        """The JSON form."""
        return {"product": self.product, "version": self.version, "platform": self.platform,
                "health_check": list(self.health_check)}


@dataclass(frozen=True)
class ReleaseInfo:
    """A release's signed facts: the ``custom`` field of its TUF target."""

    product: str
    version: str
    platform: str
    channel: str
    released_at: str  # ISO 8601 UTC, e.g. 2026-11-30T12:00:00Z
    notes: str = ""  # plain text or Markdown; rendered without scripts, images or remote content
    min_manager: str | None = None
    critical: bool = False

    @classmethod
    def from_custom(cls, data: Any) -> ReleaseInfo:
        """Validate a target's custom metadata (it is signed, but still checked before use)."""
        where = "release metadata"
        if not isinstance(data, dict):
            raise ReleaseFormatError(f"{where} must be a JSON object")
        version = _text(data, "version", where)
        Version.parse(version)
        channel = _text(data, "channel", where)
        if channel not in CHANNELS:
            raise ReleaseFormatError(f"{where}: unknown channel {channel!r}")
        released = _text(data, "released_at", where)
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z", released):
            raise ReleaseFormatError(f"{where}: 'released_at' must be like 2026-11-30T12:00:00Z")
        notes = data.get("notes", "")
        min_manager = data.get("min_manager")
        critical = data.get("critical", False)
        if not isinstance(notes, str) or not isinstance(critical, bool):
            raise ReleaseFormatError(f"{where}: 'notes' must be text and 'critical' true or false")
        if min_manager is not None:
            if not isinstance(min_manager, str):
                raise ReleaseFormatError(f"{where}: 'min_manager' must be a version")
            Version.parse(min_manager)
        return cls(product=check_product(_text(data, "product", where)), version=version,
                   platform=check_platform(_text(data, "platform", where)), channel=channel,
                   released_at=released, notes=notes, min_manager=min_manager, critical=critical)

    def to_custom(self) -> dict[str, Any]:
        """The JSON form stored in the target's ``custom`` field."""
        return {"product": self.product, "version": self.version, "platform": self.platform,
                "channel": self.channel, "released_at": self.released_at, "notes": self.notes,
                "min_manager": self.min_manager, "critical": self.critical}


def target_name(product: str, version: str, platform: str, suffix: str) -> str:
    """The TUF target path of a release archive: one flat file name (no folders, safe in a URL)."""
    if suffix not in ARCHIVE_SUFFIXES:
        raise ReleaseFormatError(f"archive suffix must be one of {', '.join(ARCHIVE_SUFFIXES)}")
    return f"{check_product(product)}-{Version.parse(version)}-{check_platform(platform)}{suffix}"


def current_platform() -> str:
    """This machine's platform name, as releases name it."""
    import platform
    import sys

    system = {"linux": "linux", "win32": "windows", "darwin": "macos"}.get(sys.platform, sys.platform)
    machine = platform.machine().lower()
    machine = {"amd64": "x86_64", "x64": "x86_64", "aarch64": "arm64"}.get(machine, machine)
    return f"{system}-{machine}"
