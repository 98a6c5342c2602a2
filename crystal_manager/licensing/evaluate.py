"""The state machine: from the stored record, the verified lease and trusted time to one license state.

    not_activated → active | trial → offline_grace → locked
    expired, revoked: only from a correctly signed answer (a denial, or a signed lease saying so)

Grace lasts until the lease's own expiry (issued-at + TTL), measured on trusted time.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from crystal_manager.licensing.clock import read_clock
from crystal_manager.licensing.errors import LeaseInvalid
from crystal_manager.licensing.lease import verify_lease
from crystal_manager.licensing.record import LicenseRecord
from crystal_protocol.lease import LeaseTerms
from crystal_protocol.signing import format_time, parse_time

STATES = ("not_activated", "active", "trial", "offline_grace", "locked", "expired", "revoked")


@dataclass(frozen=True)
class Evaluation:
    """The license as it stands now."""

    state: str
    terms: LeaseTerms | None
    trusted_now: datetime
    clock_set_back: bool
    grace_days_left: float | None
    trial_days_left: int | None
    message: str | None
    lease_problem: str | None


def _human(stamp: str) -> str:
    """``2026-11-25T13:03:56Z`` → ``25 Nov 2026 13:03 UTC`` (messages are read by people, CLI and GUI alike)."""
    try:
        return parse_time(stamp).strftime("%d %b %Y %H:%M UTC").lstrip("0")
    except ValueError:
        return stamp


def _trial_days(terms: LeaseTerms, now: datetime) -> int | None:
    if terms.status != "trial":
        return None
    if terms.trial_ends_at:
        return max(0, math.ceil((parse_time(terms.trial_ends_at) - now).total_seconds() / 86400))
    return terms.trial_days_left


def evaluate(record: LicenseRecord, *, keys: Mapping[str, bytes], fingerprint: str | Callable[[], str],
             now: datetime) -> Evaluation:
    """Decide the state. Pure: reads the record, never changes it. ``fingerprint`` may be a callable: this
    machine's identity is then computed only when there is a lease to check it against."""
    clock = read_clock(now, record.time("high_water"), record.time("high_water_seen_at"))
    trusted = clock.trusted_now
    set_back = clock.set_back or record.clock_set_back_at is not None

    def result(state: str, terms: LeaseTerms | None = None, message: str | None = None,
               grace: float | None = None, problem: str | None = None) -> Evaluation:
        trial = _trial_days(terms, trusted) if terms is not None and state == "trial" else None
        return Evaluation(state=state, terms=terms, trusted_now=trusted, clock_set_back=set_back,
                          grace_days_left=grace, trial_days_left=trial, message=message, lease_problem=problem)

    if record.lease is None:
        if record.denial in ("revoked", "expired"):
            return result(record.denial, message=record.denial_message)
        if record.damaged_copy:  # a damaged file: the stored key can restore the license (verify)
            return result("locked", message=record.notice, problem="the license file was damaged")
        return result("not_activated", message=record.notice)
    mine = fingerprint() if callable(fingerprint) else fingerprint
    try:
        terms = verify_lease(record.lease, keys=keys, fingerprint=mine, now=trusted, require_current=False)
    except LeaseInvalid as exc:
        return result("locked", message=f"the stored lease failed verification ({exc}); verify with the server "
                                        "to restore it", problem=str(exc))
    if record.denial in ("revoked", "expired"):
        return result(record.denial, terms, record.denial_message)
    if terms.status in ("revoked", "expired"):
        return result(terms.status, terms, f"the server says the license is {terms.status}")
    if trusted >= terms.lease_expires:
        since = record.last_verified_at or terms.issued_at
        return result("locked", terms, f"no answer from the licensing server since {_human(since)}; the "
                                       f"license had to be verified by {_human(format_time(terms.lease_expires))}")
    state = "trial" if terms.status == "trial" else "active"
    message = "payment is past due: please update your payment details" if terms.status == "past_due" else None
    if record.last_attempt_ok is False and not record.offline_activation:
        grace = round((terms.lease_expires - trusted).total_seconds() / 86400, 2)
        return result("offline_grace", terms, record.last_problem, grace)
    return result(state, terms, message)
