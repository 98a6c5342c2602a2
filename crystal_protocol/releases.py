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


#: A patch target's name ends with this (after the full target's suffix), so no archive name can match it.
PATCH_SUFFIX = "-patch"
#: The patch format (docs/decisions/0011): a magic line, then frames. Each frame is a header ``PATCH_FRAME``
#: = (output length, compressed length, number of base ranges), the ranges as ``PATCH_RANGE`` = (offset,
#: length) into the base's uncompressed tar, then one zstd frame compressed with those base ranges, joined,
#: as a raw-content dictionary. The frames' outputs, in order, are the new release's uncompressed tar.
PATCH_FORMAT = "zstd-segments-1"
PATCH_MAGIC = b"CRYSTAL-PATCH zstd-segments-1\n"
PATCH_FRAME = ">IIH"
PATCH_RANGE = ">QI"
PATCH_MAX_RANGES = 1024
#: The largest zstd window a patch frame may use (the client refuses more: bounded memory): dictionary and
#: output of one frame together stay under it.
PATCH_WINDOW_LOG = 26
_SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")


def _sha(data: dict[str, Any], name: str, where: str) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not _SHA256_HEX.fullmatch(value):
        raise ReleaseFormatError(f"{where}: {name!r} must be a SHA-256 in hex")
    return value


def _length(data: dict[str, Any], name: str, where: str) -> int:
    value = data.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ReleaseFormatError(f"{where}: {name!r} must be a positive whole number")
    return value


@dataclass(frozen=True)
class PatchInfo:
    """A patch's signed facts: the ``custom`` field of a patch target (``kind`` "patch").

    It turns the base release's uncompressed tar (``from_tar_*``) into the new release's uncompressed tar
    (``to_tar_*``), which is the content of the full target ``to_target`` (``to_sha256``/``to_length``: the
    full target as signed). It has no ``version`` field on purpose: it never parses as a ReleaseInfo, so
    nothing offers a patch as a release."""

    product: str
    platform: str
    from_version: str
    from_tar_sha256: str
    from_tar_length: int
    to_version: str
    to_target: str
    to_sha256: str
    to_length: int
    to_tar_sha256: str
    to_tar_length: int
    format: str = PATCH_FORMAT

    @classmethod
    def from_custom(cls, data: Any) -> PatchInfo:
        """Validate a patch target's custom metadata."""
        where = "patch metadata"
        if not isinstance(data, dict) or data.get("kind") != "patch":
            raise ReleaseFormatError(f"{where} must be a JSON object with kind 'patch'")
        if data.get("format") != PATCH_FORMAT:
            raise ReleaseFormatError(f"{where}: unknown patch format {data.get('format')!r}")
        versions = [_text(data, n, where) for n in ("from_version", "to_version")]
        if Version.parse(versions[0]) >= Version.parse(versions[1]):
            raise ReleaseFormatError(f"{where}: a patch must lead to a newer version")
        to_target = _text(data, "to_target", where)
        product, platform = check_product(_text(data, "product", where)), check_platform(_text(data, "platform", where))
        if to_target not in {target_name(product, versions[1], platform, s) for s in ARCHIVE_SUFFIXES}:
            raise ReleaseFormatError(f"{where}: 'to_target' does not name {product} {versions[1]} for {platform}")
        return cls(product=product, platform=platform, from_version=versions[0],
                   from_tar_sha256=_sha(data, "from_tar_sha256", where),
                   from_tar_length=_length(data, "from_tar_length", where), to_version=versions[1],
                   to_target=to_target, to_sha256=_sha(data, "to_sha256", where),
                   to_length=_length(data, "to_length", where), to_tar_sha256=_sha(data, "to_tar_sha256", where),
                   to_tar_length=_length(data, "to_tar_length", where))

    def to_custom(self) -> dict[str, Any]:
        """The JSON form stored in the patch target's ``custom`` field."""
        return {"kind": "patch", "format": self.format, "product": self.product, "platform": self.platform,
                "from_version": self.from_version, "from_tar_sha256": self.from_tar_sha256,
                "from_tar_length": self.from_tar_length, "to_version": self.to_version,
                "to_target": self.to_target, "to_sha256": self.to_sha256, "to_length": self.to_length,
                "to_tar_sha256": self.to_tar_sha256, "to_tar_length": self.to_tar_length}


def patch_target_name(product: str, from_version: str, to_version: str, platform: str, suffix: str) -> str:
    """A patch target's path, e.g. ``crystalme3d-pro-1.1.0-to-1.2.0-linux-x86_64.tar.zst-patch``."""
    if suffix not in ARCHIVE_SUFFIXES:
        raise ReleaseFormatError(f"archive suffix must be one of {', '.join(ARCHIVE_SUFFIXES)}")
    return (f"{check_product(product)}-{Version.parse(from_version)}-to-{Version.parse(to_version)}-"
            f"{check_platform(platform)}{suffix}{PATCH_SUFFIX}")


def current_platform() -> str:
    """This machine's platform name, as releases name it."""
    import platform
    import sys

    system = {"linux": "linux", "win32": "windows", "darwin": "macos"}.get(sys.platform, sys.platform)
    machine = platform.machine().lower()
    machine = {"amd64": "x86_64", "x64": "x86_64", "aarch64": "arm64"}.get(machine, machine)
    return f"{system}-{machine}"
