"""The copy of the clock mark and of signed denials kept in the OS keyring, beside the license key.

``license.json`` is an ordinary file the user can edit, delete or restore from a backup. What must not be
undone that way lives here too: the time mark (so a restored older file cannot turn trusted time back),
a detected clock set-back, and the signed denials seen (revoked, expired, deactivated), so that a restored
lease of a revoked license or of a deactivated machine is void. When the file and this copy disagree, the
stricter wins: the later trusted time, a set-back noted in either, every denial in either.

A denial voids the leases it covers: "deactivated" every lease of that machine (machine ids are never
reused); "revoked"/"expired" every lease of that license issued at or before the denial's signed time (a
lease issued after a reinstatement is newer and stays valid).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from crystal_manager.licensing.machinekey import Secrets
from crystal_protocol.lease import LeaseTerms
from crystal_protocol.signing import DocumentProblem, parse_time

GUARD_SECRET = "license_guard"  # noqa: S105 (the keyring entry's name, not a secret)
MAX_DENIALS = 16
DENIAL_CODES = ("revoked", "expired", "deactivated")


@dataclass(frozen=True)
class Denial:
    """One signed denial: which license (and machine) and the server's time it was signed at."""

    code: str
    license_id: str
    machine_id: str | None
    at: str

    def voids(self, terms: LeaseTerms) -> bool:
        """True if this denial makes the lease ``terms`` void."""
        if self.code == "deactivated":
            return self.machine_id == terms.machine_id
        try:
            return self.license_id == terms.license_id and terms.issued <= parse_time(self.at)
        except DocumentProblem:
            return self.license_id == terms.license_id


@dataclass
class Guard:
    """The keyring copy (a small JSON text in one keyring entry)."""

    high_water: str | None = None
    seen_at: str | None = None
    set_back_at: str | None = None
    denials: list[Denial] = field(default_factory=list)

    def void(self, terms: LeaseTerms) -> Denial | None:
        """The denial that voids ``terms``, if any."""
        return next((d for d in reversed(self.denials) if d.voids(terms)), None)

    def add(self, denial: Denial) -> None:
        """Remember a denial (the newest per license and machine; at most MAX_DENIALS)."""
        self.denials = [d for d in self.denials
                        if (d.code, d.license_id, d.machine_id) != (denial.code, denial.license_id, denial.machine_id)]
        self.denials = ([*self.denials, denial])[-MAX_DENIALS:]

    def supersede(self, terms: LeaseTerms) -> None:
        """Forget what a fresh signed lease overrides: its license's revocation or expiry, and a deactivation
        of its machine (a deactivation proof never imported, then this machine activated again)."""
        self.denials = [d for d in self.denials
                        if not (d.code != "deactivated" and d.license_id == terms.license_id)
                        and not (d.code == "deactivated" and d.machine_id == terms.machine_id)]

    def to_text(self) -> str:
        """The keyring entry's text."""
        return json.dumps({"v": 1, "high_water": self.high_water, "seen_at": self.seen_at,
                           "set_back_at": self.set_back_at,
                           "denials": [d.__dict__ for d in self.denials]}, sort_keys=True)

    @classmethod
    def from_text(cls, text: str | None) -> Guard:
        """Read an entry; anything unreadable counts as no copy (deleting the entry has the same effect)."""
        try:
            data: Any = json.loads(text) if text else {}
        except (ValueError, RecursionError):
            data = {}
        if not isinstance(data, dict):
            data = {}

        def opt(name: str) -> str | None:
            value = data.get(name)
            return value if isinstance(value, str) and len(value) <= 40 else None

        denials = []
        raw = data.get("denials")
        for item in raw if isinstance(raw, list) else []:
            if (isinstance(item, dict) and item.get("code") in DENIAL_CODES and isinstance(item.get("license_id"), str)
                    and isinstance(item.get("at"), str)):
                machine = item.get("machine_id")
                denials.append(Denial(code=str(item["code"]), license_id=str(item["license_id"]),
                                      machine_id=machine if isinstance(machine, str) else None, at=str(item["at"])))
        return cls(high_water=opt("high_water"), seen_at=opt("seen_at"), set_back_at=opt("set_back_at"),
                   denials=denials[-MAX_DENIALS:])


def load_guard(store: Secrets) -> Guard:
    """The keyring copy (empty if there is none)."""
    return Guard.from_text(store.get(GUARD_SECRET))


def save_guard(store: Secrets, guard: Guard) -> None:
    """Write the keyring copy."""
    store.set(GUARD_SECRET, guard.to_text())


def lease_terms_unverified(lease: dict[str, str] | None) -> LeaseTerms | None:
    """The terms a stored lease states, read without checking its signature (only to match a denial:
    a lease that does not verify is refused anyway)."""
    if not lease or not isinstance(lease.get("payload"), str):
        return None
    try:
        payload = json.loads(lease["payload"])
        return LeaseTerms.from_payload(payload) if isinstance(payload, dict) else None
    except (ValueError, RecursionError, DocumentProblem):
        return None


def merge_clock(record: Any, guard: Guard, now: datetime) -> bool:
    """Make ``record`` (a LicenseRecord) at least as strict as ``guard`` about time; True if it changed."""
    from crystal_manager.licensing.clock import stricter

    changed = False
    mark, seen = stricter(now, (record.time("high_water"), record.time("high_water_seen_at")),
                          (_time(guard.high_water), _time(guard.seen_at)))
    if mark is not None and (mark, seen) != (record.time("high_water"), record.time("high_water_seen_at")):
        record.set_time("high_water", mark)
        record.set_time("high_water_seen_at", seen)
        changed = True
    if guard.set_back_at and not record.clock_set_back_at:
        record.clock_set_back_at = guard.set_back_at
        changed = True
    return changed


def copy_clock(record: Any, guard: Guard) -> bool:
    """Make ``guard`` hold the record's mark and set-back note; True if it changed."""
    new = (record.high_water, record.high_water_seen_at, record.clock_set_back_at or guard.set_back_at)
    if new == (guard.high_water, guard.seen_at, guard.set_back_at):
        return False
    guard.high_water, guard.seen_at, guard.set_back_at = new
    return True


def guard_time(text: str | None) -> datetime | None:
    """A stored time of the guard (None if absent or malformed)."""
    return _time(text)


def _time(text: str | None) -> datetime | None:
    try:
        return parse_time(text) if text else None
    except DocumentProblem:
        return None
