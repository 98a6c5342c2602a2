"""Privacy shows the real catalog and the real ledger; About shows the profile plainly and copies a
redacted diagnostics report; the GUI refuses to start without a display."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from PySide6.QtGui import QGuiApplication
from pytestqt.qtbot import QtBot

from crystal_manager.config.profile import load_profile_file
from crystal_manager.privacy.catalog import default_catalog
from crystal_manager.services.health import check_server
from crystal_manager.services.status import app_status
from tests.gui.conftest import MakeApp
from tests.support.fake_license import KEY
from tests.support.servers import ReferenceServer

ROOT = Path(__file__).resolve().parents[2]


def test_privacy_page_shows_catalog_and_a_real_ledger_entry(make_app: MakeApp, qtbot: QtBot,
                                                            reference_server: ReferenceServer) -> None:
    app, _fake, _probe = make_app("active", tray=True)
    gateway_ctx = app.ctx.__class__.create(profile_file=str(reference_server.profile_file),
                                           server_url=reference_server.url)
    check_server(gateway_ctx)  # one real request through the gateway, recorded in the same ledger file
    gateway_ctx.close()
    page = app.open_window("privacy").privacy_page
    catalog_rows = page.catalog_table.rows()
    catalog = default_catalog()
    declared = sum(1 + max(1, len(t.fields) + t.signed_response) for t in catalog.types) \
        + 1 + len(catalog.common_headers)  # a heading per request type, and one for every request
    assert len(catalog_rows) == declared
    at = catalog_rows.index(["Update download", ""])
    assert [row[0] for row in catalog_rows[at + 1:at + 4]] == ["the name of the file to download",
                                                               "where to resume a download",
                                                               "the server's tag for a file being resumed"]
    assert not any("/v1/" in cell or "license_" in cell for row in catalog_rows for cell in row[:2])
    page.refresh_requested.emit()
    qtbot.waitUntil(lambda: page.ledger_table.rowCount() == 1)
    row = page.ledger_table.rows()[0]
    assert row[1:4] == ["Server health check", "you asked", "answered"]
    page.ledger_table.setCurrentCell(0, 0)
    assert "nothing about you" in page.detail.text() and "Sent to 127.0.0.1" in page.detail.text()
    assert page.ledger_note.text() == ("1 request recorded. Only the last four characters of your license key are "
                                       "kept here.")
    summary = page.summary.text()
    assert "your license key" in summary and "Last sent:" in summary and "Server health check (answered)" in summary
    others = [row[0] for row in page.others_table.rows()]
    assert "Links you open in your browser" in others and "Your IP address and the time of each request" in others


def test_about_says_not_production_and_copies_redacted_diagnostics(make_app: MakeApp, qtbot: QtBot,
                                                                   reference_server: ReferenceServer) -> None:
    app, _fake, _probe = make_app("active", tray=True)
    app.ctx.profile = load_profile_file(reference_server.profile_file)  # the development profile
    window = app.open_window("about")
    window.about_page.set_status(app_status(app.ctx), config_dir="c", log_dir="l")
    banner = window.about_page.profile_banner
    assert banner.isVisibleTo(window.about_page) and banner.text().startswith("Not the production profile")
    assert (window.about_page.rows.value("profile") or "").endswith("NOT production")
    with qtbot.waitSignal(app.diagnostics_copied) as copied:
        window.about_page.copy_button.click()
    text = copied.args[0]
    assert QGuiApplication.clipboard().text() == text
    assert f"license.key_hint: {KEY[-4:]}" in text and "NOT production" in text
    assert KEY[:10] not in text and window.about_page.copied.text() == "Diagnostics copied to the clipboard."


def test_no_display_gives_one_line_and_exit_2(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    env.update(PYTHONPATH=str(ROOT), CRYSTAL_MANAGER_HOME=str(tmp_path))
    out = subprocess.run([sys.executable, "-m", "crystal_manager"], env=env, capture_output=True, text=True,
                         timeout=60, check=False)
    assert out.returncode == 2
    assert out.stderr.strip().startswith("crystal-manager: found no screen to show its window on")
