"""Migrations: several processes opening an older database at once each see it migrated exactly once."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from crystal_server import store


def old_database(folder: Path, steps: int) -> None:
    conn = sqlite3.connect(store.db_path(folder), isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    for index in range(steps):
        for statement in store.MIGRATIONS[index]:
            conn.execute(statement)
    conn.execute(f"PRAGMA user_version = {steps}")
    conn.close()


def test_openers_racing_on_an_older_database_migrate_it_once(tmp_path: Path) -> None:
    for round_ in range(5):
        folder = tmp_path / f"db{round_}"
        folder.mkdir()
        old_database(folder, len(store.MIGRATIONS) - 2)
        start = threading.Barrier(6)
        errors: list[BaseException] = []

        def open_it() -> None:
            start.wait()
            try:
                store.connect(folder).close()
            except BaseException as exc:  # "index ... already exists" when two apply the same step
                errors.append(exc)

        threads = [threading.Thread(target=open_it) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert errors == []
        conn = store.connect(folder)
        assert conn.execute("PRAGMA user_version").fetchone()[0] == len(store.MIGRATIONS)
        conn.close()
