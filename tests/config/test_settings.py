"""Settings: defaults, round trip, tolerance of bad values, corrupt files kept aside."""

from __future__ import annotations

import json
from pathlib import Path

from crystal_manager.config.settings import NOTIFICATION_EVENTS, Settings, load_settings, save_settings


def test_defaults_when_missing(tmp_path: Path) -> None:
    settings = load_settings(tmp_path / "settings.json")
    assert settings == Settings()
    assert not settings.autostart
    assert set(settings.notifications) == set(NOTIFICATION_EVENTS)


def test_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    settings = Settings(server_url="https://x.example", autostart=True)
    settings.notifications["update_available"] = False
    save_settings(path, settings)
    assert load_settings(path) == settings


def test_bad_values_fall_back_and_unknown_events_dropped(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"autostart": "yes", "check_interval_hours": -3,
                                "notifications": {"update_available": False, "spam": True}}))
    settings = load_settings(path)
    assert settings.autostart is False and settings.check_interval_hours == 24.0
    assert settings.notifications["update_available"] is False and "spam" not in settings.notifications


def test_corrupt_file_is_kept_aside(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text("{{{")
    assert load_settings(path) == Settings()
    assert (tmp_path / "settings.corrupt.json").read_text() == "{{{"
