"""Where downloaded bytes go: a file and a SHA-256, fed by a second thread while the first reads the network.

hashlib and file writes release the GIL on large buffers, so hashing and writing on their own thread
overlap with the socket reads (measured in bench/update_download.py). The pieces are joined into one
buffer a batch: one hash update and one write per batch instead of one per 64 KiB piece (each a GIL
hand-over) made the whole download ~25 % faster. Memory and what a crash can lose stay bounded: at most
``BATCH`` bytes gathered here, ``QUEUE`` batches waiting and one being written (768 KiB).
"""

from __future__ import annotations

import hashlib
import os
import queue
import threading
from typing import Any

BATCH = 256 * 1024
QUEUE = 1
_END = None


class HashingSink:
    """Write bytes to an open file (from ``offset``) and hash them, on a worker thread."""

    def __init__(self, fd: int, digest: Any | None = None) -> None:
        self.fd = fd
        self.digest = digest if digest is not None else hashlib.sha256()
        self.size = 0
        self._gathered: list[bytes] = []
        self._gathered_size = 0
        self._queue: queue.Queue[list[bytes] | None] = queue.Queue(maxsize=QUEUE)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="download-sink", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (batch := self._queue.get()) is not _END:
            if self._error is not None:
                continue  # drain: the feeding thread learns of the error at its next write
            try:
                # Joined here, not on the thread that reads the socket: that thread is the bottleneck.
                data = batch[0] if len(batch) == 1 else b"".join(batch)
                view = memoryview(data)
                while view:
                    view = view[os.write(self.fd, view):]
                self.digest.update(data)
            except BaseException as exc:  # disk full, I/O error: re-raised on the feeding thread
                self._error = exc

    def write(self, chunk: bytes) -> None:
        """Take ``chunk`` (never kept beyond the bounded queue)."""
        if self._error is not None:
            raise self._error
        self._gathered.append(chunk)
        self._gathered_size += len(chunk)
        self.size += len(chunk)
        if self._gathered_size >= BATCH:
            self._hand_over()

    def _hand_over(self) -> None:
        if self._gathered:
            self._queue.put(self._gathered)
            self._gathered, self._gathered_size = [], 0

    def close(self) -> None:
        """Write what is left, stop the worker and raise its error if it had one. Idempotent."""
        if self._thread.is_alive():
            self._hand_over()
            self._queue.put(_END)
            self._thread.join()
        if self._error is not None:
            raise self._error
