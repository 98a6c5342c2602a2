"""The server's SQLite database: schema migrations and connections (parameterised SQL only)."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path

#: Schema steps, applied in order; the database records how many it has. Only ever append.
MIGRATIONS: list[Sequence[str]] = [
    (
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    ),
    (
        # Licenses keep only a digest of the key: a copy of the database does not leak keys.
        """CREATE TABLE licenses (
            id TEXT PRIMARY KEY,
            key_digest TEXT NOT NULL UNIQUE,
            key_hint TEXT NOT NULL,
            plan TEXT NOT NULL,
            seats INTEGER NOT NULL CHECK (seats >= 0),
            status TEXT NOT NULL CHECK (status IN ('active', 'past_due', 'cancelled', 'revoked')),
            expires_at TEXT,
            trial_ends_at TEXT,
            max_version TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL)""",
        """CREATE TABLE machines (
            id TEXT PRIMARY KEY,
            license_id TEXT NOT NULL REFERENCES licenses(id),
            fingerprint TEXT NOT NULL,
            fingerprint_version TEXT NOT NULL,
            components TEXT NOT NULL,
            environment TEXT NOT NULL,
            os TEXT NOT NULL,
            label TEXT NOT NULL,
            public_key TEXT,
            activated_at TEXT NOT NULL,
            last_seen_at TEXT,
            deactivated_at TEXT)""",
        "CREATE INDEX machines_by_license ON machines(license_id, deactivated_at)",
        """CREATE TABLE events (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            at TEXT NOT NULL,
            license_id TEXT,
            machine_id TEXT,
            kind TEXT NOT NULL,
            detail TEXT NOT NULL DEFAULT '{}')""",
    ),
    (  # 2: throttle events outlive a restart (kept only as long as the throttle window)
        """CREATE TABLE throttle_events (
            bucket TEXT NOT NULL,
            name TEXT NOT NULL,
            at REAL NOT NULL)""",
        "CREATE INDEX throttle_events_by_time ON throttle_events(at)",
    ),
    (  # 3: the lease's lifetime per license (NULL: the default), set with license create/update --lease-days
        "ALTER TABLE licenses ADD COLUMN lease_seconds INTEGER CHECK (lease_seconds IS NULL OR lease_seconds > 0)",
    ),
    (  # 4: every event written deletes those past their time (licenses.event): without an index that read the
        # whole table, ~1 ms per validation at 9,000 events and growing (P8 in docs/performance.md)
        "CREATE INDEX events_by_time ON events(at)",
    ),
]


def db_path(data_dir: Path) -> Path:
    """Where the database lives in a server folder."""
    return data_dir / "server.sqlite3"


def connect(data_dir: Path) -> sqlite3.Connection:
    """Open the database (creating and migrating it) with foreign keys on and WAL journaling."""
    conn = sqlite3.connect(db_path(data_dir), timeout=10.0, isolation_level=None, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA secure_delete = ON")  # deleted rows are overwritten, not left in free pages
    conn.execute("PRAGMA journal_mode = WAL")
    migrate(conn)
    return conn


def checkpoint(conn: sqlite3.Connection) -> None:
    """Copy the WAL into the database and empty it, so the page images of deleted rows leave the WAL too."""
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()


def migrate(conn: sqlite3.Connection) -> None:
    """Apply the migrations the database has not seen yet, each in one transaction. The version is read
    again under the write lock: a server and an admin command opening an older database at the same moment
    would otherwise both apply the same step (the second failing on what the first made)."""
    if int(conn.execute("PRAGMA user_version").fetchone()[0]) >= len(MIGRATIONS):
        return  # up to date: no write lock taken
    while True:
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
            if version >= len(MIGRATIONS):
                conn.execute("COMMIT")
                return
            for statement in MIGRATIONS[version]:
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {version + 1}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
