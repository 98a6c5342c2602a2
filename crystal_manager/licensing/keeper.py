"""How the engine uses the keyring copy (the guard, see guard.py): when it is read, merged into the record,
and written. A locked or broken keyring never stops the license: the file copy alone then decides."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import datetime, timedelta

from crystal_manager.licensing import machinekey
from crystal_manager.licensing.clock import BOOT_SLACK, TAMPER_THRESHOLD, BootReading, read_boot, read_clock
from crystal_manager.licensing.guard import (
    Denial,
    Guard,
    copy_clock,
    guard_time,
    lease_terms_unverified,
    load_guard,
    merge_clock,
    save_guard,
)
from crystal_manager.licensing.record import LicenseRecord
from crystal_manager.storage.secrets import SecretStoreError
from crystal_protocol.lease import LeaseTerms
from crystal_protocol.signing import format_time

DEACTIVATED_NOTICE = ("this machine was deactivated on the license (from another machine or by support); "
                      "activate it again to use it here")
DENIAL_WORDS = {"revoked": "the server says the license was revoked",
                "expired": "the server says the subscription has ended"}


def strip(record: LicenseRecord) -> None:
    """Delete the lease and what only it made true (a signed denial is final until the server says
    otherwise)."""
    record.lease = None
    record.machine_id = None
    record.next_check_at = None
    record.pending_offline = None
    record.offline_activation = False


def by_boot_time(record: LicenseRecord, guard: Guard, now: datetime) -> bool:
    """Count the time since boot as what elapsed since the guard's local reading (clock.py); True if the
    record changed.

    Same boot: when the wall clock strayed from the boot time by more than BOOT_SLACK (frozen, stepped
    back, or corrected forward), the reading is re-expressed on today's wall clock (``seen_at`` = now minus
    the time since it), in the guard and — if it is the same reading — in the record, so trusted time is
    the mark plus the boot time elapsed; a wall clock over an hour behind that is set back. Another boot
    (or this one gone back in time: a virtual machine restored from a snapshot): a wall clock not past the
    last reading is set back, and the reading starts again from here (trusted time never goes back).
    """
    reading, mark, seen = guard.now_boot, guard_time(guard.high_water), guard_time(guard.seen_at)
    if reading is None or mark is None or seen is None or guard.boot_id is None or guard.boot_at is None:
        return False
    changed = False
    elapsed = timedelta(seconds=reading.uptime - guard.boot_at)
    # Another boot, or this boot gone back in time (a virtual machine restored from a snapshot): only the
    # wall clock is left; the reading starts again from here.
    if guard.boot_id != reading.boot_id or elapsed < timedelta(0):
        if now < seen + timedelta(seconds=1):  # not past the last reading (stored to the second)
            changed = _set_back(record, guard, now)
        trusted = read_clock(now, mark, seen).trusted_now
        guard.high_water, guard.seen_at = format_time(trusted), format_time(now)
        guard.boot_id, guard.boot_at, guard.dirty = reading.boot_id, reading.uptime, True
        return changed
    if abs(now - (seen + elapsed)) <= BOOT_SLACK:
        return False
    healed = format_time(now - elapsed)
    if record.high_water_seen_at == guard.seen_at and record.high_water == guard.high_water:
        record.high_water_seen_at = healed
        changed = True
    guard.seen_at, guard.dirty = healed, True
    if mark + elapsed - now > TAMPER_THRESHOLD:  # the wall clock lags boot time: frozen or set back
        changed = _set_back(record, guard, now) or changed
    return changed


def _set_back(record: LicenseRecord, guard: Guard, now: datetime) -> bool:
    """Note a set-back clock in both copies; True if the record changed."""
    guard.set_back_at = guard.set_back_at or format_time(now)
    if record.clock_set_back_at:
        return False
    record.set_time("clock_set_back_at", now)
    return True


class GuardKeeper:
    """Reads and writes the guard in the secret store beside the key."""

    def __init__(self, secrets: Callable[[], machinekey.Secrets],
                 opened: Callable[[], machinekey.Secrets | None] | None,
                 boot: Callable[[], BootReading | None] = read_boot) -> None:
        self._secrets = secrets
        self._opened = opened
        #: The second time source (clock.read_boot; a seam like the engine's ``now``).
        self.boot = boot

    def store(self, open_keyring: bool) -> machinekey.Secrets | None:
        """The secret store: opened if ``open_keyring`` (or no "already open" test was given), else only if
        it is open already (the start of the GUI must not load the keyring for this)."""
        try:
            if open_keyring or self._opened is None:
                return self._secrets()
            return self._opened()
        except SecretStoreError:
            return None

    def load(self, store: machinekey.Secrets | None) -> Guard | None:
        """The guard in ``store`` (None: no store, or it cannot be read), with this moment's boot reading."""
        try:
            guard = load_guard(store) if store is not None else None
        except SecretStoreError:
            return None
        if guard is not None:
            guard.now_boot = self.boot()
        return guard

    @staticmethod
    def save(store: machinekey.Secrets | None, guard: Guard | None) -> None:
        """Write the guard (a failure is tolerated: the file copy is written anyway)."""
        if store is None or guard is None:
            return
        with contextlib.suppress(SecretStoreError):
            save_guard(store, guard)

    def merge(self, record: LicenseRecord, guard: Guard, now: datetime) -> bool:
        """Make the record as strict as the guard: its time mark (counted on boot time within one boot), its
        set-back note, and no lease that a remembered signed denial voids (a restored or edited file). True
        if the record changed."""
        changed = by_boot_time(record, guard, now)
        changed = merge_clock(record, guard, now) or changed
        terms = lease_terms_unverified(record.lease)
        denial = guard.void(terms) if terms is not None else None
        if denial is None:
            return changed
        strip(record)
        if denial.code == "deactivated":
            record.denial = record.denial_message = None
            record.notice = DEACTIVATED_NOTICE
        else:
            record.denial = denial.code
            record.denial_message = record.denial_message or DENIAL_WORDS[denial.code]
        return True

    def remember(self, code: str, lease: dict[str, str] | None, at: datetime) -> None:
        """Keep a signed denial of ``lease`` in the guard."""
        terms = lease_terms_unverified(lease)
        if terms is None:
            return
        store = self.store(True)
        guard = self.load(store)
        if guard is not None:
            guard.add(Denial(code=code, license_id=terms.license_id, machine_id=terms.machine_id,
                             at=format_time(max(at, terms.issued))))
            self.save(store, guard)

    def supersede(self, terms: LeaseTerms) -> None:
        """A signed lease (online or from an offline response) overrides remembered denials of it signed
        before it was issued; the offline request it answers is no longer pending."""
        self.after_answer(None, terms, None, None, timedelta(0))

    def voided(self, terms: LeaseTerms) -> Denial | None:
        """The remembered denial that makes ``terms`` void (None: none, or no readable keyring copy)."""
        guard = self.load(self.store(True))
        return guard.void(terms) if guard is not None else None

    def note_pending(self, nonce: str) -> None:
        """Keep the nonce of the offline request just written beside the key (the file copy can be edited)."""
        store = self.store(True)
        guard = self.load(store)
        if guard is not None:
            guard.pending = nonce
            self.save(store, guard)

    def pending_matches(self, nonce: object) -> bool:
        """True if ``nonce`` is the offline request this computer wrote last (or no keyring copy can be
        read: the file copy alone then decides, as everywhere)."""
        guard = self.load(self.store(True))
        return guard is None or (guard.pending is not None and guard.pending == nonce)

    def after_answer(self, record: LicenseRecord | None, terms: LeaseTerms, signed_at: datetime | None,
                     received_at: datetime | None, step: timedelta) -> None:
        """After a signed lease was accepted into ``record``: forget what it overrides, clear the set-back
        note, and copy the time mark when the guard's is off by more than ``step`` (either way: a clock put
        right since moves the old pair's estimate) — not at every answer."""
        store = self.store(True)
        guard = self.load(store)
        if guard is None:
            return
        before = guard.to_text()
        guard.supersede(terms, fresh=record is not None)  # record: an online answer (see Guard.supersede)
        guard.pending = None
        if record is not None and signed_at is not None and received_at is not None:
            guard.set_back_at = None
            guard.back_seconds = 0.0  # the server's time again: earlier backward steps no longer matter
            mark, seen = guard_time(guard.high_water), guard_time(guard.seen_at)
            estimate = read_clock(received_at, mark, seen).trusted_now if mark else None
            if estimate is None or abs(estimate - signed_at) > step:
                copy_clock(record, guard)
        if guard.to_text() != before:
            self.save(store, guard)
