"""Safe reading and extraction of release archives (tar, tar.gz, tar.zst).

Two guards, on purpose: our own check of every member before it is written (absolute names, ``..``,
links that point out, hard links to files not in the archive, devices, fifos and duplicates are refused
with a clear message), and then tarfile's ``data`` filter (PEP 706) for whatever the first guard did not
think of. Archives are read as one stream, so a zstd archive never has to be decompressed to disk first.
"""

from __future__ import annotations

import contextlib
import json
import posixpath
import re
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from crystal_manager.updates.errors import ArchiveRejected, InstallFailed
from crystal_protocol.releases import PRODUCT_MANIFEST, ProductManifest, ReleaseFormatError

_MANIFEST_MAX = 64 * 1024
_GZIP_MAGIC = b"\x1f\x8b"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_HASH_PREFIX = re.compile(r"^[0-9a-f]{64}\.")


def _label(archive: Path) -> str:
    """The archive's name for people: a download is kept as "<sha256>.<name>", and the hash says nothing."""
    return _HASH_PREFIX.sub("", archive.name)


def _filter_words(exc: tarfile.FilterError) -> str:
    """tarfile's data-filter refusal in words (its own text holds the full staging path)."""
    name = exc.tarinfo.name
    if isinstance(exc, tarfile.AbsoluteLinkError | tarfile.LinkOutsideDestinationError):
        return f"{name!r} is a link that leads outside the product folder"
    if isinstance(exc, tarfile.AbsolutePathError | tarfile.OutsideDestinationError):
        return f"{name!r} would be written outside the product folder"
    if isinstance(exc, tarfile.SpecialFileError):
        return f"{name!r} is a device or another special file"
    return f"{name!r} is not allowed in a product folder"


@contextlib.contextmanager
def _open_stream(archive: Path) -> Iterator[tarfile.TarFile]:
    """The archive as a streaming tar (``r|``), whatever its compression (told by its first bytes)."""
    with open(archive, "rb") as raw, contextlib.ExitStack() as stack:
        magic = raw.read(4)
        raw.seek(0)
        source: IO[bytes] = raw
        if magic == _ZSTD_MAGIC:
            import zstandard

            source = stack.enter_context(zstandard.ZstdDecompressor().stream_reader(raw))
        try:
            # Closed by the ``with tar`` below; opened here so a non-tar is told apart from a bad member.
            tar = (tarfile.open(fileobj=source, mode="r|gz") if magic.startswith(_GZIP_MAGIC)  # noqa: SIM115
                   else tarfile.open(fileobj=source, mode="r|"))  # noqa: SIM115
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise ArchiveRejected(f"{_label(archive)} is damaged or not a tar archive (plain, gzip or zstd)") from exc
        with tar:
            yield tar


def _member_name(member: tarfile.TarInfo) -> str:
    """The member's path inside the product folder; refuses anything that could land outside it."""
    name = member.name
    if not name or "\x00" in name or "\\" in name or name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        raise ArchiveRejected(f"the archive holds an absolute or malformed path: {name!r}")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise ArchiveRejected(f"the archive holds a path that climbs out of its folder: {name!r}")
    return "/".join(parts)


def _check_member(member: tarfile.TarInfo, name: str, files: set[str], seen: set[str]) -> None:
    """Refuse a member that could write outside the folder or is not a plain file, folder or link."""
    if not name and not member.isdir():
        raise ArchiveRejected(f"the archive holds an entry without a name: {member.name!r}")
    if name in seen and name:
        raise ArchiveRejected(f"the archive holds {name!r} twice")
    if member.issym():
        target = member.linkname
        resolved = posixpath.normpath(posixpath.join(posixpath.dirname(name), target))
        if not target or target.startswith("/") or "\\" in target or resolved == ".." or resolved.startswith("../"):
            raise ArchiveRejected(f"the archive holds a link that points outside the product: {name!r} -> {target!r}")
    elif member.islnk():
        target = posixpath.normpath(member.linkname) if member.linkname else ""
        if target not in files:
            raise ArchiveRejected(f"the archive holds a hard link to a file outside it: {name!r} -> "
                                  f"{member.linkname!r}")
    elif member.isdev() or member.isfifo():
        raise ArchiveRejected(f"the archive holds a device or pipe: {name!r}")
    elif not (member.isreg() or member.isdir()):
        raise ArchiveRejected(f"the archive holds an entry of an unknown kind: {name!r}")


def _parse_manifest(raw: bytes, where: str) -> ProductManifest:
    try:
        return ProductManifest.from_json(json.loads(raw))
    except (ValueError, RecursionError) as exc:  # ReleaseFormatError and JSONDecodeError are ValueErrors
        detail = str(exc) if isinstance(exc, ReleaseFormatError) else "not valid JSON"
        raise ArchiveRejected(f"{where}: {PRODUCT_MANIFEST} is unusable ({detail})") from exc


def read_manifest(archive: Path) -> ProductManifest:
    """``product.json`` from the archive's root, without extracting anything."""
    try:
        with _open_stream(archive) as tar:
            for member in tar:
                if _member_name(member) != PRODUCT_MANIFEST:
                    continue
                if not member.isreg() or member.size > _MANIFEST_MAX:
                    raise ArchiveRejected(f"{_label(archive)}: {PRODUCT_MANIFEST} is not a small plain file")
                stream = tar.extractfile(member)
                assert stream is not None  # a regular member always has data
                return _parse_manifest(stream.read(_MANIFEST_MAX), _label(archive))
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise ArchiveRejected(f"{_label(archive)} is damaged: {exc}") from exc
    except ArchiveRejected:
        raise
    except Exception as exc:  # zstandard.ZstdError and friends: a damaged compressed stream
        raise ArchiveRejected(f"{_label(archive)} is damaged: {exc}") from exc
    raise ArchiveRejected(f"{_label(archive)} has no {PRODUCT_MANIFEST} at its root")


def _checked(tar: tarfile.TarFile) -> Iterator[tarfile.TarInfo]:
    files: set[str] = set()
    seen: set[str] = set()
    for member in tar:
        name = _member_name(member)
        _check_member(member, name, files, seen)
        seen.add(name)
        if member.isreg():
            files.add(name)
        yield member


def extract_archive(archive: Path, dest: Path) -> ProductManifest:
    """Extract ``archive`` into the new folder ``dest`` and return its validated ``product.json``.

    ArchiveRejected when a member is unsafe or the manifest is missing or bad (``dest`` may then hold
    part of the archive: it is the caller's staging folder to delete); InstallFailed when the disk
    refuses (full, permissions).
    """
    dest.mkdir(mode=0o700)  # must not exist: FileExistsError is a caller's bug, not the archive's
    try:
        with _open_stream(archive) as tar:
            tar.extractall(dest, members=_checked(tar), filter="data")
    except ArchiveRejected:
        raise
    except tarfile.FilterError as exc:
        raise ArchiveRejected(f"{_label(archive)} holds an unsafe entry: {_filter_words(exc)}") from exc
    except (tarfile.TarError, EOFError) as exc:
        raise ArchiveRejected(f"{_label(archive)} is damaged: {exc}") from exc
    except OSError as exc:
        raise InstallFailed(f"cannot extract {_label(archive)}: {exc.strerror or exc}") from exc
    except Exception as exc:  # zstandard.ZstdError: a damaged compressed stream
        raise ArchiveRejected(f"{_label(archive)} is damaged: {exc}") from exc
    manifest_file = dest / PRODUCT_MANIFEST
    if manifest_file.is_symlink() or not manifest_file.is_file():
        raise ArchiveRejected(f"{_label(archive)} has no {PRODUCT_MANIFEST} at its root")
    with open(manifest_file, "rb") as handle:
        return _parse_manifest(handle.read(_MANIFEST_MAX + 1), _label(archive))
