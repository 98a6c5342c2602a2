"""The Updates page's Manager line: absent unless the Manager runs as the bundle; in the bundle it asks
``crystal-manager update self`` (a real process: here a stand-in program that answers as the verb does)
and starts the update detached, showing the answer in words when the update does not take over."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from pytestqt.qtbot import QtBot

from crystal_manager.gui.pages.updates_page import UpdatesPage
from tests.support.render import OUTPUT, themed
from tests.support.render import save as save_png

STAYS = ("CrystalMe3D Pro Manager 0.2.0 did not start correctly, so this Manager (0.1.0) stays; nothing else "
         "changed. Try again later; if it happens again, contact support.")


def stand_in(folder: Path) -> list[str]:
    """A program answering ``update self --check --json`` and ``update self --json --restart-old`` with the
    verb's JSON; it writes the arguments it got beside itself."""
    program = folder / "manager.py"
    program.write_text(
        "import json, sys, pathlib\n"
        "args = sys.argv[1:]\n"
        f"pathlib.Path({str(folder / 'argv.json')!r}).write_text(json.dumps(args))\n"
        "if '--check' in args:\n"
        "    print(json.dumps({'frozen': True, 'available': True, 'version': '0.2.0'}))\n"
        "else:\n"
        f"    print(json.dumps({{'updated': False, 'version': '0.2.0', 'message': {STAYS!r}}}))\n")
    return [sys.executable, str(program), "--profile", "/p.json"]


def test_not_shown_when_the_manager_is_not_the_bundle(qtbot: QtBot) -> None:
    page = UpdatesPage(frozen=False)
    qtbot.addWidget(page)
    page.show()
    assert not page.manager_box.isVisibleTo(page)


def test_in_the_bundle_it_checks_then_updates_and_shows_why_it_stayed(qtbot: QtBot, tmp_path: Path) -> None:
    page = UpdatesPage(frozen=True)
    qtbot.addWidget(page)
    box = page.manager_box
    box._command = stand_in(tmp_path)
    page.resize(900, 700)
    page.show()
    assert box.isVisibleTo(page) and not box.update_button.isVisibleTo(page)
    box.check_button.click()
    qtbot.waitUntil(lambda: box.update_button.isVisibleTo(page), timeout=15_000)
    assert box.update_button.text() == "Update the Manager to 0.2.0"
    assert box.state.text() == "Version 0.2.0 is available."
    assert json.loads((tmp_path / "argv.json").read_text()) == ["--profile", "/p.json", "update", "self", "--check",
                                                                 "--json"]
    with themed("light"):
        save_png(page, "updates-manager-available-light", OUTPUT / "gui-updates")
    box.update_button.click()
    qtbot.waitUntil(lambda: box.state.text() == STAYS, timeout=15_000)
    assert json.loads((tmp_path / "argv.json").read_text()) == ["--profile", "/p.json", "update", "self", "--json",
                                                                 "--restart-old"]
    assert box.update_button.isEnabled() and box.check_button.isEnabled()


def test_the_page_in_the_bundle_with_nothing_installed_names_no_folder(qtbot: QtBot) -> None:
    from PySide6.QtWidgets import QLabel

    from crystal_manager.gui.update_api import UpdatesFacts
    from crystal_manager.services.update_types import UpdateStatus

    page = UpdatesPage(frozen=True)
    qtbot.addWidget(page)
    status = UpdateStatus(installed_version=None, previous_version=None,
                          install_root="/home/ann/.local/share/x/product",
                          channel="stable", auto_check=True, skipped=(), last_check_at=None, last_check=None,
                          pending=None, install_at_next_start=None)
    page.set_facts(UpdatesFacts(status=status))
    page.resize(760, 420)
    page.show()
    assert page.rows.value("installed") == "not installed yet"
    shown = [label.text() for label in page.findChildren(QLabel) if label.isVisibleTo(page)]
    assert not any("product" in text or "/" in text for text in shown), shown
    assert page.manager_box.isVisibleTo(page)
    with themed("light"):
        save_png(page, "bundle-not-installed-light", OUTPUT / "gui-updates")
    with themed("dark"):
        save_png(page, "bundle-not-installed-dark", OUTPUT / "gui-updates")


def test_a_check_that_cannot_run_ends_in_words(qtbot: QtBot, tmp_path: Path) -> None:
    page = UpdatesPage(frozen=True)
    qtbot.addWidget(page)
    box = page.manager_box
    box._command = [str(tmp_path / "no-such-program")]
    page.show()
    box.check_button.click()
    qtbot.waitUntil(box.check_button.isEnabled, timeout=15_000)
    assert box.state.text() == "The Manager could not check for its updates; try again later."
    assert not box.update_button.isVisibleTo(page)
