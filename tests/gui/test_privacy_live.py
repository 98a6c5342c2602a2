"""The Privacy page's log updates by itself when a request is recorded (no Refresh needed)."""

from __future__ import annotations

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
