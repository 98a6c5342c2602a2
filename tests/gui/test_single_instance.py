"""Single instance with real second processes: a second launch hands over its arguments and exits;
``--replace`` makes the running one quit and takes its place."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from pytestqt.qtbot import QtBot

from crystal_manager.gui import ipc
from crystal_manager.gui.ipc import InstanceServer
from crystal_manager.services.context import AppContext
from tests.gui.conftest import MakeApp

ROOT = Path(__file__).resolve().parents[2]


def launch(home: Path, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "CRYSTAL_MANAGER_HOME": str(home), "QT_QPA_PLATFORM": "offscreen",
           "PYTHONPATH": str(ROOT), "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring"}
    return subprocess.Popen([sys.executable, "-m", "crystal_manager", *args], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_second_launch_hands_over_show_privacy(make_app: MakeApp, ctx: AppContext, app_home: Path,
                                               qtbot: QtBot) -> None:
    server = InstanceServer(ipc.server_name(ctx.paths))
    assert server.listen()
    app, _fake, _probe = make_app("active", tray=True, instance=server)
    assert not app.has_window()
    proc = launch(app_home, "--show", "privacy")
    try:
        with qtbot.waitSignal(server.arguments, timeout=30_000) as got:
            pass
        assert got.args == [["--show", "privacy"]]
        assert proc.wait(timeout=30) == 0, proc.stderr.read() if proc.stderr else ""
    finally:
        if proc.poll() is None:
            proc.kill()
    window = app.window()
    assert window.isVisible() and window.current_page() == "privacy"
    server.close()


def test_replace_takes_over_and_the_new_instance_answers(make_app: MakeApp, ctx: AppContext, app_home: Path,
                                                         qtbot: QtBot) -> None:
    name = ipc.server_name(ctx.paths)
    server = InstanceServer(name)
    assert server.listen()
    app, _fake, _probe = make_app("active", tray=True, instance=server)
    proc = launch(app_home, "--replace")
    try:
        with qtbot.waitSignal(app.quit_requested, timeout=30_000):
            pass
        # The new process now owns the name: asking it to quit ends it cleanly.
        qtbot.waitUntil(lambda: ipc.send(name, {"command": "quit"}, timeout_ms=1000), timeout=30_000)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()


def test_stale_socket_from_a_crash_is_replaced(ctx: AppContext) -> None:
    name = ipc.server_name(ctx.paths)
    first = InstanceServer(name)
    assert first.listen()
    second = InstanceServer(name)  # as after a crash that left the name behind
    assert second.listen()
    first.close()
    second.close()


def test_nobody_listening_means_no_hand_over(ctx: AppContext) -> None:
    assert ipc.hand_over(ipc.server_name(ctx.paths) + "-absent", ["--show", "about"]) is False
