"""User settings, stored as JSON in the config folder; unknown keys are kept, bad values replaced."""

from __future__ import annotations

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

    FIELDS = ("server_url", "autostart", "check_interval_hours", "notifications", "welcome_done",
              "update_channel", "auto_check_updates", "background_checks_paused")

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

    def to_json(self) -> dict[str, Any]:
        """The JSON form written to disk (a copy: changing it changes nothing here)."""
        return {name: (dict(value) if isinstance(value := getattr(self, name), dict) else value)
                for name in self.FIELDS}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Settings) and self.to_json() == other.to_json()

    __hash__ = None  # type: ignore[assignment]  # mutable: as a dataclass with eq

    def __repr__(self) -> str:
        return "Settings(" + ", ".join(f"{k}={v!r}" for k, v in self.to_json().items()) + ")"


def load_settings(path: Path) -> Settings:
    """Read settings; a missing or corrupt file gives defaults (the corrupt file is kept aside)."""
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
    defaults = Settings()
    for name in Settings.FIELDS:
        if name not in raw:
            continue
        value = raw[name]
        default = getattr(defaults, name)
        if name == "notifications" and isinstance(value, dict):
            merged = dict(default)
            merged.update({k: bool(v) for k, v in value.items() if k in NOTIFICATION_EVENTS})
            settings.notifications = merged
        elif name == "server_url" and (value is None or isinstance(value, str)):
            settings.server_url = value
        elif name == "update_channel" and value in UPDATE_CHANNELS:
            settings.update_channel = value
        elif isinstance(default, bool) and isinstance(value, bool):
            setattr(settings, name, value)
        elif isinstance(default, float) and isinstance(value, int | float) and value > 0:
            setattr(settings, name, float(value))
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
