"""The window never shows an old state: after the app's own activation the Updates and Privacy pages follow;
after ``crystal-manager activate`` / ``update rollback`` run as a real child process while the window is
open, the pages follow; and "Go back to X" acts on the versions read at click time (and again when the user
confirms), never on what the page showed before another process switched them.

Real parts only: the reference server as a child process, the real licensing and update services, the real
CLI as a child process over the same home folder, real widgets offscreen. Screens: test-output/gui-stale/."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PySide6.QtWidgets import QMessageBox, QPushButton
from pytestqt.qtbot import QtBot

from crystal_manager.desktop.autostart import for_platform
from crystal_manager.gui.app import TrayApp
from crystal_manager.gui.license_api import LicenseApi
from crystal_manager.services.context import AppContext
from crystal_manager.services.license_service import LicenseService
from crystal_manager.services.update_service import UpdateService
from tests.gui.updates_support import UpdatesEnv, click_and_wait, updates_env
from tests.support import cli_run
from tests.support.apps import dispose_apps
from tests.support.keyring_memory import MemoryKeyring
from tests.support.licensing import FAST, context, issue, service
from tests.support.render import OUTPUT, save
from tests.support.servers import ReferenceServer
from tests.support.update_repo import publish

OUT = OUTPUT / "gui-stale"


def run_cli(home: Path, server: ReferenceServer, *args: str) -> subprocess.CompletedProcess[str]:
    """``crystal-manager ARGS`` as its own process over the same home folder (the key kept in its file)."""
    env = {**os.environ, "CRYSTAL_MANAGER_HOME": str(home), "PYTHONDONTWRITEBYTECODE": "1",
           "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}
    env.pop("CRYSTAL_MANAGER_PROFILE", None)
    env.pop("CRYSTAL_MANAGER_SERVER", None)
    proc = cli_run.run_cli(["--profile", str(server.profile_file), "--server", server.url, *args], env=env,
                           timeout=90)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def current_on_disk(ctx: AppContext) -> str:
    data = json.loads((ctx.paths.install_root / "current.json").read_text())
    return str(data["current"])


@pytest.fixture
def env(qtbot: QtBot, reference_server: ReferenceServer, app_home: Path, memory_keyring: MemoryKeyring,
        tmp_path: Path) -> Iterator[UpdatesEnv]:
    with updates_env(qtbot, reference_server, app_home, tmp_path) as made:
        yield made


def two_versions(env: UpdatesEnv, server: ReferenceServer) -> None:
    """1.2.0 then 1.3.0 installed (1.2.0 kept), through the real update service before the window opens."""
    updates = UpdateService(env.ctx, license_status=service(env.ctx, config=FAST).status)
    for version in ("1.2.0", "1.3.0"):
        publish(server, version)
        updates.check()
        updates.download()
        updates.install()
    assert current_on_disk(env.ctx) == "1.3.0"


def confirm_box(app: TrayApp) -> QMessageBox | None:
    """The confirmation on screen now (an answered one may linger hidden)."""
    shown = [b for b in app.window().findChildren(QMessageBox, "confirm") if b.isVisible()]
    return shown[-1] if shown else None


def test_a_rollback_in_a_terminal_shows_on_the_open_updates_page(
        env: UpdatesEnv, reference_server: ReferenceServer, app_home: Path, qtbot: QtBot) -> None:
    two_versions(env, reference_server)
    app = env.make()
    page = app.open_window("updates").updates_page
    assert page.rows.value("installed") == "1.3.0"
    run_cli(app_home, reference_server, "update", "rollback")
    qtbot.waitUntil(lambda: page.rows.value("installed") == "1.2.0", timeout=10_000)
    assert page.rollback_button.text().replace("&", "") == "Return to 1.3.0…"
    save(app.window(), "updates-after-cli-rollback", OUT)


def test_go_back_acts_on_the_versions_read_at_click_time_and_asks_again_if_they_change(
        env: UpdatesEnv, reference_server: ReferenceServer, app_home: Path, qtbot: QtBot) -> None:
    two_versions(env, reference_server)
    app = env.make()
    page = app.open_window("updates").updates_page
    assert page.rollback_button.text().replace("&", "") == "Go back to 1.2.0…"
    # Another process goes back; the GUI thread is busy meanwhile, so the page still says "Go back to 1.2.0".
    run_cli(app_home, reference_server, "update", "rollback")
    page.rollback_button.click()
    qtbot.waitUntil(lambda: confirm_box(app) is not None, timeout=10_000)
    box = confirm_box(app)
    assert box is not None
    assert "Return to CrystalMe3D Pro 1.3.0?" in box.text(), box.text()
    assert "changed since the page was shown" in box.text()
    assert page.rows.value("installed") == "1.2.0"  # the page was drawn again before asking

    # While the question is open, the terminal switches once more: "Return to 1.3.0" must not go to 1.2.0.
    run_cli(app_home, reference_server, "update", "rollback")
    assert current_on_disk(env.ctx) == "1.3.0"
    yes = next(b for b in box.findChildren(QPushButton) if b.text() == "Return to 1.3.0")
    with qtbot.waitSignal(app.updates.done, timeout=30_000, check_params_cb=lambda name: name == "rollback"):
        yes.click()
    assert current_on_disk(env.ctx) == "1.3.0"  # nothing was switched behind the label's back
    qtbot.waitUntil(lambda: (box := confirm_box(app)) is not None
                    and "Go back to CrystalMe3D Pro 1.2.0?" in box.text(), timeout=10_000)
    assert page.rows.value("installed") == "1.3.0"
    save(app.window(), "updates-asked-again", OUT)
    again = confirm_box(app)
    assert again is not None
    save(again, "question-asked-again", OUT)
    yes = next(b for b in again.findChildren(QPushButton) if b.text() == "Go back to 1.2.0")
    with qtbot.waitSignal(app.updates.done, timeout=30_000, check_params_cb=lambda name: name == "rollback"):
        yes.click()
    assert current_on_disk(env.ctx) == "1.2.0"


def start_app(qtbot: QtBot, server: ReferenceServer, home: Path, tmp_path: Path,
              licensing: Callable[[AppContext], LicenseApi]) -> tuple[TrayApp, AppContext]:
    """A started tray app over the real services on a computer that is not activated yet."""
    ctx = context(home, server.profile_file, server.url)
    ctx.settings.welcome_done = True
    entry = for_platform("linux", {"XDG_CONFIG_HOME": str(tmp_path / "xdg"), "HOME": str(tmp_path)})
    app = TrayApp(ctx, api_factory=licensing,
                  update_api_factory=lambda c: UpdateService(c, license_status=licensing(c).status),
                  tray_probe=lambda: True, autostart_entry=entry)
    with qtbot.waitSignal(app.started):
        app.start()
    qtbot.waitUntil(lambda: app.updates.facts.status is not None and not app.updates.busy, timeout=15_000)
    return app, ctx


@pytest.fixture
def fresh_app(qtbot: QtBot, reference_server: ReferenceServer, app_home: Path, memory_keyring: MemoryKeyring,
              tmp_path: Path) -> Iterator[tuple[TrayApp, AppContext]]:
    """Not activated; machine "alpha"; the key would go to an in-memory keyring."""
    app, ctx = start_app(qtbot, reference_server, app_home, tmp_path, lambda c: service(c, config=FAST))
    try:
        yield app, ctx
    finally:
        dispose_apps([app])
        ctx.close()


@pytest.fixture
def shared_app(qtbot: QtBot, reference_server: ReferenceServer, app_home: Path,
               tmp_path: Path) -> Iterator[tuple[TrayApp, AppContext]]:
    """Not activated; this computer's real identity and the key file a CLI child process uses too (no
    keyring), so what the terminal stores is what the window reads."""
    import keyring
    import keyring.backends.fail

    previous = keyring.get_keyring()
    keyring.set_keyring(keyring.backends.fail.Keyring())
    app, ctx = start_app(qtbot, reference_server, app_home, tmp_path,
                         lambda c: LicenseService(c, secrets_in_status=False))
    try:
        yield app, ctx
    finally:
        dispose_apps([app])
        ctx.close()
        keyring.set_keyring(previous)


def test_activating_in_the_app_updates_the_updates_and_privacy_pages(
        fresh_app: tuple[TrayApp, AppContext], reference_server: ReferenceServer, qtbot: QtBot) -> None:
    app, _ctx = fresh_app
    publish(reference_server, "1.2.0")
    lic = issue(reference_server.data_dir, plan="pro", seats=2, expires="2099-01-01", max_version="2.9")
    window = app.open_window("updates")
    page = window.updates_page
    click_and_wait(qtbot, app, page.check_button, "check")
    assert not page.download_button.isVisibleTo(page)  # not activated: nothing to download yet
    privacy = window.privacy_page
    qtbot.waitUntil(lambda: "not activated" in privacy.may_send.next_check.text(), timeout=10_000)

    window.license_page.activate_button.click()
    dialog = app.license.dialog
    assert dialog is not None
    with qtbot.waitSignal(dialog.preview_shown):
        dialog.key_edit.setText(lic.key)
    with qtbot.waitSignal(app.license.facts_changed,
                          check_params_cb=lambda facts: facts.status.state == "active"):
        dialog.activate_button.click()
    # No "Check for updates" needed: the stored check is decided again for the activated license.
    qtbot.waitUntil(lambda: page.download_button.isVisibleTo(page), timeout=10_000)
    assert page.headline.text() == "CrystalMe3D Pro 1.2.0 is available"
    qtbot.waitUntil(lambda: privacy.may_send.next_check.text().startswith("Next license check:"), timeout=10_000)
    stored = privacy.stored.table
    names = " ".join(stored.item(r, c).text() for r in range(stored.rowCount())  # type: ignore[union-attr]
                     for c in range(stored.columnCount()) if stored.item(r, c) is not None)
    assert "license" in names.lower()
    window.show_page("updates")
    save(window, "updates-after-activation", OUT)
    window.show_page("privacy")
    save(window, "privacy-after-activation", OUT)


def test_an_activation_in_a_terminal_shows_on_the_open_license_page(
        shared_app: tuple[TrayApp, AppContext], reference_server: ReferenceServer, app_home: Path,
        qtbot: QtBot) -> None:
    app, _ctx = shared_app
    lic = issue(reference_server.data_dir, plan="pro", seats=2, expires="2099-01-01")
    window = app.open_window("license")
    # Every read the window started on opening is done: nothing in flight could pick up the change by luck.
    qtbot.waitUntil(lambda: app.license.facts is not None and app.license.facts.secrets is not None,
                    timeout=10_000)
    assert window.license_page.rows.value("state") == "Not activated"
    run_cli(app_home, reference_server, "activate", lic.key)
    qtbot.waitUntil(lambda: window.license_page.rows.value("state") == "Active", timeout=10_000)
    assert app.license.facts is not None and app.license.facts.status.state == "active"
    save(window, "license-after-cli-activate", OUT)
