"""The first picture: the entry point shows a plain "starting" tray icon before any of the app's GUI modules
load; the app then adopts that icon and menu and shows the real state in them."""

from __future__ import annotations

from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from crystal_manager.desktop.tray_state import TrayState
from crystal_manager.gui.app import TrayApp
from crystal_manager.gui.first_tray import STARTING_STEM, FirstTray, show_first_tray
from crystal_manager.gui.icons import state_icon, stem_icon
from crystal_manager.services.context import AppContext
from tests.support.apps import dispose_apps, run_gui_script
from tests.support.fake_license import FakeLicenseService


def menu_texts(first: FirstTray) -> list[str]:
    return [a.text() for a in first.menu.actions() if not a.isSeparator()]


def test_the_starting_stem_is_the_starting_state() -> None:
    assert TrayState.STARTING.value == STARTING_STEM


def test_no_tray_no_first_icon() -> None:
    assert show_first_tray(lambda: False) is None


def test_first_icon_says_starting_and_the_app_adopts_it(qtbot: QtBot, ctx: AppContext) -> None:
    first = show_first_tray(lambda: True)
    assert first is not None
    assert first.icon.isVisible()
    assert first.icon.icon().cacheKey() == stem_icon(STARTING_STEM, first.variant).cacheKey()
    assert first.icon.toolTip().splitlines() == ["CrystalMe3D Pro Manager", "Checking the license…"]
    assert menu_texts(first) == ["Checking the license…", "Quit"]
    assert not first.menu.actions()[0].isEnabled()

    ctx.settings.welcome_done = True
    app = TrayApp(ctx, api_factory=lambda _ctx: FakeLicenseService("active"), tray_probe=lambda: False,
                  first_tray=first)
    try:
        with qtbot.waitSignal(app.started):
            app.start()  # the probe says "no tray", but an icon is already shown: it is adopted
        qtbot.waitUntil(lambda: app.license.facts is not None)
        assert app.tray is not None and app.tray.icon is first.icon and app.tray.menu is first.menu
        assert not app.has_window()
        assert app.tray.view.state is TrayState.ACTIVE
        assert first.icon.icon().cacheKey() == state_icon(TrayState.ACTIVE, first.variant).cacheKey()
        texts = menu_texts(first)
        assert texts[0] == "Pro — active, renews 20 Mar 2027"
        assert texts.count("Quit") == 1 and "Checking the license…" not in texts
    finally:
        dispose_apps([app])


# The real entry point (crystal_manager.gui.entry.launch) in a child process, with the tray probe said yes
# (offscreen has no tray host): which modules are loaded at the moment the first tray icon is shown.
SCRIPT = """
import json, sys
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
from crystal_manager.gui import entry, first_tray
from crystal_manager.gui.args import parse_gui_args
real = first_tray.show_first_tray
seen = {}
def probed(probe=None):
    first = real(lambda: True)
    seen["shown"] = first is not None and first.icon.isVisible()
    seen["loaded"] = sorted(m for m in sys.modules if m.startswith(("crystal_manager", "httpx", "keyring",
                                                                    "tuf", "cryptography")))
    QTimer.singleShot(500, QApplication.quit)
    return first
first_tray.show_first_tray = probed
code = entry.launch(parse_gui_args([]), [])
print(json.dumps({**seen, "code": code}))
"""

ALLOWED_BEFORE_THE_TRAY = {
    "crystal_manager", "crystal_manager.config", "crystal_manager.config.profile",
    "crystal_manager.config.settings", "crystal_manager.desktop", "crystal_manager.desktop.display",
    "crystal_manager.gui", "crystal_manager.gui.args", "crystal_manager.gui.entry",
    "crystal_manager.gui.first_tray", "crystal_manager.gui.icons", "crystal_manager.gui.ipc",
    "crystal_manager.resources", "crystal_manager.services", "crystal_manager.services.context",
    "crystal_manager.storage", "crystal_manager.storage.atomic", "crystal_manager.storage.paths",
    "crystal_manager.gui.refcount_guard",  # must run before any Qt call (decision 0021)
}


def test_the_real_start_shows_the_tray_before_the_app_loads(app_home: Path) -> None:
    seen = run_gui_script(SCRIPT)
    assert seen["shown"] is True and seen["code"] == 0
    assert set(seen["loaded"]) <= ALLOWED_BEFORE_THE_TRAY, set(seen["loaded"]) - ALLOWED_BEFORE_THE_TRAY


QUIT_SCRIPT = """
import json
from PySide6.QtCore import QTimer
from crystal_manager.gui import entry, first_tray
from crystal_manager.gui.args import parse_gui_args
real = first_tray.show_first_tray
def probed(probe=None):
    first = real(lambda: True)
    quit_action = [a for a in first.menu.actions() if a.text() == "Quit"][0]
    QTimer.singleShot(0, quit_action.trigger)  # as a click on it in the first moments
    return first
first_tray.show_first_tray = probed
code = entry.launch(parse_gui_args([]), [])
print(json.dumps({"code": code}))
"""


def test_quit_from_the_first_menu_leaves_no_socket_behind(app_home: Path, ctx: AppContext) -> None:
    from crystal_manager.gui import ipc

    assert run_gui_script(QUIT_SCRIPT)["code"] == 0  # it quits, and cleanly
    name = ipc.server_name(ctx.paths)
    assert not ipc.is_listening(name)
    if ipc.POSIX:
        assert not Path(name).exists()


FAIL_SCRIPT = """
import json
from crystal_manager.gui import app, entry, first_tray
from crystal_manager.gui.args import parse_gui_args
def broken(self, args=None):
    raise RuntimeError("broken on purpose")
app.TrayApp.start = broken
real = first_tray.show_first_tray
first_tray.show_first_tray = lambda probe=None: real(lambda: {tray})
print(json.dumps({{"code": entry.launch(parse_gui_args([]), [])}}))
"""


@pytest.mark.parametrize("tray", [True, False])
def test_a_start_that_fails_says_so_logs_why_and_leaves(app_home: Path, ctx: AppContext, tray: bool) -> None:
    # Never a "starting" icon (or, without a tray, an invisible process) that stays forever.
    from crystal_manager.gui import ipc

    out = run_gui_script(FAIL_SCRIPT.format(tray=tray))
    assert out["code"] == 1
    assert "crystal-manager: the app could not start (details in the log)" in out["_stderr"]
    log = (ctx.paths.log_dir / "manager.log").read_text()
    assert "the app could not start" in log and "RuntimeError: broken on purpose" in log
    name = ipc.server_name(ctx.paths)
    assert not ipc.is_listening(name) and not Path(name).exists()
