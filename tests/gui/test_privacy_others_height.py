"""The Privacy page's short list of who else sees what ("others") is as tall as its rows wherever they wrap:
at 200 % on a 1366x768 screen its rows wrap to more lines than when the page was built, and the list must
grow with them rather than hide its last row behind a scroll bar. Found by review R1 (the height was fixed
once, from the rows measured unwrapped while hidden: 96 px for 112 px of rows)."""

from __future__ import annotations

from pytestqt.qtbot import QtBot

from crystal_manager.gui.pages.privacy_page import PrivacyPage
from crystal_manager.privacy.catalog import default_catalog


def _others_tab(page: PrivacyPage) -> int:
    widget = page.others_table.parentWidget()
    while widget is not None and page.tabs.indexOf(widget) < 0:
        widget = widget.parentWidget()
    assert widget is not None
    return page.tabs.indexOf(widget)


def test_the_others_list_shows_every_row_whole_at_200_percent(qtbot: QtBot) -> None:
    page = PrivacyPage()
    qtbot.addWidget(page)
    page.set_catalog(default_catalog())
    page.resize(683, 384)  # 1366x768 at 200 %
    page.show()
    qtbot.waitExposed(page)
    table = page.others_table
    page.tabs.setCurrentIndex(_others_tab(page))
    qtbot.waitUntil(table.isVisible)
    rows = sum(table.rowHeight(r) for r in range(table.rowCount()))
    qtbot.waitUntil(lambda: table.viewport().height() >= sum(table.rowHeight(r) for r in range(table.rowCount())))
    assert table.verticalScrollBar().maximum() == 0, (rows, table.viewport().height())
    assert table.cut_off_columns() == []
    page.resize(1186, 708)  # wider again: the rows unwrap and the list is no taller than they are
    qtbot.waitUntil(lambda: table.viewport().height() <= sum(table.rowHeight(r) for r in range(table.rowCount())) + 8)
    assert table.verticalScrollBar().maximum() == 0
