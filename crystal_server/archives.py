"""Checks on a release archive before it is published: a tar (plain, gzip or zstd) of the product folder
with ``product.json`` at its root and nothing that could land outside the version folder.

The client extracts with tarfile's ``data`` filter anyway; refusing here means a bad archive is never
signed at all, and the operator hears why in one line.
"""

from __future__ import annotations

import json
import posixpath
import tarfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from crystal_protocol.releases import ARCHIVE_SUFFIXES, PRODUCT_MANIFEST, ProductManifest, ReleaseFormatError

MAX_MANIFEST_BYTES = 64 * 1024


class ArchiveError(ValueError):
    """The archive is not one we publish; the message is one line for the operator."""


def archive_suffix(path: Path) -> str:
    """The archive's suffix (``.tar``, ``.tar.gz``, ``.tgz``, ``.tar.zst``), from its file name."""
    name = path.name.lower()
    # Longest first: ".tar.gz" must not be taken for something ending in ".gz" alone.
    for suffix in sorted(ARCHIVE_SUFFIXES, key=len, reverse=True):
        if name.endswith(suffix):
            return suffix
    raise ArchiveError(f"{path.name}: not a release archive (name must end with {', '.join(ARCHIVE_SUFFIXES)})")


@contextmanager
def open_tar_stream(path: Path) -> Iterator[tarfile.TarFile]:
    """Open ``path`` as a tar stream (no seeking), decompressing gzip or zstd as its name says."""
    suffix = archive_suffix(path)
    with open(path, "rb") as raw:
        if suffix == ".tar.zst":
            import zstandard

            reader: IO[bytes] = zstandard.ZstdDecompressor().stream_reader(raw)
            with reader, tarfile.open(fileobj=reader, mode="r|") as tar:
                yield tar
        else:
            mode = "r|gz" if suffix in (".tar.gz", ".tgz") else "r|"
            with tarfile.open(fileobj=raw, mode=mode) as tar:  # type: ignore[call-overload]
                yield tar


def _member_path(name: str) -> str:
    """The member's path relative to the archive root ("" for the root itself); refuses escapes."""
    if name.startswith("/") or "\\" in name or (len(name) > 1 and name[1] == ":"):
        raise ArchiveError(f"archive holds an absolute path: {name!r}")
    if ".." in name.split("/"):
        raise ArchiveError(f"archive holds a path with '..': {name!r}")
    clean = posixpath.normpath(name)
    return "" if clean == "." else clean


def _escapes(path: str) -> bool:
    return path == ".." or path.startswith("../") or path.startswith("/")


def _check_link(member: tarfile.TarInfo, path: str) -> None:
    target = member.linkname
    if not target:
        raise ArchiveError(f"archive holds a link with no target: {member.name!r}")
    if target.startswith("/"):
        raise ArchiveError(f"archive holds a link to an absolute path: {member.name!r} -> {target!r}")
    # A symbolic link resolves from its own folder; a hard link names another member from the root.
    base = posixpath.dirname(path) if member.issym() else ""
    if _escapes(posixpath.normpath(posixpath.join(base, target))):
        raise ArchiveError(f"archive holds a link out of the product folder: {member.name!r} -> {target!r}")


def _read_manifest(tar: tarfile.TarFile, member: tarfile.TarInfo) -> ProductManifest:
    if not member.isreg():
        raise ArchiveError(f"{PRODUCT_MANIFEST} in the archive is not a regular file")
    if member.size > MAX_MANIFEST_BYTES:
        raise ArchiveError(f"{PRODUCT_MANIFEST} in the archive is too large ({member.size} bytes)")
    handle = tar.extractfile(member)
    if handle is None:
        raise ArchiveError(f"{PRODUCT_MANIFEST} in the archive cannot be read")
    try:
        return ProductManifest.from_json(json.loads(handle.read().decode("utf-8")))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise ArchiveError(f"{PRODUCT_MANIFEST} in the archive is not JSON: {exc}") from exc
    except ReleaseFormatError as exc:
        raise ArchiveError(str(exc)) from exc


def check_archive(path: Path, label: str | None = None) -> ProductManifest:
    """Walk the whole archive once; return its manifest or raise ArchiveError at the first problem.
    ``label`` names the archive in messages (the operator's file name, when checking a copy)."""
    label = label or path.name
    manifest: ProductManifest | None = None
    seen: dict[str, tarfile.TarInfo] = {}
    try:
        with open_tar_stream(path) as tar:
            for member in tar:
                rel = _member_path(member.name)
                if member.ischr() or member.isblk() or member.isfifo() or not (
                        member.isreg() or member.isdir() or member.issym() or member.islnk()):
                    raise ArchiveError(f"archive holds a device or special file: {member.name!r}")
                if member.issym() or member.islnk():
                    _check_link(member, rel)
                if member.islnk() and posixpath.normpath(member.linkname) not in seen:
                    raise ArchiveError(f"archive holds a hard link to a file not before it: {member.name!r}")
                if rel in seen and not (member.isdir() and seen[rel].isdir()):
                    raise ArchiveError(f"archive holds {rel!r} twice" if rel != PRODUCT_MANIFEST
                                       else f"archive holds {PRODUCT_MANIFEST} twice")
                seen[rel] = member
                if rel == PRODUCT_MANIFEST:
                    manifest = _read_manifest(tar, member)
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise ArchiveError(f"{label}: not a readable tar archive ({exc})") from exc
    except ArchiveError:
        raise
    except Exception as exc:  # zstandard raises its own ZstdError for a damaged frame
        if type(exc).__module__.startswith("zstandard"):
            raise ArchiveError(f"{label}: not a readable zstd archive ({exc})") from exc
        raise
    if manifest is None:
        raise ArchiveError(f"archive has no {PRODUCT_MANIFEST} at its root")
    program = posixpath.normpath(manifest.health_check[0])
    found = seen.get(program)
    if found is None or not (found.isreg() or found.issym() or found.islnk()):
        raise ArchiveError(f"the health check program {manifest.health_check[0]!r} is not in the archive")
    return manifest


__all__ = ["ArchiveError", "archive_suffix", "check_archive", "open_tar_stream"]
