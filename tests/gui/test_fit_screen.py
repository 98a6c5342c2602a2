"""A 1366x768 screen at 100 % and at 200 % (683x384 logical pixels): the window, the activation dialog and
the machine list fit, and no table hides columns behind a sideways scrollbar."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QAbstractScrollArea, QApplication, QWidget
from pytestqt.qtbot import QtBot

from crystal_manager.gui.dialogs.activation import ActivationDialog
from crystal_manager.gui.dialogs.machines import MachinesDialog
from crystal_manager.gui.window import PAGES
from tests.gui.conftest import MakeApp
from tests.support.fake_license import KEY, FakeLicenseService

SCREEN = (1366, 768)
#: Pages whose owners lay them out (H2 privacy, H4 updates): checked in their own tests.
OTHERS = {"privacy", "updates"}


def _logical(scale: int) -> tuple[int, int]:
    return SCREEN[0] // scale, SCREEN[1] // scale


def _sideways(widget: QWidget) -> list[str]:
    QApplication.processEvents()
    return [area.accessibleName() or type(area).__name__ for area in widget.findChildren(QAbstractScrollArea)
            if area.isVisible() and area.horizontalScrollBar().isVisible()]


@pytest.mark.parametrize("scale", [1, 2])
def test_the_window_pages_fit(make_app: MakeApp, qtbot: QtBot, scale: int) -> None:
    width, height = _logical(scale)
    app, _fake, _probe = make_app("active", tray=True)
    window = app.open_window("license")
    window.resize(width, height)
    for page in PAGES:
        if page in OTHERS:
            continue
        window.show_page(page)
        qtbot.waitUntil(lambda: window.width() <= width)
        assert window.minimumSizeHint().width() <= width, page
        assert _sideways(window) == [], page


@pytest.mark.parametrize("scale", [1, 2])
def test_the_activation_preview_fits(qtbot: QtBot, scale: int) -> None:
    width, height = _logical(scale)
    dialog = ActivationDialog(FakeLicenseService("not_activated"))
    qtbot.addWidget(dialog)
    dialog.resize(width, height)
    dialog.show()
    with qtbot.waitSignal(dialog.preview_shown):
        dialog.key_edit.setText(KEY)
    assert dialog.width() <= width and _sideways(dialog) == []
    # every row's name and value can be read: neither column is squeezed to nothing
    header = dialog.preview.horizontalHeader()
    assert header.sectionSize(0) >= 80 and header.sectionSize(1) >= 80 and header.sectionSize(2) >= 120


@pytest.mark.parametrize("scale", [1, 2])
def test_the_machine_list_fits(qtbot: QtBot, scale: int) -> None:
    width, height = _logical(scale)
    fake = FakeLicenseService("active")
    dialog = MachinesDialog(fake)
    qtbot.addWidget(dialog)
    with qtbot.waitSignal(dialog.loaded):
        dialog.show()
    dialog.resize(min(width, 640), min(height, 340))
    assert _sideways(dialog) == []
    header = dialog.table.horizontalHeader()
    assert all(header.sectionSize(c) > 40 for c in range(dialog.table.columnCount()))
