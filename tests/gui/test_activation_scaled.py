"""The activation dialog on a 1366x768 screen at 200 % (683x384 points): the preview of what will be sent
lists every row whole — no strip two rows high with its own scrollbar; the dialog scrolls up and down as
one, never sideways, and its buttons stay in view. Long codes read short, whole in the tooltip."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from crystal_manager.gui.dialogs.activation import ActivationDialog
from tests.support.fake_license import KEY, FakeLicenseService
from tests.support.render import OUTPUT

ROOT = Path(__file__).resolve().parents[2]


def test_at_200_percent_every_row_of_the_preview_shows_whole() -> None:
    picture = OUTPUT / "gui" / "activation-preview-200pct.png"
    picture.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "QT_SCALE_FACTOR": "2", "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-m", "tests.gui.activation_scaled", str(picture)], env=env,
                          capture_output=True, text=True, timeout=120, check=False, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    seen = json.loads(proc.stdout)
    assert seen["device_pixel_ratio"] == 2.0 and seen["size"] == seen["limit"] == [683, 384]
    assert seen["rows"] >= 7 and seen["whole_rows"] == seen["rows"], seen
    assert not seen["table_scrolls"] and seen["sideways"] == [] and seen["buttons_visible"], seen


@pytest.mark.parametrize("size", [(683, 384), (760, 600)])
def test_the_preview_is_as_tall_as_its_rows_and_the_dialog_scrolls_to_each(qtbot: QtBot,
                                                                           size: tuple[int, int]) -> None:
    dialog = ActivationDialog(FakeLicenseService("not_activated"))
    qtbot.addWidget(dialog)
    dialog.resize(*size)
    dialog.show()
    with qtbot.waitSignal(dialog.preview_shown):
        dialog.key_edit.setText(KEY)
    QApplication.processEvents()
    table = dialog.preview
    assert table.verticalScrollBar().maximum() == 0  # nothing hidden inside the table
    last = table.visualRect(table.model().index(table.rowCount() - 1, 2))
    assert table.viewport().rect().contains(last.adjusted(0, 0, -1, -1))
    bar = dialog.scroller.verticalScrollBar()

    def last_row_in_view() -> bool:  # once the layout has settled: scrolled to the end, the last row shows
        bar.setValue(bar.maximum())
        bottom = table.viewport().mapTo(dialog.scroller.viewport(), last.bottomLeft()).y()
        return 0 <= bottom <= dialog.scroller.viewport().height()

    qtbot.waitUntil(last_row_in_view, timeout=3000)
    assert not dialog.scroller.horizontalScrollBar().isVisible() and dialog.activate_button.isVisible()


def test_long_codes_read_short_with_the_exact_value_in_the_tooltip(qtbot: QtBot) -> None:
    dialog = ActivationDialog(FakeLicenseService("not_activated"))
    qtbot.addWidget(dialog)
    dialog.show()
    with qtbot.waitSignal(dialog.preview_shown):
        dialog.key_edit.setText(KEY)
    sent = dict(dialog.preview_rows())
    row = [name for name, _value in dialog.preview_rows()].index("fingerprint")
    cell = dialog.preview.item(row, 1)
    assert cell is not None and cell.text() == "v1:3f9a…" and sent["fingerprint"] in cell.toolTip()
    key_row = [name for name, _value in dialog.preview_rows()].index("key")
    key_cell = dialog.preview.item(key_row, 1)
    assert key_cell is not None and key_cell.text() == "…" + KEY[-4:] and KEY not in key_cell.toolTip()
