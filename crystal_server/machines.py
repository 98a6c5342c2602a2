"""Machines on a license: activation, validation, deactivation, offline files.

A machine is the same machine only by its fingerprint, or by the previous fingerprint it declares after a
change of the fingerprint's version (never by other similar facts): two machines that both keep checking
in never share a seat, and the second one gets the seat-limit answer. Seats that move from one machine to
another are recorded (``seat_moved`` events) so a vendor sees a seat passed back and forth.

Every function takes an open connection and runs in the caller's transaction.
"""

from __future__ import annotations

import secrets
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from crystal_protocol.labels import label_problem
from crystal_protocol.lease import DEACTIVATION_PROOF_KIND, FINGERPRINT_VERSIONS, OFFLINE_RESPONSE_KIND
from crystal_protocol.messages import (
    ActivateRequest,
    DeactivateRequest,
    MessageProblem,
    OfflineRequest,
    ValidateRequest,
    read,
)
from crystal_protocol.signing import DocumentProblem, format_time, make_document, payload_of, split_document, unb64
from crystal_server import licenses
from crystal_server.keys import SigningKey
from crystal_server.licenses import Denied, License

OFFLINE_TTL_SECONDS = 90 * 86400
#: A new machine taking a seat freed this recently counts as a seat move.
MOVE_WINDOW_SECONDS = 30 * 86400


@dataclass(frozen=True)
class MachineClaim:
    """What a client says about itself (all hashed on the client; the raw machine id never arrives)."""

    fingerprint: str
    fingerprint_version: str
    environment: str
    os: str
    label: str
    public_key: str | None = None
    previous_fingerprint: str | None = None

    @classmethod
    def of(cls, request: ActivateRequest | ValidateRequest | OfflineRequest) -> MachineClaim:
        """The claim of a parsed request (crystal_protocol.messages did the formats); Denied(bad_request)
        for what a format cannot say: a label with control characters, a public key of the wrong size."""
        # Older clients also send "components" (host, CPU… hashes): dropped by the message, never stored.
        label = ((request.label if not isinstance(request, ValidateRequest) else None) or "").strip() or "Computer"
        problem = label_problem(label)
        if problem:
            raise Denied("bad_request", f"field 'label': {problem}", 400)
        if request.fingerprint.split(":", 1)[0] != request.fingerprint_version:
            raise Denied("bad_request", "field 'fingerprint_version' does not match the fingerprint", 400)
        public_key = request.machine_public_key if not isinstance(request, ValidateRequest) else None
        if public_key is not None:
            try:
                if len(unb64(public_key)) != 32:
                    raise DocumentProblem("length")
            except DocumentProblem as exc:
                raise Denied("bad_request", "field 'machine_public_key' must be a raw Ed25519 key", 400) from exc
        return cls(fingerprint=request.fingerprint, fingerprint_version=request.fingerprint_version,
                   environment=request.environment, os=request.os, label=label, public_key=public_key,
                   previous_fingerprint=request.previous_fingerprint if not isinstance(request, OfflineRequest)
                   else None)

    @classmethod
    def reference(cls, request: DeactivateRequest) -> MachineClaim:
        """Only what names a machine (fingerprint, previous fingerprint): all a deactivation needs."""
        if request.fingerprint is None:
            raise Denied("bad_request", "name the machine: its fingerprint or machine_id", 400)
        return cls(fingerprint=request.fingerprint, fingerprint_version=request.fingerprint.split(":", 1)[0],
                   environment="", os="", label="", previous_fingerprint=request.previous_fingerprint)

    @property
    def moved_from(self) -> str | None:
        """The previous fingerprint, honoured only after a change of the fingerprint's version from an older
        to a newer known method (crystal_protocol.lease.FINGERPRINT_VERSIONS): a clone of a machine's files
        with the same method, a made-up version or a downgrade must not take over its seat."""
        previous = self.previous_fingerprint
        if previous is None:
            return None
        old, new = previous.split(":", 1)[0], self.fingerprint.split(":", 1)[0]
        if old not in FINGERPRINT_VERSIONS or new not in FINGERPRINT_VERSIONS:
            return None
        return previous if FINGERPRINT_VERSIONS.index(old) < FINGERPRINT_VERSIONS.index(new) else None


def _active(conn: sqlite3.Connection, license_id: str) -> list[sqlite3.Row]:
    return conn.execute("SELECT * FROM machines WHERE license_id = ? AND deactivated_at IS NULL "
                        "ORDER BY activated_at", (license_id,)).fetchall()


def find_machine(conn: sqlite3.Connection, license_id: str, claim: MachineClaim) -> sqlite3.Row | None:
    """The active machine this claim is: the same fingerprint, or the previous one after a version change."""
    rows = _active(conn, license_id)
    for wanted in (claim.fingerprint, claim.moved_from):
        for row in rows:
            if wanted is not None and row["fingerprint"] == wanted:
                return row
    return None


def _usable(lic: License | None, now: datetime) -> License:
    if lic is None:
        raise Denied("license_not_found", "no license has this key", 404)
    status = lic.effective_status(now)
    if status == "revoked":
        raise Denied("revoked", "this license was revoked", 403)
    if status == "expired":
        raise Denied("expired", "the subscription has ended", 403, expires_at=lic.expires_at)
    return lic


def activate(conn: sqlite3.Connection, now: datetime, lic: License | None, claim: MachineClaim,
             key: SigningKey, *, ttl_seconds: int | None = None,
             seen_as: str = "reactivated") -> tuple[str, dict[str, str]]:
    """Activate (or re-activate) a machine; return (machine id, signed lease). Known machines always succeed."""
    lic = _usable(lic, now)
    row = find_machine(conn, lic.id, claim)
    stamp = format_time(now)
    if row is not None:
        machine_id = str(row["id"])
        # components = '{}': hashes an older version sent (host, CPU) are dropped at the next contact.
        conn.execute("UPDATE machines SET fingerprint = ?, fingerprint_version = ?, components = '{}', "
                     "environment = ?, os = ?, public_key = COALESCE(?, public_key), last_seen_at = ? WHERE id = ?",
                     (claim.fingerprint, claim.fingerprint_version, claim.environment, claim.os, claim.public_key,
                      stamp, machine_id))
        moved = row["fingerprint"] != claim.fingerprint
        licenses.event(conn, now, seen_as, lic.id, machine_id, fingerprint_changed=moved)
        if moved:
            licenses.event(conn, now, "seat_moved", lic.id, machine_id, from_machine=machine_id,
                           how="fingerprint_version")
    else:
        used = licenses.active_machine_count(conn, lic.id)
        if used >= lic.seats:
            raise Denied("seat_limit", f"all {lic.seats} seats are in use", 409, seats_used=used,
                         seats_total=lic.seats)
        machine_id = "m_" + secrets.token_hex(6)
        conn.execute("INSERT INTO machines (id, license_id, fingerprint, fingerprint_version, components, "
                     "environment, os, label, public_key, activated_at, last_seen_at) "
                     "VALUES (?, ?, ?, ?, '{}', ?, ?, ?, ?, ?, ?)",
                     (machine_id, lic.id, claim.fingerprint, claim.fingerprint_version, claim.environment,
                      claim.os, claim.label, claim.public_key, stamp, stamp))
        licenses.event(conn, now, "activated", lic.id, machine_id, environment=claim.environment)
        freed = _recently_freed(conn, now, lic.id)
        if freed is not None:
            licenses.event(conn, now, "seat_moved", lic.id, machine_id, from_machine=freed, how="deactivated")
    ttl = ttl_seconds or lic.lease_ttl
    terms = licenses.lease_terms(conn, lic, machine_id=machine_id, fingerprint=claim.fingerprint, now=now,
                                 kid=key.kid, ttl_seconds=ttl)
    return machine_id, licenses.signed_lease(terms, key)


def _recently_freed(conn: sqlite3.Connection, now: datetime, license_id: str) -> str | None:
    """The machine whose seat a new machine takes: the latest one deactivated within the move window whose
    seat has not been taken yet."""
    since = format_time(now - timedelta(seconds=MOVE_WINDOW_SECONDS))
    row = conn.execute(
        "SELECT id FROM machines WHERE license_id = ? AND deactivated_at IS NOT NULL AND deactivated_at >= ? "
        "AND id NOT IN (SELECT json_extract(detail, '$.from_machine') FROM events WHERE license_id = ? "
        "AND kind = 'seat_moved') ORDER BY deactivated_at DESC LIMIT 1", (license_id, since, license_id)).fetchone()
    return str(row["id"]) if row is not None else None


def validate(conn: sqlite3.Connection, now: datetime, lic: License | None, claim: MachineClaim,
             key: SigningKey) -> tuple[str, dict[str, str]]:
    """Re-validate an activated machine; a fresh lease, or a denial (machine_not_found if deactivated)."""
    lic = _usable(lic, now)
    row = find_machine(conn, lic.id, claim)
    if row is None:
        raise Denied("machine_not_found", "this machine is not activated on the license", 404)
    return activate(conn, now, lic, claim, key, seen_as="validated")


def deactivate(conn: sqlite3.Connection, now: datetime, lic: License | None, claim: MachineClaim | None,
               machine_id: str | None) -> str:
    """Free a seat: the named machine, or the one making the claim. Allowed whatever the subscription status."""
    if lic is None:
        raise Denied("license_not_found", "no license has this key", 404)
    rows = _active(conn, lic.id)
    target = None
    if machine_id is not None:
        target = next((r for r in rows if r["id"] == machine_id), None)
    elif claim is not None:
        target = find_machine(conn, lic.id, claim)
    if target is None:
        raise Denied("machine_not_found", "that machine is not activated on this license", 404)
    forget(conn, now, str(target["id"]))
    licenses.event(conn, now, "deactivated", lic.id, str(target["id"]))
    return str(target["id"])


def forget(conn: sqlite3.Connection, now: datetime, machine_id: str) -> None:
    """Deactivate a machine and delete what identified it. Kept, as the data catalog declares: its id, its
    license and when it was activated, last seen and deactivated (the license's seat history)."""
    conn.execute("UPDATE machines SET deactivated_at = ?, fingerprint = '', fingerprint_version = '', "
                 "components = '{}', environment = '', os = '', label = '', public_key = NULL WHERE id = ?",
                 (format_time(now), machine_id))


def listing(conn: sqlite3.Connection, lic: License | None, fingerprint: str | None) -> dict[str, Any]:
    """Machines on the license and the seat count."""
    if lic is None:
        raise Denied("license_not_found", "no license has this key", 404)
    rows = _active(conn, lic.id)
    machines = [{"machine_id": r["id"], "label": r["label"], "os": r["os"], "environment": r["environment"],
                 "activated_at": r["activated_at"], "last_seen_at": r["last_seen_at"],
                 "this_machine": fingerprint is not None and r["fingerprint"] == fingerprint} for r in rows]
    return {"machines": machines, "seats_used": len(rows), "seats_total": lic.seats}


def read_offline_request(data: object) -> OfflineRequest:
    """An offline activation request file's content as its message; Denied(bad_document) when it is not one."""
    try:
        return read(OfflineRequest, data)
    except MessageProblem as exc:
        raise Denied("bad_document", f"not an offline activation request: {exc}", 400) from exc


def offline_answer(conn: sqlite3.Connection, now: datetime, data: object, key: SigningKey) -> dict[str, str]:
    """Turn an offline activation request file's content into a signed response document."""
    request = read_offline_request(data)
    claim = MachineClaim.of(request)
    machine_id, lease = activate(conn, now, licenses.by_digest(conn, request.key_digest), claim, key,
                                 ttl_seconds=OFFLINE_TTL_SECONDS)
    payload = {"request_nonce": request.request_nonce, "fingerprint": claim.fingerprint, "machine_id": machine_id,
               "lease": lease, "issued_at": format_time(now)}
    return make_document(OFFLINE_RESPONSE_KIND, payload, key.kid, key.sign)


def import_deactivation_proof(conn: sqlite3.Connection, now: datetime, proof: Any) -> str:
    """Free the seat named in a proof signed by that machine's own key (made at offline deactivation)."""
    try:
        _kid, text, message, signature = split_document(proof, DEACTIVATION_PROOF_KIND)
        payload = payload_of(text, DEACTIVATION_PROOF_KIND)
    except DocumentProblem as exc:
        raise Denied("bad_document", f"not a deactivation proof: {exc}", 400) from exc
    row = conn.execute("SELECT * FROM machines WHERE id = ?", (str(payload.get("machine_id")),)).fetchone()
    if row is not None and row["deactivated_at"] is not None:
        return str(row["id"])  # already deactivated (and its key forgotten): nothing left to do
    if row is None or not row["public_key"]:
        raise Denied("machine_not_found", "the proof names no machine known here", 404)
    try:
        Ed25519PublicKey.from_public_bytes(unb64(row["public_key"])).verify(signature, message)
    except (InvalidSignature, DocumentProblem, ValueError) as exc:
        raise Denied("bad_document", "the proof's signature does not match that machine's key", 400) from exc
    forget(conn, now, str(row["id"]))
    licenses.event(conn, now, "deactivated_offline", row["license_id"], row["id"])
    return str(row["id"])
