"""Group commit: licensing requests that arrive together share one transaction and one flush to disk.

The handlers are synchronous and run on the event loop (decision 0015), so requests whose handlers run in
the same turn of the loop run inside one open transaction, each in its own savepoint: a request that fails
(a denial, a bug) rolls back only its own writes. At the loop's next turn the transaction is committed on a
worker thread, so that the loop keeps reading and parsing requests while the disk flushes; the connection
is not touched meanwhile (:meth:`GroupCommit.ready`), and the requests that arrived form the next group.
Every answer waits for the commit that holds its writes (:meth:`GroupCommit.committed`): no answer is sent
before what it says is on disk.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from crystal_server import store

T = TypeVar("T")


class GroupCommit:
    """One connection's shared transaction. Per request: ``await ready()``, then without awaiting anything
    in between :meth:`run` the work and take :meth:`committed`; send the answer once that is done."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        # "No answer before its commit is on disk" needs every COMMIT to wait for the disk: say so rather than
        # take the build's default (SQLite can be built with SQLITE_DEFAULT_WAL_SYNCHRONOUS=1, i.e. NORMAL).
        conn.execute("PRAGMA synchronous = FULL")
        self._waiting: list[asyncio.Future[None]] = []
        self._open = False
        self._checkpoint = False
        self._idle = asyncio.Event()  # no commit in flight: the connection may be used
        self._idle.set()
        self._flusher = ThreadPoolExecutor(max_workers=1, thread_name_prefix="group-commit")
        #: Transactions committed and requests run in them (the server reports their ratio, the group size).
        self.commits = 0
        self.requests = 0

    async def ready(self) -> None:
        """Return once no commit is in flight (at once if none is)."""
        await self._idle.wait()

    def ensure_open(self) -> None:
        """Begin the shared transaction unless one is open, and commit it at the loop's next turn. Writes made
        outside :meth:`run` (throttle rows) join it too."""
        if not self._idle.is_set():
            raise RuntimeError("the database is being committed: await ready() first")
        if self._open:
            return
        self.conn.execute("BEGIN IMMEDIATE")
        self._open = True
        asyncio.get_running_loop().call_soon(self._commit)

    def run(self, work: Callable[[], T], *, forgets: bool = False) -> T:
        """``work()`` in its own savepoint of the shared transaction; if it raises, its writes are rolled back
        and the others' kept. ``forgets``: the work deletes data, so the WAL is checkpointed after the commit
        (no page image of the deleted rows stays there) before anyone waiting is answered."""
        self.ensure_open()
        self.requests += 1
        self.conn.execute("SAVEPOINT request")
        try:
            result = work()
        except BaseException:
            self.conn.execute("ROLLBACK TO request")
            self.conn.execute("RELEASE request")
            raise
        self.conn.execute("RELEASE request")
        self._checkpoint = self._checkpoint or forgets
        return result

    def committed(self) -> asyncio.Future[None]:
        """Done once everything written so far is committed; its exception if that commit failed."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self._open:
            self._waiting.append(done)
        else:
            done.set_result(None)
        return done

    def _commit(self) -> None:
        waiting, self._waiting = self._waiting, []
        checkpoint, self._checkpoint = self._checkpoint, False
        self._open = False
        self._idle.clear()
        flushed = asyncio.get_running_loop().run_in_executor(self._flusher, self._flush, checkpoint)
        flushed.add_done_callback(lambda outcome: self._answer(outcome, waiting))

    def _flush(self, checkpoint: bool) -> None:
        """On the worker thread (the loop does not touch the connection meanwhile)."""
        try:
            self.conn.execute("COMMIT")
            if checkpoint:
                store.checkpoint(self.conn)
        except BaseException:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            raise

    def _answer(self, outcome: asyncio.Future[None], waiting: list[asyncio.Future[None]]) -> None:
        failure = outcome.exception()  # every request of a failed group is told: none is answered as done
        if failure is None:
            self.commits += 1
        self._idle.set()
        for done in waiting:
            if done.done():  # its request was cancelled (the client went away)
                continue
            if failure is None:
                done.set_result(None)
            else:
                done.set_exception(failure)
