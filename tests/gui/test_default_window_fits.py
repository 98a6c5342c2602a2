"""At the window's default size (900x580) and on a 1366x768 screen nothing is cut off: the page list, the
Privacy page's tabs, every table's columns and headers, the long labels. Each page and tab is rendered to
test-output/gui-fit/ for people to look at."""

from __future__ import annotations

from typing import Any

import pytest
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from crystal_manager.gui.pages.privacy_tabs import FullTable
from tests.gui.conftest import MakeApp
from tests.support.render import OUTPUT, save, themed

OUT = OUTPUT / "gui-fit"
ENTRIES: list[dict[str, Any]] = [
    {"id": str(i), "kind": kind, "state": "done", "status": 200, "host": "licensing.crystalme3dpro.com",
     "ts": f"2026-11-30T05:0{i}:00Z", "trigger": "user" if i % 2 else "scheduled", "fields": {},
     "bytes_sent": 292 + i, "bytes_received": 1880 + i, "headers": {}}
    for i, kind in enumerate(("license_activate", "license_validate", "update_metadata", "update_target",
                              "license_machines", "license_deactivate"))]


def clipped_tables(widget: FullTable) -> list[str]:
    """What a table hides: text that does not fit its column even wrapped, or a sideways scroll."""
    problems = []
    for c in widget.cut_off_columns():
        item = widget.horizontalHeaderItem(c)
        problems.append(f"column {item.text() if item else c} is cut off")
    header = widget.horizontalHeader()
    for c in range(widget.columnCount()):
        if widget.columnWidth(c) < header.sectionSizeHint(c):
            problems.append(f"header of column {c} is cut off")
    used = sum(widget.columnWidth(c) for c in range(widget.columnCount()))
    if used > widget.viewport().width() + 1:
        problems.append(f"columns need {used} px, {widget.viewport().width()} px shown")
    return problems


@pytest.mark.parametrize("size", [(900, 580), (1366, 768)])
def test_nothing_is_cut_off(make_app: MakeApp, qtbot: QtBot, size: tuple[int, int]) -> None:
    with themed("light"):
        app, _fake, _probe = make_app("active", tray=True)
        window = app.open_window("privacy")
        window.resize(*size)
        page = window.privacy_page
        qtbot.waitUntil(lambda: page.stored.table.rowCount() > 0)
        page.set_ledger(ENTRIES)
        QApplication.processEvents()
        problems: list[str] = []
        bar = page.tabs.tabBar()
        for index in range(page.tabs.count()):
            page.tabs.setCurrentIndex(index)
            QApplication.processEvents()
            text = page.tabs.tabText(index)
            if bar.tabRect(index).width() < bar.fontMetrics().horizontalAdvance(text.replace("&", "")) + 8:
                problems.append(f"tab {text!r} is cut off")
            for table in page.tabs.currentWidget().findChildren(FullTable):
                if table.isVisible():
                    problems += [f"{text}: {p}" for p in clipped_tables(table)]
            save(window, f"privacy-{index}-{size[0]}x{size[1]}", OUT)
        for name in ("license", "updates", "settings", "about"):
            window.show_page(name)
            QApplication.processEvents()
            save(window, f"{name}-{size[0]}x{size[1]}", OUT)
        assert problems == [], problems
