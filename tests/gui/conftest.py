"""GUI fixtures: an app context in a temporary home with an in-memory keyring, and the tray app wired
to the typed test double of the licensing service."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from crystal_manager.desktop.autostart import for_platform
from crystal_manager.gui.app import TrayApp
from crystal_manager.gui.instance_server import InstanceServer
from crystal_manager.gui.tray import Tray
from crystal_manager.services.context import AppContext
from tests.support.apps import dispose_apps
from tests.support.fake_license import FakeLicenseService
from tests.support.keyring_memory import MemoryKeyring


@pytest.fixture(autouse=True)
def _an_application(qapp: QApplication) -> QApplication:
    """Every GUI test runs inside the application, as the app's own objects always do: a socket notifier or
    a timer made before any test of its worker had made one warned (a test passed in its file's order and
    failed when xdist ran it first on a worker)."""
    return qapp


def shown_tray(app: TrayApp) -> Tray:
    """The app's tray icon as it is now: read afresh, since an action in between may have replaced it."""
    assert app.tray is not None
    return app.tray


class Probe:
    """The OS fact "is there a tray?", settable by the test."""

    def __init__(self, value: bool) -> None:
        self.value = value

    def __call__(self) -> bool:
        return self.value


@pytest.fixture
def ctx(app_home: Path, memory_keyring: MemoryKeyring) -> Iterator[AppContext]:
    context = AppContext.create()
    yield context
    context.close()


MakeApp = Callable[..., tuple[TrayApp, FakeLicenseService, Probe]]


@pytest.fixture
def make_app(qtbot: QtBot, ctx: AppContext, tmp_path: Path) -> Iterator[MakeApp]:
    made: list[TrayApp] = []

    def make(state: str = "active", *, tray: bool = True, welcome_done: bool = True,
             fake: FakeLicenseService | None = None,
             instance: InstanceServer | None = None) -> tuple[TrayApp, FakeLicenseService, Probe]:
        service = fake or FakeLicenseService(state)
        ctx.settings.welcome_done = welcome_done
        probe = Probe(tray)
        entry = for_platform("linux", {"XDG_CONFIG_HOME": str(tmp_path / "xdg"), "HOME": str(tmp_path)})
        app = TrayApp(ctx, api_factory=lambda _ctx: service, tray_probe=probe, autostart_entry=entry,
                      instance=instance)
        made.append(app)
        with qtbot.waitSignal(app.started):
            app.start()
        if app.license.facts is None and app.error is None:
            qtbot.waitUntil(lambda: app.license.facts is not None or app.error is not None)
        return app, service, probe

    yield make
    dispose_apps(made)
