"""The activation dialog: local typo check (nothing sent), what will be sent shown BEFORE sending, and
errors that say what really happened, with the next step."""

from __future__ import annotations

import threading

import pytest
from pytestqt.qtbot import QtBot

from crystal_manager.gui.dialogs.activation import ActivationDialog
from crystal_manager.gui.dialogs.machines import MachinesDialog
from crystal_manager.gui.problems import ACCOUNT_URL
from crystal_manager.licensing import errors as lic
from crystal_manager.net import errors as net
from crystal_manager.services.usertext import explain
from tests.support.fake_license import KEY, FakeLicenseService

LABEL_ROW = "label"


@pytest.fixture
def dialog(qtbot: QtBot) -> tuple[ActivationDialog, FakeLicenseService]:
    fake = FakeLicenseService("not_activated")
    dlg = ActivationDialog(fake)
    qtbot.addWidget(dlg)
    dlg.show()
    return dlg, fake


def test_typo_is_caught_locally_and_nothing_is_sent(dialog: tuple[ActivationDialog, FakeLicenseService],
                                                    qtbot: QtBot) -> None:
    dlg, fake = dialog
    dlg.key_edit.setText(KEY[:-1])
    assert dlg.format_note.text() == "Not a complete key yet."
    assert dlg.preview.rowCount() == 0
    assert not dlg.activate_button.isEnabled()  # a key known to be wrong cannot be sent
    assert fake.calls == []  # no preview, no activation: nothing went anywhere


def test_a_full_length_key_with_a_typo_is_called_a_typo_once_and_cannot_be_sent(
        dialog: tuple[ActivationDialog, FakeLicenseService], qtbot: QtBot) -> None:
    dlg, fake = dialog
    dlg.key_edit.setText(KEY[:-1] + ("A" if KEY[-1] != "A" else "B"))
    assert dlg.format_note.text() == "This key has a typo — check it against your purchase e-mail."
    assert not dlg.activate_button.isEnabled()
    assert not dlg.banner.isVisible()  # one message, not three wordings of it
    dlg.key_edit.setText(KEY[:-1] + "U")  # U never appears in a key
    assert "never appears" in dlg.format_note.text()
    assert not dlg.activate_button.isEnabled()
    assert fake.calls == []


def test_preview_says_encrypted_only_over_https(qtbot: QtBot) -> None:
    for url, encrypted in (("https://licensing.crystalme3dpro.com", True), ("http://127.0.0.1:8080", False)):
        dlg = ActivationDialog(FakeLicenseService("not_activated"), server_url=url)
        qtbot.addWidget(dlg)
        dlg.show()
        with qtbot.waitSignal(dlg.preview_shown):
            dlg.key_edit.setText(KEY)
        assert ("encrypted connection" in dlg.preview_intro.text()) is encrypted, dlg.preview_intro.text()
        assert ("without encryption" in dlg.preview_intro.text()) is not encrypted


def test_preview_is_shown_before_anything_is_sent(dialog: tuple[ActivationDialog, FakeLicenseService],
                                                  qtbot: QtBot) -> None:
    dlg, fake = dialog
    with qtbot.waitSignal(dlg.preview_shown):
        dlg.key_edit.setText(KEY.lower().replace("-", " - "))
    assert dlg.format_note.text() == "✓ The key is typed correctly."  # plain words, no "format and checksum"
    assert dlg.preview_rows()[0] == ("key", "…" + KEY[-4:])
    assert [name for name, _ in dlg.preview_rows()] == ["key", "fingerprint", "fingerprint_version", "environment",
                                                        "os", "label", "machine_public_key", "X-Crystal-Nonce"]
    # The fields the real catalog declares for an activation, in its plain words (never a wire name).
    assert [row[0] for row in dlg.preview_cells()] == [
        "Your license key", "A one-way code made from this computer's ID (never the ID itself)",
        "Which method made that code", "Whether this is a physical computer, a virtual machine or a container",
        "The operating system family (Linux, Windows or macOS)", "The name this computer has in your list of machines",
        "The public half of a key made on this computer", "A random one-time number"]
    assert fake.calls == ["preview_activation"]
    with qtbot.waitSignal(dlg.activated) as done:
        dlg.activate_button.click()
    assert done.args[0].state == "active" and fake.calls[-1] == "activate"


def test_busy_while_activating(dialog: tuple[ActivationDialog, FakeLicenseService], qtbot: QtBot) -> None:
    dlg, fake = dialog
    fake.gate = threading.Event()
    with qtbot.waitSignal(dlg.preview_shown):
        dlg.key_edit.setText(KEY)
    dlg.activate_button.click()
    assert dlg.busy.text() == "Activating…" and not dlg.key_edit.isEnabled()
    with qtbot.waitSignal(dlg.activated):
        fake.gate.set()


@pytest.mark.parametrize(("exc", "headline", "retry"), [
    (net.ConnectFailed("cannot reach licensing.crystalme3dpro.com"), "The licensing server cannot be reached", True),
    (net.TimedOut("no answer in 20 s"), "The licensing server did not answer in time", True),
    (net.TLSFailed("certificate verify failed: self-signed certificate in chain"),
     "A proxy or secure-connection problem", True),
    (net.ProxyFailed("407 Proxy Authentication Required"), "A proxy or secure-connection problem", True),
    (lic.LicensingOffline("the answer was not signed"), "The licensing server cannot be reached", True),
    (lic.KeyNotFound("unknown key"), "No license has this key", False),
    (lic.LicenseRevoked("revoked by the vendor"), "This license was revoked", False),
    (lic.LicenseDenied("refused"), "The licensing server refused", False),
])
def test_errors_say_what_happened(dialog: tuple[ActivationDialog, FakeLicenseService], qtbot: QtBot,
                                  exc: Exception, headline: str, retry: bool) -> None:
    dlg, fake = dialog
    fake.fail["activate"] = exc
    with qtbot.waitSignal(dlg.preview_shown):
        dlg.key_edit.setText(KEY)
    with qtbot.waitSignal(dlg.failed):
        dlg.activate_button.click()
    text = dlg.banner.text()
    assert text.startswith(headline) and explain(exc)[0] in text  # the words come from the one place
    assert ("try again" in text.lower()) == retry and text.lower().count("try again") <= 1  # said once
    assert "typo" not in text  # a network or server problem is never called a bad key
    assert not dlg.machines_button.isVisibleTo(dlg)
    assert dlg.key_edit.isEnabled() and dlg.activate_button.isEnabled()


def test_expired_links_to_the_account_page(dialog: tuple[ActivationDialog, FakeLicenseService],
                                           qtbot: QtBot) -> None:
    dlg, fake = dialog
    fake.fail["activate"] = lic.SubscriptionExpired("ended on 28 Feb 2026")
    with qtbot.waitSignal(dlg.preview_shown):
        dlg.key_edit.setText(KEY)
    with qtbot.waitSignal(dlg.failed):
        dlg.activate_button.click()
    assert dlg.banner.text().startswith("The subscription has ended")
    assert f'href="{ACCOUNT_URL}"' in dlg.banner.body.text() and dlg.banner.body.openExternalLinks()


def test_seat_limit_offers_manage_machines_and_frees_a_seat(dialog: tuple[ActivationDialog, FakeLicenseService],
                                                            qtbot: QtBot) -> None:
    dlg, fake = dialog
    fake.fail["activate"] = lic.SeatLimitReached("2 of 2 seats in use")
    with qtbot.waitSignal(dlg.preview_shown):
        dlg.key_edit.setText(KEY)
    with qtbot.waitSignal(dlg.failed):
        dlg.activate_button.click()
    assert dlg.banner.text().startswith("Every seat of this license is in use")
    assert dlg.machines_button.isVisibleTo(dlg)
    machines = dlg.open_machines()
    assert isinstance(machines, MachinesDialog)
    qtbot.waitUntil(lambda: machines.table.rowCount() == 2)
    assert "machines_for_key" in fake.calls and machines.seats.text() == "2 of 2 seats in use"
    machines.table.selectRow(1)
    with qtbot.waitSignal(machines.seat_freed):
        machines._deactivate(machines.selected().machine_id)  # type: ignore[union-attr]
    assert dlg.banner.text().startswith("A seat is free now")
    with qtbot.waitSignal(dlg.activated):
        dlg.activate_button.click()
    machines.close()


def test_broken_key_check_is_reported_not_raised(qtbot: QtBot) -> None:
    class Broken(FakeLicenseService):
        def normalize_key(self, key: str) -> str:
            raise NotImplementedError

    dlg = ActivationDialog(Broken())
    qtbot.addWidget(dlg)
    with qtbot.waitSignal(dlg.failed) as failed:
        dlg.key_edit.setText(KEY)
    assert failed.args[0].headline == "Something went wrong inside the app"


def test_the_machine_name_follows_into_the_preview_and_the_activation(
        dialog: tuple[ActivationDialog, FakeLicenseService], qtbot: QtBot) -> None:
    dlg, fake = dialog
    assert dlg.label_edit.placeholderText() == "Linux computer"  # what an empty name sends
    assert dlg.label_edit.maxLength() == 64
    with qtbot.waitSignal(dlg.preview_shown):
        dlg.key_edit.setText(KEY)
    assert dict(dlg.preview_rows())[LABEL_ROW] == "Linux computer"
    assert dlg.activate_button.isEnabled()
    with qtbot.waitSignal(dlg.preview_shown):  # once typing pauses, the preview shows the new name
        dlg.label_edit.setText("Studio")
        dlg.label_edit.setText("Studio workstation ")
        # Until then the preview on screen is not what would be sent: nothing can be sent.
        assert not dlg.activate_button.isEnabled()
        assert dlg.preview_intro.text() == "Updating what will be sent…"
    assert dict(dlg.preview_rows())[LABEL_ROW] == "Studio workstation"
    assert dlg.activate_button.isEnabled()
    dlg.label_edit.setText("Studio workstation 2")  # typed and taken back before the preview follows
    assert not dlg.activate_button.isEnabled()
    dlg.label_edit.setText("Studio workstation")
    assert dlg.activate_button.isEnabled() and dlg.preview_intro.text().startswith("Pressing Activate sends")
    assert fake.labels == [None, "Studio workstation"]  # one preview per pause, not per keystroke
    with qtbot.waitSignal(dlg.activated):
        dlg.activate_button.click()
    assert fake.labels[-1] == "Studio workstation"


def test_a_machine_name_the_server_would_refuse_is_caught_here(
        dialog: tuple[ActivationDialog, FakeLicenseService], qtbot: QtBot) -> None:
    dlg, fake = dialog
    fake.fail["activate"] = lic.MachineLabelError("a machine name cannot hold control characters")
    with qtbot.waitSignal(dlg.preview_shown):
        dlg.key_edit.setText(KEY)
    with qtbot.waitSignal(dlg.failed) as failed:
        dlg.activate_button.click()
    assert failed.args[0].headline == "The name for this computer cannot be used"
    assert "Nothing was sent" in dlg.banner.text()


def test_the_preview_speaks_plainly(dialog: tuple[ActivationDialog, FakeLicenseService], qtbot: QtBot) -> None:
    dlg, _fake = dialog
    with qtbot.waitSignal(dlg.preview_shown):
        dlg.key_edit.setText(KEY)
    cells = [cell for row in dlg.preview_cells() for cell in row]
    assert cells and "Privacy policy: License & Software Data" in " ".join(cells)
    for word in ("HMAC", "SHA-256", "fingerprint_version", "§", "machine_public_key"):
        assert not [cell for cell in cells if word in cell], word


def test_the_preview_has_room(dialog: tuple[ActivationDialog, FakeLicenseService], qtbot: QtBot) -> None:
    dlg, _fake = dialog
    with qtbot.waitSignal(dlg.preview_shown):
        dlg.key_edit.setText(KEY)
    # The preview table gets the dialog's spare height, not ~180 px with the rest left empty below.
    qtbot.waitUntil(lambda: dlg.preview.height() >= dlg.height() * 0.4, timeout=2000)


def test_cancel_while_waiting_stops_waiting(dialog: tuple[ActivationDialog, FakeLicenseService],
                                            qtbot: QtBot) -> None:
    dlg, fake = dialog
    fake.gate = threading.Event()  # the server hangs
    with qtbot.waitSignal(dlg.preview_shown):
        dlg.key_edit.setText(KEY)
    dlg.activate_button.click()
    assert dlg.busy.text() == "Activating…" and dlg.cancel_button.text() == "&Stop waiting"
    with qtbot.waitSignal(dlg.failed) as failed:
        dlg.cancel_button.click()
    assert failed.args[0].headline == "You stopped waiting"
    assert dlg.isVisible() and dlg.key_edit.isEnabled() and dlg.activate_button.isEnabled()
    assert dlg.cancel_button.text() == "Cancel" and not dlg.busy.isVisibleTo(dlg)
    fake.fail["activate"] = net.TimedOut("no answer")
    with qtbot.assertNotEmitted(dlg.failed, wait=200):  # the late failure adds nothing
        fake.gate.set()
    dlg.cancel_button.click()  # idle now: Cancel closes
    assert not dlg.isVisible()
