"""License records: creation, changes, the effective status, and the signed lease (parameterised SQL only)."""

from __future__ import annotations

import json
import math
import secrets
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from crystal_protocol.lease import DEFAULT_TTL_SECONDS, LEASE_KIND, MIN_TTL_SECONDS, LeaseStatus, LeaseTerms
from crystal_protocol.licensekey import generate_key, key_digest, key_hint
from crystal_protocol.messages import ErrorBody
from crystal_protocol.signing import format_time, make_document, parse_time
from crystal_protocol.wire import ErrorCode
from crystal_server.keys import SigningKey

STORED_STATUSES = ("active", "past_due", "cancelled", "revoked")


class Denied(Exception):
    """A refusal the client is told about (signed): ``code`` from crystal_protocol.wire.ERROR_CODES, with the
    details its code carries (the members of crystal_protocol.messages.ErrorBody)."""

    def __init__(self, code: ErrorCode, message: str, status: int = 403, *, retry_after: int | None = None,
                 seats_used: int | None = None, seats_total: int | None = None,
                 expires_at: str | None = None) -> None:
        super().__init__(message)
        self.code: ErrorCode = code
        self.status = status
        self.error = ErrorBody(code=code, message=message, retry_after=retry_after, seats_used=seats_used,
                               seats_total=seats_total, expires_at=expires_at)


@dataclass(frozen=True)
class License:
    """One row of ``licenses``."""

    id: str
    key_hint: str
    plan: str
    seats: int
    status: str
    expires_at: str | None
    trial_ends_at: str | None
    max_version: str | None
    created_at: str
    updated_at: str
    lease_seconds: int | None = None  # how long a lease lasts without a check (None: the default, 14 days)

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> License:
        """Build from a database row."""
        return cls(id=row["id"], key_hint=row["key_hint"], plan=row["plan"], seats=row["seats"],
                   status=row["status"], expires_at=row["expires_at"], trial_ends_at=row["trial_ends_at"],
                   max_version=row["max_version"], created_at=row["created_at"], updated_at=row["updated_at"],
                   lease_seconds=row["lease_seconds"])

    @property
    def lease_ttl(self) -> int:
        """Seconds a lease of this license lasts without a check."""
        return self.lease_seconds or DEFAULT_TTL_SECONDS

    def in_trial(self, now: datetime) -> bool:
        """True while the trial runs (and the license is not revoked)."""
        return (self.status != "revoked" and self.trial_ends_at is not None
                and now < parse_time(self.trial_ends_at))

    def effective_status(self, now: datetime) -> LeaseStatus:
        """active, trial, past_due, expired or revoked: what the shop's facts mean right now."""
        if self.status == "revoked":
            return "revoked"
        if self.in_trial(now):
            return "trial"
        if self.expires_at is not None and now >= parse_time(self.expires_at):
            return "expired"
        if self.status == "cancelled" and self.expires_at is None:
            return "expired"
        return "past_due" if self.status == "past_due" else "active"

    def trial_days_left(self, now: datetime) -> int | None:
        """Whole days of trial left (rounded up), or None outside a trial."""
        if not self.in_trial(now) or self.trial_ends_at is None:
            return None
        return math.ceil((parse_time(self.trial_ends_at) - now).total_seconds() / 86400)

    def to_json(self) -> dict[str, Any]:
        """For ``license show``."""
        return dict(self.__dict__)


#: How long the audit trail keeps an event (the data catalog declares it; the Manager's panel shows it).
EVENTS_KEPT = timedelta(days=90)


def event(conn: sqlite3.Connection, now: datetime, kind: str, license_id: str | None,
          machine_id: str | None = None, **detail: Any) -> None:
    """Append to the audit trail, and delete events older than :data:`EVENTS_KEPT`."""
    conn.execute("DELETE FROM events WHERE at < ?", (format_time(now - EVENTS_KEPT),))
    conn.execute("INSERT INTO events (at, license_id, machine_id, kind, detail) VALUES (?, ?, ?, ?, ?)",
                 (format_time(now), license_id, machine_id, kind, json.dumps(detail, sort_keys=True)))


def create(conn: sqlite3.Connection, now: datetime, *, plan: str, seats: int, expires_at: str | None,
           trial_days: int | None, max_version: str | None,
           lease_seconds: int | None = None) -> tuple[str, License]:
    """Create a license; return (the key — shown once, never stored — and the record)."""
    key = generate_key()
    license_id = "lic_" + secrets.token_hex(8)
    trial_end = format_time(now + timedelta(days=trial_days)) if trial_days else None
    stamp = format_time(now)
    conn.execute(
        "INSERT INTO licenses (id, key_digest, key_hint, plan, seats, status, expires_at, trial_ends_at,"
        " max_version, created_at, updated_at, lease_seconds) VALUES (?, ?, ?, ?, ?, 'active', ?, ?, ?, ?, ?, ?)",
        (license_id, key_digest(key), key_hint(key), plan, seats, expires_at, trial_end, max_version, stamp, stamp,
         lease_seconds))
    event(conn, now, "created", license_id, plan=plan, seats=seats)
    found = get(conn, license_id)
    assert found is not None
    return key, found


def get(conn: sqlite3.Connection, license_id: str) -> License | None:
    """A license by id."""
    row = conn.execute("SELECT * FROM licenses WHERE id = ?", (license_id,)).fetchone()
    return License.from_row(row) if row else None


def by_digest(conn: sqlite3.Connection, digest: str) -> License | None:
    """A license by the digest of its key."""
    row = conn.execute("SELECT * FROM licenses WHERE key_digest = ?", (digest,)).fetchone()
    return License.from_row(row) if row else None


def update(conn: sqlite3.Connection, now: datetime, license_id: str, changes: dict[str, Any]) -> License:
    """Change plan, seats, status, expiry or max_version (what the shop does on renewal or cancellation)."""
    allowed = {"plan", "seats", "status", "expires_at", "trial_ends_at", "max_version", "lease_seconds"}
    unknown = set(changes) - allowed
    if unknown:
        raise ValueError(f"cannot change {sorted(unknown)}")
    if "status" in changes and changes["status"] not in STORED_STATUSES:
        raise ValueError(f"status must be one of {', '.join(STORED_STATUSES)}")
    lease = changes.get("lease_seconds")
    if lease is not None and (not isinstance(lease, int) or lease < MIN_TTL_SECONDS):
        raise ValueError(f"a lease lasts at least {MIN_TTL_SECONDS} seconds")
    for column, value in changes.items():
        # Column names come from the fixed allow-list above, values are parameters.
        conn.execute(f"UPDATE licenses SET {column} = ?, updated_at = ? WHERE id = ?",  # noqa: S608
                     (value, format_time(now), license_id))
    event(conn, now, "updated", license_id, **changes)
    found = get(conn, license_id)
    if found is None:
        raise ValueError(f"no license {license_id}")
    return found


def active_machine_count(conn: sqlite3.Connection, license_id: str) -> int:
    """Seats in use."""
    row = conn.execute("SELECT COUNT(*) FROM machines WHERE license_id = ? AND deactivated_at IS NULL",
                       (license_id,)).fetchone()
    return int(row[0])


def lease_terms(conn: sqlite3.Connection, lic: License, *, machine_id: str, fingerprint: str, now: datetime,
                kid: str, ttl_seconds: int = DEFAULT_TTL_SECONDS) -> LeaseTerms:
    """The lease for one machine. Its TTL never reaches past the subscription's or trial's end."""
    status = lic.effective_status(now)
    ends = [parse_time(t) for t in (lic.trial_ends_at if status == "trial" else None, lic.expires_at) if t]
    ttl = ttl_seconds
    if ends:
        ttl = max(MIN_TTL_SECONDS, min(ttl, int((min(ends) - now).total_seconds())))
    renews = lic.expires_at if lic.status in ("active", "past_due") and status != "trial" else None
    return LeaseTerms(
        license_id=lic.id, machine_id=machine_id, fingerprint=fingerprint, key_hint=lic.key_hint,
        plan=lic.plan, status=status, expires_at=lic.expires_at, renews_at=renews,
        trial_days_left=lic.trial_days_left(now), seats_used=active_machine_count(conn, lic.id),
        seats_total=lic.seats, issued_at=format_time(now), ttl_seconds=ttl, kid=kid,
        entitlements={"max_version": lic.max_version} if lic.max_version else {},
        trial_ends_at=lic.trial_ends_at if status == "trial" else None)


def signed_lease(terms: LeaseTerms, key: SigningKey) -> dict[str, str]:
    """The lease as a signed document."""
    return make_document(LEASE_KIND, terms.to_payload(), key.kid, key.sign)


def seat_moves(conn: sqlite3.Connection, license_id: str) -> list[dict[str, Any]]:
    """Every recorded seat move of a license (kept as long as events are), oldest first."""
    rows = conn.execute("SELECT at, machine_id, detail FROM events WHERE license_id = ? AND kind = 'seat_moved' "
                        "ORDER BY at, id", (license_id,)).fetchall()
    moves = []
    for row in rows:
        detail = json.loads(row["detail"] or "{}")
        moves.append({"at": row["at"], "to_machine": row["machine_id"], "from_machine": detail.get("from_machine"),
                      "how": detail.get("how")})
    return moves
