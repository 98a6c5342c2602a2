"""The update flow behind the page and the tray, over the REAL UpdateService and reference server: skip (and
its refusal for an important update), channel, the daily check's toggle and its background download, cancel
(running and paused), a release that fails its start check, a release the license does not cover, the
tray's "Install update…", and the notifications with their icons."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtWidgets import QMessageBox, QPushButton
from pytestqt.qtbot import QtBot
from pytestqt.wait_signal import SignalBlocker

from crystal_manager.desktop.tray_state import TrayState, UpdateActivity
from crystal_manager.gui.app import TrayApp
from crystal_manager.gui.update_api import Activity, UpdatesFacts
from crystal_manager.services.update_service import UpdateService
from tests.gui.updates_support import MIB, UpdatesEnv, click_and_wait, menu_texts, updates_env
from tests.support.keyring_memory import MemoryKeyring
from tests.support.servers import ReferenceServer
from tests.support.update_repo import publish


@pytest.fixture
def env(qtbot: QtBot, reference_server: ReferenceServer, app_home: Path, memory_keyring: MemoryKeyring,
        tmp_path: Path) -> Iterator[UpdatesEnv]:
    with updates_env(qtbot, reference_server, app_home, tmp_path, rate=4 * MIB) as made:
        yield made


def wait_done(qtbot: QtBot, app: TrayApp, action: str) -> SignalBlocker:
    return qtbot.waitSignal(app.updates.done, timeout=30_000, check_params_cb=lambda name: name == action)


def saved_settings(env: UpdatesEnv) -> dict[str, object]:
    data: dict[str, object] = json.loads(env.ctx.paths.settings_file.read_text())
    return data


def test_skip_hides_the_offer_and_is_kept(env: UpdatesEnv, reference_server: ReferenceServer,
                                          qtbot: QtBot) -> None:
    publish(reference_server, "1.2.0")
    app = env.make()
    page = app.open_window("updates").updates_page
    click_and_wait(qtbot, app, page.check_button, "check")
    assert app.updates.tray_activity() is UpdateActivity.AVAILABLE
    click_and_wait(qtbot, app, page.skip_button, "skip")
    assert page.headline.text() == "You skipped version 1.2.0"
    assert not page.download_button.isVisibleTo(page)
    assert app.updates.tray_activity() is UpdateActivity.IDLE and app.updates.menu_entry() is None
    assert UpdateService(env.ctx).status().skipped == ("1.2.0",)  # on disk for the next start


def test_an_important_update_cannot_be_skipped(env: UpdatesEnv, reference_server: ReferenceServer,
                                               qtbot: QtBot) -> None:
    publish(reference_server, "1.2.0", critical=True)
    app = env.make()
    page = app.open_window("updates").updates_page
    click_and_wait(qtbot, app, page.check_button, "check")
    assert page.badge.isVisibleTo(page) and not page.skip_button.isVisibleTo(page)
    with wait_done(qtbot, app, "skip"):
        app.updates.skip("1.2.0")  # what a stale page or a script could still ask: the service refuses
    assert page.problem_banner.text() == "That cannot be done\nNothing changed."
    assert page.headline.text() == "CrystalMe3D Pro 1.2.0 is available"


def test_channel_and_daily_check_choices_are_saved(env: UpdatesEnv, reference_server: ReferenceServer,
                                                   qtbot: QtBot) -> None:
    publish(reference_server, "1.2.0")
    publish(reference_server, "1.3.0-beta.1", channel="beta", notes="Early: *new* lattice tools.")
    app = env.make()
    page = app.open_window("updates").updates_page
    click_and_wait(qtbot, app, page.check_button, "check")
    assert page.headline.text() == "CrystalMe3D Pro 1.2.0 is available"
    sent = len(env.ctx.ledger.entries())
    with wait_done(qtbot, app, "channel"):
        page.channel.setCurrentIndex(page.channel.findData("beta"))
    assert page.headline.text() == "CrystalMe3D Pro 1.3.0-beta.1 is available"
    assert page.rows.value("available") == "1.3.0-beta.1 (Beta — early versions)"
    assert len(env.ctx.ledger.entries()) == sent  # decided again from the signed list already here
    assert saved_settings(env)["update_channel"] == "beta"
    with wait_done(qtbot, app, "auto_check"):
        page.auto_check.click()
    assert saved_settings(env)["auto_check_updates"] is False
    assert not page.auto_check.isChecked() and UpdateService(env.ctx).check_due() is False


def test_the_daily_check_downloads_in_the_background_and_says_so(env: UpdatesEnv, reference_server: ReferenceServer,
                                                                 qtbot: QtBot) -> None:
    publish(reference_server, "1.2.0")
    app = env.make()
    shown: list[tuple[str, str, str]] = []
    app.notifier.deliver = lambda title, body, level: shown.append((title, body, level))
    with wait_done(qtbot, app, "download"):
        app.updates.check_if_due()  # the app's timer tick: never checked, so the check is due
    assert app.updates.facts.downloaded == "1.2.0"
    assert [(t, lvl) for t, _b, lvl in shown] == [("Update available", "info"), ("Update downloaded", "info")]
    assert {e["trigger"] for e in env.ctx.ledger.entries() if e["kind"].startswith("update_")} == {"scheduled"}
    assert "Install update 1.2.0…" in menu_texts(app)
    assert app.view().state is TrayState.UPDATE_AVAILABLE
    # The switch that made this happen says so (not only "check"): the words match what just happened.
    switch = app.open_window("updates").updates_page.auto_check
    assert switch.isChecked() and "download" in switch.text().lower()
    assert "installed until you choose" in switch.toolTip()


def test_cancel_while_running_and_while_paused_deletes_the_partial_file(
        env: UpdatesEnv, reference_server: ReferenceServer, qtbot: QtBot) -> None:
    publish(reference_server, "1.2.0", payload_bytes=6 * MIB)
    app = env.make()
    page = app.open_window("updates").updates_page
    downloads = env.ctx.paths.data_dir / "updates" / "downloads"
    click_and_wait(qtbot, app, page.check_button, "check")

    def press_at_first_progress(button: QPushButton) -> None:
        def on_facts(facts: UpdatesFacts) -> None:
            if facts.activity is Activity.DOWNLOADING and facts.progress is not None and facts.progress.received:
                app.updates.facts_changed.disconnect(on_facts)
                button.click()

        app.updates.facts_changed.connect(on_facts)

    press_at_first_progress(page.cancel_button)
    click_and_wait(qtbot, app, page.download_button, "download")
    status = app.updates.facts.status
    assert status is not None and status.pending is None
    assert list(downloads.iterdir()) == []
    assert page.download_button.isVisibleTo(page) and not page.progress_box.isVisibleTo(page)

    press_at_first_progress(page.pause_button)
    click_and_wait(qtbot, app, page.download_button, "download")
    assert app.updates.facts.paused is not None and any(downloads.iterdir())
    click_and_wait(qtbot, app, page.cancel_button, "cancel")
    after_cancel = app.updates.facts  # a new snapshot (the one above was narrowed before the click)
    assert after_cancel.paused is None and after_cancel.problem is None
    assert [p.name for p in downloads.iterdir()] == []


def test_a_release_that_does_not_start_is_rolled_back_and_notified(
        env: UpdatesEnv, reference_server: ReferenceServer, qtbot: QtBot) -> None:
    publish(reference_server, "1.2.0")
    app = env.make()
    page = app.open_window("updates").updates_page
    for button, action in ((page.check_button, "check"), (page.download_button, "download"),
                           (page.install_button, "install")):
        click_and_wait(qtbot, app, button, action)
    publish(reference_server, "1.3.0", broken=True)
    shown: list[tuple[str, str, str]] = []
    app.notifier.deliver = lambda title, body, level: shown.append((title, body, level))
    for button, action in ((page.check_button, "check"), (page.download_button, "download"),
                           (page.install_button, "install")):
        click_and_wait(qtbot, app, button, action)
    assert page.problem_banner.text().startswith("The new version did not start\n")
    assert "previous version was put back" in page.problem_banner.text()
    assert page.rows.value("installed") == "1.2.0"
    assert shown[-1][0] == "Update failed" and shown[-1][2] == "warning"


def test_a_release_the_license_does_not_cover_is_explained(env: UpdatesEnv, reference_server: ReferenceServer,
                                                           qtbot: QtBot) -> None:
    publish(reference_server, "3.0.0")  # the license covers versions up to 2.9
    app = env.make()
    page = app.open_window("updates").updates_page
    click_and_wait(qtbot, app, page.check_button, "check")
    assert page.headline.text() == "Version 3.0.0 is not included in your license"
    assert "2.9" in page.detail.text()
    assert not page.download_button.isVisibleTo(page)
    assert app.updates.tray_activity() is UpdateActivity.IDLE


def test_install_from_the_tray_asks_first(env: UpdatesEnv, reference_server: ReferenceServer, qtbot: QtBot) -> None:
    publish(reference_server, "1.2.0")
    app = env.make()
    page = app.open_window("updates").updates_page
    click_and_wait(qtbot, app, page.check_button, "check")
    click_and_wait(qtbot, app, page.download_button, "download")
    assert app.tray is not None
    menu_texts(app)
    entry = next(a for a in app.tray.menu.actions() if a.text() == "Install update 1.2.0…")
    entry.trigger()
    box = app.window().findChild(QMessageBox, "confirm")
    assert isinstance(box, QMessageBox) and box.isVisible() and "Install CrystalMe3D Pro 1.2.0 now?" in box.text()
    assert app.window().current_page() == "updates"
    yes = next(b for b in box.findChildren(QPushButton) if b.text() == "Install 1.2.0")
    with wait_done(qtbot, app, "install"):
        yes.click()
    assert page.rows.value("installed") == "1.2.0"
    assert not any(text.startswith(("Install update", "Download update")) for text in menu_texts(app))
