"""Which state changes produce which notifications, and the per-event toggles."""

from __future__ import annotations

from datetime import date

import pytest

from crystal_manager.config.settings import NOTIFICATION_EVENTS, Settings
from crystal_manager.desktop.notices import Notice, license_notices, wanted
from crystal_manager.services.status import LicenseStatus

TODAY = date(2026, 3, 10)
NONE = LicenseStatus()
ACTIVE = LicenseStatus(state="active", plan="Pro", renews_at="2027-03-20")
ENDING = LicenseStatus(state="active", plan="Pro", expires_at="2026-03-15")
GRACE = LicenseStatus(state="offline_grace", plan="Pro", grace_days_left=6.2)


def events(old: LicenseStatus | None, new: LicenseStatus) -> list[tuple[str, int | None]]:
    return [(n.event, n.days_left) for n in license_notices(old, new, today=TODAY)]


def test_activation_done_only_on_the_step_to_active() -> None:
    assert events(NONE, ACTIVE) == [("activation_done", None)]
    assert events(None, ACTIVE) == []  # first reading at start is not a new activation
    assert events(ACTIVE, ACTIVE) == []
    assert events(GRACE, ACTIVE) == []  # back online is not an activation


def test_grace_started_with_days_left_once() -> None:
    assert events(ACTIVE, GRACE) == [("grace_started", 6)]
    assert events(None, GRACE) == [("grace_started", 6)]
    assert events(GRACE, GRACE) == []


def test_expiring_soon_when_entering_the_window() -> None:
    assert events(ACTIVE, ENDING) == [("expiring_soon", 5)]
    assert events(None, ENDING) == [("expiring_soon", 5)]
    assert events(ENDING, ENDING) == []
    far = LicenseStatus(state="active", expires_at="2026-04-30")
    assert events(None, far) == []


def test_toggles() -> None:
    settings = Settings()
    assert all(wanted(settings, Notice(e)) for e in NOTIFICATION_EVENTS)
    settings.notifications["grace_started"] = False
    assert not wanted(settings, Notice("grace_started"))
    assert wanted(settings, Notice("update_failed"))


def test_unknown_event_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown notification event"):
        Notice("lottery_won")
