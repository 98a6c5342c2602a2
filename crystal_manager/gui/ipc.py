"""Single instance through a local socket (as qutebrowser does): the first process listens; a second
launch hands over its arguments and exits; ``--replace`` asks the running one to quit and takes over.

Messages are one JSON line each way: ``{"argv": [...]}`` or ``{"command": "quit"}``, answered ``{"ok": true}``.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import time
from collections.abc import Sequence

from PySide6.QtCore import QObject, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket

from crystal_manager.storage.paths import AppPaths

TIMEOUT_MS = 3000
MAX_MESSAGE = 64 * 1024


def server_name(paths: AppPaths) -> str:
    """One name per user and per app folder (so test homes and real installs never meet)."""
    digest = hashlib.sha256(f"{getpass.getuser()}\0{paths.config_dir}".encode()).hexdigest()[:16]
    return f"crystalme3dpro-manager-{digest}"


def send(name: str, message: dict[str, object], timeout_ms: int = TIMEOUT_MS) -> bool:
    """Deliver ``message`` to the running instance; True when it acknowledged. False: nobody listens."""
    socket = QLocalSocket()
    socket.connectToServer(name)
    if not socket.waitForConnected(timeout_ms):
        return False
    try:
        socket.write((json.dumps(message) + "\n").encode())
        if not socket.waitForBytesWritten(timeout_ms):
            return False
        while not socket.canReadLine():
            if not socket.waitForReadyRead(timeout_ms):
                return False
        answer = json.loads(bytes(socket.readLine().data()))
        return isinstance(answer, dict) and answer.get("ok") is True
    except ValueError:
        return False
    finally:
        socket.disconnectFromServer()


def hand_over(name: str, argv: Sequence[str]) -> bool:
    """A second launch: give the running instance our arguments."""
    return send(name, {"argv": list(argv)})


def ask_to_quit(name: str, wait_s: float = 15.0) -> bool:
    """``--replace``: ask the running instance to quit and wait until it no longer listens."""
    if not send(name, {"command": "quit"}):
        return True  # nobody was running
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        probe = QLocalSocket()
        probe.connectToServer(name)
        if not probe.waitForConnected(200):
            return True
        probe.abort()
        time.sleep(0.1)  # a separate process is shutting down; this runs before our event loop exists
    return False


class InstanceServer(QObject):
    """The first instance's listener. ``arguments`` carries a second launch's argv; ``quit_requested``
    a ``--replace``."""

    arguments = Signal(list)
    quit_requested = Signal()

    def __init__(self, name: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.name = name
        self._server = QLocalServer(self)
        self._server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        self._server.newConnection.connect(self._on_connection)

    def listen(self) -> bool:
        """Start listening; a stale socket left by a crash is removed first."""
        if self._server.listen(self.name):
            return True
        QLocalServer.removeServer(self.name)
        return bool(self._server.listen(self.name))

    def close(self) -> None:
        """Stop listening (at quit)."""
        self._server.close()

    def _on_connection(self) -> None:
        while self._server.hasPendingConnections():
            socket = self._server.nextPendingConnection()
            socket.readyRead.connect(lambda s=socket: self._on_ready(s))
            socket.disconnected.connect(socket.deleteLater)

    def _on_ready(self, socket: QLocalSocket) -> None:
        if not socket.canReadLine():
            if socket.bytesAvailable() > MAX_MESSAGE:
                socket.abort()
            return
        try:
            message = json.loads(bytes(socket.readLine().data()))
        except ValueError:
            message = None
        ok = isinstance(message, dict)
        socket.write((json.dumps({"ok": ok}) + "\n").encode())
        socket.flush()
        if not isinstance(message, dict):
            return
        argv = message.get("argv")
        if message.get("command") == "quit":
            self.quit_requested.emit()
        elif isinstance(argv, list) and all(isinstance(a, str) for a in argv):
            self.arguments.emit(argv)
