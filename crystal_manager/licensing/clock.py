"""Trusted time: a high-water mark of the server's signed dates and the latest local time seen.

A local clock more than an hour behind the mark is "set back" (daylight-saving changes move local time,
not UTC, and stay well within an hour of drift anyway); then the mark, not the clock, is used, so setting
the clock back never extends a grace period.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

TAMPER_THRESHOLD = timedelta(hours=1)


@dataclass(frozen=True)
class ClockReading:
    """The time to trust and whether the local clock was caught set back."""

    trusted_now: datetime
    high_water: datetime
    set_back: bool
    behind: timedelta


def read_clock(now: datetime, high_water: datetime | None) -> ClockReading:
    """Compare the local clock with the mark; the mark only moves forward."""
    if high_water is None or now >= high_water:
        return ClockReading(trusted_now=now, high_water=now, set_back=False, behind=timedelta(0))
    behind = high_water - now
    return ClockReading(trusted_now=high_water, high_water=high_water, set_back=behind > TAMPER_THRESHOLD,
                        behind=behind)
