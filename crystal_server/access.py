"""The right of access (privacy policy §9): everything the server stores about one license, as stored.

Answerable only to the holder of the license key (the endpoint looks the license up by the key's digest)
and signed like every licensing answer. Failed attempts are kept by IP address, not by license, so they
cannot be tied to a license and are described rather than listed.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from typing import Any

from crystal_protocol.signing import format_time
from crystal_server.licenses import EVENTS_KEPT

NOT_LINKED = ("Failed attempts (an unknown or malformed key) are kept with the IP address they came from, not "
              "with a license, for the one-minute throttle window.")


def access_report(conn: sqlite3.Connection, license_id: str) -> dict[str, Any]:
    """The license's row, every machine row, every event row and the throttle's rows for its key, column by
    column as stored (events past
    their declared 90 days are deleted first: a quiet server must not show, or keep, older ones)."""
    conn.execute("DELETE FROM events WHERE at < ?", (format_time(datetime.now(UTC) - EVENTS_KEPT),))
    license_row = conn.execute("SELECT * FROM licenses WHERE id = ?", (license_id,)).fetchone()
    machines = conn.execute("SELECT * FROM machines WHERE license_id = ? ORDER BY activated_at, id",
                            (license_id,)).fetchall()
    events = conn.execute("SELECT * FROM events WHERE license_id = ? ORDER BY id", (license_id,)).fetchall()
    # The per-key throttle keeps the key's digest with each recent request: linked to the license, so shown.
    digest = str(license_row["key_digest"]) if license_row is not None else ""
    recent = conn.execute("SELECT * FROM throttle_events WHERE bucket = 'key' AND name = ? ORDER BY at",
                          (digest,)).fetchall()
    return {"license": dict(license_row) if license_row is not None else {},
            "machines": [dict(row) for row in machines], "events": [dict(row) for row in events],
            "recent_requests": [dict(row) for row in recent],
            "not_linked_to_the_license": NOT_LINKED}
