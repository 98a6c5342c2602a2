"""The Privacy page after a real activation, a license check, an update check, a server check and an
access request against the reference server: every catalog entry and every ledger entry of the run is
shown, nothing is cut off, no protocol words; rendered to PNG, every tab, light and dark, at 100 % and at
200 % on a 1366x768 screen (test-output/gui/privacy-*.png) for people to look at."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pytestqt.qtbot import QtBot

from crystal_manager.gui.pages.privacy_page import PrivacyPage
from crystal_manager.gui.pages.privacy_tabs import FullTable
from crystal_manager.services.context import AppContext
from crystal_manager.services.health import check_server
from crystal_manager.services.privacy_preview import privacy_facts
from crystal_manager.services.privacy_view import log_lines
from crystal_manager.services.update_service import UpdateService
from tests.support.licensing import issue, service
from tests.support.render import OUTPUT, save, themed
from tests.support.servers import ReferenceServer
from tests.support.update_repo import publish

ROOT = Path(__file__).resolve().parents[2]
#: Words that belong to engineers, not on this page.
JARGON = ("POST ", "GET ", "/v1/", "license_", "HMAC", "SHA-256", "§", "fingerprint", "TUF", "{\"")


def run_a_session(ctx: AppContext, server: ReferenceServer) -> tuple[dict[str, Any], str]:
    """Activate, check the license, check for updates, check the server, ask the vendor: every request
    a person meets in a first session, through the real gateway into the real ledger."""
    lic = issue(server.data_dir)
    publish(server, "1.1.0")
    alpha = service(ctx, name="alpha")
    alpha.activate(lic.key, label="Studio PC")
    alpha.verify()
    UpdateService(ctx, license_status=alpha.status).check()
    check_server(ctx)
    return alpha.vendor_report(), lic.key


def fill(page: PrivacyPage, ctx: AppContext, report: dict[str, Any]) -> None:
    """Feed the page what the app feeds it."""
    facts = privacy_facts(ctx)
    page.set_catalog(ctx.catalog)
    page.set_ledger(ctx.ledger.entries())
    page.set_facts(facts.values, facts.next_check_at, facts.activated, facts.files, facts.keyring)
    page.vendor.set_report(report)


def tables(page: PrivacyPage) -> list[FullTable]:
    """Every list on the page."""
    return page.findChildren(FullTable)


def visible_words(page: PrivacyPage) -> str:
    """Every text a person can read on the page: labels, list cells, headers, buttons, tab names."""
    from PySide6.QtWidgets import QAbstractButton, QLabel

    words = [label.text() for label in page.findChildren(QLabel)]
    words += [button.text() for button in page.findChildren(QAbstractButton)]
    words += [page.tabs.tabText(i) for i in range(page.tabs.count())]
    for table in tables(page):
        words += [cell for row in table.rows() for cell in row]
        words += [item.text() for c in range(table.columnCount()) if (item := table.horizontalHeaderItem(c))]
    return "\n".join(words)


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_privacy_page_after_a_real_session(theme: str, qtbot: QtBot, lic_ctx: AppContext,
                                           reference_server: ReferenceServer) -> None:
    report, key = run_a_session(lic_ctx, reference_server)
    entries = lic_ctx.ledger.entries()
    assert {e["kind"] for e in entries} >= {"license_activate", "license_validate", "update_metadata", "health",
                                            "license_access"}
    with themed(theme):
        page = PrivacyPage()
        qtbot.addWidget(page)
        fill(page, lic_ctx, report)
        page.resize(1366 - 180, 768 - 60)  # the window's list of pages and title bar take the rest
        page.show()
        # Every ledger entry of the run, newest first, in words: the update check's files on one line.
        rows = page.ledger_table.rows()
        files = [e for e in entries if e["kind"] == "update_metadata"]
        assert len(rows) == len(log_lines(entries)) == len(entries) - len(files) + 1
        assert rows[-1][1] == "Activate this machine" and rows[0][1] == "See what the vendor holds"
        assert f"Update information ({len(files)} files)" in [row[1] for row in rows]
        assert all(row[3].startswith("answered") for row in rows), rows  # a metadata 404: "answered: nothing newer"
        # Every catalog entry, with this computer's values (the key masked).
        catalog_cells = [cell for row in page.catalog_table.rows() for cell in row]
        for request_type in lic_ctx.catalog.types:
            assert request_type.title in catalog_cells
        assert "…" + key[-4:] in catalog_cells and "Studio PC" not in catalog_cells  # checks send no name
        assert key not in visible_words(page)
        for word in JARGON:
            assert word not in visible_words(page), word
        assert "Last sent:" in page.summary.text() and "Next license check:" in page.summary.text()
        assert re.search(r"\(in \d+ (hours|minutes|days)\)", page.may_send.next_check.text())
        stored = page.stored.table.rows()
        assert stored and not [row for row in stored if row[0] in ("settings", "data", "state", "cache", "logs")]
        assert "your license key" in page.stored.keyring.text() and key[-4:] not in page.stored.keyring.text()
        for index in range(page.tabs.count()):
            page.tabs.setCurrentIndex(index)
            if index == 0:
                page.ledger_table.setCurrentCell(rows.index(next(r for r in rows if r[1] == "Re-validate the "
                                                                 "license")), 0)
            if index == 1:
                page.may_send.show_next_check()
            qtbot.waitUntil(lambda: page.tabs.currentIndex() == index)
            cut = {t.accessibleName(): t.cut_off_columns() for t in tables(page) if t.isVisible()}
            assert not any(cut.values()), cut
            save(page, f"privacy-{index}-{theme}", OUTPUT / "gui")


def test_a_datum_in_the_log_leads_to_its_declaration(qtbot: QtBot, lic_ctx: AppContext,
                                                     reference_server: ReferenceServer) -> None:
    report, key = run_a_session(lic_ctx, reference_server)
    page = PrivacyPage()
    qtbot.addWidget(page)
    fill(page, lic_ctx, report)
    page.kind_filter.setCurrentIndex(page.kind_filter.findData("license_validate"))
    [row] = page.ledger_table.rows()
    assert row[1] == "Re-validate the license" and "1 of" in page.ledger_note.text()
    page.ledger_table.setCurrentCell(0, 0)
    detail = page.detail.text()
    assert "…" + key[-4:] in detail and key not in detail
    page.detail.linkActivated.emit("decl:license_validate:fingerprint")
    assert page.tabs.currentWidget() is page.may_send
    catalog_rows = page.catalog_table.rows()
    row_at = page.catalog_table.currentRow()
    assert catalog_rows[row_at][0] == "a one-way code made from this computer's ID (never the ID itself)"
    assert catalog_rows[row_at][1].startswith("v1:")  # this computer's own value
    heading = max(i for i, r in enumerate(catalog_rows[:row_at]) if r[1] == "" and r[0] != "nothing about you")
    assert catalog_rows[heading][0] == "Re-validate the license"
    words = page.may_send.detail.text()
    assert "Recognises this computer" in words and "License &amp; Software Data" in words
    assert "Activation data (device/machine ID)" in words  # the policy's own words, from the shipped text
    page.period_filter.setCurrentIndex(page.period_filter.findData(0))
    assert page.ledger_table.rowCount() == 1  # today's, of that kind


def test_at_200_percent_on_a_1366x768_screen_nothing_is_cut_off(lic_ctx: AppContext,
                                                                reference_server: ReferenceServer,
                                                                tmp_path: Path) -> None:
    report, _key = run_a_session(lic_ctx, reference_server)
    facts = privacy_facts(lic_ctx)
    given = tmp_path / "page.json"
    given.write_text(json.dumps({"entries": lic_ctx.ledger.entries(), "values": facts.values,
                                 "next_check": facts.next_check_at, "files": facts.files,
                                 "keyring": facts.keyring, "report": report}), encoding="utf-8")
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "QT_SCALE_FACTOR": "2", "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-m", "tests.gui.privacy_scaled", str(given), str(OUTPUT / "gui")],
                          env=env, capture_output=True, text=True, timeout=120, check=False, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["device_pixel_ratio"] == 2.0
    assert result["cut_off"] == {}, result["cut_off"]
    assert result["rows"] == len(log_lines(lic_ctx.ledger.entries()))
