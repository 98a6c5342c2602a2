"""Without a tray the window is the app and closing it quits; a tray appearing later takes over; a tray
going away brings the window back. Never an invisible running process."""

from __future__ import annotations

from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from tests.gui.conftest import MakeApp


def test_no_tray_shows_window_and_close_quits(make_app: MakeApp, qtbot: QtBot) -> None:
    app, _fake, _probe = make_app("active", tray=False)
    assert app.tray is None
    window = app.window()
    assert window.isVisible() and not window.hide_on_close
    assert QApplication.quitOnLastWindowClosed()
    with qtbot.waitSignal(app.quit_requested):
        window.close()


def test_real_offscreen_has_no_tray_and_the_default_probe_says_so(qtbot: QtBot, ctx: object) -> None:
    from crystal_manager.gui.app import TrayApp
    from tests.support.fake_license import FakeLicenseService

    app = TrayApp(ctx, api_factory=lambda _c: FakeLicenseService("active"))  # type: ignore[arg-type]
    with qtbot.waitSignal(app.window_shown):
        app.start()
    qtbot.waitSignal(app.started)
    assert app.tray is None and app.window().isVisible()
    app.window().hide_on_close = True
    app.window().close()


def test_tray_appearing_later_takes_over(make_app: MakeApp, qtbot: QtBot) -> None:
    app, _fake, probe = make_app("active", tray=False)
    window = app.window()
    probe.value = True
    app.check_tray()
    assert app.tray is not None and window.hide_on_close
    assert not QApplication.quitOnLastWindowClosed()
    with qtbot.assertNotEmitted(app.quit_requested):
        window.close()
    assert not window.isVisible()


def test_tray_going_away_brings_the_window_back(make_app: MakeApp, qtbot: QtBot) -> None:
    app, _fake, probe = make_app("active", tray=True)
    had_tray = app.tray is not None  # not narrowed: check_tray() below replaces app.tray
    assert had_tray and not app.has_window()
    probe.value = False
    app.check_tray()
    assert app.tray is None
    assert app.window().isVisible() and not app.window().hide_on_close
    with qtbot.waitSignal(app.quit_requested):
        app.window().close()


def test_tray_mode_starts_without_building_the_window(make_app: MakeApp) -> None:
    app, _fake, _probe = make_app("active", tray=True)
    assert app.tray is not None and app.tray.icon.isVisible()
    assert not app.has_window()
