"""Patches between releases: zstd frames over segments of the new tar, each with the matching parts of the
base tar as its dictionary (format ``zstd-segments-1``, docs/decisions/0011-delta-updates.md).

Why segments: one zstd frame with the whole base as a prefix needs the whole base and a window as large as
base + release in memory on both sides (over 1 GiB for a 500 MB bundle), and python-zstandard finds no
matches in a raw dictionary much larger than its hash table. A segment of the new tar only needs the parts
of the base its files came from; the tar's member names say where those are (a file keeps its name from one
release to the next, wherever it moved). Memory stays bounded by segment + dictionary whatever the
bundle's size, and the client needs no tar parsing: each frame lists the base ranges it uses.
"""

from __future__ import annotations

import bisect
import gzip
import hashlib
import os
import struct
import tarfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from crystal_protocol.releases import PATCH_FRAME, PATCH_MAGIC, PATCH_MAX_RANGES, PATCH_RANGE, PATCH_WINDOW_LOG

SEGMENT = 6 << 20  # bytes of the new tar per frame
MARGIN = 1 << 20  # base bytes around a file's part (an edit inside a file shifts what follows a little)
DICTIONARY_CAP = 16 << 20  # base bytes per frame at most (matches are found reliably up to about this)
LEVEL = 1  # zstd level and hash table size: chosen by measurement (docs/decisions/0011)
HASH_LOG = 22
_MERGE_GAP = 64 << 10  # base ranges closer than this are joined into one
_GZIP_MAGIC = b"\x1f\x8b"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


@contextmanager
def _decompressed(archive: Path) -> Iterator[IO[bytes]]:
    """The archive's tar bytes as a stream, whatever its compression (told by its first bytes)."""
    with open(archive, "rb") as raw:
        magic = raw.read(4)
        raw.seek(0)
        if magic.startswith(_GZIP_MAGIC):
            with gzip.GzipFile(fileobj=raw, mode="rb") as unzipped:
                yield unzipped  # type: ignore[misc]
        elif magic == _ZSTD_MAGIC:
            import zstandard

            with zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True) as reader:
                yield reader
        else:
            yield raw


def decompress_to(archive: Path, out: Path) -> tuple[str, int]:
    """Write the archive's uncompressed tar to ``out``; its SHA-256 and length."""
    digest = hashlib.sha256()
    length = 0
    with _decompressed(archive) as source, open(out, "wb") as sink:
        while chunk := source.read(1 << 20):
            digest.update(chunk)
            sink.write(chunk)
            length += len(chunk)
    return digest.hexdigest(), length


def member_spans(tar_path: Path) -> list[tuple[int, int, str]]:
    """(start, end, name) of every member of an uncompressed tar, in file order: headers, data, padding."""
    with tarfile.open(tar_path, mode="r:") as tar:
        return [(m.offset, m.offset_data + -(-m.size // 512) * 512, m.name) for m in tar]


class _Sources:
    """Where the bytes of a span of the new tar came from in the base tar, by member name."""

    def __init__(self, base: list[tuple[int, int, str]], new: list[tuple[int, int, str]], base_size: int) -> None:
        self.base = {name: start for start, _end, name in base}
        self.new = new
        self.starts = [start for start, _end, _name in new]
        self.base_size = base_size

    def ranges(self, start: int, end: int) -> list[tuple[int, int]]:
        """Base (offset, length) ranges for new[start:end]: each file's counterpart with a margin, joined
        where they touch, at most DICTIONARY_CAP bytes in all."""
        found: list[tuple[int, int]] = []
        index = max(0, bisect.bisect_right(self.starts, start) - 1)
        while index < len(self.new) and self.new[index][0] < end:
            new_start, new_end, name = self.new[index]
            index += 1
            if new_end <= start or name not in self.base:
                continue  # a new file: nothing in the base to start from
            origin = self.base[name]
            low = origin + max(start, new_start) - new_start - MARGIN
            high = origin + min(end, new_end) - new_start + MARGIN
            found.append((max(0, low), min(self.base_size, high)))
        merged: list[tuple[int, int]] = []
        for low, high in sorted(found):
            if merged and low <= merged[-1][1] + _MERGE_GAP:
                merged[-1] = (merged[-1][0], max(merged[-1][1], high))
            elif high > low:
                merged.append((low, high))
        ranges: list[tuple[int, int]] = []
        budget = DICTIONARY_CAP
        for low, high in merged:
            take = min(high - low, budget)
            if take <= 0:
                break
            ranges.append((low, take))
            budget -= take
        return ranges


def build_patch(base_tar: Path, new_tar: Path, out: Path, *, segment: int = SEGMENT, level: int = LEVEL,
                hash_log: int = HASH_LOG) -> int:
    """Write a patch turning ``base_tar`` into ``new_tar`` (both uncompressed); its length in bytes."""
    import zstandard

    if segment + DICTIONARY_CAP > 1 << PATCH_WINDOW_LOG:
        raise ValueError("segment too large for the patch window")
    sources = _Sources(member_spans(base_tar), member_spans(new_tar), base_tar.stat().st_size)
    params = zstandard.ZstdCompressionParameters.from_level(level, window_log=PATCH_WINDOW_LOG, hash_log=hash_log,
                                                            write_content_size=True)
    written = 0
    with open(base_tar, "rb") as base, open(new_tar, "rb") as new, open(out, "wb") as sink:
        sink.write(PATCH_MAGIC)
        written += len(PATCH_MAGIC)
        position = 0
        while chunk := new.read(segment):
            ranges = sources.ranges(position, position + len(chunk))[:PATCH_MAX_RANGES]
            region = b"".join(os.pread(base.fileno(), length, offset) for offset, length in ranges)
            if region:
                dictionary = zstandard.ZstdCompressionDict(region, dict_type=zstandard.DICT_TYPE_RAWCONTENT)
                del region  # the dictionary holds its own copy
                compressor = zstandard.ZstdCompressor(dict_data=dictionary, compression_params=params)
            else:
                compressor = zstandard.ZstdCompressor(compression_params=params)
            frame = compressor.compress(chunk)
            header = struct.pack(PATCH_FRAME, len(chunk), len(frame), len(ranges)) + b"".join(
                struct.pack(PATCH_RANGE, offset, length) for offset, length in ranges)
            sink.write(header)
            sink.write(frame)
            written += len(header) + len(frame)
            position += len(chunk)
    return written


__all__ = ["DICTIONARY_CAP", "LEVEL", "MARGIN", "SEGMENT", "build_patch", "decompress_to", "member_spans"]
