"""The tray tells "an update is available" (to download) from "an update is ready to install" (downloaded
and verified), as its menu does: the words from the real tray rules, then the real app over the real
UpdateService and reference server."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from crystal_manager.desktop.tray_state import TrayInputs, TrayState, UpdateActivity, decide
from crystal_manager.gui.texts import extra_line
from crystal_manager.services.status import LicenseStatus
from tests.gui.updates_support import MIB, UpdatesEnv, click_and_wait, menu_texts, updates_env
from tests.support.keyring_memory import MemoryKeyring
from tests.support.servers import ReferenceServer
from tests.support.update_repo import publish

TODAY = date(2026, 11, 30)
ACTIVE = LicenseStatus(state="active", renews_at="2027-03-20T00:00:00Z")


@pytest.mark.parametrize(("activity", "words"), [
    (UpdateActivity.AVAILABLE, "An update is available"),
    (UpdateActivity.READY, "An update is ready to install"),
    (UpdateActivity.DOWNLOADING, "Downloading an update…"),
    (UpdateActivity.IDLE, None),
])
def test_tray_words_for_each_update_activity(activity: UpdateActivity, words: str | None) -> None:
    view = decide(TrayInputs(ACTIVE, activity), today=TODAY)
    assert extra_line(view) == words
    if activity in (UpdateActivity.AVAILABLE, UpdateActivity.READY):
        assert view.state is TrayState.UPDATE_AVAILABLE  # one icon for both: the words tell them apart


def test_ready_never_outranks_what_needs_the_user_first() -> None:
    view = decide(TrayInputs(LicenseStatus(state="offline_grace", grace_days_left=3), UpdateActivity.READY),
                  today=TODAY)
    assert view.state is TrayState.OFFLINE_GRACE and not view.update_ready


@pytest.fixture
def env(qtbot: QtBot, reference_server: ReferenceServer, app_home: Path, memory_keyring: MemoryKeyring,
        tmp_path: Path) -> Iterator[UpdatesEnv]:
    with updates_env(qtbot, reference_server, app_home, tmp_path, rate=16 * MIB) as made:
        yield made


def test_the_tray_says_ready_to_install_once_downloaded(env: UpdatesEnv, reference_server: ReferenceServer,
                                                        qtbot: QtBot) -> None:
    publish(reference_server, "1.2.0")
    app = env.make()
    page = app.open_window("updates").updates_page
    click_and_wait(qtbot, app, page.check_button, "check")
    assert app.updates.tray_activity() is UpdateActivity.AVAILABLE
    tray = app.tray
    assert tray is not None
    qtbot.waitUntil(lambda: "An update is available" in tray.icon.toolTip())
    click_and_wait(qtbot, app, page.download_button, "download")
    assert app.updates.tray_activity() is UpdateActivity.READY
    qtbot.waitUntil(lambda: "An update is ready to install" in tray.icon.toolTip())
    assert any(text.startswith("Install") for text in menu_texts(app))
