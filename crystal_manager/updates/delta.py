"""Delta updates on the client: choose a signed patch from the installed version, check its base, apply it
as a stream, and verify the result against its signed hash before anything can be extracted from it.

The base is the installed version's release as it was verified: the archive the service keeps in the
downloads folder after an install (compressed or not), or the tar an earlier patch produced. Its
uncompressed bytes must hash to the patch's signed ``from_tar_sha256``; anything else (missing, changed on
disk, another base) makes :func:`apply` raise PatchFailed with a one-line reason, and the caller takes the
full archive. The result is the new release's uncompressed tar, kept as ``<to_tar_sha256>.<name>.tar``
(docs/decisions/0011-delta-updates.md).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crystal_manager.updates.download import SignedFile, partial_state
from crystal_manager.updates.errors import UpdateError
from crystal_protocol.releases import (
    ARCHIVE_SUFFIXES,
    PATCH_FRAME,
    PATCH_MAGIC,
    PATCH_MAX_RANGES,
    PATCH_RANGE,
    PATCH_SUFFIX,
    PATCH_WINDOW_LOG,
    PatchInfo,
    ReleaseFormatError,
    target_name,
)

#: A patch is taken only when it is at most this share of the full archive (else: the full download).
MAX_SHARE = 0.5
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_PLAIN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")
_FRAME = struct.calcsize(PATCH_FRAME)
_RANGE = struct.calcsize(PATCH_RANGE)
_BLOCK = 1 << 20
_GZIP_MAGIC = b"\x1f\x8b"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


class PatchFailed(Exception):
    """The patch path cannot be used; ``str(exc)`` says why in words. The caller takes the full archive."""


@dataclass(frozen=True)
class PatchPlan:
    """A signed patch from the installed version to the offered release, and the kept base it needs."""

    info: PatchInfo
    signed: SignedFile  # the patch target itself (downloaded and verified like any target)
    base: Path


def _stem(name: str) -> str | None:
    """The target name without its archive suffix; None for anything but a plain release file name (names
    come from signed metadata or the state file: never a path, never a glob pattern)."""
    suffix = next((s for s in sorted(ARCHIVE_SUFFIXES, key=len, reverse=True) if name.endswith(s)), None)
    if suffix is None or not _PLAIN.match(name) or ".." in name:
        return None
    return name[: -len(suffix)]


def result_file(folder: Path, info: PatchInfo) -> Path:
    """Where the patched (uncompressed) tar of ``info.to_target`` is kept once verified."""
    stem = _stem(info.to_target)
    if stem is None:  # PatchInfo.from_custom only accepts target names made by target_name()
        raise PatchFailed(f"the patch names no release file ({info.to_target!r})")
    return folder / f"{info.to_tar_sha256}.{stem}.tar"


def find_base(folder: Path, product: str, version: str, platform: str) -> Path | None:
    """The kept release file of ``version`` in the downloads folder, or None."""
    names = {target_name(product, version, platform, s) for s in ARCHIVE_SUFFIXES}
    try:
        entries = sorted(folder.iterdir())
    except FileNotFoundError:
        return None
    for entry in entries:
        name = entry.name
        if _SHA256.match(name[:64]) and name[64:65] == "." and name[65:] in names and entry.is_file():
            return entry
    return None


def choose(targets: Iterable[tuple[str, int, str | None, Any]], *, full_name: str, full_length: int,
           full_sha256: str, installed: str | None, folder: Path, product: str,
           platform: str) -> tuple[PatchPlan | None, str]:
    """The patch to take for the full target ``full_name``, or None and why not (plain words).

    ``targets`` are signed (name, length, sha256, custom) facts. Only a patch whose signed result is
    exactly this full target, from exactly the installed version, is considered."""
    if installed is None:
        return None, "no version is installed to patch"
    found: PatchPlan | None = None
    for name, length, sha256, custom in targets:
        try:
            info = PatchInfo.from_custom(custom)
        except ReleaseFormatError:
            continue
        if (info.to_target, info.to_sha256, info.to_length) != (full_name, full_sha256, full_length) \
                or (info.product, info.platform, info.from_version) != (product, platform, installed) \
                or not isinstance(sha256, str) or not _SHA256.match(sha256) or not isinstance(length, int):
            continue
        candidate = PatchPlan(info=info, signed=SignedFile(name=name, url_name=f"{sha256}.{name}", length=length,
                                                           sha256=sha256), base=Path())
        if found is None or length < found.signed.length:
            found = candidate
    if found is None:
        return None, f"no patch from {installed} is published"
    if found.signed.length > full_length * MAX_SHARE:
        return None, f"the patch from {installed} is not much smaller than the full download"
    base = find_base(folder, product, installed, platform)
    if base is None:
        # The patch applies to the release file of the installed version (its exact bytes), not to the
        # installed program: a version installed without the Manager's download has no such file kept.
        return None, f"the patch applies to the {installed} download, which is not kept on this computer"
    return PatchPlan(info=found.info, signed=found.signed, base=base), ""


def _hash_into(source: Any, sink: Any, limit: int) -> tuple[str, int]:
    """Copy at most ``limit + 1`` bytes from ``source`` to ``sink`` (None: only hash); SHA-256 and count."""
    digest = hashlib.sha256()
    count = 0
    while count <= limit and (chunk := source.read(min(_BLOCK, limit + 1 - count))):
        digest.update(chunk)
        if sink is not None:
            sink.write(chunk)
        count += len(chunk)
    return digest.hexdigest(), count


def _base_tar(plan: PatchPlan, folder: Path) -> tuple[Path, bool]:
    """The base's uncompressed tar, checked against its signed hash; True when it is a temporary file."""
    info = plan.info
    changed = PatchFailed(f"the kept copy of {info.from_version} changed on disk")
    try:
        with open(plan.base, "rb") as raw:
            magic = raw.read(4)
            raw.seek(0)
            if magic.startswith(_GZIP_MAGIC) or magic == _ZSTD_MAGIC:
                temp = folder / f".base-{info.from_tar_sha256}.tar.tmp"
                with open(temp, "wb") as sink:
                    if magic == _ZSTD_MAGIC:
                        import zstandard

                        with zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True) as source:
                            found = _hash_into(source, sink, info.from_tar_length)
                    else:
                        import gzip

                        with gzip.GzipFile(fileobj=raw, mode="rb") as source:
                            found = _hash_into(source, sink, info.from_tar_length)
                path, is_temp = temp, True
            else:
                found = _hash_into(raw, None, info.from_tar_length)
                path, is_temp = plan.base, False
    except FileNotFoundError:
        raise PatchFailed(f"the {info.from_version} download the patch applies to is no longer kept on this "
                          "computer") from None
    except (OSError, EOFError, ValueError) as exc:  # gzip/zstd errors on a damaged file are OSError/ValueError
        (folder / f".base-{info.from_tar_sha256}.tar.tmp").unlink(missing_ok=True)
        plan.base.unlink(missing_ok=True)
        raise changed from exc
    if found != (info.from_tar_sha256, info.from_tar_length):
        if is_temp:
            path.unlink(missing_ok=True)
        plan.base.unlink(missing_ok=True)  # a base that no longer matches is useless: never tried again
        raise changed
    return path, is_temp


def _frames(patch: Any, info: PatchInfo, base_length: int) -> Any:
    """Yield (base ranges, output length, frame bytes), every bound checked before anything is read."""
    if patch.read(len(PATCH_MAGIC)) != PATCH_MAGIC:
        raise PatchFailed("the patch is not in a known format")
    produced = 0
    damaged = PatchFailed("the patch is damaged (a part of it lies outside its bounds)")
    while header := patch.read(_FRAME):
        if len(header) != _FRAME:
            raise PatchFailed("the patch is cut short")
        out_length, frame_length, count = struct.unpack(PATCH_FRAME, header)
        raw = patch.read(_RANGE * count)
        if len(raw) != _RANGE * count:
            raise PatchFailed("the patch is cut short")
        ranges = [struct.unpack_from(PATCH_RANGE, raw, i * _RANGE) for i in range(count)]
        if (count > PATCH_MAX_RANGES or any(offset + length > base_length for offset, length in ranges)
                or sum(length for _offset, length in ranges) + out_length > 1 << PATCH_WINDOW_LOG
                or out_length == 0 or produced + out_length > info.to_tar_length
                or frame_length > out_length + (1 << 20)):
            raise damaged
        frame = patch.read(frame_length)
        if len(frame) != frame_length:
            raise PatchFailed("the patch is cut short")
        produced += out_length
        yield ranges, out_length, frame


def apply(plan: PatchPlan, patch_file: Path, folder: Path) -> Path:
    """Apply the verified ``patch_file`` to the plan's base; return the verified result (see result_file).

    Streams: one frame at a time, memory bounded by the patch window (64 MiB) whatever the bundle's size.
    The result is written to a ``.partial`` file and renamed only after its length and SHA-256 match the
    signed facts. PatchFailed (with the reason) on any problem; nothing partial is left behind."""
    import zstandard

    info = plan.info
    final = result_file(folder, info)
    partial = final.with_name(final.name + ".partial")
    for stray in folder.glob(".base-*.tar.tmp"):  # left by a process killed while patching
        stray.unlink(missing_ok=True)
    base, is_temp = _base_tar(plan, folder)
    digest = hashlib.sha256()
    written = 0
    try:
        with open(base, "rb") as base_handle, open(patch_file, "rb") as patch, open(partial, "wb") as out:
            for ranges, out_length, frame in _frames(patch, info, info.from_tar_length):
                region = b"".join(os.pread(base_handle.fileno(), length, offset) for offset, length in ranges)
                if region:
                    dictionary = zstandard.ZstdCompressionDict(region, dict_type=zstandard.DICT_TYPE_RAWCONTENT)
                    del region  # the dictionary holds its own copy
                    decompressor = zstandard.ZstdDecompressor(dict_data=dictionary,
                                                              max_window_size=1 << PATCH_WINDOW_LOG)
                else:
                    decompressor = zstandard.ZstdDecompressor(max_window_size=1 << PATCH_WINDOW_LOG)
                try:
                    data = decompressor.decompress(frame, max_output_size=out_length)
                except zstandard.ZstdError as exc:
                    raise PatchFailed("the patch is damaged (it does not decompress)") from exc
                if len(data) != out_length:
                    raise PatchFailed("the patch is damaged (a part has the wrong length)")
                digest.update(data)
                out.write(data)
                written += out_length
        if (written, digest.hexdigest()) != (info.to_tar_length, info.to_tar_sha256):
            raise PatchFailed(f"the patched {info.to_version} does not match its signed hash")
        os.replace(partial, final)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    finally:
        if is_temp:
            base.unlink(missing_ok=True)
    return final


def verified_result(folder: Path, info: PatchInfo, *, check_hash: bool = True) -> Path | None:
    """The kept patched tar for ``info`` if it is there and (unless ``check_hash`` is False) still matches
    its signed hash; a file that no longer matches is deleted."""
    path = result_file(folder, info)
    try:
        if path.stat().st_size != info.to_tar_length:
            path.unlink(missing_ok=True)
            return None
        if check_hash:
            with open(path, "rb") as handle:
                if _hash_into(handle, None, info.to_tar_length) != (info.to_tar_sha256, info.to_tar_length):
                    path.unlink(missing_ok=True)
                    return None
    except FileNotFoundError:
        return None
    return path


def _patch_tail(full_name: str, product: str) -> str:
    # A patch to P-V-PLAT.SUF is named P-FROM-to-V-PLAT.SUF-patch (crystal_protocol.patch_target_name).
    return f"-to-{full_name.removeprefix(product + '-')}{PATCH_SUFFIX}"


def kept_result(folder: Path, full_name: str) -> Path | None:
    """A patched tar kept for the full target ``full_name`` (not re-hashed: for showing progress only)."""
    stem = _stem(full_name)
    if stem is None:
        return None
    for path in sorted(folder.glob(f"*.{stem}.tar")):
        if _SHA256.match(path.name[:64]) and path.name[64:] == f".{stem}.tar":
            return path
    return None


def patch_progress(folder: Path, full_name: str, product: str) -> tuple[int, int] | None:
    """``(received, total)`` of a partly downloaded patch to ``full_name``, or None."""
    if _stem(full_name) is None:
        return None
    for sidecar in sorted(folder.glob(f"*{_patch_tail(full_name, product)}.partial.json")):
        try:
            data = json.loads(sidecar.read_bytes())
            signed = SignedFile(name=str(data["name"]), url_name=f"{data['sha256']}.{data['name']}",
                                length=int(data["length"]), sha256=str(data["sha256"]))
            found = partial_state(folder, signed)
        except (OSError, ValueError, KeyError, TypeError, UpdateError):
            continue
        if found is not None:
            return found
    return None


def discard_for(folder: Path, full_name: str, product: str) -> None:
    """Delete every patch file and patched tar kept for the full target ``full_name`` (nothing for a name
    that is not a plain release file name)."""
    stem = _stem(full_name)
    if stem is None:
        return
    for path in [*folder.glob(f"*{_patch_tail(full_name, product)}*"), *folder.glob(f"*.{stem}.tar"),
                 *folder.glob(f"*.{stem}.tar.partial")]:
        if _SHA256.match(path.name[:64]) and path.is_file():
            path.unlink(missing_ok=True)


__all__ = ["MAX_SHARE", "PatchFailed", "PatchPlan", "apply", "choose", "discard_for", "find_base", "kept_result",
           "patch_progress", "result_file", "verified_result"]
