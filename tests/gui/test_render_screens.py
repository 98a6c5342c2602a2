"""Render what a 1366x768 screen shows, at the scale this process runs at (QT_SCALE_FACTOR=2 for 200 %):
the License, Settings and About pages, the activation dialog with its preview and the machine list, into
test-output/gui/screen-*.png for people to look at (each must be a real picture)."""

from __future__ import annotations

import os

from pytestqt.qtbot import QtBot

from crystal_manager.gui.dialogs.activation import ActivationDialog
from crystal_manager.gui.dialogs.machines import MachinesDialog
from tests.gui.conftest import MakeApp
from tests.support.fake_license import KEY, FakeLicenseService
from tests.support.render import OUTPUT, save, themed

SCALE = float(os.environ.get("QT_SCALE_FACTOR", "1") or 1)
SIZE = (int(1366 / SCALE), int(768 / SCALE))
TAG = f"{int(SCALE * 100)}pct"
OUT = OUTPUT / "gui"


def test_render_the_window_on_a_small_screen(make_app: MakeApp) -> None:
    with themed("light"):
        app, _fake, _probe = make_app("active", tray=True)
        window = app.open_window("license")
        window.resize(*SIZE)
        for page in ("license", "settings", "about"):
            window.show_page(page)
            save(window, f"screen-{page}-{TAG}", OUT)


def test_render_the_dialogs_on_a_small_screen(qtbot: QtBot) -> None:
    with themed("light"):
        dialog = ActivationDialog(FakeLicenseService("not_activated"))
        qtbot.addWidget(dialog)
        dialog.resize(min(SIZE[0], 760), min(SIZE[1], 600))
        dialog.show()
        with qtbot.waitSignal(dialog.preview_shown):
            dialog.key_edit.setText(KEY)
        save(dialog, f"screen-activation-{TAG}", OUT)
        machines = MachinesDialog(FakeLicenseService("active"))
        qtbot.addWidget(machines)
        with qtbot.waitSignal(machines.loaded):
            machines.show()
        machines.resize(min(SIZE[0], 640), min(SIZE[1], 340))
        save(machines, f"screen-machines-{TAG}", OUT)
