"""The first instance's listener: serves the single-instance name (claimed before the tray showed, see
:mod:`crystal_manager.gui.ipc`) with Qt's ``QLocalServer`` and turns messages into signals."""

from __future__ import annotations

import contextlib
import os
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket

from crystal_manager.gui import ipc

if TYPE_CHECKING:
    import _socket


class InstanceServer(QObject):
    """``arguments`` carries a second launch's argv; ``quit_requested`` a ``--replace``. :meth:`claim`
    takes the name without Qt (the start does it with :func:`ipc.claim` before the tray shows and passes
    the socket in); :meth:`listen` serves it (claiming first if needed)."""

    arguments = Signal(list)
    quit_requested = Signal()

    def __init__(self, name: str, claimed: _socket.socket | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.name = name
        self._server: QLocalServer | None = None
        self._claimed = claimed
        # Connected clients, held here and let go explicitly: Python closures over them crashed at exit.
        self._clients: list[QLocalSocket] = []

    def claim(self) -> bool:
        """Bind the name (POSIX). False when another live process holds it. On Windows the name is taken
        by :meth:`listen`; this returns True."""
        if not ipc.POSIX or self._claimed is not None:
            return True
        self._claimed = ipc.claim(self.name)
        return self._claimed is not None

    def listen(self) -> bool:
        """Start serving. False when the name is held by another live instance."""
        if self._server is not None:
            return bool(self._server.isListening())
        if not self.claim():
            return False
        server = QLocalServer(self)
        server.newConnection.connect(self._on_connection)
        self._server = server
        if self._claimed is not None:  # hand our bound socket to Qt; from now on Qt owns (and closes) it
            descriptor = self._claimed.detach()
            self._claimed = None
            return bool(server.listen(descriptor))
        server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        if server.listen(self.name):
            return True
        if ipc.is_listening(self.name):
            return False
        QLocalServer.removeServer(self.name)
        return bool(server.listen(self.name))

    def close(self) -> None:
        """Stop listening (at quit) and remove the name."""
        for client in self._clients:
            client.readyRead.disconnect(self._on_ready)
            client.disconnected.disconnect(self._on_disconnected)
            client.abort()
        self._clients.clear()
        if self._server is not None:
            self._server.close()
        if self._claimed is not None:  # claimed but never served
            self._claimed.close()
            self._claimed = None
            if ipc.POSIX:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self.name)

    def _on_connection(self) -> None:
        assert self._server is not None
        while self._server.hasPendingConnections():
            socket = self._server.nextPendingConnection()
            self._clients.append(socket)
            socket.readyRead.connect(self._on_ready)
            socket.disconnected.connect(self._on_disconnected)

    def _client(self) -> QLocalSocket | None:
        sender = self.sender()
        return next((c for c in self._clients if c is sender), None)

    def _on_disconnected(self) -> None:
        socket = self._client()
        if socket is not None:
            self._clients.remove(socket)
            socket.deleteLater()

    def _on_ready(self) -> None:
        socket = self._client()
        if socket is None:
            return
        if not socket.canReadLine():
            if socket.bytesAvailable() > ipc.MAX_MESSAGE:
                socket.abort()
            return
        message = ipc.decode(bytes(socket.readLine().data()))
        socket.write(ipc.encode({"ok": message is not None}))
        socket.flush()
        if message is None:
            return
        argv = message.get("argv")
        if message.get("command") == "quit":
            self.quit_requested.emit()
        elif isinstance(argv, list) and all(isinstance(a, str) for a in argv):
            self.arguments.emit(argv)
