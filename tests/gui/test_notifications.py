"""Notifications on state changes, words per event, and the per-event toggles saved in settings."""

from __future__ import annotations

import json

import pytest
from pytestqt.qtbot import QtBot

from crystal_manager.config.settings import NOTIFICATION_EVENTS
from crystal_manager.desktop.notices import Notice
from crystal_manager.gui.icons import state_icon
from crystal_manager.gui.notifier import words
from tests.gui.conftest import MakeApp
from tests.support.fake_license import STATES


def test_grace_started_is_notified_once_with_days_left(make_app: MakeApp, qtbot: QtBot) -> None:
    app, fake, _probe = make_app("active", tray=False)
    fake.current = STATES["offline_grace"]
    with qtbot.waitSignal(app.notifier.shown) as shown:
        app.license.refresh()
    event, title, body = shown.args
    assert (event, title) == ("grace_started", "Working offline") and "4 days" in body
    assert app.window().statusBar().currentMessage() == f"{title} — {body}"
    with qtbot.assertNotEmitted(app.notifier.shown), qtbot.waitSignal(app.view_changed):
        app.license.refresh()


def test_activation_done(make_app: MakeApp, qtbot: QtBot) -> None:
    app, fake, _probe = make_app("not_activated", tray=False)
    fake.current = STATES["active"]
    with qtbot.waitSignal(app.notifier.shown) as shown:
        app.license.refresh()
    assert shown.args[0] == "activation_done"


def test_toggle_off_in_settings_page_silences_and_is_saved(make_app: MakeApp, qtbot: QtBot) -> None:
    app, fake, _probe = make_app("active", tray=False)
    page = app.window().settings_page
    assert all(page.toggles[e].isChecked() for e in NOTIFICATION_EVENTS)
    page.toggles["grace_started"].click()
    saved = json.loads(app.ctx.paths.settings_file.read_text())
    assert saved["notifications"]["grace_started"] is False
    fake.current = STATES["offline_grace"]
    with qtbot.assertNotEmitted(app.notifier.shown), qtbot.waitSignal(app.view_changed):
        app.license.refresh()
    page.toggles["grace_started"].click()
    assert json.loads(app.ctx.paths.settings_file.read_text())["notifications"]["grace_started"] is True


@pytest.mark.parametrize("event", NOTIFICATION_EVENTS)
def test_every_event_has_words_and_can_be_shown(make_app: MakeApp, qtbot: QtBot, event: str) -> None:
    app, _fake, _probe = make_app("active", tray=False)
    notice = Notice(event, days_left=3, version="2.5.0", detail="signature check failed")
    title, body = words(notice)
    assert title and body and "%1" not in body
    with qtbot.waitSignal(app.notifier.shown):
        assert app.notify(notice)
    app.ctx.settings.notifications[event] = False
    with qtbot.assertNotEmitted(app.notifier.shown):
        assert not app.notify(notice)


@pytest.mark.parametrize(("before", "after", "event"), [("not_activated", "active", "activation_done"),
                                                       ("active", "offline_grace", "grace_started")])
def test_the_bubble_shows_the_icon_of_the_new_state(make_app: MakeApp, qtbot: QtBot, before: str, after: str,
                                                    event: str) -> None:
    app, fake, _probe = make_app(before, tray=True)
    assert app.tray is not None
    seen: list[int] = []
    tray = app.tray
    app.notifier.shown.connect(lambda *_args: seen.append(tray.icon.icon().cacheKey()))
    fake.current = STATES[after]
    with qtbot.waitSignal(app.notifier.shown) as shown:
        app.license.refresh()
    assert shown.args[0] == event
    new_icon = state_icon(app.view().state, app.tray.variant).cacheKey()
    assert seen == [new_icon]  # the "activated" bubble never carries the red lock
