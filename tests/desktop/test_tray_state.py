"""The tray's state decision for every state, and the date facts its words use."""

from __future__ import annotations

from datetime import date

import pytest

from crystal_manager.desktop.tray_state import (
    ICON_STATES,
    TrayInputs,
    TrayState,
    UpdateActivity,
    decide,
    parse_day,
)
from crystal_manager.resources import resources_dir
from crystal_manager.services.status import LicenseStatus

TODAY = date(2026, 3, 10)


def lic(state: str, **kw: object) -> LicenseStatus:
    return LicenseStatus(state=state, plan=kw.pop("plan", "Pro"), **kw)  # type: ignore[arg-type]


CASES = [
    (TrayInputs(None), TrayState.STARTING),
    (TrayInputs(None, error="cannot read state"), TrayState.ERROR),
    (TrayInputs(lic("active", renews_at="2027-03-20")), TrayState.ACTIVE),
    (TrayInputs(lic("active", expires_at="2026-03-15T00:00:00Z")), TrayState.EXPIRING_SOON),
    (TrayInputs(lic("active", expires_at="2026-05-15")), TrayState.ACTIVE),
    (TrayInputs(lic("trial", trial_days_left=9, expires_at="2026-03-19")), TrayState.TRIAL),
    (TrayInputs(lic("offline_grace", grace_days_left=4.6)), TrayState.OFFLINE_GRACE),
    (TrayInputs(lic("not_activated", plan=None)), TrayState.LOCKED),
    (TrayInputs(lic("locked")), TrayState.LOCKED),
    (TrayInputs(lic("expired")), TrayState.LOCKED),
    (TrayInputs(lic("revoked")), TrayState.LOCKED),
    (TrayInputs(lic("active", renews_at="2027-03-20"), UpdateActivity.AVAILABLE), TrayState.UPDATE_AVAILABLE),
    (TrayInputs(lic("active", renews_at="2027-03-20"), UpdateActivity.DOWNLOADING), TrayState.DOWNLOADING),
    (TrayInputs(lic("active", renews_at="2027-03-20"), error="verify failed"), TrayState.ERROR),
    (TrayInputs(lic("mystery")), TrayState.ERROR),
]


@pytest.mark.parametrize(("inputs", "expected"), CASES)
def test_each_input_gives_its_state(inputs: TrayInputs, expected: TrayState) -> None:
    assert decide(inputs, today=TODAY).state is expected


def test_every_state_is_reachable() -> None:
    assert {expected for _, expected in CASES} == set(TrayState)


def test_priority_locked_beats_everything_and_grace_beats_update() -> None:
    locked = TrayInputs(lic("expired"), UpdateActivity.DOWNLOADING, error="x")
    assert decide(locked, today=TODAY).state is TrayState.LOCKED
    grace = TrayInputs(lic("offline_grace", grace_days_left=3), UpdateActivity.AVAILABLE)
    assert decide(grace, today=TODAY).state is TrayState.OFFLINE_GRACE
    expiring = TrayInputs(lic("active", expires_at="2026-03-12"), UpdateActivity.AVAILABLE)
    assert decide(expiring, today=TODAY).state is TrayState.EXPIRING_SOON


def test_facts_for_the_status_line() -> None:
    view = decide(TrayInputs(lic("active", renews_at="2027-03-20T08:00:00+00:00")), today=TODAY)
    assert (view.plan, view.until, view.renews) == ("Pro", date(2027, 3, 20), True)
    grace = decide(TrayInputs(lic("offline_grace", grace_days_left=4.6)), today=TODAY)
    assert (grace.days_left, grace.until, grace.renews) == (4, date(2026, 3, 14), False)
    trial = decide(TrayInputs(lic("trial", trial_days_left=9, expires_at="2026-03-19")), today=TODAY)
    assert (trial.days_left, trial.until) == (9, date(2026, 3, 19))
    unknown = decide(TrayInputs(lic("mystery")), today=TODAY)
    assert unknown.error is not None and "mystery" in unknown.error


def test_renewing_subscription_is_never_expiring() -> None:
    view = decide(TrayInputs(lic("active", expires_at="2026-03-11", renews_at="2026-03-11")), today=TODAY)
    assert view.state is TrayState.ACTIVE


@pytest.mark.parametrize(("text", "day"), [
    ("2027-03-20", date(2027, 3, 20)), ("2027-03-20T23:30:00-02:00", date(2027, 3, 21)),
    ("2027-03-20T01:00:00Z", date(2027, 3, 20)), ("", None), (None, None), ("soon", None)])
def test_parse_day(text: str | None, day: date | None) -> None:
    assert parse_day(text) == day


@pytest.mark.parametrize("variant", ["light", "dark", "template"])
def test_every_state_has_svg_and_png_at_every_size(variant: str) -> None:
    from PySide6.QtGui import QImage

    folder = resources_dir() / "icons" / variant
    for state in ICON_STATES:
        assert (folder / f"{state.value}.svg").read_text().startswith("<svg")
        for size in (16, 22, 24, 32, 48, 64):
            image = QImage(str(folder / f"{state.value}-{size}.png"))
            assert (image.width(), image.height()) == (size, size), (state, size)
            assert image.hasAlphaChannel()
