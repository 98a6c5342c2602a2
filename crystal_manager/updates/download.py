"""Release downloads: streamed through the gateway into a ``.partial`` file, hashed as the bytes arrive,
resumable after a pause, a lost connection or a crash (Range + If-Range), never longer than the signed
length, and verified against the signed SHA-256 before the file takes its final name.

Files in ``folder`` for a target ``T`` with hash ``H``: ``H.T.partial`` (bytes so far), ``H.T.partial.json``
(what they belong to and the server's ETag) and, once verified, ``H.T``. Only a verified file is ever
handed to the installer; anything that fails verification is deleted, so nothing bad stays cached.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crystal_manager.net.errors import ResponseTooLarge, TimedOut
from crystal_manager.net.gateway import Gateway
from crystal_manager.net.request import OutboundRequest, Trigger
from crystal_manager.services.update_types import DownloadControl, DownloadProgress
from crystal_manager.storage.atomic import write_json_atomic
from crystal_manager.updates.errors import DownloadStopped, TargetRejected, UpdateServerUnavailable
from crystal_manager.updates.sink import HashingSink

_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
# An ETag (or Last-Modified) is sent back in If-Range: printable ASCII only. Another byte from a server or a
# man in the middle would be kept in the sidecar and break every later resume.
_TAG = re.compile(r"^[\x21-\x7e][\x20-\x7e]{0,255}$")
_HASH_BLOCK = 1024 * 1024
_PROGRESS_INTERVAL = 0.1  # seconds: at most ~10 progress calls a second
_SPEED_WINDOW = 2.0  # seconds the speed is averaged over
#: Slow-retrieval attack (TUF): a server that trickles a byte now and then never trips the read timeout, and
#: would hold the download (and the updates lock) for ever. Below this average over a whole window the
#: download stops as timed out; the bytes so far are kept and the next run resumes.
MIN_SPEED = 1024  # bytes per second
MIN_SPEED_WINDOW = 60.0  # seconds


@dataclass(frozen=True)
class SignedFile:
    """What the signed metadata says about one target."""

    name: str  # TUF target path, e.g. crystalme3d-pro-1.2.0-linux-x86_64.tar.gz
    url_name: str  # what to request: "<sha256>.<name>" (consistent snapshot)
    length: int
    sha256: str  # hex


class _Stop(Exception):
    """Raised inside the write callback when pause or cancel was asked for."""


def _check(signed: SignedFile) -> None:
    # Names come from the network (signed, but still names): plain file names only, never a path.
    for text in (signed.name, signed.url_name):
        if not _SAFE_NAME.match(text) or ".." in text:
            raise TargetRejected(f"the update file name {text!r} is not a plain file name")
    if not _SHA256.match(signed.sha256) or not isinstance(signed.length, int) or signed.length < 0:
        raise TargetRejected(f"the signed facts about {signed.name} are malformed")


def _usable_tag(tag: Any) -> str | None:
    """A tag that can guard a Range request, or None: a weak one cannot, nor one that is not plain ASCII."""
    if not isinstance(tag, str) or tag.startswith("W/") or not _TAG.match(tag):
        return None
    return tag


def _files(folder: Path, signed: SignedFile) -> tuple[Path, Path, Path]:
    final = folder / f"{signed.sha256}.{signed.name}"
    return final, final.with_name(final.name + ".partial"), final.with_name(final.name + ".partial.json")


def _hash_file(path: Path) -> tuple[Any, int]:
    """SHA-256 of a file read in fixed blocks (bounded memory whatever its size), and its size."""
    digest = hashlib.sha256()
    buffer = bytearray(_HASH_BLOCK)
    view = memoryview(buffer)
    size = 0
    with open(path, "rb", buffering=0) as handle:
        while count := handle.readinto(buffer):
            digest.update(view[:count])
            size += count
    return digest, size


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def discard(folder: Path, signed: SignedFile) -> None:
    """Delete everything kept for ``signed``: the partial file, its sidecar and the verified file."""
    for path in _files(folder, signed):
        path.unlink(missing_ok=True)


def verified_download(folder: Path, signed: SignedFile, *, check_hash: bool = True) -> Path | None:
    """The complete verified file for ``signed`` if it is there (re-hashed unless ``check_hash`` is
    False); a file that no longer matches is deleted."""
    _check(signed)
    final = _files(folder, signed)[0]
    try:
        if final.stat().st_size != signed.length:
            final.unlink(missing_ok=True)
            return None
        if check_hash and _hash_file(final)[0].hexdigest() != signed.sha256:
            final.unlink(missing_ok=True)
            return None
    except FileNotFoundError:
        return None
    return final


def _sidecar(folder: Path, signed: SignedFile) -> dict[str, Any] | None:
    """The sidecar if it describes exactly ``signed``; a foreign or damaged one is discarded."""
    _final, partial, sidecar = _files(folder, signed)
    try:
        data = json.loads(sidecar.read_bytes())
    except FileNotFoundError:
        partial.unlink(missing_ok=True)  # bytes of unknown origin: never resumed
        return None
    except (OSError, ValueError):
        data = None
    if (not isinstance(data, dict) or data.get("sha256") != signed.sha256 or data.get("length") != signed.length
            or data.get("name") != signed.name or not isinstance(data.get("etag"), str | None)):
        partial.unlink(missing_ok=True)
        sidecar.unlink(missing_ok=True)
        return None
    return data


def partial_state(folder: Path, signed: SignedFile) -> tuple[int, int] | None:
    """``(received, total)`` of a resumable partial download of ``signed``, or None."""
    _check(signed)
    if _sidecar(folder, signed) is None:
        return None
    try:
        size = _files(folder, signed)[1].stat().st_size
    except FileNotFoundError:
        return None
    return min(size, signed.length), signed.length


class _Meter:
    """Progress at most ~10 times a second, speed smoothed over the last ~2 seconds."""

    def __init__(self, version: str, total: int, start: int, clock: Callable[[], float],
                 sink: Callable[[DownloadProgress], None] | None) -> None:
        self.version, self.total, self.clock, self.sink = version, total, clock, sink
        now = clock()
        self.samples: deque[tuple[float, int]] = deque([(now, start)])
        self.last_emit = now - _PROGRESS_INTERVAL

    def restart(self) -> None:
        """The server sent the whole file after all: speed is measured from zero again."""
        self.samples = deque([(self.clock(), 0)])

    def update(self, received: int, *, force: bool = False) -> None:
        if self.sink is None:
            return
        now = self.clock()
        if not force and now - self.last_emit < _PROGRESS_INTERVAL:
            return
        self.last_emit = now
        self.samples.append((now, received))
        while len(self.samples) > 2 and now - self.samples[1][0] >= _SPEED_WINDOW:
            self.samples.popleft()
        then, before = self.samples[0]
        speed = (received - before) / (now - then) if now > then else 0.0
        eta = (self.total - received) / speed if speed > 0 else (0.0 if received >= self.total else None)
        self.sink(DownloadProgress(version=self.version, received=received, total=self.total,
                                   bytes_per_second=speed, eta_seconds=eta))


class _Transfer:
    """One request's worth of writing: places the bytes where the answer says, hashes them, meters them."""

    def __init__(self, signed: SignedFile, files: tuple[Path, Path], *, offset: int, digest: Any,
                 etag: str | None, control: DownloadControl | None, meter: _Meter) -> None:
        partial, sidecar = files
        self.partial, self.sidecar, self.signed = partial, sidecar, signed
        self.offset, self.digest, self.etag = offset, digest, etag
        self.control, self.meter = control, meter
        self.min_speed, self.window = MIN_SPEED, MIN_SPEED_WINDOW
        self.window_start, self.window_bytes = time.monotonic(), 0
        self.sink: HashingSink | None = None
        self.fd: int | None = None
        self.size = offset

    def on_response(self, status: int, headers: dict[str, str]) -> None:
        if status == 206:
            start = re.match(r"^bytes (\d+)-", headers.get("content-range", ""))
            if start is None or int(start.group(1)) != self.offset:
                raise TargetRejected(f"the server answered another part of {self.signed.name} than asked for")
        else:  # 200: the whole file (it changed, or the server ignores ranges): start over
            if self.offset:
                self.meter.restart()
            self.offset, self.size, self.digest = 0, 0, hashlib.sha256()
        tag = headers.get("etag") or headers.get("last-modified")
        etag = _usable_tag(tag)
        if status == 200 or etag != self.etag or not self.sidecar.exists():
            self.etag = etag
            write_json_atomic(self.sidecar, {"sha256": self.signed.sha256, "length": self.signed.length,
                                             "etag": etag, "name": self.signed.name})
        flags = os.O_WRONLY | os.O_CREAT | getattr(os, "O_BINARY", 0)
        if self.offset == 0:
            # A new file, not one cut to zero: ext4 flushes a file truncated to zero when it is closed
            # (its guard for rewrite-in-place), which cost ~0.1 s per 512 MiB download.
            self.partial.unlink(missing_ok=True)
            self.fd = os.open(self.partial, flags | os.O_EXCL, 0o600)
        else:
            self.fd = os.open(self.partial, flags, 0o600)
            os.ftruncate(self.fd, self.offset)
        os.lseek(self.fd, self.offset, os.SEEK_SET)
        self.sink = HashingSink(self.fd, self.digest)

    def write(self, chunk: bytes) -> None:
        assert self.sink is not None
        self.sink.write(chunk)
        self.size += len(chunk)
        self._check_speed(len(chunk))
        self.meter.update(self.size)
        if self.control is not None and self.control.stopped:
            raise _Stop

    def _check_speed(self, count: int) -> None:
        now = time.monotonic()  # the real clock: ``clock`` only paces progress reports
        self.window_bytes += count
        elapsed = now - self.window_start
        if elapsed < self.window:
            return
        if self.window_bytes < self.min_speed * elapsed:
            raise TimedOut(f"the update server sent {self.signed.name} at under {self.min_speed} bytes a second "
                           f"for {elapsed:.0f} s; what arrived is kept for the next try")
        self.window_start, self.window_bytes = now, 0

    def close(self, *, sync: bool) -> None:
        """Let the sink finish writing; ``sync`` makes the kept bytes durable (a pause, a lost connection).
        A finished download is not fsynced here: it is re-hashed before anything is installed from it."""
        if self.fd is None:
            return
        try:
            if self.sink is not None:
                self.sink.close()
            if sync:
                os.fsync(self.fd)
        finally:
            os.close(self.fd)
            self.fd = None


def _resume_point(folder: Path, signed: SignedFile) -> tuple[int, Any, str | None]:
    """Bytes already kept, their running hash, and the ETag they came with (0, fresh, None if none)."""
    _final, partial, sidecar = _files(folder, signed)
    for stray in folder.glob(f".{sidecar.name}.*.tmp"):  # a sidecar write cut short by a crash
        stray.unlink(missing_ok=True)
    data = _sidecar(folder, signed)
    if data is None or not partial.exists():
        return 0, hashlib.sha256(), None
    digest, size = _hash_file(partial)
    if size > signed.length:
        discard(folder, signed)
        return 0, hashlib.sha256(), None
    return size, digest, _usable_tag(data.get("etag"))


def _finish(folder: Path, signed: SignedFile, size: int, digest: Any) -> Path:
    final, partial, sidecar = _files(folder, signed)
    if size != signed.length or digest.hexdigest() != signed.sha256:
        discard(folder, signed)
        what = "is shorter than" if size < signed.length else "does not match"
        raise TargetRejected(f"the downloaded {signed.name} {what} its signed "
                             f"{'length' if size != signed.length else 'hash'}; it was deleted")
    os.replace(partial, final)
    _fsync_dir(folder)
    sidecar.unlink(missing_ok=True)
    return final


def download_target(gateway: Gateway, signed: SignedFile, folder: Path, *, version: str,
                    control: DownloadControl | None = None,
                    progress: Callable[[DownloadProgress], None] | None = None,
                    trigger: Trigger = "user", clock: Callable[[], float] = time.monotonic,
                    min_speed: tuple[int, float] = (MIN_SPEED, MIN_SPEED_WINDOW)) -> Path:
    """Download ``signed`` into ``folder`` (resuming a partial file) and return the verified file.

    Raises TargetRejected (wrong length or hash, longer than signed: deleted), UpdateServerUnavailable
    (an HTTP error status), DownloadStopped (pause keeps the partial file, cancel deletes it), and the
    gateway's transport errors unchanged (the partial file is kept for the next call to resume), and
    TimedOut when the average speed over ``min_speed[1]`` seconds stays under ``min_speed[0]`` bytes a second
    (a slow-retrieval attack; the partial file is kept too).
    """
    _check(signed)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    _final, partial, sidecar = _files(folder, signed)
    done = verified_download(folder, signed)
    if done is not None:
        sidecar.unlink(missing_ok=True)  # killed after the rename, before this was deleted
        return done
    offset, digest, etag = _resume_point(folder, signed)
    meter = _Meter(version, signed.length, offset, clock, progress)
    meter.update(offset, force=True)
    if offset == signed.length:  # killed after the last byte, before the rename
        return _finish(folder, signed, offset, digest)
    headers = {"If-Range": etag} if offset and etag else {}
    request = OutboundRequest(kind="update_target", path_params={"name": signed.url_name}, headers=headers,
                              trigger=trigger)
    transfer = _Transfer(signed, (partial, sidecar), offset=offset, digest=digest, etag=etag, control=control,
                         meter=meter)
    transfer.min_speed, transfer.window = min_speed
    try:
        result = gateway.download(request, transfer.write, offset=offset, max_bytes=signed.length,
                                  on_response=transfer.on_response)
    except _Stop:
        cancelled = control is not None and control.cancelled
        transfer.close(sync=not cancelled)
        if cancelled:
            discard(folder, signed)
            raise DownloadStopped("the download was cancelled", cancelled=True) from None
        raise DownloadStopped("the download was paused", cancelled=False) from None
    except (ResponseTooLarge, TargetRejected) as exc:
        transfer.close(sync=False)
        discard(folder, signed)
        if isinstance(exc, TargetRejected):
            raise
        raise TargetRejected(f"the server sent more than the signed {signed.length} bytes of {signed.name}; "
                             "the download was deleted") from exc
    except BaseException:
        transfer.close(sync=True)  # a lost connection: keep every byte that arrived for the next call
        raise
    transfer.close(sync=transfer.size != signed.length)  # complete: verified now and again before install
    if result.status == 416:  # the server's file is shorter than what we already have
        discard(folder, signed)
        raise TargetRejected(f"the server's {signed.name} is shorter than signed; the download was deleted")
    if result.status not in (200, 206):
        if result.status == 404:
            raise UpdateServerUnavailable(f"the update server no longer offers {signed.name} (HTTP 404)")
        raise UpdateServerUnavailable(f"the update server answered HTTP {result.status} for {signed.name}")
    meter.update(transfer.size, force=True)
    return _finish(folder, signed, transfer.size, transfer.digest)
