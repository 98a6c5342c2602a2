"""What the demo needs from the GUI: closing the window ends it (even with a tray), and two copies against
two test servers can be told apart in the tray."""

from __future__ import annotations

import argparse

from pytestqt.qtbot import QtBot

from crystal_manager.gui.args import gui_parser, parse_gui_args
from tests.gui.conftest import MakeApp, shown_tray


def test_closing_the_window_ends_the_demo(make_app: MakeApp, qtbot: QtBot) -> None:
    app, _fake, _probe = make_app("active", tray=True)
    app.quit_on_close = True  # what start(args) sets from --quit-on-close (test_the_start_option_reaches_the_app)
    window = app.open_window()
    assert not window.hide_on_close  # with a tray too
    with qtbot.waitSignal(app.quit_requested):
        window.close()


def test_without_the_option_closing_hides_to_the_tray(make_app: MakeApp, qtbot: QtBot) -> None:
    app, _fake, _probe = make_app("active", tray=True)
    window = app.open_window()
    with qtbot.assertNotEmitted(app.quit_requested, wait=50):
        window.close()
    assert not window.isVisible()


def test_the_option_is_parsed() -> None:
    assert gui_parser().parse_args(["--quit-on-close"]).quit_on_close is True
    assert parse_gui_args([]).quit_on_close is False


def test_two_demos_have_different_tray_tooltips(make_app: MakeApp) -> None:
    tips = []
    for port in (41001, 41002):
        app, _fake, _probe = make_app("active", tray=True)
        app.ctx.profile = app.ctx.profile._replace(name="dev", production=False, server_url=f"http://127.0.0.1:{port}")
        assert app.tray is not None
        app.tray.hide()
        app.tray = None
        app.check_tray()  # a new tray icon, made for this profile
        tips.append(shown_tray(app).icon.toolTip().splitlines()[0])
    assert tips == ["CrystalMe3D Pro Manager — Test server 127.0.0.1:41001",
                    "CrystalMe3D Pro Manager — Test server 127.0.0.1:41002"]


def test_the_start_option_reaches_the_app(make_app: MakeApp) -> None:
    app, _fake, _probe = make_app("active", tray=True)
    app.start(argparse.Namespace(quit_on_close=True, show=None))
    assert app.quit_on_close
