"""Trusted time: a high-water mark of the server's signed dates and the latest local time seen.

A local clock more than an hour behind the mark is "set back" (daylight-saving changes move local time,
not UTC, and stay well within an hour of drift anyway); then the mark, not the clock, is used, so setting
the clock back never extends a grace period. The mark also moves on by however far the local clock has
moved forward since it was last seen (``seen_at``): a clock left set back still counts the time that
passes, so the countdown does not freeze while the clock is behind.
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


def read_clock(now: datetime, high_water: datetime | None, seen_at: datetime | None = None) -> ClockReading:
    """Compare the local clock with the mark; the mark only moves forward.

    ``seen_at`` is the local clock when the mark was stored (default: the mark itself).
    """
    if high_water is None:
        return ClockReading(trusted_now=now, high_water=now, set_back=False, behind=timedelta(0))
    seen = seen_at or high_water
    # Time the local clock moved forward since the mark was stored; a backwards step counts as none.
    trusted = max(now, high_water + max(now - seen, timedelta(0)))
    behind = trusted - now
    return ClockReading(trusted_now=trusted, high_water=trusted, set_back=behind > TAMPER_THRESHOLD,
                        behind=behind)
