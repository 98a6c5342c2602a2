"""The License page renders every state's facts, the keyring fallback warning, and runs its actions in
the background through the service boundary (a typed test double until licensing lands)."""

from __future__ import annotations

import keyring
import keyring.backends.fail
import pytest
from PySide6.QtWidgets import QMessageBox
from pytestqt.qtbot import QtBot

from crystal_manager.desktop.tray_state import TrayState
from crystal_manager.gui.dialogs.machines import MachinesDialog
from crystal_manager.licensing import errors as lic
from crystal_manager.net import errors as net
from crystal_manager.services.usertext import explain
from tests.gui.conftest import MakeApp
from tests.support.fake_license import KEY, STATES


def page_for(make_app: MakeApp, state: str, qtbot: QtBot):  # type: ignore[no-untyped-def]
    app, fake, _probe = make_app(state, tray=True)
    page = app.open_window("license").license_page
    # Building the window asks once more, now with where secrets are kept: wait for that answer.
    qtbot.waitUntil(lambda: app.license.facts is not None and app.license.facts.secrets is not None)
    return app, fake, page


@pytest.mark.parametrize(("state", "rows"), [
    ("not_activated", {"state": "Not activated", "plan": None, "seats": None, "key": None}),
    ("active", {"state": "Active", "plan": "Pro", "renews": "20 Mar 2027", "seats": "2 of 3 in use",
                "key": "ending in " + KEY[-4:], "verified": "9 Mar 2026", "grace": None}),
    ("trial", {"state": "Trial", "trial": "9 days left", "expires": "19 Mar 2026", "seats": "1 of 1 in use"}),
    ("offline_grace", {"state": "Offline — grace period", "message":
                       "The licensing server has not answered since 9 Mar 2026."}),
    ("expired", {"state": "Expired", "expires": "28 Feb 2026"}),
    ("revoked", {"state": "Revoked"}),
    ("locked", {"state": "Locked"}),
])
def test_facts_for_each_state(make_app: MakeApp, qtbot: QtBot, state: str, rows: dict[str, str | None]) -> None:
    _app, _fake, page = page_for(make_app, state, qtbot)
    for key, expected in rows.items():
        shown = page.rows.value(key)
        if expected is None:
            assert shown is None, key
        else:
            assert shown is not None and shown.startswith(expected), (key, shown)
    # A locked license keeps its key here: Verify now (first, the default) unlocks it, not a new key.
    needs_key = state in ("not_activated", "expired", "revoked")
    assert page.activate_button.isVisibleTo(page) == needs_key
    assert page.verify_button.isVisibleTo(page) == (state != "not_activated")
    assert page.verify_button.isDefault() == (state != "not_activated")
    machine_actions = state not in ("not_activated", "locked")
    assert page.machines_button.isVisibleTo(page) == machine_actions
    assert page.deactivate_button.isVisibleTo(page) == machine_actions
    # The window's menu offers "Activate…" exactly when the page does (not while the license runs).
    window = page.window()
    assert window.activate_action.isVisible() == needs_key
    assert page.busy.isHidden()  # no empty progress line above the buttons while nothing runs


def test_grace_countdown_is_visible(make_app: MakeApp, qtbot: QtBot) -> None:
    _app, _fake, page = page_for(make_app, "offline_grace", qtbot)
    grace = page.rows.value("grace")
    assert grace is not None and grace.startswith("4 days left (until ")


def test_keyring_fallback_is_said_plainly(make_app: MakeApp, qtbot: QtBot) -> None:
    keyring.set_keyring(keyring.backends.fail.Keyring())  # no backend, as on a headless Linux
    _app, _fake, page = page_for(make_app, "active", qtbot)
    assert page.secrets_banner.isVisibleTo(page)
    assert "No system keyring found" in page.secrets_banner.text()
    assert "secrets.json" in page.secrets_banner.text()


def test_secure_keyring_shows_no_warning(make_app: MakeApp, qtbot: QtBot) -> None:
    _app, _fake, page = page_for(make_app, "active", qtbot)
    assert not page.secrets_banner.isVisibleTo(page)


def test_verify_now_runs_in_background_and_updates(make_app: MakeApp, qtbot: QtBot) -> None:
    app, fake, page = page_for(make_app, "active", qtbot)
    fake.current = STATES["offline_grace"]
    with qtbot.waitSignal(app.license.facts_changed):
        page.verify_button.click()
        assert page.busy.text() == "Verifying with the licensing server…"
        assert not page.verify_button.isEnabled()
    assert "verify" in fake.calls and page.rows.value("state") == "Offline — grace period"
    assert page.verify_button.isEnabled() and not page.busy.isVisibleTo(page)


@pytest.mark.parametrize(("exc", "headline"), [
    (net.ConnectFailed("cannot reach 127.0.0.1"), "Not verified: the licensing server cannot be reached"),
    (net.TLSFailed("certificate verify failed"), "Not verified: a proxy or secure-connection problem"),
    (net.ProxyFailed("407"), "Not verified: a proxy or secure-connection problem"),
    (net.TimedOut("no answer"), "Not verified: the licensing server did not answer in time"),
    (lic.LicensingOffline("unsigned answer"), "Not verified: the licensing server cannot be reached"),
    (lic.StaleAnswer("the signed date is 3 days from this computer's clock", 259200),
     "Not verified: this computer's clock looks wrong"),
    (lic.LicenseRevoked("revoked on 1 Mar"), "Not verified: this license was revoked"),
    (lic.SubscriptionExpired("ended 28 Feb"), "Not verified: the subscription has ended"),
])
def test_verify_failure_says_what_happened(make_app: MakeApp, qtbot: QtBot, exc: Exception,
                                           headline: str) -> None:
    app, fake, page = page_for(make_app, "active", qtbot)
    fake.fail["verify"] = exc
    with qtbot.waitSignal(app.license.failed):
        page.verify_button.click()
    assert page.problem_banner.isVisibleTo(page)
    assert page.problem_banner.text().startswith(headline)
    assert explain(exc)[0] in page.problem_banner.text()  # the words come from the one place
    assert "Nothing changed" not in page.problem_banner.text()  # the state may have changed (grace)


def test_a_failed_deactivation_is_not_a_failed_verification(make_app: MakeApp, qtbot: QtBot) -> None:
    app, fake, page = page_for(make_app, "active", qtbot)
    fake.fail["deactivate"] = net.ConnectFailed("cannot reach 127.0.0.1")
    page.deactivate_button.click()
    qtbot.waitUntil(lambda: app.window().findChild(QMessageBox, "confirm") is not None)
    box = app.window().findChild(QMessageBox, "confirm")
    assert isinstance(box, QMessageBox)
    with qtbot.waitSignal(app.license.failed) as failed:
        next(b for b in box.buttons() if b.text() == "Deactivate").click()
    text = page.problem_banner.text()
    assert failed.args[0].headline.startswith("Not deactivated") and text.startswith("Not deactivated")
    assert "still activated" in text and "verif" not in text.split("\n")[0].lower()


def test_deactivate_asks_first_then_frees_the_seat(make_app: MakeApp, qtbot: QtBot) -> None:
    app, fake, page = page_for(make_app, "active", qtbot)
    page.deactivate_button.click()
    qtbot.waitUntil(lambda: app.window().findChild(QMessageBox, "confirm") is not None)
    box = app.window().findChild(QMessageBox, "confirm")
    assert isinstance(box, QMessageBox) and "deactivate" not in fake.calls
    yes = next(b for b in box.buttons() if b.text() == "Deactivate")
    with qtbot.waitSignal(app.license.facts_changed):
        yes.click()
    assert "deactivate" in fake.calls and page.rows.value("state") == "Not activated"


def test_manage_machines_lists_and_frees_another_seat(make_app: MakeApp, qtbot: QtBot) -> None:
    app, _fake, page = page_for(make_app, "active", qtbot)
    with qtbot.waitSignal(app.window().license_page.machines_requested):
        page.machines_button.click()
    dialog = app.window().findChild(MachinesDialog)
    assert isinstance(dialog, MachinesDialog)
    qtbot.waitUntil(lambda: dialog.table.rowCount() == 3)
    assert dialog.seats.text() == "3 of 3 seats in use"
    first = dialog.table.item(0, 0)
    assert first is not None and first.text() == "This computer (this machine)"
    dialog.table.selectRow(2)
    assert dialog.selected() is not None and dialog.selected().label == "Old laptop"  # type: ignore[union-attr]
    dialog.deactivate_button.click()
    box = dialog.findChild(QMessageBox, "confirm")
    assert isinstance(box, QMessageBox) and "“Old laptop”" in box.text()
    with qtbot.waitSignal(dialog.loaded):
        next(b for b in box.buttons() if b.text() == "Deactivate").click()
    assert dialog.table.rowCount() == 2 and dialog.seats.text() == "2 of 2 seats in use"
    dialog.close()


def test_stop_waiting_for_a_hanging_verify(make_app: MakeApp, qtbot: QtBot) -> None:
    import threading

    app, fake, page = page_for(make_app, "active", qtbot)
    gate = fake.gates["verify"] = threading.Event()
    page.verify_button.click()
    assert page.stop_button.isVisibleTo(page) and not page.verify_button.isEnabled()
    with qtbot.waitSignal(app.license.failed) as failed:
        page.stop_button.click()
    assert failed.args[0].headline == "Not verified: you stopped waiting"
    assert not page.stop_button.isVisibleTo(page) and page.verify_button.isEnabled()
    # The user's own choice, with the license still Active: information, not a red failure, in the page
    # and in the tray.
    assert page.problem_banner.level == "info"
    assert app.view().state is TrayState.ACTIVE
    with qtbot.waitSignal(app.license.facts_changed):
        gate.set()  # the late answer still shows (it is the truth), without a problem banner


def test_a_damaged_key_file_shows_when_the_page_opens(make_app: MakeApp, qtbot: QtBot) -> None:
    import keyring
    import keyring.backends.fail

    keyring.set_keyring(keyring.backends.fail.Keyring())  # no keyring: the user-only file holds the key
    app, _fake, _probe = make_app("active", tray=True)
    secrets = app.ctx.paths.secrets_fallback_file
    secrets.parent.mkdir(parents=True, exist_ok=True)
    secrets.write_bytes(b"\x00garbage{{")
    window = app.open_window("license")
    page = window.license_page
    qtbot.waitUntil(lambda: page.rows.value("state") == "Not activated")
    note = page.rows.value("message") or ""
    kept = list(secrets.parent.glob(secrets.name + ".damaged-*"))
    assert len(kept) == 1 and kept[0].read_bytes() == b"\x00garbage{{" and str(kept[0]) in note
    assert "damaged" in note and page.activate_button.isVisibleTo(page)
    # Nothing beside "Not activated" claims a seat, a key or a key file in use, nor speaks in permission bits.
    assert page.rows.value("seats") is None and page.rows.value("key") is None
    banner = page.secrets_banner.text()
    assert "is kept in a file" not in banner and "0600" not in banner, banner


def test_a_check_that_answers_after_a_later_read_still_shows(make_app: MakeApp, qtbot: QtBot) -> None:
    # A damaged license.json shows "Locked"; the app's own check re-validates it, but a read of the local
    # state that started later and finished first used to win: the page and the tray stayed "Locked".
    import threading

    from tests.support.fake_license import STATES

    app, fake, page = page_for(make_app, "active", qtbot)
    app.follow_files(False)  # this is about the order of answers alone, not about the file watch
    qtbot.waitUntil(lambda: "verify_if_due" in fake.calls)  # the check at start has answered "Active"
    fake.current = STATES["locked"]
    with qtbot.waitSignal(app.license.facts_changed):
        app.license.refresh()
    assert page.rows.value("state") == "Locked"
    gate = fake.gates["verify"] = threading.Event()
    page.verify_button.click()
    with qtbot.waitSignal(app.license.facts_changed):
        app.license.refresh()  # started after the check, answers before it: still "Locked"
    assert page.rows.value("state") == "Locked"
    fake.current = STATES["active"]
    gate.set()
    qtbot.waitUntil(lambda: page.rows.value("state") == "Active")
    assert app.view().state is TrayState.ACTIVE
