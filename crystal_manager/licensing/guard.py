"""The copy of the clock mark and of signed denials kept in the OS keyring, beside the license key.

``license.json`` is an ordinary file the user can edit, delete or restore from a backup. What must not be
undone that way lives here too: the time mark (so a restored older file cannot turn trusted time back),
a detected clock set-back, and the signed denials seen (revoked, expired, deactivated), so that a restored
lease of a revoked license or of a deactivated machine is void. When the file and this copy disagree, the
stricter wins: the later trusted time, a set-back noted in either, every denial in either.

A denial voids the leases it covers that were issued at or before its signed time: "deactivated" those of
that machine, "revoked"/"expired" those of that license (a lease issued after a reinstatement, or after the
machine was activated again, is newer and stays valid). A lease from an offline response supersedes
(deletes) only the denials signed strictly before it was issued, and one that a denial voids is refused: an
old response installed a second time lifts nothing (decision 0014). An online answer echoes this request's
nonce, so it is newer than every denial held and supersedes them all.

The guard also keeps the nonce of the pending offline request, so a response is installed only for the
request this computer really wrote (not for one whose nonce was typed back into license.json), and the sum
of the local clock's backward steps since the last server answer: many small steps count like one big one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from crystal_manager.licensing.clock import TAMPER_THRESHOLD, BootReading, read_clock, stricter
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
        """True if this denial makes the lease ``terms`` void: it is about that lease's license (or machine)
        and the lease was issued at or before the denial was signed (unreadable time: void)."""
        if not _covers(terms, self):
            return False
        try:
            return terms.issued <= parse_time(self.at)
        except DocumentProblem:
            return True


@dataclass
class Guard:
    """The keyring copy (a small JSON text in one keyring entry)."""

    high_water: str | None = None
    seen_at: str | None = None
    set_back_at: str | None = None
    denials: list[Denial] = field(default_factory=list)
    #: The nonce of the offline request written last (None: none pending).
    pending: str | None = None
    #: Seconds the local clock stepped back since the last server answer (each step's ``behind``).
    back_seconds: float = 0.0
    #: The boot id and seconds since boot when ``seen_at`` was read (clock.BootReading; None: unknown).
    boot_id: str | None = None
    boot_at: float | None = None
    #: This process's boot reading, set when the guard is loaded (never stored).
    now_boot: BootReading | None = field(default=None, compare=False)
    #: Changed since it was loaded in a way copy_clock must save (the boot-time re-expression; never stored).
    dirty: bool = field(default=False, compare=False)

    def void(self, terms: LeaseTerms) -> Denial | None:
        """The denial that voids ``terms``, if any."""
        return next((d for d in reversed(self.denials) if d.voids(terms)), None)

    def add(self, denial: Denial) -> None:
        """Remember a denial (the newest per license and machine; at most MAX_DENIALS)."""
        self.denials = [d for d in self.denials
                        if (d.code, d.license_id, d.machine_id) != (denial.code, denial.license_id, denial.machine_id)]
        self.denials = ([*self.denials, denial])[-MAX_DENIALS:]

    def supersede(self, terms: LeaseTerms, *, fresh: bool = False) -> None:
        """Forget what a signed lease overrides: its license's revocation or expiry, and a deactivation of
        its machine — only those signed strictly before the lease was issued (a lease older than a denial,
        shown again, overrides nothing). ``fresh``: the lease came in an online answer to this computer's
        own one-time nonce, sent after every denial it holds, so it overrides them all (even one signed in
        the same second)."""
        self.denials = [d for d in self.denials if not (_covers(terms, d) and (fresh or _before(d, terms)))]

    def to_text(self) -> str:
        """The keyring entry's text."""
        return json.dumps({"v": 1, "high_water": self.high_water, "seen_at": self.seen_at,
                           "set_back_at": self.set_back_at, "pending": self.pending,
                           "back_seconds": self.back_seconds, "boot_id": self.boot_id, "boot_at": self.boot_at,
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
        back = data.get("back_seconds")
        back_seconds = float(back) if isinstance(back, int | float) and 0 <= back < 1e10 else 0.0
        pending = data.get("pending")
        boot_at = data.get("boot_at")
        return cls(high_water=opt("high_water"), seen_at=opt("seen_at"), set_back_at=opt("set_back_at"),
                   denials=denials[-MAX_DENIALS:], back_seconds=back_seconds, boot_id=opt("boot_id"),
                   boot_at=float(boot_at) if isinstance(boot_at, int | float) and 0 <= boot_at < 1e12 else None,
                   pending=pending if isinstance(pending, str) and len(pending) <= 100 else None)


def _covers(terms: LeaseTerms, denial: Denial) -> bool:
    """True if ``denial`` is about the lease ``terms`` (its license's revocation/expiry, its machine's
    deactivation)."""
    if denial.code == "deactivated":
        return denial.machine_id == terms.machine_id
    return denial.license_id == terms.license_id


def _before(denial: Denial, terms: LeaseTerms) -> bool:
    """True if ``denial`` was signed strictly before ``terms`` was issued (an unreadable time: not before)."""
    try:
        return parse_time(denial.at) < terms.issued
    except DocumentProblem:
        return False


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
    """Make ``guard`` hold the record's mark and set-back note; True if it changed.

    A record whose local reading (``high_water_seen_at``) is earlier than the guard's saw the clock step
    back: the step (as far as it went behind trusted time too, see clock.read_clock) is added to the guard's
    running sum, and a sum past clock.TAMPER_THRESHOLD is a set-back even if no single step was — a clock
    stepped back 59 minutes every hour is caught after the second step."""
    seen, old_mark, old_seen = _time(record.high_water_seen_at), _time(guard.high_water), _time(guard.seen_at)
    if seen is not None and old_mark is not None and old_seen is not None and seen < old_seen:
        guard.back_seconds += read_clock(seen, old_mark, old_seen).behind.total_seconds()
        if guard.back_seconds > TAMPER_THRESHOLD.total_seconds() and not record.clock_set_back_at:
            record.clock_set_back_at = record.high_water_seen_at  # the record is saved at its next change
    if record.high_water_seen_at != guard.seen_at:  # a new local reading: the boot reading goes with it
        guard.boot_id, guard.boot_at = ((guard.now_boot.boot_id, guard.now_boot.uptime) if guard.now_boot
                                        else (None, None))
    new = (record.high_water, record.high_water_seen_at, record.clock_set_back_at or guard.set_back_at)
    dirty, guard.dirty = guard.dirty, False
    if new == (guard.high_water, guard.seen_at, guard.set_back_at):
        return dirty
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
