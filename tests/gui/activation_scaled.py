"""Child process of tests/gui/test_activation_scaled.py: the activation dialog at the scale the environment
sets (QT_SCALE_FACTOR=2) on a 1366x768 screen's worth of points, its preview filled, rendered to PNG;
prints as JSON what a person could see of the preview: its rows, how many of them show whole on screen
(directly or by scrolling the dialog), whether the table hides rows behind its own scrollbar, and whether
anything needs a sideways scroll.

Usage: python -m tests.gui.activation_scaled OUTPUT.png (and OUTPUT-whole.png: all it scrolls through)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from PySide6.QtCore import QEventLoop, QPoint, QRect
from PySide6.QtWidgets import QAbstractScrollArea, QApplication, QScrollArea

from tests.support.render import write_png


def main(picture: Path) -> int:
    """Render and report."""
    from crystal_manager.gui.dialogs.activation import ActivationDialog
    from tests.support.fake_license import KEY, FakeLicenseService

    app = QApplication([])
    dialog = ActivationDialog(FakeLicenseService("not_activated"))
    ratio = dialog.devicePixelRatioF()
    width, height = int(1366 / ratio), int(768 / ratio)
    dialog.resize(width, height)
    dialog.show()
    shown: list[object] = []
    dialog.preview_shown.connect(shown.append)
    dialog.key_edit.setText(KEY)
    while not shown:  # the preview is built in the background: sleep until its answer (or any event) comes
        app.processEvents(QEventLoop.ProcessEventsFlag.WaitForMoreEvents)
    for _ in range(5):
        app.processEvents()
    table = dialog.preview
    outer = next((a for a in dialog.findChildren(QScrollArea) if a.isAncestorOf(table)), None)
    inner = outer.widget() if outer is not None else None
    whole = 0
    for row in range(table.rowCount()):
        rect = table.visualRect(table.model().index(row, 0))
        top_left = table.viewport().mapTo(dialog, rect.topLeft())
        in_table = table.viewport().rect().contains(rect.adjusted(0, 0, -1, -1))
        in_dialog = QRect(QPoint(0, 0), dialog.size()).contains(QRect(top_left, rect.size()))
        # A row the dialog's own scrolling brings into view counts as shown: it is reachable, not cut.
        reachable = inner is not None and inner.isAncestorOf(table)
        if in_table and (in_dialog or reachable):
            whole += 1
    sideways = [a.accessibleName() or type(a).__name__ for a in dialog.findChildren(QAbstractScrollArea)
                if a.isVisible() and a.horizontalScrollBar().isVisible()]
    write_png(dialog.grab().toImage(), picture)
    if inner is not None:  # and everything the dialog scrolls through
        write_png(inner.grab().toImage(), picture.with_name(picture.stem + "-whole.png"))
    print(json.dumps({"device_pixel_ratio": ratio, "size": [dialog.width(), dialog.height()],
                      "limit": [width, height], "rows": table.rowCount(), "whole_rows": whole,
                      "table_scrolls": table.verticalScrollBar().maximum() > 0, "sideways": sideways,
                      "buttons_visible": dialog.activate_button.isVisible()
                      and dialog.activate_button.visibleRegion().boundingRect().size()
                      == dialog.activate_button.size()}))
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
