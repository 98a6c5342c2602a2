"""Render the License page, the activation dialog and the machines dialog to PNG, light and dark, FROM REAL
STATES: the real LicenseService over the real reference server, each state reached the way a user would
reach it. Pictures go to test-output/gui-e2e/ (not committed) for people to look at."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PySide6.QtWidgets import QWidget
from pytestqt.qtbot import QtBot

from crystal_manager.desktop.autostart import for_platform
from crystal_manager.gui.app import TrayApp
from crystal_manager.gui.dialogs.activation import ActivationDialog
from crystal_manager.gui.dialogs.machines import MachinesDialog
from crystal_manager.gui.problems import ProblemKind
from crystal_manager.services.context import AppContext
from crystal_protocol.licensekey import generate_key
from tests.support.apps import dispose_apps
from tests.support.licensing import FAST, ISSUED_KEYS, Clock, context_at, issue, service
from tests.support.render import OUTPUT, save, themed
from tests.support.servers import ReferenceServer

OUT = OUTPUT / "gui-e2e"

#: Each wait covers a round trip to the server; generous, since a loaded machine is slow, not broken.
WAIT = 30_000


@pytest.fixture(params=["light", "dark"])
def theme(request: pytest.FixtureRequest) -> Iterator[str]:
    with themed(request.param) as name:
        yield name


class Shots:
    """Saves pictures named ``<what>-<theme>.png``."""

    def __init__(self, theme: str) -> None:
        self.theme = theme

    def __call__(self, widget: QWidget, what: str) -> Path:
        return save(widget, f"{what}-{self.theme}", OUT)


@pytest.fixture
def start_app(qtbot: QtBot, lic_ctx: AppContext, tmp_path: Path) -> Iterator[Callable[[Clock], TrayApp]]:
    made: list[TrayApp] = []

    def make(clock: Clock) -> TrayApp:
        lic_ctx.settings.welcome_done = True
        entry = for_platform("linux", {"XDG_CONFIG_HOME": str(tmp_path / "xdg"), "HOME": str(tmp_path)})
        app = TrayApp(lic_ctx, api_factory=lambda ctx: service(ctx, name="alpha", clock=clock, config=FAST),
                      tray_probe=lambda: True, autostart_entry=entry)
        made.append(app)
        with qtbot.waitSignal(app.started, timeout=WAIT):
            app.start()
        window = app.open_window("license")
        window.resize(760, 560)
        qtbot.waitUntil(lambda: app.license.facts is not None and app.license.facts.secrets is not None, timeout=WAIT)
        return app

    yield make
    dispose_apps(made)


def activate_in(qtbot: QtBot, dialog: ActivationDialog, key: str) -> None:
    with qtbot.waitSignal(dialog.preview_shown, timeout=WAIT):
        dialog.key_edit.setText(key)
    with qtbot.waitSignal(dialog.failed, timeout=WAIT):
        dialog.activate_button.click()


def verify(qtbot: QtBot, app: TrayApp, state: str, *, fails: bool = True) -> None:
    page = app.window().license_page
    signal = app.license.failed if fails else app.license.facts_changed
    # The button is off while a read that followed the last action still runs: a click then does nothing.
    qtbot.waitUntil(page.verify_button.isEnabled, timeout=WAIT)
    with qtbot.waitSignal(signal, timeout=WAIT):
        page.verify_button.click()
    qtbot.waitUntil(lambda: app.license.facts is not None and app.license.facts.status.state == state, timeout=WAIT)


def admin(server: ReferenceServer, *args: str) -> None:
    proc = server.admin("license", args[0], str(server.data_dir), *args[1:])
    assert proc.returncode == 0, proc.stderr


def test_online_journey(start_app: Callable[[Clock], TrayApp], reference_server: ReferenceServer,
                        lic_ctx: AppContext, qtbot: QtBot, theme: str, tmp_path: Path) -> None:
    shot = Shots(theme)
    app = start_app(Clock())
    page = app.window().license_page
    shot(app.window(), "license-not_activated")
    dialog = app.license.open_activation(app.window())
    shot(dialog, "activation-empty")

    good = issue(reference_server.data_dir, plan="pro", seats=3, expires="2099-01-01")
    dialog.key_edit.setText(good.key[:-1] + ("A" if good.key[-1] != "A" else "B"))
    assert not dialog.activate_button.isEnabled()  # the note under the key says why; nothing can be sent
    shot(dialog, "activation-typo")

    unknown = generate_key()
    ISSUED_KEYS.add(unknown)
    with qtbot.waitSignal(dialog.preview_shown, timeout=WAIT):
        dialog.key_edit.setText(unknown)
    shot(dialog, "activation-preview")
    with qtbot.waitSignal(dialog.failed, timeout=WAIT) as failed:
        dialog.activate_button.click()
    assert failed.args[0].kind is ProblemKind.NOT_FOUND
    shot(dialog, "activation-not_found")

    full = issue(reference_server.data_dir, seats=1)
    other = context_at(tmp_path / "studio", reference_server.profile_file, reference_server.url)
    service(other, name="studio", config=FAST).activate(full.key)
    activate_in(qtbot, dialog, full.key)
    shot(dialog, "activation-seat_limit")
    dialog.machines_button.click()
    machines = dialog.findChild(MachinesDialog)
    assert isinstance(machines, MachinesDialog)
    table = machines.table
    qtbot.waitUntil(lambda: table.rowCount() == 1, timeout=WAIT)
    machines.table.selectRow(0)
    shot(machines, "machines-seat_limit")
    machines.close()

    ended = issue(reference_server.data_dir)
    admin(reference_server, "update", ended.license_id, "--expires", "2020-01-01")
    activate_in(qtbot, dialog, ended.key)
    shot(dialog, "activation-expired")

    with qtbot.waitSignal(dialog.preview_shown, timeout=WAIT):
        dialog.key_edit.setText(good.key)
    with qtbot.waitSignal(app.license.facts_changed, timeout=WAIT):
        dialog.activate_button.click()
    service(other, name="studio", config=FAST).activate(good.key)
    other.close()
    verify(qtbot, app, "active", fails=False)
    shot(app.window(), "license-active")
    # Off while a read that followed the verify still runs.
    qtbot.waitUntil(page.machines_button.isEnabled, timeout=WAIT)
    page.machines_button.click()
    # The window also holds the machine list opened from the activation dialog above (closed, not yet
    # deleted): take the one open now, whichever findChild would meet first.
    shown = [found for found in app.window().findChildren(MachinesDialog) if found.isVisible()]
    assert len(shown) == 1
    machines = shown[0]
    qtbot.waitUntil(lambda: machines.table.rowCount() == 2, timeout=WAIT)
    shot(machines, "machines")
    machines.close()

    admin(reference_server, "update", good.license_id, "--status", "past_due")
    verify(qtbot, app, "active", fails=False)
    shot(app.window(), "license-past_due")

    admin(reference_server, "revoke", good.license_id)
    verify(qtbot, app, "revoked")
    shot(app.window(), "license-revoked")

    admin(reference_server, "update", good.license_id, "--status", "active", "--expires", "2020-01-01")
    verify(qtbot, app, "expired")
    shot(app.window(), "license-expired")


def test_trial_then_offline_then_locked(start_app: Callable[[Clock], TrayApp], reference_server: ReferenceServer,
                                        lic_ctx: AppContext, qtbot: QtBot, theme: str) -> None:
    shot = Shots(theme)
    clock = Clock()
    trial = issue(reference_server.data_dir, trial_days=10, expires="never")
    service(lic_ctx, name="alpha", clock=clock, config=FAST).activate(trial.key)
    app = start_app(clock)
    assert app.license.facts is not None and app.license.facts.status.state == "trial"
    shot(app.window(), "license-trial")

    reference_server.running.stop()
    verify(qtbot, app, "offline_grace")
    shot(app.window(), "license-offline_grace")
    dialog = app.license.open_activation(app.window())
    activate_in(qtbot, dialog, trial.key)
    shot(dialog, "activation-offline")
    dialog.close()

    clock.advance(days=15)
    with qtbot.waitSignal(app.license.facts_changed, timeout=WAIT):
        app.license.refresh()
    assert app.license.facts is not None and app.license.facts.status.state == "locked"
    shot(app.window(), "license-locked")
