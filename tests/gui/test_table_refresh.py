"""The Privacy page's tables on a refresh: the same rows again leave a table as it is (the column widths the
user dragged stay), new rows replace the old and are fitted again, and a long code's exact value in its
tooltip follows the value even when its short form reads the same."""

from __future__ import annotations

from typing import Any

from pytestqt.qtbot import QtBot

from crystal_manager.gui.pages.privacy_page import PrivacyPage
from crystal_manager.privacy.catalog import default_catalog

CODE = "v1:d6026a1a85f745cca9634e8aa3746fabc6462299e7eb87c0e9cbcda2ac9fb615"
OTHER = "v1:d602ffff85f745cca9634e8aa3746fabc6462299e7eb87c0e9cbcda2ac9fb615"  # reads the same short
FILES = [{"what": "Settings", "bytes": 420, "path": "/home/ada/.config/crystal/settings.json"},
         {"what": "Log", "bytes": 9000, "path": "/home/ada/.local/state/crystal/privacy-log.jsonl"}]
ENTRY: dict[str, Any] = {"id": "id-1", "kind": "license_validate", "state": "done", "status": 200, "error": None,
                         "host": "127.0.0.1", "trigger": "background", "ts": "2026-11-30T09:00:05+00:00",
                         "fields": {"key": "…7F3A", "fingerprint": CODE, "os": "Linux"}, "headers": {},
                         "bytes_sent": 200, "bytes_received": 700, "attempt": 1}


def values(code: str = CODE) -> dict[str, dict[str, str]]:
    """This computer's values as the app reads them (a fresh dict each time, as each refresh makes)."""
    return {"license_validate": {"key": "…7F3A", "fingerprint": code, "os": "Linux"}}


def refresh(page: PrivacyPage, files: list[dict[str, Any]], code: str = CODE) -> None:
    """What the app does on each refresh: this computer's values and files, and the log, read afresh."""
    page.set_facts(values(code), "2026-12-01T09:00:00Z", True, [dict(f) for f in files],
                   [{"what": "license key"}])
    page.set_ledger([dict(ENTRY)])


def shown_page(qtbot: QtBot) -> PrivacyPage:
    page = PrivacyPage()
    qtbot.addWidget(page)
    page.set_catalog(default_catalog())
    refresh(page, FILES)
    page.resize(1186, 708)
    page.show()
    qtbot.waitExposed(page)
    return page


def test_a_refresh_with_nothing_new_keeps_the_widths_the_user_set(qtbot: QtBot) -> None:
    page = shown_page(qtbot)
    sent = page.tabs.widget(0)
    assert sent is not None
    for tab, table in ((page.stored, page.stored.table), (page.may_send, page.may_send.table),
                       (sent, page.ledger_table)):
        page.tabs.setCurrentWidget(tab)
        qtbot.waitUntil(table.isVisible)
        before = table.rows()
        dragged = table.columnWidth(0) + 37  # as if the user dragged the first column's edge
        table.horizontalHeader().resizeSection(0, dragged)
        refresh(page, FILES)
        assert table.rows() == before
        assert table.columnWidth(0) == dragged, table.accessibleName()


def test_new_rows_replace_the_old_and_are_fitted_again(qtbot: QtBot) -> None:
    page = shown_page(qtbot)
    page.tabs.setCurrentWidget(page.stored)
    table = page.stored.table
    qtbot.waitUntil(table.isVisible)
    fitted = table.columnWidth(0)
    table.horizontalHeader().resizeSection(0, fitted + 37)
    more = [*FILES, {"what": "License record", "bytes": 1200, "path": "/home/ada/.local/share/crystal/license.json"}]
    refresh(page, more)
    assert [row[0] for row in table.rows()] == ["Settings", "Log", "License record"]
    assert table.columnWidth(0) != fitted + 37  # fitted to the new rows, as before any drag
    assert table.cut_off_columns() == []
    cell = table.item(2, 2)
    assert cell is not None and cell.toolTip() == "/home/ada/.local/share/crystal/license.json"


def test_a_long_codes_exact_value_follows_it_though_its_short_form_is_the_same(qtbot: QtBot) -> None:
    page = shown_page(qtbot)
    tab = page.may_send
    row = tab._keys.index(("license_validate", "fingerprint"))
    first = tab.table.item(row, 1)
    assert first is not None and CODE in first.toolTip() and tab.table.rows()[row][1] == "v1:d602…"
    refresh(page, FILES, code=OTHER)
    cell = tab.table.item(row, 1)
    assert tab.table.rows()[row][1] == "v1:d602…"
    assert cell is not None and OTHER in cell.toolTip() and CODE not in cell.toolTip()
    heading = tab.table.item(0, 0)  # the first request's heading: still bold and across both columns
    assert heading is not None and heading.font().bold() and tab.table.columnSpan(0, 0) == 2


def test_a_hidden_table_is_fitted_when_shown_as_a_shown_one_is_at_once(qtbot: QtBot) -> None:
    page = shown_page(qtbot)
    page.tabs.setCurrentWidget(page.stored)
    shown = page.stored.table
    qtbot.waitUntil(shown.isVisible)
    hidden = page.vendor.table  # another tab: hidden, as most of the page is at any moment
    rows = [["Machine", "/home/ada/.local/share/crystal/a-very-long-folder-name/and-a-file-name-as-well.json"],
            ["Seats", "2 of 3 in use"]]
    narrow = hidden.horizontalHeader().minimumSectionSize() + 3
    hidden.horizontalHeader().resizeSection(0, narrow)
    hidden.set_rows(rows)
    assert hidden.columnWidth(0) == narrow  # not measured while nobody can see it
    page.tabs.setCurrentWidget(page.vendor)
    qtbot.waitUntil(hidden.isVisible)
    fitted = [hidden.columnWidth(c) for c in range(2)], [hidden.rowHeight(r) for r in range(2)]
    assert fitted[0][0] > narrow and hidden.cut_off_columns() == []
    hidden.set_rows([["Seats", "1 of 3 in use"]])  # shown now: measured at once
    hidden.set_rows(rows)
    assert ([hidden.columnWidth(c) for c in range(2)], [hidden.rowHeight(r) for r in range(2)]) == fitted
