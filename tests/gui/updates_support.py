"""Shared by the Updates GUI tests that run against the real reference server: a throttled TCP relay, a
watch on the GUI thread, and the tray app over the real licensing and update services (fixtures)."""

from __future__ import annotations

import itertools
import socket
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from types import FrameType
from typing import Any
from urllib.parse import urlsplit

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QPushButton
from pytestqt.qtbot import QtBot

from crystal_manager.desktop.autostart import for_platform
from crystal_manager.gui.app import TrayApp
from crystal_manager.services.update_service import UpdateService
from tests.support.apps import dispose_apps
from tests.support.licensing import FAST, context, issue, service
from tests.support.servers import ReferenceServer

MIB = 1024 * 1024


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


def _queued_seconds() -> float:
    """How long this thread has waited for a CPU so far (Linux schedstat's run-queue time; 0 elsewhere)."""
    try:
        with open("/proc/thread-self/schedstat", encoding="ascii") as stat:
            return int(stat.read().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return 0.0


class GuiTicker:
    """A 10 ms timer on the GUI thread that records when it fired. ``stalls()``: for each pause between two
    ticks, the part the GUI thread was held by something (its own work, a blocking call, a lock): the pause
    less the time it sat ready in the kernel's run queue, which is the machine's load, not the app's."""

    def __init__(self) -> None:
        self.ticks: list[tuple[float, float]] = []
        self._timer = QTimer()
        self._timer.setInterval(10)
        self._timer.timeout.connect(self._tick)

    def _tick(self) -> None:
        self.ticks.append((time.monotonic(), _queued_seconds()))

    def __enter__(self) -> GuiTicker:
        self._timer.start()
        self._tick()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._timer.stop()
        self._tick()

    def stalls(self) -> list[float]:
        """Per pause between ticks, its length less the GUI thread's wait for a CPU in it (seconds)."""
        return [(b[0] - a[0]) - (b[1] - a[1]) for a, b in itertools.pairwise(self.ticks)]


class UpdatesEnv:
    """One test's world: the throttled link to the server, an app context through it (an activated license
    for machine "alpha"), and ``make()`` for tray apps over the real licensing and update services."""

    def __init__(self, qtbot: QtBot, server: ReferenceServer, home: Path, tmp_path: Path, rate: int) -> None:
        self.qtbot, self.server, self.tmp_path = qtbot, server, tmp_path
        self.link = SlowLink(server.url, rate=rate)
        self.ctx = context(home, server.profile_file, self.link.url)
        lic = issue(server.data_dir, plan="pro", seats=2, expires="2099-01-01", max_version="2.9")
        service(self.ctx, config=FAST).activate(lic.key)
        self.made: list[TrayApp] = []

    def make(self) -> TrayApp:
        """A started tray app whose update flow has read the state (and finished any install at start)."""
        self.ctx.settings.welcome_done = True
        entry = for_platform("linux", {"XDG_CONFIG_HOME": str(self.tmp_path / "xdg"), "HOME": str(self.tmp_path)})
        app = TrayApp(self.ctx, api_factory=lambda ctx: service(ctx, config=FAST),
                      update_api_factory=lambda ctx: UpdateService(
                          ctx, license_status=service(ctx, config=FAST).status),
                      tray_probe=lambda: True, autostart_entry=entry)
        self.made.append(app)
        with self.qtbot.waitSignal(app.started):
            app.start()
        self.qtbot.waitUntil(lambda: app.updates.facts.status is not None and not app.updates.busy,
                             timeout=15_000)
        return app

    def close(self) -> None:
        """Tear down the apps, the context and the link."""
        dispose_apps(self.made)
        self.ctx.close()
        self.link.stop()


@contextmanager
def updates_env(qtbot: QtBot, server: ReferenceServer, home: Path, tmp_path: Path, *,
                rate: int = 6 * MIB) -> Iterator[UpdatesEnv]:
    """An :class:`UpdatesEnv` for the block (each test module wraps it in its own fixture)."""
    env = UpdatesEnv(qtbot, server, home, tmp_path, rate)
    try:
        yield env
    finally:
        env.close()


def click_and_wait(qtbot: QtBot, app: TrayApp, button: QPushButton, action: str, timeout: int = 30_000) -> None:
    assert button.isVisibleTo(button.window()) and button.isEnabled(), button.text()
    with qtbot.waitSignal(app.updates.done, timeout=timeout, check_params_cb=lambda name: name == action):
        button.click()



def menu_texts(app: TrayApp) -> list[str]:
    """The tray menu's lines as the user sees them when it opens."""
    assert app.tray is not None
    app.tray.menu.aboutToShow.emit()
    return [a.text() for a in app.tray.menu.actions() if not a.isSeparator()]
