"""User settings, stored as JSON in the config folder; unknown keys are kept, bad values replaced.

Read by hand, not by msgspec: the settings are read before the first tray icon shows, where
loading msgspec would cost ten times what a change there may (measured in decision 0018, "The local
files"). Each member's rule is one entry of ``READERS``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from crystal_manager.storage.atomic import CorruptStateError, read_json, write_json_atomic

NOTIFICATION_EVENTS = (
    "activation_done",
    "grace_started",
    "expiring_soon",
    "update_available",
    "update_downloaded",
    "update_installed",
    "update_failed",
)

#: Update channels; the same names as crystal_protocol.releases.CHANNELS, not imported from there (a start-up
#: trick: docs/decisions/0012-start-up-tricks.md; tests/updates/test_policy.py keeps the two equal).
UPDATE_CHANNELS = ("stable", "beta")


class Settings:
    """What the user can change. ``server_url`` overrides the profile's URL when set. (A plain class, not
    a dataclass: a start-up trick, docs/decisions/0012-start-up-tricks.md.)"""

    def __init__(self, server_url: str | None = None, autostart: bool = False,
                 check_interval_hours: float = 24.0, notifications: dict[str, bool] | None = None,
                 welcome_done: bool = False, *, update_channel: str = "stable",
                 auto_check_updates: bool = True, background_checks_paused: bool = False) -> None:
        self.server_url = server_url
        self.autostart = autostart
        self.check_interval_hours = check_interval_hours
        self.notifications: dict[str, bool] = (dict.fromkeys(NOTIFICATION_EVENTS, True)
                                               if notifications is None else notifications)
        self.welcome_done = welcome_done
        self.update_channel = update_channel  # "stable" or "beta"
        self.auto_check_updates = auto_check_updates  # the daily check (check_interval_hours) and download
        #: The Privacy page's "pause background checks": no scheduled license or update check at all.
        self.background_checks_paused = background_checks_paused
        #: Set by :func:`load_settings` when it found the file damaged and moved it here (not saved: the
        #: process that found the damage says so once, see :func:`damage_notice`).
        self.damaged_copy: Path | None = None
        #: Members this version does not know (a newer version's), written back as they were.
        self.unknown: dict[str, Any] = {}

    def to_json(self) -> dict[str, Any]:
        """The JSON form written to disk (a copy: changing it changes nothing here)."""
        return {**self.unknown, **{name: (dict(value) if isinstance(value := getattr(self, name), dict) else value)
                                   for name in FIELDS}}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Settings) and self.to_json() == other.to_json()

    __hash__ = None  # type: ignore[assignment]  # mutable: as a dataclass with eq

    def __repr__(self) -> str:
        return "Settings(" + ", ".join(f"{k}={v!r}" for k, v in self.to_json().items()) + ")"


def _text_or_none(value: object, default: str | None) -> str | None:
    return value if value is None or isinstance(value, str) else default


def _flag(value: object, default: bool) -> bool:
    return value if isinstance(value, bool) else default


def _positive_hours(value: object, default: float) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) and value > 0 else default


def _channel(value: object, default: str) -> str:
    return value if isinstance(value, str) and value in UPDATE_CHANNELS else default


def _notifications(value: object, default: dict[str, bool]) -> dict[str, bool]:
    """Known events only (a newer version's event is dropped), any value read as yes or no; every event the
    file does not name keeps its default."""
    if not isinstance(value, dict):
        return default
    return {**default, **{k: bool(v) for k, v in value.items() if k in NOTIFICATION_EVENTS}}


#: How each stored member is read: ``reader(stored value, default) -> the value to use`` (the default when the
#: stored value does not fit). The members, in file order; the types are Settings' own.
READERS: dict[str, Callable[[Any, Any], Any]] = {
    "server_url": _text_or_none,
    "autostart": _flag,
    "check_interval_hours": _positive_hours,
    "notifications": _notifications,
    "welcome_done": _flag,
    "update_channel": _channel,
    "auto_check_updates": _flag,
    "background_checks_paused": _flag,
}
FIELDS = tuple(READERS)


def load_settings(path: Path) -> Settings:
    """Read settings; a missing or corrupt file gives defaults (the corrupt file is kept aside). A member of
    the wrong kind keeps its default; members this version does not know are kept for writing back."""
    damaged_copy: Path | None = None
    try:
        raw = read_json(path)
    except CorruptStateError:
        raw = None
        damaged_copy = _set_aside(path)
    settings = Settings()
    settings.damaged_copy = damaged_copy
    if not isinstance(raw, dict):
        return settings
    for name, read in READERS.items():
        if name in raw:
            setattr(settings, name, read(raw[name], getattr(settings, name)))
    settings.unknown = {name: value for name, value in raw.items() if name not in READERS}
    return settings


def _set_aside(path: Path) -> Path:
    """Move a damaged settings file to ``settings.corrupt.json`` (``settings.corrupt-2.json`` … when an
    earlier copy is there: a second damage never overwrites the first copy)."""
    target, n = path.with_suffix(".corrupt.json"), 1
    while target.exists():
        n += 1
        target = path.with_name(f"{path.stem}.corrupt-{n}.json")
    path.replace(target)
    return target


def damage_notice(settings: Settings) -> str | None:
    """The one notice to show when these settings replaced a damaged file (None otherwise): said once, by
    the process that found the damage (the damaged file is moved aside, so the next start is quiet)."""
    if settings.damaged_copy is None:
        return None
    return ("Your settings file was damaged and could not be read, so the default settings are in use again "
            f"(for example the stable update channel). Make your choices again; the damaged copy is kept "
            f"for inspection as {settings.damaged_copy}.")


def save_settings(path: Path, settings: Settings) -> None:
    """Write settings atomically."""
    write_json_atomic(path, settings.to_json())
