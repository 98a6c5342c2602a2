"""Trusted time: the server's last signed time plus however far the local clock has moved on since.

Online, an answer is fresh because it echoes this request's nonce, so its signed time is the time: the
app keeps it as the mark (``high_water``) together with the local clock's reading at that moment
(``seen_at``). Offline, trusted time is the mark plus the local time passed since ``seen_at``; a backward
step of the local clock counts as no time passing (the mark only moves forward), so setting the clock back
never extends a lease or a grace period, and a clock kept set back still counts the time that passes.

A local clock more than an hour behind both where it was last seen and trusted time is "set back"
(daylight-saving changes move local time, not UTC, and stay well within an hour of drift anyway). A clock
that is simply wrong — ahead or behind the server's by minutes or days — is no set-back: its offset from
the server's time is noted (for a warning) and otherwise cancels out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

TAMPER_THRESHOLD = timedelta(hours=1)
#: The wall clock and the time since boot may drift apart this much before the boot time is believed (NTP
#: slews and small steps stay under it; a frozen or stepped clock soon does not).
BOOT_SLACK = timedelta(minutes=10)
BOOT_ID_FILE = Path("/proc/sys/kernel/random/boot_id")
UPTIME_FILE = Path("/proc/uptime")


@dataclass(frozen=True)
class BootReading:
    """Which boot this is and the seconds since it began (suspend included)."""

    boot_id: str
    uptime: float


def read_boot() -> BootReading | None:
    """This boot's id and time since boot from /proc (None where there is no /proc: other systems)."""
    try:
        boot_id = BOOT_ID_FILE.read_text(encoding="ascii").strip()
        uptime = float(UPTIME_FILE.read_text(encoding="ascii").split()[0])
    except (OSError, ValueError, IndexError, UnicodeDecodeError):
        return None
    return BootReading(boot_id[:40], uptime) if boot_id and uptime >= 0 else None
#: A local clock further than this from the server's time earns a warning (never a refusal).
CLOCK_WARNING = timedelta(minutes=5)


@dataclass(frozen=True)
class ClockReading:
    """The time to trust and whether the local clock was caught set back."""

    trusted_now: datetime
    high_water: datetime
    set_back: bool
    behind: timedelta


def read_clock(now: datetime, high_water: datetime | None, seen_at: datetime | None = None) -> ClockReading:
    """Trusted time from the mark and the local clock; the mark only moves forward.

    ``seen_at`` is the local clock when the mark was stored (default: the mark itself).
    """
    if high_water is None:
        return ClockReading(trusted_now=now, high_water=now, set_back=False, behind=timedelta(0))
    seen = seen_at or high_water
    # Time the local clock moved forward since the mark was stored; a backwards step counts as none.
    trusted = high_water + max(now - seen, timedelta(0))
    # Set back: behind where it was last seen *and* behind trusted time. A clock put right after running
    # ahead went back too, but only to the server's time: that is a correction, not a set-back.
    behind = max(min(seen - now, trusted - now), timedelta(0))
    return ClockReading(trusted_now=trusted, high_water=trusted, set_back=behind > TAMPER_THRESHOLD,
                        behind=behind)


def stricter(now: datetime, *marks: tuple[datetime | None, datetime | None]) -> tuple[datetime | None,
                                                                                      datetime | None]:
    """Of several (mark, seen_at) copies, the one giving the latest trusted time now (None, None if none)."""
    best: tuple[datetime | None, datetime | None] = (None, None)
    best_time: datetime | None = None
    for mark, seen in marks:
        if mark is None:
            continue
        moment = read_clock(now, mark, seen).trusted_now
        if best_time is None or moment > best_time:
            best, best_time = (mark, seen), moment
    return best
