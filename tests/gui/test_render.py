"""Render every page, the dialogs in each state, the welcome and the tray menu to PNG, light and dark,
into test-output/gui/ (not committed) for people to look at; each image must be a real, non-blank picture."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtWidgets import QWidget
from pytestqt.qtbot import QtBot

from crystal_manager.gui.dialogs.activation import ActivationDialog
from crystal_manager.gui.dialogs.welcome import WelcomeDialog
from crystal_manager.gui.window import PAGES
from crystal_manager.licensing import errors as lic
from crystal_manager.net import errors as net
from tests.gui.conftest import MakeApp
from tests.support.fake_license import KEY, STATES, FakeLicenseService
from tests.support.render import OUTPUT, themed
from tests.support.render import save as save_png

OUT = OUTPUT / "gui"


@pytest.fixture(params=["light", "dark"])
def theme(request: pytest.FixtureRequest) -> Iterator[str]:
    with themed(request.param) as name:
        yield name


def save(widget: QWidget, name: str) -> Path:
    return save_png(widget, name, OUT)


@pytest.mark.parametrize("state", ["not_activated", "active", "trial", "offline_grace", "expired", "locked"])
def test_window_pages(make_app: MakeApp, theme: str, state: str) -> None:
    if state != "active":
        keyring_fallback = state == "offline_grace"
        if keyring_fallback:
            import keyring
            import keyring.backends.fail

            keyring.set_keyring(keyring.backends.fail.Keyring())
    app, _fake, _probe = make_app(state, tray=True)
    window = app.open_window("license")
    save(window, f"license-{state}-{theme}")
    if state == "active":
        for page in PAGES[1:]:
            window.show_page(page)
            save(window, f"{page}-{theme}")


def test_tray_menu(make_app: MakeApp, theme: str) -> None:
    for state in ("active", "offline_grace", "not_activated"):
        app, _fake, _probe = make_app(state, tray=True)
        assert app.tray is not None
        app.tray.menu.aboutToShow.emit()
        app.tray.menu.adjustSize()
        save(app.tray.menu, f"tray-menu-{state}-{theme}")


@pytest.mark.parametrize(("name", "exc"), [
    ("typo", None), ("preview", None), ("seat-limit", lic.SeatLimitReached("2 of 2 seats in use")),
    ("expired", lic.SubscriptionExpired("the subscription ended on 28 Feb 2026")),
    ("tls", net.TLSFailed("secure connection to licensing.crystalme3dpro.com failed: self-signed certificate")),
    ("offline", net.ConnectFailed("cannot reach licensing.crystalme3dpro.com: connection refused")),
    ("revoked", lic.LicenseRevoked("revoked on 1 Mar 2026")),
])
def test_activation_dialog_states(qtbot: QtBot, theme: str, name: str, exc: Exception | None) -> None:
    fake = FakeLicenseService("not_activated")
    dlg = ActivationDialog(fake)
    qtbot.addWidget(dlg)
    dlg.show()
    if name == "typo":
        dlg.key_edit.setText(KEY[:-1] + ("A" if KEY[-1] != "A" else "B"))  # the note says it; Activate is off
    else:
        with qtbot.waitSignal(dlg.preview_shown):
            dlg.key_edit.setText(KEY)
        if exc is not None:
            fake.fail["activate"] = exc
            with qtbot.waitSignal(dlg.failed):
                dlg.activate_button.click()
    save(dlg, f"activation-{name}-{theme}")


def test_machines_and_welcome(make_app: MakeApp, qtbot: QtBot, theme: str) -> None:
    app, _fake, _probe = make_app("active", tray=True)
    dialog = app.license.open_machines(app.open_window("license"))
    with qtbot.waitSignal(dialog.loaded):
        pass
    dialog.table.selectRow(1)
    save(dialog, f"machines-{theme}")
    dialog.close()
    welcome = WelcomeDialog(needs_activation=True)
    qtbot.addWidget(welcome)
    welcome.show()
    save(welcome, f"welcome-{theme}")


def test_fake_states_cover_the_status_states() -> None:
    assert {"not_activated", "active", "trial", "offline_grace", "locked", "expired", "revoked"} <= set(STATES)
