"""Finding license keys in the files a test run wrote (tests/test_zz_no_secret_leaks.py).

Every form of a key is a run of at least 20 letters, digits and dashes, so a key is in a file exactly when it
is in one of the file's longest runs of such characters. Every file is read once for its runs, which are
then searched for every form of every key: searching whole files for each of ~1,200 forms took over a
minute once the suite wrote ~900 MB (release archives, downloads and installed payloads of random filler,
~10,000 small files); the runs of all small files together are ~1 MB.

Under pytest-xdist each worker reads its own folder for runs when it has finished its tests, while the others
still run (``save_folder_runs``); the scan, the run's last test, then reads only what changed since and its
own folder (``folder_runs`` with ``known``): reading ~900 MB in the one test at the end left a core idle for
~7 s.
"""

from __future__ import annotations

import bisect
import os
import pickle
import time
from collections.abc import Mapping
from pathlib import Path
from typing import NamedTuple

_RUN_LENGTH = 20
#: Each byte mapped to 1 if it can be part of a key, else 0: the runs are then found by ``bytes.find`` in C
#: (a regular expression over the same data, ``[0-9A-Za-z-]{20,}``, read only ~22 MB/s: ~70 s per run of
#: the suite; this reads ~350 MB/s).
_KEY_BYTE = bytes(int(chr(b).isascii() and (chr(b).isalnum() or chr(b) == "-")) for b in range(256))


#: A file modified this close before it was read may be rewritten after, at the same size, without its
#: modification time moving (timestamps are only as fine as the file system keeps them: a clock tick on some
#: kernels, 1 s on HFS+, 2 s on FAT): its runs are never reused, as git treats "racily clean" index entries.
_SETTLED_NS = 3_000_000_000


class FileRuns(NamedTuple):
    """A file's runs, the size and modification time they were read at, and when they were read."""

    size: int
    mtime_ns: int
    runs: frozenset[bytes]
    read_ns: int = 0

    def still_current(self, info: os.stat_result) -> bool:
        """True if the file ``info`` describes is certainly the one these runs were read from."""
        return ((self.size, self.mtime_ns) == (info.st_size, info.st_mtime_ns)
                and self.mtime_ns + _SETTLED_NS <= self.read_ns)


def runs(data: bytes) -> set[bytes]:
    """Every longest run of at least 20 letters, digits and dashes in ``data``."""
    marks = data.translate(_KEY_BYTE)
    found: set[bytes] = set()
    start = marks.find(b"\x01" * _RUN_LENGTH)
    while start != -1:
        end = marks.find(b"\x00", start)
        end = len(marks) if end == -1 else end
        found.add(data[start:end])
        start = marks.find(b"\x01" * _RUN_LENGTH, end)
    return found


def files(root: Path) -> list[Path]:
    """Every regular file under ``root`` (symbolic links are not followed: their targets are scanned where
    they are, if under ``root``)."""
    return [path for path in root.rglob("*") if path.is_file() and not path.is_symlink()]


def folder_runs(root: Path, known: Mapping[str, FileRuns] | None = None) -> dict[str, FileRuns]:
    """The runs of every file under ``root``; a file in ``known`` with the same size and modification time
    is taken from there, any other is read."""
    found: dict[str, FileRuns] = {}
    for path in files(root):
        read_ns = time.time_ns()  # before the stat: a write after it is never "settled" by this read
        info = os.stat(path)
        earlier = (known or {}).get(str(path))
        if earlier is not None and earlier.still_current(info):
            found[str(path)] = earlier
            continue
        data = path.read_bytes()
        found[str(path)] = FileRuns(len(data), info.st_mtime_ns, frozenset(runs(data)), read_ns)
    return found


def save_folder_runs(root: Path, target: Path) -> None:
    """Write ``folder_runs(root)`` to ``target`` (read back by ``load_folder_runs``)."""
    data = {name: (entry.size, entry.mtime_ns, sorted(entry.runs), entry.read_ns)
            for name, entry in folder_runs(root).items()}
    partial = target.with_name(target.name + ".partial")
    partial.write_bytes(pickle.dumps(data))
    partial.replace(target)


def load_folder_runs(source: Path) -> dict[str, FileRuns]:
    """What ``save_folder_runs`` wrote (a file of this run's own workers, outside the scanned folder)."""
    raw: dict[str, tuple[int, int, list[bytes], int]] = pickle.loads(source.read_bytes())
    return {name: FileRuns(size, mtime, frozenset(found), read_ns)
            for name, (size, mtime, found, read_ns) in raw.items()}


def holding_key(runs_of: Mapping[str, set[bytes] | frozenset[bytes]], needles: set[bytes]) -> set[str]:
    """The names whose runs hold any needle. All runs are joined once and each needle searched once: searching
    each file's runs for each of ~1,200 forms took ~8 s for the suite's ~15,000 small files; this, well under
    a second."""
    names: list[str] = []
    starts: list[int] = []
    parts: list[bytes] = []
    at = 0
    for name, found in runs_of.items():
        if found:
            part = b"\n".join(found) + b"\n"  # a newline is in no key: no form can span two runs
            names.append(name)
            starts.append(at)
            parts.append(part)
            at += len(part)
    joined = b"".join(parts)
    hits: set[str] = set()
    for needle in needles:
        where = joined.find(needle)
        while where != -1:
            hits.add(names[bisect.bisect_right(starts, where) - 1])
            where = joined.find(needle, where + 1)
    return hits
