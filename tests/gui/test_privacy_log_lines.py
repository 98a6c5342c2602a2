"""The Privacy page's log as people read it: an update check's signed files (one record per request, all
kept) on one line with each file one click away; long codes shortened as the key is, exact on request."""

from __future__ import annotations

from typing import Any

from pytestqt.qtbot import QtBot

from crystal_manager.gui.pages.privacy_page import PrivacyPage
from crystal_manager.privacy.catalog import default_catalog
from tests.support.render import OUTPUT, save

CODE = "v1:d6026a1a85f745cca9634e8aa3746fabc6462299e7eb87c0e9cbcda2ac9fb615"
PUBLIC = "ceudccopmA9OR17ewIYyndHIe6pLP18QRlyl7sPT3tk="
HEADERS = {"Accept": "application/json", "Accept-Encoding": "identity", "Connection": "keep-alive"}


def entry(kind: str, second: int, fields: dict[str, str], **changes: Any) -> dict[str, Any]:
    """A ledger entry as the gateway records it (the key already masked)."""
    base: dict[str, Any] = {"id": f"id-{second}", "kind": kind, "state": "done", "status": 200, "error": None,
                            "host": "127.0.0.1", "trigger": "user", "ts": f"2026-11-30T09:00:{second:02d}+00:00",
                            "fields": fields, "headers": HEADERS, "bytes_sent": 200, "bytes_received": 700,
                            "attempt": 1}
    return {**base, **changes}


def session() -> list[dict[str, Any]]:
    """Activate, check for updates (four signed files), check the license."""
    claim = {"key": "…7F3A", "fingerprint": CODE, "fingerprint_version": "v1", "environment": "physical",
             "os": "Linux"}
    return [entry("license_activate", 1, {**claim, "label": "Studio PC", "machine_public_key": PUBLIC}),
            entry("update_metadata", 2, {"name": "2.root.json"}, status=404, bytes_sent=198),
            entry("update_metadata", 3, {"name": "timestamp.json"}, bytes_sent=201),
            entry("update_metadata", 3, {"name": "2.snapshot.json"}, bytes_sent=202, id="id-3b"),
            entry("update_metadata", 4, {"name": "2.targets.json"}, bytes_sent=201),
            entry("license_validate", 5, claim, trigger="background")]


def page_with(qtbot: QtBot, entries: list[dict[str, Any]]) -> PrivacyPage:
    page = PrivacyPage()
    qtbot.addWidget(page)
    page.set_catalog(default_catalog())
    page.set_ledger(entries)
    page.resize(1186, 708)
    page.show()
    return page


def test_an_update_check_is_one_line_and_each_file_is_one_click_away(qtbot: QtBot) -> None:
    entries = session()
    page = page_with(qtbot, entries)
    rows = page.ledger_table.rows()
    assert [row[1] for row in rows] == ["Re-validate the license", "Update information (4 files)",
                                        "Activate this machine"]
    assert rows[1][3] == "answered" and rows[1][4] == "802 bytes sent"  # 198 + 201 + 202 + 201
    assert "6 requests recorded" in page.ledger_note.text() and "one line" in page.ledger_note.text()
    page.ledger_table.setCurrentCell(1, 0)
    listing = page.detail.text()
    for name in ("2.root.json", "timestamp.json", "2.snapshot.json", "2.targets.json"):
        assert name in listing
    assert "answered: nothing newer" in listing  # each file's own ending
    page.detail.linkActivated.emit("entry:id-3")
    one = page.detail.text()
    assert "timestamp.json" in one and "2.root.json" not in one and "Back to all files" in one
    assert "Sent to 127.0.0.1, 201 bytes out" in one
    save(page, "privacy-log-update-file", OUTPUT / "gui")
    # A new request arrives: the opened file stays open on its line.
    page.set_ledger([*entries, entry("health", 9, {})])
    assert page.ledger_table.currentRow() == 2 and "Back to all files" in page.detail.text()
    page.detail.linkActivated.emit("entry:")
    assert "2.targets.json" in page.detail.text() and "Back to all files" not in page.detail.text()
    assert "Last sent: " in page.summary.text() and "Server health check" in page.summary.text()
    save(page, "privacy-log-update-check", OUTPUT / "gui")


def test_the_summary_names_the_last_update_check_as_one_thing(qtbot: QtBot) -> None:
    page = page_with(qtbot, session()[:5])
    assert "Update information (4 files) (answered)" in page.summary.text()


def test_long_codes_read_short_like_the_key_and_exact_is_one_tick_away(qtbot: QtBot) -> None:
    page = page_with(qtbot, session())
    page.ledger_table.setCurrentCell(2, 0)  # the activation
    short = page.detail.text()
    assert "v1:d602…" in short and CODE not in short and "ceud…" in short and PUBLIC not in short
    assert "…7F3A" in short
    save(page, "privacy-log-codes-short", OUTPUT / "gui")
    page.exact_box.setChecked(True)
    exact = page.detail.text()
    assert CODE in exact and PUBLIC in exact and "…7F3A" in exact  # the key was never recorded whole


def test_what_may_be_sent_shows_this_computers_code_short_with_the_exact_one_beside(qtbot: QtBot) -> None:
    page = page_with(qtbot, session())
    values = {"license_validate": {"key": "…7F3A", "fingerprint": CODE, "os": "Linux"}}
    page.set_facts(values, "2026-12-01T09:00:00Z", True, [], [])
    tab = page.may_send
    page.tabs.setCurrentWidget(tab)
    row = tab._keys.index(("license_validate", "fingerprint"))
    cell = tab.table.item(row, 1)
    assert cell is not None and tab.table.rows()[row][1] == "v1:d602…" and CODE in cell.toolTip()
    assert not tab.exact_box.isVisibleTo(tab)
    tab.show_next_check()
    assert "v1:d602…" in tab.detail.text() and CODE not in tab.detail.text() and tab.exact_box.isVisibleTo(tab)
    tab.exact_box.setChecked(True)
    assert CODE in tab.detail.text() and "exactly this" in tab.detail.text()
    save(page, "privacy-may-send-exact", OUTPUT / "gui")


def test_a_file_opened_while_pending_stays_open_when_its_answer_is_recorded(qtbot: QtBot) -> None:
    entries = session()[:4]
    entries[3] = {**entries[3], "state": "pending", "status": None}
    page = page_with(qtbot, entries)
    page.ledger_table.setCurrentCell(0, 0)
    page.detail.linkActivated.emit("entry:id-3b")
    assert "no answer recorded" in page.ledger_table.rows()[0][3] and "2.snapshot.json" in page.detail.text()
    answered = [*entries[:3], {**entries[3], "state": "done", "status": 200}, session()[4]]
    page.set_ledger(answered)
    assert page.ledger_table.rows()[0][1] == "Update information (4 files)"
    text = page.detail.text()
    assert "Back to all files" in text and "2.snapshot.json" in text and "2.targets.json" not in text
