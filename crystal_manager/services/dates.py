"""The one way dates and times are written for people, by the CLI and the GUI alike: ``30 Nov 2026`` for a
day, ``30 Nov 2026, 14:05`` with a time (``…, 14:05 UTC`` when not shown in local time). Raw ISO values stay
in ``--json``."""

from __future__ import annotations

from datetime import UTC, datetime

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def parse_stamp(stamp: str) -> datetime:
    """An ISO 8601 stamp (``Z`` allowed) as a datetime; a naive one is taken as UTC. ValueError if unreadable."""
    moment = datetime.fromisoformat(stamp.strip().replace("Z", "+00:00"))
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def date_words(stamp: str | datetime | None, *, with_time: bool | None = None, local: bool = True,
               unknown: str = "never") -> str:
    """``stamp`` as people read it. ``with_time`` None: the time only when the stamp has one (not midnight
    UTC, the form of a plain date). ``local`` False writes UTC and says so. The raw text if unreadable;
    ``unknown`` for None or empty."""
    if stamp is None or stamp == "":
        return unknown
    try:
        moment = stamp if isinstance(stamp, datetime) else parse_stamp(stamp)
    except ValueError:
        return str(stamp)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    utc = moment.astimezone(UTC)
    if with_time is None:
        with_time = (utc.hour, utc.minute, utc.second) != (0, 0, 0)
    shown = moment.astimezone() if local else utc
    if not with_time:
        shown = utc  # a plain date is a UTC date: a local offset must not move it to the day before
    text = f"{shown.day} {_MONTHS[shown.month - 1]} {shown.year}"
    if with_time:
        text += f", {shown.hour:02d}:{shown.minute:02d}" + ("" if local else " UTC")
    return text
