"""The right to deletion (privacy policy §9): the holder of a license key deletes what the server stores
about one machine of the license, or about every machine of it.

What is deleted: the machine rows themselves (seat history included) and every event naming them; with
``scope = all_machines`` every machine row, every event of the license and the throttle rows that carry
the key's digest. What is kept: the license itself (its key digest, last four characters, plan, seats,
status and dates) — the contract the license key stands for; ending it is a matter for the vendor's
support, not for a request from the app. The answer says so, in ``still_kept``.

Like every licensing answer it is signed, throttled per key, and refused to anyone without the key.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime
from typing import TYPE_CHECKING, Any

from starlette.routing import Route

from crystal_protocol.messages import DeletionAnswer, DeletionRequest, as_json
from crystal_protocol.signing import format_time
from crystal_protocol.wire import LICENSE_PATHS
from crystal_server.licenses import EVENTS_KEPT, Denied

if TYPE_CHECKING:
    from crystal_server.licensing import LicensingApi

STILL_KEPT = ("The license itself: a digest of its key (never the key), the key's last four characters, plan, "
              "seats, status and dates, as long as the license exists.",
              "Failed attempts (an unknown or malformed key) with the IP address they came from, not linked to "
              "the license, for the one-minute throttle window.")


def purge_expired(conn: sqlite3.Connection, now: datetime, throttle_seconds: float) -> None:
    """Delete what is kept no longer than declared: events older than 90 days, throttle rows older than the
    window (they are also deleted as new ones arrive; this covers a quiet server)."""
    conn.execute("DELETE FROM events WHERE at < ?", (format_time(now - EVENTS_KEPT),))
    conn.execute("DELETE FROM throttle_events WHERE at <= ?", (now.timestamp() - throttle_seconds,))


def _targets(conn: sqlite3.Connection, license_id: str, request: DeletionRequest) -> list[str]:
    """The machines of this license the request names: by id (deactivated ones too), else the active one
    with this fingerprint."""
    if request.machine_id is not None:
        rows = conn.execute("SELECT id FROM machines WHERE license_id = ? AND id = ?",
                            (license_id, request.machine_id)).fetchall()
    elif request.fingerprint is not None:
        rows = conn.execute("SELECT id FROM machines WHERE license_id = ? AND fingerprint = ?",
                            (license_id, request.fingerprint)).fetchall()
    else:
        raise Denied("bad_request", "name the machine: its fingerprint or machine_id", 400)
    return [str(row["id"]) for row in rows]


def _scrub_mentions(conn: sqlite3.Connection, machine_id: str) -> None:
    """Remove a deleted machine's id from the events of other machines that name it (a seat that moved
    from it: ``seat_moved``'s ``from_machine``); the other machine's event itself stays, it is theirs."""
    conn.execute("UPDATE events SET detail = json_remove(detail, '$.from_machine') WHERE json_valid(detail) "
                 "AND json_extract(detail, '$.from_machine') = ?", (machine_id,))


def delete_data(conn: sqlite3.Connection, license_id: str, digest: str, request: DeletionRequest) -> DeletionAnswer:
    """Delete this machine's (or every machine's) data of the license; say what went and what is kept."""
    if request.scope == "all_machines":
        ids = [str(r["id"]) for r in conn.execute("SELECT id FROM machines WHERE license_id = ?", (license_id,))]
        events = conn.execute("DELETE FROM events WHERE license_id = ? OR machine_id IN (SELECT id FROM machines "
                              "WHERE license_id = ?)", (license_id, license_id)).rowcount
        conn.execute("DELETE FROM throttle_events WHERE bucket = 'key' AND name = ?", (digest,))
    else:
        ids = _targets(conn, license_id, request)
        events = 0
        for machine_id in ids:
            events += conn.execute("DELETE FROM events WHERE machine_id = ?", (machine_id,)).rowcount
    for machine_id in ids:
        conn.execute("DELETE FROM machines WHERE id = ?", (machine_id,))
        _scrub_mentions(conn, machine_id)
    return DeletionAnswer(scope=request.scope, deleted_machines=ids, deleted_events=events,
                          still_kept=list(STILL_KEPT))


def routes(api: LicensingApi) -> list[Route]:
    """The deletion route, over the licensing routes' own API (same database, key and throttle: failures
    counted on any licensing route count here too). The WAL is emptied after each deletion."""
    from crystal_server.licensing import parse

    window = api.failures.seconds

    def delete(body: dict[str, Any], now: datetime, digest: str | None) -> dict[str, Any]:
        lic = api.lookup(digest)
        if lic is None or digest is None:
            raise Denied("license_not_found", "no license has this key", 404)
        request = parse(DeletionRequest, body)
        purge_expired(api.conn, now, window)
        return as_json(delete_data(api.conn, lic.id, digest, request))

    return [Route(LICENSE_PATHS["delete"], api.endpoint(delete, counts_key=True, forgets=True), methods=["POST"])]
