"""Single instance with real second processes: a second launch hands over its arguments and exits;
``--replace`` makes the running one quit and takes its place."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from crystal_manager.gui import instance_server, ipc
from crystal_manager.gui.instance_server import InstanceServer
from crystal_manager.services.context import AppContext
from tests.gui.conftest import MakeApp
from tests.support.apps import gui_child_env


def launch(home: Path, *args: str) -> subprocess.Popen[str]:
    env = gui_child_env(CRYSTAL_MANAGER_HOME=str(home))
    return subprocess.Popen([sys.executable, "-m", "crystal_manager", *args], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def hand_over_from_a_thread(qtbot: QtBot, server: InstanceServer, argv: list[str]) -> bool:
    """A second launch's hand-over, run beside this thread's event loop (the client blocks): True when it
    was acknowledged and the server emitted exactly ``argv``."""
    answered: list[bool] = []
    client = threading.Thread(target=lambda: answered.append(ipc.hand_over(server.name, argv)))
    with qtbot.waitSignal(server.arguments, timeout=10_000) as got:
        client.start()
    qtbot.waitUntil(lambda: bool(answered), timeout=10_000)
    client.join()
    return got.args == [argv] and answered == [True]


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
        # The new process now owns the name: asking it to quit ends it cleanly. One request, once it listens,
        # with time to answer: it listens before its event loop serves (the name is claimed first), so a
        # request that timed out unanswered was still delivered later, and the process then quit before the
        # next one (seen under load: exit 0 and no answer within 30 s).
        qtbot.waitUntil(lambda: ipc.is_listening(name), timeout=30_000)
        assert ipc.send(name, {"command": "quit"}, timeout_ms=30_000)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()


def test_stale_socket_from_a_crash_is_replaced(ctx: AppContext) -> None:
    name = ipc.server_name(ctx.paths)
    if sys.platform != "win32":  # a crash leaves the socket file behind, with nobody listening on it
        left = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        left.bind(name)
        left.close()
        assert Path(name).exists()
    server = InstanceServer(name)
    assert server.listen()
    assert ipc.is_listening(name)
    server.close()
    assert not ipc.is_listening(name)


def test_a_live_instance_is_never_displaced(ctx: AppContext, qtbot: QtBot) -> None:
    # Two launches at once: the one that claimed the name first keeps it; the other hands over to it.
    name = ipc.server_name(ctx.paths)
    first = InstanceServer(name)
    assert first.claim()  # claimed before its tray shows, not yet served by Qt
    second = InstanceServer(name)
    assert not second.claim()
    assert not second.listen()
    assert first.listen()  # the claimed socket is served now
    assert hand_over_from_a_thread(qtbot, first, ["--show", "about"])
    first.close()
    assert not ipc.is_listening(name)


@pytest.mark.skipif(sys.platform == "win32", reason="named pipes: QLocalServer's UserAccessOption")
def test_claimed_name_is_the_users_alone(ctx: AppContext) -> None:
    server = InstanceServer(ipc.server_name(ctx.paths))
    assert server.claim()
    assert Path(server.name).stat().st_mode & 0o077 == 0
    server.close()
    assert not Path(server.name).exists()


def test_nobody_listening_means_no_hand_over(ctx: AppContext) -> None:
    assert ipc.hand_over(ipc.server_name(ctx.paths) + "-absent", ["--show", "about"]) is False


def _raw_client(name: str, payload: bytes, results: list[tuple[bytes, float]], *, hang_up: bool = False) -> None:
    """A misbehaving second launch: sends ``payload`` (maybe no whole line), then hangs up or waits for what
    comes back; records the answer (b"" when dropped) and how long the server took."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(10)
        sock.connect(name)
        start = time.monotonic()
        if payload:
            with contextlib.suppress(OSError):  # the server may drop us mid-send: that is the point
                sock.sendall(payload)
        if hang_up:
            results.append((b"", 0.0))
            return
        try:
            answer = sock.recv(4096)  # b"" once the server drops the connection
        except OSError:
            answer = b""
        results.append((answer, time.monotonic() - start))


SLOW = 10_000  # ms: a client timeout long enough that only the case itself can end the connection


def dropped(flood: list[socket.socket]) -> int:
    """How many of these connections the server has closed."""
    count = 0
    for sock in flood:
        sock.setblocking(False)
        with contextlib.suppress(BlockingIOError):  # still open
            count += sock.recv(1) == b""
    return count


@pytest.mark.skipif(sys.platform == "win32", reason="raw Unix-socket clients")
@pytest.mark.parametrize(("payload", "timeout_ms", "answer", "hang_up"), [
    (b"", 300, b"", False),  # connects, says nothing: dropped when the client timeout ends
    (b"x" * (ipc.MAX_MESSAGE + 4096), SLOW, b"", False),  # an endless line: dropped at the size cap
    (b"not json\n", SLOW, b'{"ok": false}\n', False),  # garbage: answered "not ok", nothing emitted
    (b'["argv"]\n', SLOW, b'{"ok": false}\n', False),  # JSON, but not an object
    (b"[" * 60_000 + b"\n", SLOW, b'{"ok": false}\n', False),  # nested deeper than the JSON parser goes
    (b'{"argv": ["--show", "pri', SLOW, b"", True),  # hangs up mid-line
])
def test_misbehaving_clients_are_dropped_and_the_next_launch_still_gets_through(
        ctx: AppContext, qtbot: QtBot, monkeypatch: pytest.MonkeyPatch, payload: bytes, timeout_ms: int,
        answer: bytes, hang_up: bool) -> None:
    monkeypatch.setattr(instance_server, "CLIENT_TIMEOUT_MS", timeout_ms)
    name = ipc.server_name(ctx.paths)
    server = InstanceServer(name)
    assert server.listen()
    emitted: list[object] = []
    server.arguments.connect(emitted.append)
    results: list[tuple[bytes, float]] = []
    bad = threading.Thread(target=_raw_client, args=(name, payload, results), kwargs={"hang_up": hang_up})
    bad.start()
    qtbot.waitUntil(lambda: bool(results), timeout=SLOW)
    bad.join()
    (got, took), = results
    assert got == answer and emitted == []
    if timeout_ms == SLOW:
        assert took < 5  # ended by the case itself, not by the client timeout
    else:
        assert took >= timeout_ms / 1000 * 0.8  # the silent client was given its time, then dropped
    qtbot.waitUntil(lambda: server.client_count() == 0, timeout=SLOW)  # the hung-up one is gone too
    assert hand_over_from_a_thread(qtbot, server, ["--show", "license"])
    server.close()
    assert not Path(name).exists()


def flood_is_capped_and_clears(qtbot: QtBot, server: InstanceServer, name: str) -> None:
    """MAX_CLIENTS + 4 silent connections: the 4 past the cap are closed at once; once the rest hang up, a
    launch gets through."""
    flood = [socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) for _ in range(instance_server.MAX_CLIENTS + 4)]
    for sock in flood:
        sock.connect(name)
    qtbot.waitUntil(lambda: server.client_count() == instance_server.MAX_CLIENTS, timeout=SLOW)
    qtbot.waitUntil(lambda: dropped(flood) == 4, timeout=SLOW)
    for sock in flood:
        sock.close()
    qtbot.waitUntil(lambda: server.client_count() == 0, timeout=SLOW)
    assert hand_over_from_a_thread(qtbot, server, ["--show", "about"])


@pytest.mark.skipif(sys.platform == "win32", reason="raw Unix-socket clients")
def test_a_flood_of_connections_is_capped_and_clears(ctx: AppContext, qtbot: QtBot) -> None:
    name = ipc.server_name(ctx.paths)
    server = InstanceServer(name)
    assert server.listen()
    flood_is_capped_and_clears(qtbot, server, name)
    server.close()


@pytest.mark.skipif(sys.platform == "win32", reason="socket files")
def test_closing_never_removes_a_successors_socket(ctx: AppContext) -> None:
    name = ipc.server_name(ctx.paths)
    old = InstanceServer(name)
    assert old.listen()
    # A --replace successor that saw the old one stop: it removed the name and bound its own.
    Path(name).unlink()
    successor = ipc.claim(name)
    assert successor is not None
    old.close()
    assert Path(name).exists() and ipc.is_listening(name)  # the successor's file survived
    successor.release()
    assert not Path(name).exists()


@pytest.mark.skipif(sys.platform == "win32", reason="socket files")
def test_only_a_name_nobody_answers_on_counts_as_free(ctx: AppContext, tmp_path: Path) -> None:
    name = ipc.server_name(ctx.paths)
    assert ipc.nobody_holds(name)  # no file
    left = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    left.bind(name)  # bound, not listening: what a crash leaves behind
    assert ipc.nobody_holds(name)
    left.close()
    Path(name).unlink()
    live = ipc.claim(name)
    assert live is not None and not ipc.nobody_holds(name) and ipc.claim(name) is None
    live.release()


@pytest.mark.skipif(sys.platform == "win32", reason="proved through QLocalServer on a Unix socket path")
def test_the_windows_listener_has_the_same_limits(ctx: AppContext, qtbot: QtBot, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    # QLocalServer serves named pipes on Windows; given a path it serves a Unix socket, so its limits
    # can be proved here: a silent client is dropped after the timeout, a flood is capped, a launch gets in.
    monkeypatch.setattr(instance_server, "CLIENT_TIMEOUT_MS", 300)
    name = str(tmp_path / "pipe")
    server = InstanceServer(name)
    pipe = instance_server._PipeListener(server)
    server._pipe = pipe  # as listen() does on Windows
    assert pipe.listen(name)
    results: list[tuple[bytes, float]] = []
    silent = threading.Thread(target=_raw_client, args=(name, b"", results))
    silent.start()
    qtbot.waitUntil(lambda: bool(results), timeout=SLOW)
    silent.join()
    (answer, took), = results
    assert answer == b"" and took >= 0.24
    monkeypatch.setattr(instance_server, "CLIENT_TIMEOUT_MS", SLOW)  # from here only the case ends it
    endless = threading.Thread(target=_raw_client, args=(name, b"x" * (ipc.MAX_MESSAGE + 4096), results))
    endless.start()
    qtbot.waitUntil(lambda: len(results) == 2, timeout=SLOW)
    endless.join()
    assert results[1][0] == b"" and results[1][1] < 5  # dropped at the size cap
    flood_is_capped_and_clears(qtbot, server, name)
    server.close()


@pytest.mark.skipif(sys.platform == "win32", reason="socket files")
def test_launches_take_turns_to_claim_the_name(ctx: AppContext) -> None:
    import fcntl

    name = ipc.server_name(ctx.paths)
    lock = os.open(name + ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(lock, fcntl.LOCK_EX)  # another launch is in the middle of its claim
    claimed: list[ipc.Claimed | None] = []
    other = threading.Thread(target=lambda: claimed.append(ipc.claim(name)))
    other.start()
    other.join(0.5)
    assert other.is_alive() and not Path(name).exists()  # it waits its turn: no stale-check, no bind
    os.close(lock)  # that launch is done
    other.join(10)
    assert claimed and claimed[0] is not None and ipc.is_listening(name)
    claimed[0].release()


@pytest.mark.skipif(sys.platform == "win32", reason="socket files")
def test_a_name_that_cannot_be_used_means_no_single_instance_not_a_crash(ctx: AppContext) -> None:
    name = ipc.server_name(ctx.paths)
    Path(name + ".lock").mkdir()  # e.g. another user's file in a shared /tmp
    try:
        assert ipc.claim(name) is None
    finally:
        Path(name + ".lock").rmdir()


def _slow_instance(name: str, answers_after_s: float | None) -> tuple[threading.Thread, list[bytes], threading.Event]:
    """A process holding ``name`` that reads a request but is too busy to answer it: after ``answers_after_s``
    it stops listening (as an instance does when it quits); ``None``: it never does (a hung instance)."""
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(name)
    listener.listen(4)
    received: list[bytes] = []
    gone = threading.Event()

    def serve() -> None:
        conn, _ = listener.accept()
        received.append(conn.recv(4096))
        if answers_after_s is None:
            gone.wait()  # the test ends it
        else:
            time.sleep(answers_after_s)  # busy: no answer, then it quits
        gone.set()  # before the name is free: whoever sees it free sees this set
        listener.close()
        conn.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return thread, received, gone


@pytest.mark.skipif(not ipc.POSIX, reason="a plain Unix socket stands in for the busy instance")
def test_replace_waits_for_a_busy_instance_instead_of_taking_it_for_none(ctx: AppContext) -> None:
    # Before: a quit request unanswered within the send's 3 s counted as "nobody running", so --replace went on
    # while the busy instance, which had the request, was still there (and then quit: no instance left).
    name = ipc.server_name(ctx.paths)
    thread, received, gone = _slow_instance(name, answers_after_s=ipc.TIMEOUT_MS / 1000 + 1.5)
    assert ipc.ask_to_quit(name, wait_s=20)
    assert gone.is_set(), "ask_to_quit returned while the busy instance still held the name"
    assert received and b'"quit"' in received[0]
    thread.join(5)


@pytest.mark.skipif(not ipc.POSIX, reason="a plain Unix socket stands in for the hung instance")
def test_replace_gives_up_on_an_instance_that_never_quits(ctx: AppContext) -> None:
    name = ipc.server_name(ctx.paths)
    thread, received, gone = _slow_instance(name, answers_after_s=None)
    try:
        # Its backlog fills with the waiting probes (it accepts nothing): that is still an instance, not none.
        assert not ipc.ask_to_quit(name, wait_s=2)  # --replace then says so and exits EXIT_REPLACE_FAILED
        assert received and not gone.is_set()
    finally:
        gone.set()
        thread.join(5)


@pytest.mark.skipif(not ipc.POSIX or os.geteuid() != 0 or not shutil.which("setpriv"),
                    reason="needs root to hand the probe to another user (setpriv)")
def test_replace_does_not_wait_for_another_users_socket() -> None:
    # Another user's socket at our path (a shared /tmp) refuses us (EACCES): it is never an instance of ours,
    # so --replace goes on at once (and runs without the name), as a plain launch does.
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="cm3d-"))  # short: a socket's path holds ~100 bytes
    os.chmod(folder, 0o755)
    # The module itself, loaded from a copy user nobody can read (the checkout may sit in a folder only root
    # may enter, as a fresh clone under mktemp -d does); it needs nothing else of the app.
    module = folder / "ipc_under_test.py"
    shutil.copyfile(ipc.__file__, module)
    os.chmod(module, 0o644)
    name = str(folder / "crystalme3dpro-manager-test")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    code = ("import importlib.util, sys; spec = importlib.util.spec_from_file_location('ipc', sys.argv[1]); "
            "ipc = importlib.util.module_from_spec(spec); spec.loader.exec_module(ipc); "
            "print(ipc.ask_to_quit(sys.argv[2], wait_s=3))")
    try:
        listener.bind(name)
        listener.listen(4)
        os.chmod(name, 0o700)  # root's own: user nobody may not connect
        out = subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", sys.executable,
                              "-I", "-c", code, str(module), name],
                             capture_output=True, text=True, timeout=60, check=False)
    finally:
        listener.close()
        shutil.rmtree(folder, ignore_errors=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "True"
