"""End to end: the tray app, its License page and dialogs over the REAL LicenseService and the REAL reference
server process (real sockets, real signatures, in-memory keyring). No test double anywhere in this file."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox, QPushButton
from pytestqt.qtbot import QtBot

from crystal_manager.desktop.autostart import for_platform
from crystal_manager.gui.app import TrayApp
from crystal_manager.gui.dialogs.activation import ActivationDialog
from crystal_manager.gui.dialogs.confirm import confirm
from crystal_manager.gui.dialogs.machines import MachinesDialog
from crystal_manager.gui.license_api import LicenseFacts
from crystal_manager.gui.problems import ACCOUNT_URL, ProblemKind
from crystal_manager.privacy.catalog import NONCE_FIELD
from crystal_manager.services.context import AppContext
from tests.support.apps import dispose_apps
from tests.support.licensing import FAST, Issued, context_at, issue, service
from tests.support.servers import ReferenceServer

MakeReal = Callable[..., TrayApp]


def kinds(ctx: AppContext) -> list[str]:
    return [entry["kind"] for entry in ctx.ledger.entries()]


@pytest.fixture
def real_app(qtbot: QtBot, lic_ctx: AppContext, tmp_path: Path) -> Iterator[MakeReal]:
    """The tray app whose licensing service is the real one, for one fixed machine, over the real server."""
    made: list[TrayApp] = []

    def make(name: str = "alpha") -> TrayApp:
        lic_ctx.settings.welcome_done = True
        entry = for_platform("linux", {"XDG_CONFIG_HOME": str(tmp_path / "xdg"), "HOME": str(tmp_path)})
        app = TrayApp(lic_ctx, api_factory=lambda ctx: service(ctx, name=name, config=FAST),
                      tray_probe=lambda: True, autostart_entry=entry)
        made.append(app)
        with qtbot.waitSignal(app.started):
            app.start()
        qtbot.waitUntil(lambda: app.license.facts is not None)
        return app

    yield make
    dispose_apps(made)


def state_is(app: TrayApp, state: str) -> Callable[[LicenseFacts], bool]:
    return lambda facts: facts.status.state == state


def open_dialog(app: TrayApp) -> ActivationDialog:
    window = app.open_window("license")
    window.license_page.activate_button.click()
    dialog = app.license.dialog
    assert dialog is not None and dialog.isVisible()
    return dialog


def type_key(qtbot: QtBot, dialog: ActivationDialog, key: str) -> None:
    with qtbot.waitSignal(dialog.preview_shown):
        dialog.key_edit.setText(key)


def click_confirm(qtbot: QtBot, parent: MachinesDialog, action: str) -> None:
    box = parent.findChild(QMessageBox, "confirm")
    assert isinstance(box, QMessageBox) and box.isVisible()
    yes = next(b for b in box.findChildren(QPushButton) if b.text() == action)
    yes.click()


def test_activation_dialog_activates_with_a_real_key(real_app: MakeReal, reference_server: ReferenceServer,
                                                     lic_ctx: AppContext, qtbot: QtBot) -> None:
    lic = issue(reference_server.data_dir, plan="pro", seats=3, expires="2099-01-01")
    app = real_app()
    assert app.license.facts is not None and app.license.facts.status.state == "not_activated"
    dialog = open_dialog(app)
    type_key(qtbot, dialog, lic.key.lower())
    rows = dict(dialog.preview_rows())
    request = lic_ctx.catalog.get("license_activate")
    assert request is not None
    # Exactly the catalog's fields (plus the nonce header), the key shortened to its last 4 characters.
    assert set(rows) == {f.name for f in request.fields if f.name in rows} | {NONCE_FIELD.name}
    assert {f.name for f in request.fields if f.required} <= set(rows)
    assert rows["key"] == "…" + lic.key[-4:]
    assert all(lic.key not in value and lic.key[:-4] not in value for value in rows.values())
    assert kinds(lic_ctx) == []  # the preview sent nothing
    with qtbot.waitSignal(app.license.facts_changed, check_params_cb=state_is(app, "active")):
        dialog.activate_button.click()
    assert not dialog.isVisible()
    sent = lic_ctx.ledger.entries()
    assert [e["kind"] for e in sent] == ["license_activate"]
    assert set(sent[0]["fields"]) <= set(rows)  # nothing was sent that the preview did not show
    page = app.window().license_page
    assert page.rows.value("state") == "Active"
    assert page.rows.value("plan") == "Pro"  # the plan id as people read it
    assert page.rows.value("seats") == "1 of 3 in use"
    assert page.rows.value("renews") == "1 Jan 2099"
    shown_key = page.rows.value("key")
    assert shown_key is not None and shown_key.endswith(lic.key[-4:])
    assert page.summary.text().startswith("Pro — active")
    assert page.verify_button.isEnabled() and not page.activate_button.isVisibleTo(page)


def test_the_name_typed_for_this_computer_reaches_the_machine_list(
        real_app: MakeReal, reference_server: ReferenceServer, lic_ctx: AppContext, qtbot: QtBot) -> None:
    lic = issue(reference_server.data_dir, plan="pro", seats=2, expires="2099-01-01")
    app = real_app()
    dialog = open_dialog(app)
    type_key(qtbot, dialog, lic.key)
    assert dict(dialog.preview_rows())["label"] == "Linux computer"  # the default: no host name
    with qtbot.waitSignal(dialog.preview_shown):
        dialog.label_edit.setText("Studio workstation")
    assert dict(dialog.preview_rows())["label"] == "Studio workstation"
    with qtbot.waitSignal(app.license.facts_changed, check_params_cb=state_is(app, "active")):
        dialog.activate_button.click()
    assert lic_ctx.ledger.entries()[0]["fields"]["label"] == "Studio workstation"
    listing = service(lic_ctx, config=FAST).machines()
    assert [m.label for m in listing.machines] == ["Studio workstation"]


def test_typo_sends_nothing(real_app: MakeReal, reference_server: ReferenceServer, lic_ctx: AppContext,
                            qtbot: QtBot) -> None:
    lic = issue(reference_server.data_dir)
    typo = lic.key[:-1] + ("A" if lic.key[-1] != "A" else "B")
    app = real_app()
    dialog = open_dialog(app)
    dialog.key_edit.setText(typo)
    assert "typo" in dialog.format_note.text()  # a full-length key with one wrong character
    assert dialog.preview.rowCount() == 0
    assert not dialog.activate_button.isEnabled()  # known wrong here: nothing can be sent
    assert lic_ctx.ledger.entries() == []
    assert app.license.facts is not None and app.license.facts.status.state == "not_activated"


def test_seat_limit_solved_from_the_activation_dialog(real_app: MakeReal, reference_server: ReferenceServer,
                                                      lic_ctx: AppContext, qtbot: QtBot, tmp_path: Path) -> None:
    lic = issue(reference_server.data_dir, seats=1)
    old_ctx = context_at(tmp_path / "old-laptop", reference_server.profile_file, reference_server.url)
    old = service(old_ctx, name="old-laptop", config=FAST).activate(lic.key)
    old_ctx.close()
    app = real_app("new-desktop")
    dialog = open_dialog(app)
    type_key(qtbot, dialog, lic.key)
    with qtbot.waitSignal(dialog.failed) as failed:
        dialog.activate_button.click()
    assert failed.args[0].kind is ProblemKind.SEAT_LIMIT
    assert dialog.banner.text().startswith("Every seat of this license is in use")
    assert dialog.machines_button.isVisibleTo(dialog)
    dialog.machines_button.click()
    machines = dialog.findChild(MachinesDialog)
    assert isinstance(machines, MachinesDialog)
    qtbot.waitUntil(lambda: machines.table.rowCount() == 1)
    assert machines.seats.text() == "1 of 1 seats in use"
    # The computer's ID is no column of words (people cannot use it): it is a labelled technical detail.
    assert machines.table.columnCount() == 3
    name_item = machines.table.item(0, 0)
    assert name_item is not None and old.machine_id
    assert name_item.toolTip().endswith("Technical details: computer ID " + old.machine_id)
    assert old.machine_id not in name_item.text()
    machines.table.selectRow(0)
    assert machines.deactivate_button.isEnabled()
    machines.deactivate_button.click()
    with qtbot.waitSignal(machines.seat_freed):
        click_confirm(qtbot, machines, "Deactivate")
    qtbot.waitUntil(lambda: machines.seats.text() == "0 of 1 seats in use")
    assert machines.table.rowCount() == 0
    assert dialog.banner.text().startswith("A seat is free now") and not dialog.machines_button.isVisibleTo(dialog)
    machines.close()
    with qtbot.waitSignal(app.license.facts_changed, check_params_cb=state_is(app, "active")):
        dialog.activate_button.click()
    assert app.window().license_page.rows.value("seats") == "1 of 1 in use"
    sent = kinds(lic_ctx)
    assert sent[0] == "license_activate" and sent[-1] == "license_activate" and "license_deactivate" in sent
    assert all(lic.key not in str(e) for e in lic_ctx.ledger.entries())


def activated(real_app: MakeReal, reference_server: ReferenceServer, lic_ctx: AppContext,
              **terms: str | int) -> tuple[TrayApp, Issued]:
    """A machine activated earlier (with the same service the app uses), then the app started."""
    lic = issue(reference_server.data_dir, **terms)  # type: ignore[arg-type]
    assert service(lic_ctx, name="alpha", config=FAST).activate(lic.key).state == "active"
    app = real_app("alpha")
    assert app.license.facts is not None and app.license.facts.status.state == "active"
    app.open_window("license")
    return app, lic


def verify_now(qtbot: QtBot, app: TrayApp, state: str) -> None:
    page = app.window().license_page
    with qtbot.waitSignal(app.license.failed):
        page.verify_button.click()
    qtbot.waitUntil(lambda: page.rows.value("state") == state)


def test_revoked_license_shows_revoked_after_verify(real_app: MakeReal, reference_server: ReferenceServer,
                                                    lic_ctx: AppContext, qtbot: QtBot) -> None:
    app, lic = activated(real_app, reference_server, lic_ctx)
    assert reference_server.admin("license", "revoke", str(reference_server.data_dir),
                                  lic.license_id).returncode == 0
    verify_now(qtbot, app, "Revoked")
    page = app.window().license_page
    assert page.summary.text() == "License revoked"
    assert page.problem_banner.text().startswith("Not verified: this license was revoked")
    assert page.activate_button.isVisibleTo(page)
    assert app.view().license_state == "revoked"
    # The old lease's renewal date and next check no longer apply; the reason is said once, in the banner.
    assert page.rows.value("renews") is None and page.rows.value("next") is None
    assert page.rows.value("message") is None


def test_server_down_gives_offline_grace_not_a_bad_key(real_app: MakeReal, reference_server: ReferenceServer,
                                                       lic_ctx: AppContext, qtbot: QtBot) -> None:
    app, _lic = activated(real_app, reference_server, lic_ctx)
    reference_server.running.stop()
    verify_now(qtbot, app, "Offline — grace period")
    page = app.window().license_page
    grace = page.rows.value("grace")
    assert grace is not None and grace.startswith("14 days left (until ")
    assert "offline, 14 days of grace left" in page.summary.text()
    banner = page.problem_banner.text()
    assert banner.startswith("Not verified: the licensing server cannot be reached") and "Network problem" in banner
    assert "Nothing changed" not in banner and "keeps working offline" in banner  # as the State row says
    assert "key" not in banner.lower() and "invalid" not in banner.lower()
    assert page.problem_banner.isVisibleTo(page)


def test_expired_subscription_links_to_the_account_page(real_app: MakeReal, reference_server: ReferenceServer,
                                                        lic_ctx: AppContext, qtbot: QtBot) -> None:
    app, lic = activated(real_app, reference_server, lic_ctx)
    assert reference_server.admin("license", "update", str(reference_server.data_dir), lic.license_id,
                                  "--expires", "2020-01-01").returncode == 0
    verify_now(qtbot, app, "Expired")
    page = app.window().license_page
    # The end date the signed denial named, never the stale lease's "renews 2099".
    assert page.summary.text() == "Pro — expired on 1 Jan 2020"
    assert page.rows.value("renews") is None and page.rows.value("expires") == "1 Jan 2020"
    assert page.problem_banner.text().startswith("Not verified: the subscription has ended")
    assert f'href="{ACCOUNT_URL}"' in page.problem_banner.body.text()
    assert page.problem_banner.body.openExternalLinks()
    # Activating again with the same key says the same, with the same link.
    dialog = open_dialog(app)
    type_key(qtbot, dialog, lic.key)
    with qtbot.waitSignal(dialog.failed) as failed:
        dialog.activate_button.click()
    assert failed.args[0].kind is ProblemKind.EXPIRED
    assert f'href="{ACCOUNT_URL}"' in dialog.banner.body.text() and "2020-01-01" in dialog.banner.text()


def test_a_label_that_looks_like_markup_is_only_text(reference_server: ReferenceServer, lic_ctx: AppContext,
                                                     qtbot: QtBot) -> None:
    lic = issue(reference_server.data_dir)
    svc = service(lic_ctx)
    svc.activate(lic.key, label="<b>Studio</b> <img src=x>")
    shown = svc.machines().machines[0].label
    assert shown == "<b>Studio</b> <img src=x>"  # kept as typed: it is data
    box = confirm(None, title="t", text=f"Deactivate {shown}?", action="Deactivate", on_yes=lambda: None)
    qtbot.addWidget(box)
    assert box.textFormat() == Qt.TextFormat.PlainText  # shown as typed, never as rich text
    box.close()


def test_an_activation_by_the_cli_shows_when_the_window_is_asked_for(
        real_app: MakeReal, reference_server: ReferenceServer, lic_ctx: AppContext, qtbot: QtBot) -> None:
    """The CLI activates while the tray app runs; a second launch (``--show license``) hands over and the page
    shows the new state at once, without a restart."""
    app = real_app("alpha")
    app.open_window("license")
    # The window's first read (with where secrets are kept) has come back: nothing else re-reads on its own.
    qtbot.waitUntil(lambda: app.license.facts is not None and app.license.facts.secrets is not None)
    assert app.license.facts is not None and app.license.facts.status.state == "not_activated"
    lic = issue(reference_server.data_dir)
    assert service(lic_ctx, name="alpha", config=FAST).activate(lic.key).state == "active"  # another process's work
    with qtbot.waitSignal(app.license.facts_changed, check_params_cb=state_is(app, "active")):
        app.handle_argv(["--show", "license"])
    assert app.window().license_page.rows.value("state") == "Active"



def test_license_page_shows_the_highest_version_and_until_when_it_works_offline(
        real_app: MakeReal, reference_server: ReferenceServer, lic_ctx: AppContext, qtbot: QtBot) -> None:
    import re

    lic = issue(reference_server.data_dir, plan="pro", seats=2, expires="2099-01-01", max_version="2.9")
    service(lic_ctx, config=FAST).activate(lic.key)
    app = real_app()
    page = app.open_window("license").license_page
    qtbot.waitUntil(lambda: page.rows.value("state") == "Active")
    assert page.rows.value("max_version") == "2.9"
    until = page.rows.value("offline_until")
    # A date as every other date of the app is written ("14 Dec 2026, 05:30"), never an ISO stamp.
    assert until is not None and re.fullmatch(r"\d{1,2} \w{3} \d{4}, \d{2}:\d{2}", until), until
