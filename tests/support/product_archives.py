"""Release archives of a stand-in CrystalMe3D Pro for the install tests: a real tar (plain, gzip or
zstd) holding ``product.json`` and a ``bin/crystalme3d`` shell script that prints its version."""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

from crystal_protocol.releases import PRODUCT, ReleaseInfo, current_platform

Health = Literal["ok", "fail", "wrong_version", "hang", "silent"]
Compression = Literal["", "gz", "zst"]

_SCRIPTS: dict[str, str] = {
    "ok": 'echo "CrystalMe3D Pro {version}"\n',
    "fail": 'echo "CrystalMe3D Pro {version}"\nexit 3\n',
    "wrong_version": 'echo "CrystalMe3D Pro 0.0.1"\n',
    "hang": "sleep 60\n",
    "silent": "exit 0\n",
}


def script(version: str, health: Health = "ok") -> bytes:
    """The stand-in program's text."""
    return ("#!/bin/sh\n" + _SCRIPTS[health].format(version=version)).encode()


def file_member(name: str, data: bytes, mode: int = 0o644) -> tuple[tarfile.TarInfo, bytes]:
    """A regular-file member."""
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = mode
    return info, data


def special_member(name: str, kind: bytes, linkname: str = "") -> tuple[tarfile.TarInfo, bytes]:
    """A link, device, fifo or folder member (``kind`` is a tarfile type such as tarfile.SYMTYPE)."""
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    info.mode = 0o755 if kind == tarfile.DIRTYPE else 0o644
    return info, b""


def product_members(version: str, *, health: Health = "ok", product: str = PRODUCT,
                    platform: str | None = None) -> list[tuple[tarfile.TarInfo, bytes]]:
    """The members of a well-formed release of the stand-in product."""
    manifest = {"product": product, "version": version, "platform": platform or current_platform(),
                "health_check": ["bin/crystalme3d", "--version"]}
    return [
        file_member("product.json", json.dumps(manifest).encode()),
        special_member("bin", tarfile.DIRTYPE),
        file_member("bin/crystalme3d", script(version, health), 0o755),
        special_member("share", tarfile.DIRTYPE),
        file_member("share/README.txt", f"CrystalMe3D Pro {version}\n".encode()),
        file_member("share/data.bin", os.urandom(4096)),
        special_member("share/readme-link", tarfile.SYMTYPE, "README.txt"),
    ]


def write_archive(path: Path, members: Iterable[tuple[tarfile.TarInfo, bytes]],
                  compression: Compression = "gz") -> Path:
    """Write ``members`` as a tar with the given compression; returns ``path``."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz" if compression == "gz" else "w") as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if info.isreg() else None)
    raw = buffer.getvalue()
    if compression == "zst":
        import zstandard

        raw = zstandard.ZstdCompressor().compress(raw)
    path.write_bytes(raw)
    return path


def build_release(folder: Path, version: str, *, health: Health = "ok", compression: Compression = "gz",
                  product: str = PRODUCT, platform: str | None = None) -> Path:
    """A well-formed release archive of the stand-in product in ``folder``."""
    suffix = {"": ".tar", "gz": ".tar.gz", "zst": ".tar.zst"}[compression]
    return write_archive(folder / f"{product}-{version}-{health}{suffix}",
                         product_members(version, health=health, product=product, platform=platform),
                         compression)


def release_info(version: str, *, product: str = PRODUCT, platform: str | None = None) -> ReleaseInfo:
    """Signed facts as the metadata would give them."""
    return ReleaseInfo(product=product, version=version, platform=platform or current_platform(),
                       channel="stable", released_at="2026-11-30T12:00:00Z")


def tree_snapshot(root: Path) -> dict[str, str]:
    """Every entry under ``root``: folders, files (with a hash of their bytes and mode) and link targets."""
    snapshot: dict[str, str] = {}
    if not root.exists():
        return snapshot
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(folder) / name
            rel = str(path.relative_to(root))
            if path.is_symlink():
                snapshot[rel] = "link:" + os.readlink(path)
            elif path.is_dir():
                snapshot[rel] = f"dir:{path.stat().st_mode & 0o7777:o}"
            else:
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
                snapshot[rel] = f"file:{path.stat().st_mode & 0o7777:o}:{digest}"
    return snapshot
