"""Tray: icon, tooltip and menu for every state; the menu is rebuilt when it opens; left click opens the
window; the icon follows palette changes."""

from __future__ import annotations

from datetime import date

import pytest
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication, QSystemTrayIcon
from pytestqt.qtbot import QtBot

from crystal_manager.desktop.tray_state import TrayState, UpdateActivity
from crystal_manager.gui.app import TrayApp
from crystal_manager.gui.icons import state_icon
from tests.gui.conftest import MakeApp, shown_tray
from tests.support.fake_license import STATES

EXPECTED = {
    "not_activated": (TrayState.LOCKED, "Not activated"),
    "active": (TrayState.ACTIVE, "Pro — active, renews 20 Mar 2027"),
    "trial": (TrayState.TRIAL, "Pro trial — 9 days left"),
    "offline_grace": (TrayState.OFFLINE_GRACE, "Pro — offline, 4 days of grace left"),
    "locked": (TrayState.LOCKED, "Locked — connect to verify the license"),
    "expired": (TrayState.LOCKED, "Pro — expired on 28 Feb 2026"),
    "revoked": (TrayState.LOCKED, "License revoked"),
}


def texts(app: TrayApp) -> list[str]:
    return [a.text() for a in shown_tray(app).menu.actions() if not a.isSeparator()]


@pytest.mark.parametrize("state", sorted(EXPECTED))
def test_state_icon_tooltip_and_menu(make_app: MakeApp, state: str) -> None:
    app, _fake, _probe = make_app(state)
    expected_state, line = EXPECTED[state]
    assert app.tray is not None
    assert app.tray.view.state is expected_state
    assert app.tray.icon.icon().cacheKey() == state_icon(expected_state, app.tray.variant).cacheKey()
    assert app.tray.icon.toolTip().splitlines() == ["CrystalMe3D Pro Manager", line]
    menu = texts(app)
    assert menu[0] == line
    assert menu[1].startswith("CrystalMe3D Pro not installed · Manager ")
    actions = ["Open CrystalMe3D Pro Manager", "Check for updates", "Privacy…", "Quit"]
    if state in ("not_activated", "expired", "revoked"):  # revoked too: another key is the way out
        actions.insert(0, "Activate…")
    if state == "locked":  # the key is here: asking the server again is the way out, not another key
        actions.insert(0, "Verify now")
    assert menu[2:] == actions
    assert not app.tray.menu.actions()[0].isEnabled()  # the status line is information, not an action


def test_expiring_error_update_downloading_and_starting(make_app: MakeApp) -> None:
    app, _fake, _probe = make_app("expiring")
    assert shown_tray(app).view.state is TrayState.ACTIVE  # 2099: far away
    app.set_update_activity(UpdateActivity.AVAILABLE)
    assert shown_tray(app).view.state is TrayState.UPDATE_AVAILABLE
    assert shown_tray(app).icon.toolTip().splitlines()[-1] == "An update is available"
    app.set_update_activity(UpdateActivity.DOWNLOADING)
    assert shown_tray(app).view.state is TrayState.DOWNLOADING and "Downloading an update…" in texts(app)
    app.error = "Network problem — cannot reach the server"
    app.set_update_activity(UpdateActivity.IDLE)
    assert shown_tray(app).view.state is TrayState.ERROR
    assert texts(app)[0] == "Problem: Network problem — cannot reach the server"


def test_starting_state_before_facts(qtbot: QtBot, make_app: MakeApp) -> None:
    from tests.support.fake_license import FakeLicenseService

    fake = FakeLicenseService("active")
    app, _fake, _probe = make_app(fake=fake)
    assert app.tray is not None
    app.license.facts = None
    app.error = None
    app.set_update_activity(UpdateActivity.IDLE)
    assert app.tray.view.state is TrayState.STARTING and texts(app)[0] == "Checking the license…"


def test_menu_is_rebuilt_when_about_to_show(make_app: MakeApp, qtbot: QtBot) -> None:
    app, fake, _probe = make_app("active")
    assert app.tray is not None
    fake.current = STATES["offline_grace"]
    with qtbot.waitSignal(app.view_changed):
        app.license.refresh()
    app.tray.menu.clear()  # what a stale menu would look like
    app.tray.menu.aboutToShow.emit()
    assert texts(app)[0] == "Pro — offline, 4 days of grace left"


def test_left_click_opens_window_and_menu_actions_route(make_app: MakeApp) -> None:
    app, _fake, _probe = make_app("active")
    assert app.tray is not None
    app.tray.icon.activated.emit(QSystemTrayIcon.ActivationReason.Trigger)
    assert app.window().isVisible() and app.window().current_page() == "license"
    by_text = {a.text(): a for a in app.tray.menu.actions()}
    by_text["Privacy…"].trigger()
    assert app.window().current_page() == "privacy"
    by_text["Check for updates"].trigger()
    assert app.window().current_page() == "updates"


def test_locked_tray_offers_verify_now_and_it_asks_the_server(make_app: MakeApp, qtbot: QtBot) -> None:
    app, fake, _probe = make_app("locked")
    assert app.tray is not None
    by_text = {a.text(): a for a in app.tray.menu.actions()}
    assert "Activate…" not in by_text  # the key is still here: a new one is not what unlocks it
    by_text["Verify now"].trigger()
    assert app.window().current_page() == "license"
    qtbot.waitUntil(lambda: "verify" in fake.calls)


def test_quit_from_tray_menu(make_app: MakeApp, qtbot: QtBot) -> None:
    app, _fake, _probe = make_app("active")
    assert app.tray is not None
    quit_action = next(a for a in app.tray.menu.actions() if a.text() == "Quit")
    with qtbot.waitSignal(app.quit_requested):
        quit_action.trigger()
    assert not app.tray.icon.isVisible()


def test_icon_follows_palette(make_app: MakeApp) -> None:
    app, _fake, _probe = make_app("active")
    assert app.tray is not None
    qapp = QApplication.instance()
    assert isinstance(qapp, QApplication)
    original = qapp.palette()
    try:
        dark = QPalette(original)
        dark.setColor(QPalette.ColorRole.Window, QColor("#202124"))
        qapp.setPalette(dark)
        QApplication.processEvents()
        assert app.tray.variant == "dark"
        assert app.tray.icon.icon().cacheKey() == state_icon(TrayState.ACTIVE, "dark").cacheKey()
        light = QPalette(original)
        light.setColor(QPalette.ColorRole.Window, QColor("#f5f5f5"))
        qapp.setPalette(light)
        QApplication.processEvents()
        assert app.tray.variant == "light"
    finally:
        qapp.setPalette(original)


def test_status_line_dates_are_today_relative() -> None:
    from crystal_manager.desktop.tray_state import TrayInputs, decide
    from crystal_manager.gui.texts import status_line

    view = decide(TrayInputs(STATES["trial"]), today=date(2026, 3, 10))
    assert status_line(view) == "Pro trial — 9 days left"
