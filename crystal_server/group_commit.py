"""Group commit: licensing requests that arrive together share one transaction and one flush to disk.

The handlers are synchronous and run on the event loop (decision 0015), so requests whose handlers run in
the same turn of the loop can run inside one open transaction, each in its own savepoint: a request that
fails (a denial, a bug) rolls back only its own writes. The transaction is committed one turn later, and
every answer waits for the commit that holds its writes (:meth:`GroupCommit.committed`): an answer is never
sent before what it says is on disk. While a commit waits for the disk the loop waits with it, and the
requests that arrive meanwhile form the next, larger group: one flush serves many answers.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from typing import TypeVar

from crystal_server import store

T = TypeVar("T")


class GroupCommit:
    """One connection's shared transaction: :meth:`run` work in it, await :meth:`committed` before answering."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self._waiting: list[asyncio.Future[None]] = []
        self._open = False
        self._checkpoint = False
        #: Transactions committed and requests run in them (the bench reads their ratio, the group size).
        self.commits = 0
        self.requests = 0

    def ensure_open(self) -> None:
        """Begin the shared transaction unless one is open, and commit it at the loop's next turn. Writes made
        outside :meth:`run` (throttle rows) join it too."""
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

    async def committed(self) -> None:
        """Return once everything written so far is committed; raise what the commit raised if it failed."""
        if not self._open:
            return
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append(done)
        await done

    def _commit(self) -> None:
        waiting, self._waiting = self._waiting, []
        checkpoint, self._checkpoint = self._checkpoint, False
        self._open = False
        failure: Exception | None = None
        try:
            self.conn.execute("COMMIT")
            self.commits += 1
            if checkpoint:
                store.checkpoint(self.conn)
        except Exception as exc:  # every request of the group is told: none of them is answered as done
            failure = exc
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
        for done in waiting:
            if done.done():  # its request was cancelled (the client went away)
                continue
            if failure is None:
                done.set_result(None)
            else:
                done.set_exception(failure)
