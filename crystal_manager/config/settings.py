"""User settings, stored as JSON in the config folder; unknown keys are kept, bad values replaced."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
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


@dataclass
class Settings:
    """What the user can change. ``server_url`` overrides the profile's URL when set."""

    server_url: str | None = None
    autostart: bool = False
    check_interval_hours: float = 24.0
    notifications: dict[str, bool] = field(default_factory=lambda: dict.fromkeys(NOTIFICATION_EVENTS, True))
    welcome_done: bool = False

    def to_json(self) -> dict[str, Any]:
        """The JSON form written to disk."""
        return asdict(self)


def load_settings(path: Path) -> Settings:
    """Read settings; a missing or corrupt file gives defaults (the corrupt file is kept aside)."""
    try:
        raw = read_json(path)
    except CorruptStateError:
        path.replace(path.with_suffix(".corrupt.json"))
        raw = None
    settings = Settings()
    if not isinstance(raw, dict):
        return settings
    defaults = Settings()
    for f in fields(Settings):
        if f.name not in raw:
            continue
        value = raw[f.name]
        default = getattr(defaults, f.name)
        if f.name == "notifications" and isinstance(value, dict):
            merged = dict(default)
            merged.update({k: bool(v) for k, v in value.items() if k in NOTIFICATION_EVENTS})
            settings.notifications = merged
        elif f.name == "server_url" and (value is None or isinstance(value, str)):
            settings.server_url = value
        elif isinstance(default, bool) and isinstance(value, bool):
            setattr(settings, f.name, value)
        elif isinstance(default, float) and isinstance(value, int | float) and value > 0:
            setattr(settings, f.name, float(value))
    return settings


def save_settings(path: Path, settings: Settings) -> None:
    """Write settings atomically."""
    write_json_atomic(path, settings.to_json())
