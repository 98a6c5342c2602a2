"""Waiting for a hanging server: on a terminal the CLI says it is waiting (a spinner; a pipe keeps its
one-line errors), and ctrl-C stops it with one line and the interrupted exit code; nothing is changed."""

from __future__ import annotations

import os
import pty
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from crystal_manager.cli.exit_codes import EXIT_INTERRUPTED
from tests.support.cli_run import run_cli
from tests.support.misbehaving import hang, misbehaving
from tests.support.servers import ReferenceServer


def _env(home: Path, server: ReferenceServer, url: str) -> dict[str, str]:
    return {**os.environ, "CRYSTAL_MANAGER_HOME": str(home), "CRYSTAL_MANAGER_PROFILE": str(server.profile_file),
            "CRYSTAL_MANAGER_SERVER": url, "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}


def _read_until(fd: int, marker: bytes, deadline: float) -> bytes:
    seen = b""
    while marker not in seen and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
    return seen


def _key(server: ReferenceServer) -> str:
    from tests.support.licensing import issue

    return issue(server.data_dir).key


def test_ctrl_c_while_waiting_on_a_pipe(tmp_path: Path, reference_server: ReferenceServer) -> None:
    key = _key(reference_server)
    asked = threading.Event()

    def hang_after_noting(conn: socket.socket, request: bytes) -> None:
        asked.set()
        hang(60)(conn, request)

    with misbehaving(hang_after_noting) as server:
        process = subprocess.Popen([sys.executable, "-m", "crystal_manager", "activate", key],
                                   env=_env(tmp_path / "home", reference_server, server.url),
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            assert asked.wait(30)  # the request is out: the CLI now waits for an answer that never comes
            process.send_signal(signal.SIGINT)
            out, err = process.communicate(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
    assert process.returncode == EXIT_INTERRUPTED == 130
    assert err.strip().splitlines() == ["crystal-manager: Not activated: you stopped waiting for the licensing "
                                        "server; nothing was changed on this computer."]
    assert "Traceback" not in err and out == ""
    status = run_cli(["status"], env=_env(tmp_path / "home", reference_server, reference_server.url))
    assert "License: Not activated" in status.stdout  # no license stored, no key kept


def test_a_spinner_on_a_terminal(tmp_path: Path, reference_server: ReferenceServer) -> None:
    key = _key(reference_server)
    with misbehaving(hang(60)) as server:
        parent, child = pty.openpty()
        process = subprocess.Popen([sys.executable, "-m", "crystal_manager", "activate", key],
                                   env=_env(tmp_path / "home", reference_server, server.url),
                                   stdout=subprocess.PIPE, stderr=child, text=True)
        os.close(child)
        try:
            first = _read_until(parent, b"ctrl-C to stop", time.monotonic() + 30)
            more = _read_until(parent, b"\r", time.monotonic() + 5)  # it turns
            process.send_signal(signal.SIGINT)
            rest = _read_until(parent, b"nothing was changed", time.monotonic() + 30)
            assert process.wait(timeout=30) == EXIT_INTERRUPTED
        finally:
            if process.poll() is None:
                process.kill()
            os.close(parent)
    shown = (first + more + rest).decode(errors="replace")
    assert "\r" in shown and "Waiting for the licensing server…" in shown
    assert shown.rstrip().endswith("nothing was changed on this computer.")


def _spinner_for(args: list[str], tmp_path: Path, reference_server: ReferenceServer, words: str) -> str:
    """Run ``args`` against a server that never answers, on a terminal; what stderr showed until ctrl-C."""
    with misbehaving(hang(60)) as server:
        parent, child = pty.openpty()
        process = subprocess.Popen([sys.executable, "-m", "crystal_manager", *args],
                                   env=_env(tmp_path / "home", reference_server, server.url),
                                   stdout=subprocess.PIPE, stderr=child, text=True)
        os.close(child)
        try:
            first = _read_until(parent, b"ctrl-C to stop", time.monotonic() + 30)
            process.send_signal(signal.SIGINT)
            rest = _read_until(parent, b"stopped waiting", time.monotonic() + 30)
            process.wait(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
            os.close(parent)
    shown = (first + rest).decode(errors="replace")
    assert words in shown, shown
    return shown


def test_update_check_shows_the_spinner(tmp_path: Path, reference_server: ReferenceServer) -> None:
    """Finding 11: `update check` on a silent server says it is waiting, as the licensing verbs do."""
    _spinner_for(["update", "check"], tmp_path, reference_server, "Waiting for the update server…")


def test_status_check_server_shows_the_spinner(tmp_path: Path, reference_server: ReferenceServer) -> None:
    _spinner_for(["status", "--check-server"], tmp_path, reference_server, "Waiting for the server…")
