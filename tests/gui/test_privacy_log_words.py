"""The privacy log in words: a refusal says what it means (the number stays in the log file), and the
request details label their HTTP header values as technical details."""

from __future__ import annotations

from typing import Any

from pytestqt.qtbot import QtBot

from crystal_manager.gui.pages.privacy_rows import entry_html, result_words
from crystal_manager.privacy.catalog import default_catalog


def entry(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"kind": "license_validate", "state": "done", "status": 200, "host": "127.0.0.1",
                            "ts": "2026-11-30T05:00:00Z", "fields": {}, "bytes_sent": 10, "bytes_received": 20,
                            "headers": {"Accept": "application/json", "Accept-Encoding": "identity",
                                        "Connection": "keep-alive"}}
    return {**base, **changes}


def test_refusals_are_said_in_words_without_a_bare_number(qtbot: QtBot) -> None:
    for status, words in ((404, "refused by the server: not found"), (403, "refused by the server: not allowed"),
                          (429, "refused by the server: too many requests, it asked to wait"),
                          (503, "not answered: the server had a problem"), (400, "refused by the server")):
        text = result_words(entry(status=status))
        assert text == words and str(status) not in text


def test_header_values_are_labelled_technical_details(qtbot: QtBot) -> None:
    html = entry_html(default_catalog(), entry())
    assert "Technical details sent with it" in html
    assert html.index("Technical details") < html.index("application/json")


def test_the_selected_request_stays_selected_when_a_new_one_arrives(qtbot: QtBot) -> None:
    from crystal_manager.gui.pages.privacy_page import PrivacyPage

    page = PrivacyPage()
    qtbot.addWidget(page)
    page.set_catalog(default_catalog())
    first = entry(id="a", kind="license_activate", ts="2026-11-30T05:00:00Z")
    second = entry(id="b", kind="license_validate", ts="2026-11-30T05:01:00Z")
    page.set_ledger([first, second])
    page.ledger_table.setCurrentCell(1, 0)  # newest first: row 1 is the activation
    assert "Activate" in page.detail.text()
    page.set_ledger([first, second, entry(id="c", kind="update_metadata", ts="2026-11-30T05:02:00Z")])
    assert page.ledger_table.currentRow() == 2  # the same request, one row further down
    assert "Activate" in page.detail.text()


def test_the_every_request_table_says_header_values_in_words(qtbot: QtBot) -> None:
    """The "What can be sent" table's "Every request" rows: no "application/json", "identity" or
    "keep-alive" — those exact values live only under a request's "Technical details"."""
    from crystal_manager.gui.pages.privacy_rows import catalog_rows

    rows, keys = catalog_rows(default_catalog())
    common = [row for row, key in zip(rows, keys, strict=True) if key[0] == "*" and key[1]]
    text = " ".join(" ".join(row) for row in common)
    for raw in ("application/json", "identity", "keep-alive"):
        assert raw not in text, raw
    assert "not compressed" in text and "structured text data" in text
