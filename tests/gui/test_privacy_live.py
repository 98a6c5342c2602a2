"""The Privacy page's log updates by itself when a request is recorded (no Refresh needed)."""

from __future__ import annotations

import json
from pathlib import Path

from pytestqt.qtbot import QtBot

from crystal_manager.services.health import check_server
from tests.gui.conftest import MakeApp
from tests.support.servers import ReferenceServer


def test_the_log_updates_live(make_app: MakeApp, qtbot: QtBot, reference_server: ReferenceServer) -> None:
    app, _fake, _probe = make_app("active", tray=True)
    page = app.open_window("privacy").privacy_page
    qtbot.waitUntil(lambda: page.ledger_note.text() == "Nothing has been sent yet.")
    other = app.ctx.__class__.create(profile_file=str(reference_server.profile_file), server_url=reference_server.url)
    check_server(other)  # another part of the app (or the CLI) sends, into the same ledger file
    other.close()
    qtbot.waitUntil(lambda: page.ledger_table.rowCount() == 1, timeout=10_000)
    assert page.ledger_table.rows()[0][1] == "Server health check"
    assert "Last sent:" in page.summary.text()


def test_exact_data_export_and_clear_beside_the_log(make_app: MakeApp, qtbot: QtBot, tmp_path: Path,
                                                    reference_server: ReferenceServer) -> None:
    app, _fake, _probe = make_app("active", tray=True)
    other = app.ctx.__class__.create(profile_file=str(reference_server.profile_file), server_url=reference_server.url)
    check_server(other)
    other.close()
    page = app.open_window("privacy").privacy_page
    qtbot.waitUntil(lambda: page.ledger_table.rowCount() == 1)
    page.ledger_table.setCurrentCell(0, 0)
    detail = page.detail.text()
    assert "Data: nothing about you" in detail and "CrystalMe3DProManager/" in detail
    out = tmp_path / "export.json"
    page.ask_file = lambda: str(out)
    page.export_button.click()
    qtbot.waitUntil(out.exists)
    exported = json.loads(out.read_text())
    assert [e["kind"] for e in exported["log"]] == ["health"] and exported["catalog"]["requests"]
    asked: list[str] = []

    def answer_no(text: str) -> bool:  # "No": nothing is deleted
        asked.append(text)
        return False

    page.confirm = answer_no
    page.clear_button.click()
    assert asked and "sends nothing" in asked[0] and app.ctx.ledger.entries()
    page.confirm = lambda _text: True
    page.clear_button.click()
    qtbot.waitUntil(lambda: page.ledger_table.rowCount() == 0)
    assert app.ctx.ledger.entries() == [] and page.ledger_note.text() == "Nothing has been sent yet."
