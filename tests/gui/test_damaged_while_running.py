"""A license file damaged WHILE the app runs: the page's promise "the license will be checked with the
server again using the stored key" is kept at once (the same scheduled path the start uses), and the damage
leaves exactly one copy, however many readers noticed it.

Real parts: the reference server as a child process, the real licensing service, the file watcher, widgets
offscreen. Screen: test-output/gui-stale/license-damaged-while-running.png."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtWidgets import QWidget
from pytestqt.qtbot import QtBot

from crystal_manager.gui.app import TrayApp
from crystal_manager.services.context import AppContext
from tests.gui.test_stale_state import OUT, start_app
from tests.support.apps import dispose_apps
from tests.support.keyring_memory import MemoryKeyring
from tests.support.licensing import FAST, issue, service
from tests.support.render import save
from tests.support.servers import ReferenceServer


@pytest.fixture
def active_app(qtbot: QtBot, reference_server: ReferenceServer, app_home: Path, memory_keyring: MemoryKeyring,
               tmp_path: Path) -> Iterator[tuple[TrayApp, AppContext]]:
    """A running app whose license was activated (through the app's own service) and verified."""
    app, ctx = start_app(qtbot, reference_server, app_home, tmp_path, lambda c: service(c, config=FAST))
    lic = issue(reference_server.data_dir, plan="pro", seats=2, expires="2099-01-01")
    app.license.api.activate(lic.key)
    app.license.refresh()
    qtbot.waitUntil(lambda: app.license.facts is not None and app.license.facts.status.state == "active",
                    timeout=10_000)
    try:
        yield app, ctx
    finally:
        dispose_apps([app])
        ctx.close()


def test_damage_while_running_is_rechecked_with_the_stored_key_and_copied_once(
        active_app: tuple[TrayApp, AppContext], qtbot: QtBot) -> None:
    app, ctx = active_app
    window = app.open_window("license")
    page = window.license_page
    qtbot.waitUntil(lambda: page.rows.value("state") == "Active", timeout=10_000)
    record = ctx.paths.license_state_file
    sent_before = len([e for e in ctx.ledger.entries() if e["kind"] == "license_validate"])
    # One damage, written whole (a plain write_bytes is seen half-done by the watcher: two damages).
    scratch = record.with_name("damage.tmp")
    scratch.write_bytes(b"\x00this is not a license record\xff")
    os.replace(scratch, record)
    app.look_again()  # what the window does when the user comes back to it (the file watcher may be first)
    # Without a click: the stored key is sent again and the license is active again.
    qtbot.waitUntil(lambda: page.rows.value("state") == "Active"
                    and len([e for e in ctx.ledger.entries() if e["kind"] == "license_validate"]) > sent_before,
                    timeout=20_000)
    copies = sorted(p.name for p in record.parent.glob(f"{record.name}.damaged-*"))
    assert len(copies) == 1, [(c, (record.parent / c).read_bytes()[:300]) for c in copies]  # one damage, one copy
    assert (record.parent / copies[0]).read_bytes() == b"\x00this is not a license record\xff"
    save(window, "license-damaged-while-running", OUT)
    # No blank band above the buttons: the facts end where their last shown row ends (the rows of the
    # locked state's three-line note are gone with it).
    def tight() -> bool:
        shown = [w for w in page.rows.findChildren(QWidget) if not w.isHidden()]
        return page.rows.height() - max(w.geometry().bottom() for w in shown) < 16

    qtbot.waitUntil(tight, timeout=5_000)


def test_readers_finding_the_same_damage_at_once_keep_one_copy(tmp_path: Path) -> None:
    """Eight readers (the window, the tray, a CLI…) load one damaged record together: one copy."""
    import threading

    from crystal_manager.licensing.record import load_record

    record = tmp_path / "license.json"
    record.write_bytes(b"{not json")
    start = threading.Barrier(8)
    errors: list[BaseException] = []

    def read() -> None:
        start.wait()
        try:
            load_record(record)
        except BaseException as exc:  # reported below, on the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=read) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert not errors
    copies = sorted(p.name for p in tmp_path.glob("license.json.damaged-*"))
    assert len(copies) == 1, copies
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".copy")]  # no private copy left behind
    # A later, different damage is a new copy (the first is never overwritten).
    record.write_bytes(b"{other damage")
    load_record(record)
    assert len(list(tmp_path.glob("license.json.damaged-*"))) == 2
