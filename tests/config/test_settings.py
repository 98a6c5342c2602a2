"""Settings: defaults, round trip, tolerance of bad values (each member's rule by table and by hypothesis),
unknown members kept, corrupt files kept aside."""

from __future__ import annotations

import inspect
import json
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crystal_manager.config.settings import (
    FIELDS,
    NOTIFICATION_EVENTS,
    READERS,
    UPDATE_CHANNELS,
    Settings,
    load_settings,
    save_settings,
)

DEFAULT = object()


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


# -- each member's rule (settings.READERS), by table and by hypothesis ----------------------------------------
def test_the_readers_are_the_members() -> None:
    """Every member Settings takes has a rule, in the file's order; the file holds exactly them."""
    assert tuple(READERS) == FIELDS == tuple(inspect.signature(Settings).parameters)
    assert set(Settings().to_json()) == set(FIELDS)


TABLE: list[tuple[str, Any, Any]] = [  # member, stored value, the value used (DEFAULT: the default)
    ("server_url", "https://x.example", "https://x.example"), ("server_url", None, None),
    ("server_url", 5, DEFAULT), ("server_url", ["u"], DEFAULT),
    ("autostart", True, True), ("autostart", "yes", DEFAULT), ("autostart", 1, DEFAULT), ("autostart", None, DEFAULT),
    ("check_interval_hours", 6, 6.0), ("check_interval_hours", 0.5, 0.5), ("check_interval_hours", 0, DEFAULT),
    ("check_interval_hours", -3, DEFAULT), ("check_interval_hours", "6", DEFAULT),
    ("check_interval_hours", True, DEFAULT), ("check_interval_hours", float("nan"), DEFAULT),
    ("notifications", {"update_available": False, "spam": True},
     {**dict.fromkeys(NOTIFICATION_EVENTS, True), "update_available": False}),
    ("notifications", {"grace_started": 0}, {**dict.fromkeys(NOTIFICATION_EVENTS, True), "grace_started": False}),
    ("notifications", ["update_available"], DEFAULT), ("notifications", None, DEFAULT),
    ("welcome_done", True, True), ("welcome_done", "true", DEFAULT),
    ("update_channel", "beta", "beta"), ("update_channel", "nightly", DEFAULT), ("update_channel", ["beta"], DEFAULT),
    ("auto_check_updates", False, False), ("auto_check_updates", 0, DEFAULT),
    ("background_checks_paused", True, True), ("background_checks_paused", {}, DEFAULT),
]


@pytest.mark.parametrize(("name", "stored", "used"), TABLE)
def test_a_stored_member_is_taken_or_replaced_by_its_default(tmp_path: Path, name: str, stored: Any,
                                                             used: Any) -> None:
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({name: stored, "welcome_done" if name != "welcome_done" else "autostart": True}))
    settings = load_settings(path)
    assert getattr(settings, name) == (getattr(Settings(), name) if used is DEFAULT else used)
    assert (settings.welcome_done if name != "welcome_done" else settings.autostart) is True  # the others kept
    assert settings.damaged_copy is None and list(tmp_path.iterdir()) == [path]


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8)
                    | st.sampled_from(["stable", "beta", *NOTIFICATION_EVENTS]),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
                    max_leaves=6)


@given(stored=st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=8), JSON, max_size=8))
def test_any_stored_file_gives_settings_of_the_right_types_and_keeps_what_it_does_not_know(
        stored: dict[str, Any]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "settings.json"
        path.write_text(json.dumps(stored))
        settings = load_settings(path)
        save_settings(path, settings)
        written = json.loads(path.read_text())
    defaults = Settings()
    for name in FIELDS:
        value, default = getattr(settings, name), getattr(defaults, name)
        assert type(value) is type(default) or (name == "server_url" and isinstance(value, str | None)), name
    assert settings.check_interval_hours > 0 and settings.update_channel in UPDATE_CHANNELS
    assert set(settings.notifications) == set(NOTIFICATION_EVENTS)
    assert all(type(on) is bool for on in settings.notifications.values())
    unknown = {k: v for k, v in stored.items() if k not in FIELDS}
    assert {k: v for k, v in written.items() if k not in FIELDS} == json.loads(json.dumps(unknown))
