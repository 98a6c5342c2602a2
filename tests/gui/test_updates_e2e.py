"""End to end: the tray app's Updates page over the REAL UpdateService, the REAL licensing service and the
REAL reference server process (releases published with ``crystal-server release publish``), driven through
the page's buttons: check → download (pause, resume) → install → go back; install at the next start; the
tray's states, menu and notifications; and no update work on the GUI thread. The Updates page is saved as
PNG (test-output/gui-updates-e2e/) before a check, mid-download, after an install and after a rollback."""

from __future__ import annotations

import itertools
import json
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import suppress
from pathlib import Path
from types import FrameType
from typing import Any
from urllib.parse import urlsplit

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QMessageBox, QPushButton
from pytestqt.qtbot import QtBot

from crystal_manager.desktop.autostart import for_platform
from crystal_manager.desktop.tray_state import TrayState
from crystal_manager.gui.app import TrayApp
from crystal_manager.gui.pages.updates_page import UpdatesPage
from crystal_manager.gui.update_api import Activity, UpdatesFacts
from crystal_manager.services.context import AppContext
from crystal_manager.services.update_service import UpdateService
from tests.support.apps import dispose_apps
from tests.support.keyring_memory import MemoryKeyring
from tests.support.licensing import FAST, context, issue, service
from tests.support.render import OUTPUT, themed
from tests.support.render import save as save_png
from tests.support.servers import ReferenceServer
from tests.support.update_repo import publish, targets_key_ids

OUT = OUTPUT / "gui-updates-e2e"
MIB = 1024 * 1024
NOTES_130 = """## What's new in this version

- Faster **crystal growth** preview on large scenes
- Fixed a crash when opening projects from network drives

<script>alert('no')</script> ![tracker](http://127.0.0.1:9/pixel.png)

[Full list of changes](https://crystalme3dpro.com/changes/1.3.0)
"""


class SlowLink:
    """A real TCP relay to the reference server that sends the server's bytes on at ``rate`` bytes/s, so
    a download lasts long enough to be seen, paused and resumed (real sockets; nothing is faked)."""

    def __init__(self, upstream: str, rate: int) -> None:
        parts = urlsplit(upstream)
        self._upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self._rate = rate
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._open: list[socket.socket] = []
        self._stopped = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._listener.getsockname()[1]}"

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self._upstream)
            self._open += [client, upstream]
            threading.Thread(target=self._pump, args=(client, upstream, 0), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, self._rate), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, rate: int) -> None:
        with suppress(OSError):
            while chunk := source.recv(64 * 1024):
                sink.sendall(chunk)
                if rate:
                    self._stopped.wait(len(chunk) / rate)  # the throttle of the link, not a test's wait
        with suppress(OSError):
            sink.shutdown(socket.SHUT_WR)

    def stop(self) -> None:
        self._stopped.set()
        with suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept(): then connections are refused
        self._listener.close()
        for sock in self._open:
            with suppress(OSError):
                sock.close()


class GuiThreadWatch:
    """Records every call into the update code (service, download, install, trust, gateway) made on the
    GUI thread — a profile hook on that thread alone; the worker threads are not watched."""

    WATCHED = ("crystal_manager/updates/", "crystal_manager/services/update_service.py",
               "crystal_manager/net/gateway.py")
    ALLOWED = ("crystal_manager/updates/errors.py",)  # the error classes: the page words them

    def __init__(self) -> None:
        self.calls: list[str] = []

    def _hook(self, frame: FrameType, event: str, _arg: Any) -> None:
        if event != "call":
            return
        name = frame.f_code.co_filename.replace("\\", "/")
        if any(w in name for w in self.WATCHED) and not any(a in name for a in self.ALLOWED) \
                and frame.f_code.co_name != "<module>":
            self.calls.append(f"{name.rsplit('/', 1)[-1]}:{frame.f_code.co_name}")

    def __enter__(self) -> GuiThreadWatch:
        sys.setprofile(self._hook)
        return self

    def __exit__(self, *_exc: object) -> None:
        sys.setprofile(None)


@pytest.fixture
def link(reference_server: ReferenceServer) -> Iterator[SlowLink]:
    relay = SlowLink(reference_server.url, rate=6 * MIB)
    yield relay
    relay.stop()


@pytest.fixture
def upd_ctx(app_home: Path, reference_server: ReferenceServer, link: SlowLink,
            memory_keyring: MemoryKeyring) -> Iterator[AppContext]:
    ctx = context(app_home, reference_server.profile_file, link.url)
    try:
        yield ctx
    finally:
        ctx.close()


MakeApp = Callable[[], TrayApp]


@pytest.fixture
def make_app(qtbot: QtBot, upd_ctx: AppContext, reference_server: ReferenceServer, tmp_path: Path) -> Iterator[MakeApp]:
    """The tray app over the real services for one activated machine ("alpha")."""
    lic = issue(reference_server.data_dir, plan="pro", seats=2, expires="2099-01-01", max_version="2.9")
    service(upd_ctx, config=FAST).activate(lic.key)
    made: list[TrayApp] = []

    def make() -> TrayApp:
        upd_ctx.settings.welcome_done = True
        entry = for_platform("linux", {"XDG_CONFIG_HOME": str(tmp_path / "xdg"), "HOME": str(tmp_path)})
        app = TrayApp(upd_ctx, api_factory=lambda ctx: service(ctx, config=FAST),
                      update_api_factory=lambda ctx: UpdateService(
                          ctx, license_status=service(ctx, config=FAST).status),
                      tray_probe=lambda: True, autostart_entry=entry)
        made.append(app)
        with qtbot.waitSignal(app.started):
            app.start()
        qtbot.waitUntil(lambda: app.updates.facts.status is not None and not app.updates.busy, timeout=15_000)
        return app

    yield make
    dispose_apps(made)


def click_and_wait(qtbot: QtBot, app: TrayApp, button: QPushButton, action: str, timeout: int = 30_000) -> None:
    assert button.isVisibleTo(button.window()) and button.isEnabled(), button.text()
    with qtbot.waitSignal(app.updates.done, timeout=timeout, check_params_cb=lambda name: name == action):
        button.click()


def save(app: TrayApp, name: str) -> None:
    window = app.window()
    window.show_page("updates")
    for theme in ("light", "dark"):
        with themed(theme):
            save_png(window, f"{name}-{theme}", OUT)


def menu_texts(app: TrayApp) -> list[str]:
    assert app.tray is not None
    app.tray.menu.aboutToShow.emit()
    return [a.text() for a in app.tray.menu.actions() if not a.isSeparator()]


def current_on_disk(ctx: AppContext) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((ctx.paths.install_root / "current.json").read_text())
    return data


def test_check_download_pause_resume_install_and_go_back_through_the_page(
        make_app: MakeApp, reference_server: ReferenceServer, upd_ctx: AppContext, qtbot: QtBot) -> None:
    publish(reference_server, "1.2.0", notes="First release of the year.\nSmoother viewport.")
    app = make_app()
    shown: list[tuple[str, str, str]] = []
    app.notifier.shown.connect(lambda *args: shown.append(args))
    states: list[TrayState] = []
    app.view_changed.connect(lambda view: states.append(view.state))
    page: UpdatesPage = app.open_window("updates").updates_page
    with GuiThreadWatch() as watch:
        # Before any check: nothing installed, nothing asked.
        assert page.headline.text() == "Not checked for updates yet"
        assert page.rows.value("installed") == "not installed yet"
        save(app, "1-before-check")

        # First install: 1.2.0.
        click_and_wait(qtbot, app, page.check_button, "check")
        assert page.headline.text() == "CrystalMe3D Pro 1.2.0 is available"
        keys = targets_key_ids(reference_server.data_dir)
        assert page.rows.value("signature") == "✓ Verified: signed by the vendor's key" \
            f"{'s (ids' if len(keys) > 1 else ' (id'} {', '.join(k[:8] + '…' for k in keys)})"
        assert app.view().state is TrayState.UPDATE_AVAILABLE
        assert "Download update 1.2.0" in menu_texts(app)
        click_and_wait(qtbot, app, page.download_button, "download")
        assert page.headline.text() == "CrystalMe3D Pro 1.2.0 is ready to install"
        assert "Install update 1.2.0…" in menu_texts(app)
        click_and_wait(qtbot, app, page.install_button, "install")
        assert page.rows.value("installed") == "1.2.0" and page.rows.value("previous") is None
        assert current_on_disk(upd_ctx)["current"] == "1.2.0"

        # 1.3.0 arrives: 8 MiB through a 6 MiB/s link, paused at its first progress and resumed.
        publish(reference_server, "1.3.0", notes=NOTES_130, payload_bytes=8 * MIB)
        click_and_wait(qtbot, app, page.check_button, "check")
        assert page.headline.text() == "CrystalMe3D Pro 1.3.0 is available"
        assert page.notes_title.text() == "What's new in 1.3.0"
        assert "<script>alert('no')</script>" in page.notes.toPlainText()  # shown as text, never run
        assert "<img" not in page.notes.toHtml()
        seen_mid: list[UpdatesFacts] = []

        def on_facts(facts: UpdatesFacts) -> None:
            progress = facts.progress
            if (not seen_mid and facts.activity is Activity.DOWNLOADING and progress is not None
                    and 0 < progress.received < progress.total and progress.bytes_per_second > 0):
                seen_mid.append(facts)
                save(app, "2-mid-download")
                page.pause_button.click()

        app.updates.facts_changed.connect(on_facts)
        click_and_wait(qtbot, app, page.download_button, "download")
        app.updates.facts_changed.disconnect(on_facts)
        assert seen_mid, "no progress was shown mid-download"
        assert TrayState.DOWNLOADING in states
        paused = app.updates.facts.paused
        assert paused is not None and 0 < paused.received < paused.total
        assert page.progress_text.text().startswith("Download of 1.3.0 paused at ")
        assert page.resume_button.isVisibleTo(page) and not page.pause_button.isVisibleTo(page)
        click_and_wait(qtbot, app, page.resume_button, "download")
        assert app.updates.facts.downloaded == "1.3.0"
        click_and_wait(qtbot, app, page.install_button, "install")
        assert page.rows.value("installed") == "1.3.0"
        assert page.rows.value("previous") == "1.2.0, kept so you can go back to it"
        assert page.outcome_banner.text().startswith("CrystalMe3D Pro 1.3.0 is installed\n")
        assert page.headline.text() == "You have the latest version"
        assert app.view().state is TrayState.ACTIVE
        save(app, "3-after-install")

        # Go back, after the confirmation.
        page.rollback_button.click()
        box = app.window().findChild(QMessageBox, "confirm")
        assert isinstance(box, QMessageBox) and box.isVisible()
        assert "Go back to CrystalMe3D Pro 1.2.0?" in box.text()
        yes = next(b for b in box.findChildren(QPushButton) if b.text() == "Go back to 1.2.0")
        with qtbot.waitSignal(app.updates.done, timeout=30_000, check_params_cb=lambda name: name == "rollback"):
            yes.click()
        assert current_on_disk(upd_ctx)["current"] == "1.2.0"
        assert page.rows.value("installed") == "1.2.0"
        assert page.outcome_banner.text().startswith("Back to CrystalMe3D Pro 1.2.0\n")
        assert page.headline.text() == "You are using 1.2.0; 1.3.0 stays on this computer"
        assert page.rollback_button.text().replace("&", "") == "Return to 1.3.0…"
        assert not page.download_button.isVisibleTo(page)  # no second download of what is on disk
        assert app.view().state is TrayState.ACTIVE  # the tray does not urge the version just left
        save(app, "4-after-rollback")

    assert watch.calls == []  # no check, download, hashing, extraction or switch ran on the GUI thread
    events = [event for event, _title, _body in shown]
    assert events.count("update_available") == 2 and events.count("update_downloaded") == 2
    assert events.count("update_installed") == 2 and "update_failed" not in events
    installed = [body for event, _t, body in shown if event == "update_installed"]
    assert installed[-1] == ("CrystalMe3D Pro 1.3.0 is installed. You will see it the next time you start "
                             "CrystalMe3D Pro.")


def test_install_at_the_next_start_happens_when_the_manager_starts_again(
        make_app: MakeApp, reference_server: ReferenceServer, upd_ctx: AppContext, qtbot: QtBot) -> None:
    publish(reference_server, "1.2.0")
    app = make_app()
    page = app.open_window("updates").updates_page
    click_and_wait(qtbot, app, page.check_button, "check")
    click_and_wait(qtbot, app, page.download_button, "download")
    click_and_wait(qtbot, app, page.install_later_button, "install")
    assert page.headline.text() == "CrystalMe3D Pro 1.2.0 will be installed when the Manager next starts"
    assert not page.install_later_button.isVisibleTo(page) and page.install_button.isVisibleTo(page)
    assert not (upd_ctx.paths.install_root / "current.json").exists()  # nothing switched yet
    app.quit()

    again = make_app()  # the next start: apply_pending() runs on the worker after the first picture
    shown: list[str] = []
    again.notifier.shown.connect(lambda event, _t, _b: shown.append(event))
    qtbot.waitUntil(lambda: again.updates.facts.outcome is not None, timeout=15_000)
    assert current_on_disk(upd_ctx)["current"] == "1.2.0"
    page = again.open_window("updates").updates_page
    assert page.rows.value("installed") == "1.2.0"
    assert page.outcome_banner.text().startswith("CrystalMe3D Pro 1.2.0 is installed\n")


def test_the_tray_menu_downloads_and_a_failed_check_is_a_plain_problem(
        make_app: MakeApp, reference_server: ReferenceServer, link: SlowLink, qtbot: QtBot) -> None:
    publish(reference_server, "1.2.0")
    app = make_app()
    page = app.open_window("updates").updates_page
    click_and_wait(qtbot, app, page.check_button, "check")
    assert app.tray is not None
    download = next(a for a in app.tray.menu.actions() if a.text() == "Download update 1.2.0")
    with qtbot.waitSignal(app.updates.done, timeout=30_000, check_params_cb=lambda name: name == "download"):
        download.trigger()
    assert app.updates.facts.downloaded == "1.2.0"
    link.stop()  # the network goes away
    started = time.monotonic()
    click_and_wait(qtbot, app, page.check_button, "check")
    assert time.monotonic() - started < 15
    assert page.problem_banner.isVisibleTo(page)
    assert page.problem_banner.text().startswith("The update server cannot be reached\n")
    assert "Nothing changed" in page.problem_banner.text()
    assert page.install_button.isEnabled()  # the verified download is still there to install


def test_the_gui_keeps_ticking_while_an_update_is_checked_downloaded_and_installed(
        make_app: MakeApp, reference_server: ReferenceServer, qtbot: QtBot) -> None:
    publish(reference_server, "1.3.0", payload_bytes=8 * MIB)
    app = make_app()
    page = app.open_window("updates").updates_page
    ticks: list[float] = []
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(lambda: ticks.append(time.monotonic()))
    progress: list[object] = []
    app.updates.facts_changed.connect(lambda facts: progress.append(facts.progress) if facts.progress else None)
    timer.start()
    ticks.append(time.monotonic())
    with GuiThreadWatch() as watch:
        click_and_wait(qtbot, app, page.check_button, "check")
        click_and_wait(qtbot, app, page.download_button, "download")
        click_and_wait(qtbot, app, page.install_button, "install")
    timer.stop()
    assert watch.calls == []
    assert page.rows.value("installed") == "1.3.0"
    assert len(progress) >= 5  # progress reached the page while the worker downloaded
    gaps = [b - a for a, b in itertools.pairwise(ticks)]
    assert len(gaps) > 50
    assert max(gaps) < 0.5, f"the GUI thread stalled {max(gaps):.3f} s"
