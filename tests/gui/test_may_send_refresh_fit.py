"""The "may send" table refreshed with new values while it is on screen: it is fitted to the page as when it
was first shown (its columns within the visible width: the table has no sideways scroll bar, so a column
reaching past the edge is cut off). Found by review R1: the refresh ended with resizeColumnsToContents,
which undid the fit (at 683 px wide the second column reached ~100 px past the edge)."""

from __future__ import annotations

from pytestqt.qtbot import QtBot

from crystal_manager.gui.pages.privacy_page import PrivacyPage
from crystal_manager.privacy.catalog import default_catalog
from tests.gui.test_table_refresh import FILES, OTHER, refresh


def test_a_visible_refresh_with_new_values_keeps_the_columns_within_the_page(qtbot: QtBot) -> None:
    page = PrivacyPage()
    qtbot.addWidget(page)
    page.set_catalog(default_catalog())
    refresh(page, FILES)
    page.resize(683, 384)  # 1366x768 at 200 %
    page.show()
    qtbot.waitExposed(page)
    page.tabs.setCurrentWidget(page.may_send)
    table = page.may_send.table
    qtbot.waitUntil(table.isVisible)
    fitted = [table.columnWidth(c) for c in range(table.columnCount())]
    assert sum(fitted) <= table.viewport().width()
    refresh(page, FILES, code=OTHER)  # the fingerprint changed: new rows' tooltips, the table refilled
    widths = [table.columnWidth(c) for c in range(table.columnCount())]
    assert sum(widths) <= table.viewport().width(), (widths, table.viewport().width())
    assert widths == fitted
    assert table.cut_off_columns() == []
