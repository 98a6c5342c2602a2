"""The Privacy page's choices over the real licensing service and the real reference server: ask the
vendor what it holds, pause background checks, ask the vendor to delete, delete everything here."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from crystal_manager.desktop.autostart import for_platform
from crystal_manager.gui.app import TrayApp
from crystal_manager.gui.pages.privacy_page import PrivacyPage
from crystal_manager.services.context import AppContext
from crystal_manager.services.update_service import UpdateService
from crystal_server import store
from tests.support.apps import dispose_apps
from tests.support.licensing import FAST, Issued, issue, service
from tests.support.servers import ReferenceServer


@pytest.fixture
def activated_app(qtbot: QtBot, lic_ctx: AppContext, reference_server: ReferenceServer,
                  tmp_path: Path) -> Iterator[tuple[TrayApp, PrivacyPage, Issued]]:
    """An activated machine's tray app (real service, real server), its Privacy page open."""
    lic = issue(reference_server.data_dir)
    assert service(lic_ctx, name="alpha", config=FAST).activate(lic.key, label="Studio PC").state == "active"
    lic_ctx.settings.welcome_done = True
    entry = for_platform("linux", {"XDG_CONFIG_HOME": str(tmp_path / "xdg"), "HOME": str(tmp_path)})
    app = TrayApp(lic_ctx, api_factory=lambda ctx: service(ctx, name="alpha", config=FAST),
                  tray_probe=lambda: True, autostart_entry=entry)
    with qtbot.waitSignal(app.started):
        app.start()
    qtbot.waitUntil(lambda: app.license.facts is not None)
    page = app.open_window("privacy").privacy_page
    qtbot.waitUntil(lambda: page.ledger_table.rowCount() >= 1)
    yield app, page, lic
    dispose_apps([app])


def machines(server: ReferenceServer) -> list[dict[str, object]]:
    conn = store.connect(server.data_dir)
    try:
        return [dict(row) for row in conn.execute("SELECT * FROM machines")]
    finally:
        conn.close()


def answer(page: PrivacyPage, yes: bool) -> list[str]:
    asked: list[str] = []

    def confirm(title: str, text: str) -> bool:
        asked.append(f"{title}: {text}")
        return yes

    page.choices.confirm = confirm
    return asked


def test_the_vendor_tab_shows_what_the_server_holds(qtbot: QtBot, lic_ctx: AppContext,
                                                   activated_app: tuple[TrayApp, PrivacyPage, Issued]) -> None:
    _app, page, lic = activated_app
    page.vendor.ask_button.click()
    qtbot.waitUntil(lambda: page.vendor.table.rowCount() >= 3, timeout=10_000)
    cells = [row for row in page.vendor.table.rows()]
    assert cells[0][0] == "Your license" and cells[0][1].endswith("…" + lic.key[-4:])
    assert "digest" not in cells[0][1] and "scrambled form" in cells[0][1]  # in words, not a hashing term
    assert cells[1][0] == "Computer “Studio PC”"
    assert [e["kind"] for e in lic_ctx.ledger.entries()][-1] == "license_access"
    qtbot.waitUntil(lambda: page.ledger_table.rows()[0][1] == "See what the vendor holds")  # the log, live


def test_pause_is_saved_and_the_scheduled_update_check_does_not_run(
        qtbot: QtBot, lic_ctx: AppContext, activated_app: tuple[TrayApp, PrivacyPage, Issued]) -> None:
    app, page, _lic = activated_app
    assert not page.choices.pause.isChecked() and UpdateService(lic_ctx).check_due()
    page.choices.pause.click()
    saved = json.loads(lic_ctx.paths.settings_file.read_text(encoding="utf-8"))
    assert saved["background_checks_paused"] is True
    assert page.choices.result.text() == "Background checks are paused."
    assert "grace period" in page.choices.pause_note.text()
    qtbot.waitUntil(lambda: "your license works until" in page.choices.pause_note.text())
    assert not UpdateService(lic_ctx).check_due()
    # The license check is due, yet the scheduled check sends nothing while paused.
    engine = service(lic_ctx, name="alpha", config=FAST).engine
    record = engine.load()
    record.set_time("next_check_at", datetime.now(UTC) - timedelta(hours=1))
    engine.save(record)
    sent = len(lic_ctx.ledger.entries())
    with qtbot.waitSignal(app.license.facts_changed, timeout=10_000):
        app.license.verify_if_due()
    assert len(lic_ctx.ledger.entries()) == sent
    page.choices.pause.click()
    assert json.loads(lic_ctx.paths.settings_file.read_text(encoding="utf-8"))["background_checks_paused"] is False
    app.license.verify_if_due()  # on again: the due check goes out
    qtbot.waitUntil(lambda: [e["kind"] for e in lic_ctx.ledger.entries()][-1:] == ["license_validate"],
                    timeout=10_000)


def test_asking_the_vendor_to_delete_this_computer(qtbot: QtBot, lic_ctx: AppContext,
                                                   reference_server: ReferenceServer,
                                                   activated_app: tuple[TrayApp, PrivacyPage, Issued]) -> None:
    app, page, _lic = activated_app
    asked = answer(page, yes=False)
    page.choices.request.click()
    assert asked and "The license itself is kept" in asked[0] and len(machines(reference_server)) == 1
    asked = answer(page, yes=True)
    page.choices.all_machines.setChecked(True)
    page.choices.request.click()
    assert "EVERY computer" in asked[0]
    qtbot.waitUntil(lambda: "deleted the data of 1" in page.choices.result.text(), timeout=10_000)
    assert machines(reference_server) == []
    assert [e["kind"] for e in lic_ctx.ledger.entries()][-1] == "license_deletion"
    qtbot.waitUntil(lambda: app.license.facts is not None and app.license.facts.status.state == "not_activated")


def test_deleting_everything_here_frees_the_seat_first(qtbot: QtBot, lic_ctx: AppContext,
                                                       reference_server: ReferenceServer,
                                                       activated_app: tuple[TrayApp, PrivacyPage, Issued]) -> None:
    app, page, _lic = activated_app
    page.tabs.setCurrentWidget(page.stored)
    qtbot.waitUntil(lambda: page.stored.table.rowCount() >= 2)
    assert any(row[0].startswith("the privacy log") for row in page.stored.table.rows())
    answer(page, yes=True)
    with qtbot.waitSignal(app.quit_requested, timeout=10_000):
        page.choices.delete_local.click()
    assert page.choices.result.text().startswith("This computer was deactivated. Deleted")
    [machine] = machines(reference_server)
    assert machine["deactivated_at"] and not machine["fingerprint"]
    assert lic_ctx.secrets.get("license_key") is None and lic_ctx.secrets.get("machine_key") is None
    home = lic_ctx.paths.data_dir.parent
    assert [p for p in home.rglob("*") if p.is_file() and "xdg" not in p.parts] == []
