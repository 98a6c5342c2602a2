"""Group commit (crystal_server/group_commit.py): requests that arrive together share one transaction, each
in its own savepoint, and no answer leaves before the commit that holds its writes.

The first tests drive the real GroupCommit on a real database file and a real event loop, and read the
database through a second connection (what another process would see). The last two run the real server
over real sockets: many validations at once with a denial in the middle, and a server killed with SIGKILL
right after its answers.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import secrets
import sqlite3
import threading
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from crystal_protocol.licensekey import key_digest
from crystal_protocol.wire import LICENSE_PATHS
from crystal_server import store
from crystal_server.group_commit import GroupCommit
from crystal_server.licenses import Denied
from tests.support.licensing import issue
from tests.support.server_kill import kill_server
from tests.support.servers import run_reference_server

THREADS = 8
PER_THREAD = 15


def _names(db: Path) -> list[str]:
    """The throttle rows' names another connection sees (committed rows only)."""
    with sqlite3.connect(db) as reader:
        return sorted(str(row[0]) for row in reader.execute("SELECT name FROM throttle_events"))


def _write(conn: sqlite3.Connection, name: str, *, then_deny: bool = False) -> str:
    conn.execute("INSERT INTO throttle_events (bucket, name, at) VALUES ('address', ?, 1.0)", (name,))
    if then_deny:
        raise Denied("bad_request", "denied after writing", 400)
    return name


def test_a_group_shares_one_commit_and_a_denial_rolls_back_only_its_own_writes(tmp_path: Path) -> None:
    conn = store.connect(tmp_path)
    group = GroupCommit(conn)
    db = store.db_path(tmp_path)

    async def scenario() -> None:
        # Three requests in the same turn of the loop (no await between them), the middle one denied.
        assert group.run(lambda: _write(conn, "first")) == "first"
        with pytest.raises(Denied):
            group.run(lambda: _write(conn, "denied", then_deny=True))
        group.run(lambda: _write(conn, "third"))
        assert _names(db) == []  # nothing is committed before the loop's next turn
        await group.committed()
        assert _names(db) == ["first", "third"]

    asyncio.run(scenario())
    assert (group.commits, group.requests) == (1, 3)
    conn.close()


def test_no_one_waiting_wakes_before_the_commit(tmp_path: Path) -> None:
    """Whoever awaits committed() finds its writes visible to another connection the moment it wakes."""
    conn = store.connect(tmp_path)
    group = GroupCommit(conn)
    db = store.db_path(tmp_path)
    seen: dict[str, list[str]] = {}

    async def request(name: str) -> None:
        group.run(lambda: _write(conn, name))
        await group.committed()
        seen[name] = _names(db)

    async def scenario() -> None:
        await asyncio.gather(*(request(f"r{n}") for n in range(5)))
        await request("later")  # a group of its own, after the first one committed

    asyncio.run(scenario())
    first = [f"r{n}" for n in range(5)]
    assert all(seen[f"r{n}"] == first for n in range(5))
    assert seen["later"] == sorted([*first, "later"])
    assert (group.commits, group.requests) == (2, 6)
    conn.close()


def test_a_request_arriving_during_a_commit_waits_and_forms_the_next_group(tmp_path: Path) -> None:
    """While a commit is in flight (on its worker thread) the connection is not touched: a request waits for
    ready(), and what it then writes goes into a group of its own."""
    conn = store.connect(tmp_path)
    group = GroupCommit(conn)
    db = store.db_path(tmp_path)
    seen: list[str] = []

    async def scenario() -> None:
        group.run(lambda: _write(conn, "first"))
        first = group.committed()
        await asyncio.sleep(0)  # the loop's next turn: the first group's commit starts
        with pytest.raises(RuntimeError):
            group.run(lambda: _write(conn, "too early"))
        await group.ready()
        assert first.done()
        seen.extend(_names(db))
        group.run(lambda: _write(conn, "second"))
        await group.committed()

    asyncio.run(scenario())
    assert seen == ["first"]
    assert _names(db) == ["first", "second"]
    assert (group.commits, group.requests) == (2, 2)
    conn.close()


def test_a_failed_commit_fails_every_request_of_its_group(tmp_path: Path) -> None:
    """A commit refused by the database (here a foreign key checked only at commit) answers no request of
    its group as done, keeps none of their writes, and the next group starts clean."""
    conn = store.connect(tmp_path)
    group = GroupCommit(conn)
    db = store.db_path(tmp_path)
    outcomes: list[str] = []

    def orphan_machine() -> None:
        conn.execute("PRAGMA defer_foreign_keys = ON")
        conn.execute("INSERT INTO machines (id, license_id, fingerprint, fingerprint_version, components, "
                     "environment, os, label, activated_at) VALUES ('m_1', 'lic_none', '', '', '{}', '', '', '', '')")

    async def request(work: str) -> None:
        group.run(lambda: _write(conn, work) if work != "orphan" else orphan_machine())
        try:
            await group.committed()
            outcomes.append(f"{work}: committed")
        except sqlite3.IntegrityError:
            outcomes.append(f"{work}: failed")

    async def scenario() -> None:
        await asyncio.gather(request("kept?"), request("orphan"))
        await request("next")

    asyncio.run(scenario())
    assert outcomes == ["kept?: failed", "orphan: failed", "next: committed"]
    assert _names(db) == ["next"]
    conn.close()


def _post(url: str, path: str, body: object, *, nonce: str) -> tuple[int, dict[str, str], dict[str, object]]:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30)
    try:
        conn.request("POST", path, body=json.dumps(body),
                     headers={"Content-Type": "application/json", "X-Crystal-Nonce": nonce})
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, json.loads(response.read())
    finally:
        conn.close()


def _claim(key: str) -> dict[str, str]:
    return {"key": key, "fingerprint": "v1:" + secrets.token_hex(32), "fingerprint_version": "v1",
            "environment": "physical", "os": "Linux"}


def _validate_at_once(url: str, claim: dict[str, str], also: tuple[str, dict[str, object]] | None = None
                      ) -> tuple[list[int], list[int]]:
    """THREADS clients each sending PER_THREAD validations, started together; ``also`` is one more request
    sent by its own client once the others are under way. (validation statuses, the other's status)"""
    statuses: list[int] = []
    other: list[int] = []
    start = threading.Barrier(THREADS + 1)
    halfway = threading.Event()

    def client(number: int) -> None:
        start.wait()
        for count in range(PER_THREAD):
            status, headers, _ = _post(url, LICENSE_PATHS["validate"], claim, nonce=f"group-{number}-{count:04d}")
            assert "x-crystal-signature" in headers
            statuses.append(status)
            if count == PER_THREAD // 2:
                halfway.set()

    def late(path: str, body: dict[str, object]) -> None:
        start.wait()
        halfway.wait(30)
        other.append(_post(url, path, body, nonce="group-late-request")[0])

    threads = [threading.Thread(target=client, args=(n,)) for n in range(THREADS)]
    if also is not None:
        threads.append(threading.Thread(target=late, args=also))
    else:
        threads.append(threading.Thread(target=start.wait))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return statuses, other


def _validated_events(db: Path, license_id: str) -> int:
    with sqlite3.connect(db) as reader:
        row = reader.execute("SELECT COUNT(*) FROM events WHERE license_id = ? AND kind = 'validated'",
                             (license_id,)).fetchone()
        return int(row[0])


def test_concurrent_validations_with_a_denial_in_the_middle(server_dir: Path) -> None:
    """The denied request's writes are rolled back (its purge of an expired throttle row), its throttle count
    and every validation's writes are kept."""
    lic = issue(server_dir)
    db = store.db_path(server_dir)
    with sqlite3.connect(db) as seed:  # expired long ago: only a deletion's purge removes it
        seed.execute("INSERT INTO throttle_events (bucket, name, at) VALUES ('address', '203.0.113.9', 1.0)")
    claim = _claim(lic.key)
    with run_reference_server(server_dir) as server:
        activated = _post(server.url, LICENSE_PATHS["activate"], {**claim, "label": "Group"}, nonce="group-activate")
        assert activated[0] == 200
        # Names neither a machine nor its fingerprint: denied after purge_expired has deleted old rows.
        nameless: dict[str, object] = {"key": lic.key, "scope": "this_machine"}
        statuses, other = _validate_at_once(server.url, claim, (LICENSE_PATHS["delete"], nameless))
    assert statuses == [200] * (THREADS * PER_THREAD)
    assert other == [400]
    assert _validated_events(db, lic.license_id) == THREADS * PER_THREAD
    with sqlite3.connect(db) as reader:
        rows = set(reader.execute("SELECT bucket, name FROM throttle_events").fetchall())
    assert ("address", "203.0.113.9") in rows  # the denied request's purge was rolled back
    assert ("key", key_digest(lic.key)) in rows  # its attempt still counts against the key


def test_every_answered_validation_is_on_disk_when_the_server_is_killed(server_dir: Path) -> None:
    """SIGKILL right after the last answer: every validation answered is in the database after restart."""
    lic = issue(server_dir)
    claim = _claim(lic.key)
    with run_reference_server(server_dir) as server:
        try:
            activated = _post(server.url, LICENSE_PATHS["activate"], {**claim, "label": "Kill"},
                              nonce="kill-activate")
            assert activated[0] == 200
            statuses, _ = _validate_at_once(server.url, claim)
        finally:
            kill_server(server)
    assert statuses == [200] * (THREADS * PER_THREAD)
    with run_reference_server(server_dir) as again:  # the database as the next server finds it
        assert _post(again.url, LICENSE_PATHS["validate"], claim, nonce="kill-after-restart")[0] == 200
    assert _validated_events(store.db_path(server_dir), lic.license_id) == THREADS * PER_THREAD + 1
