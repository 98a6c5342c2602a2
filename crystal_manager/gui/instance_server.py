"""The first instance's listener: serves the single-instance name (claimed before the tray showed, see
:mod:`crystal_manager.gui.ipc`) and turns messages into signals.

On Linux and macOS the claimed Unix socket is served with ``QSocketNotifier`` from QtCore: QtNetwork's
``QLocalServer`` would add ~2.5 MiB to every running Manager for one tiny message per launch. On Windows
(named pipes) ``QLocalServer`` does it.
"""

from __future__ import annotations

import contextlib
import errno
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QSocketNotifier, QTimer, Signal

from crystal_manager.gui import ipc

if TYPE_CHECKING:
    import _socket
    import socket

    from PySide6.QtNetwork import QLocalServer, QLocalSocket

CLIENT_TIMEOUT_MS = ipc.TIMEOUT_MS  # a client that sends no whole line in this time is dropped
MAX_CLIENTS = 16  # connections served at once; more are closed at once (that launch then runs on its own)
PAUSE_MS = 200  # out of file handles: stop accepting for this long rather than spin


class InstanceServer(QObject):
    """``arguments`` carries a second launch's argv; ``quit_requested`` a ``--replace``. :meth:`claim`
    takes the name without Qt (the start does it with :func:`ipc.claim` before the tray shows and passes
    the socket in); :meth:`listen` serves it (claiming first if needed)."""

    arguments = Signal(list)
    quit_requested = Signal()

    def __init__(self, name: str, claimed: ipc.Claimed | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.name = name
        self._claimed = claimed  # bound, not served yet
        self._owned: ipc.Claimed | None = None  # served: its file is removed at close if still ours
        self._listener: _Listener | None = None
        self._pipe: _PipeListener | None = None

    def claim(self) -> bool:
        """Bind the name (POSIX). False when another live process holds it. On Windows the name is taken
        by :meth:`listen`; this returns True."""
        if not ipc.POSIX or self._claimed is not None or self._listener is not None:
            return True
        self._claimed = ipc.claim(self.name)
        return self._claimed is not None

    def listen(self) -> bool:
        """Start serving. False when the name is held by another live instance."""
        if self._listener is not None or self._pipe is not None:
            return True
        if not ipc.POSIX:
            pipe = _PipeListener(self)
            if not pipe.listen(self.name):
                return False
            self._pipe = pipe
            return True
        if not self.claim():
            return False
        assert self._claimed is not None
        self._owned, self._claimed = self._claimed, None
        self._listener = _Listener(self._owned.sock, self)
        return True

    def close(self) -> None:
        """Stop listening (at quit) and remove the name."""
        if self._pipe is not None:
            self._pipe.close()
            self._pipe = None
        if self._claimed is not None:  # claimed but never served
            self._claimed.release()
            self._claimed = None
        if self._owned is not None:
            # The name first, then the socket, and only our own file: a --replace successor that saw us
            # stop may already have bound a new one at the same path.
            self._owned.remove_name()
            self._owned = None
        if self._listener is not None:
            self._listener.close()
            self._listener = None

    def client_count(self) -> int:
        """Connections being served now."""
        served = self._listener or self._pipe
        return served.client_count() if served is not None else 0

    def deliver(self, message: dict[str, object]) -> None:
        """Act on one received message."""
        argv = message.get("argv")
        if message.get("command") == "quit":
            self.quit_requested.emit()
        elif isinstance(argv, list) and all(isinstance(a, str) for a in argv):
            self.arguments.emit(argv)


class _Client(QObject):
    """One connection: read one line (bounded in size and time), answer, close."""

    def __init__(self, conn: socket.socket, server: InstanceServer, done: _Listener) -> None:
        super().__init__(server)
        self._conn = conn
        self._server = server
        self._done = done
        self._buffer = b""
        self._notifier = QSocketNotifier(conn.fileno(), QSocketNotifier.Type.Read, self)
        self._notifier.activated.connect(self._read)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.close)
        self._timer.start(CLIENT_TIMEOUT_MS)

    def _read(self) -> None:
        try:
            chunk = self._conn.recv(4096)
        except BlockingIOError:
            return
        except OSError:
            chunk = b""
        self._buffer += chunk
        if not chunk or len(self._buffer) > ipc.MAX_MESSAGE:
            self.close()
            return
        if b"\n" not in self._buffer:
            return
        message = None
        try:
            message = ipc.decode(self._buffer.split(b"\n", 1)[0])
            with contextlib.suppress(OSError):  # a tiny answer to a peer that may already be gone
                self._conn.sendall(ipc.encode({"ok": message is not None}))
        finally:
            self.close()  # whatever happened, this connection is done
        if message is not None:
            self._server.deliver(message)

    def close(self) -> None:
        """Drop the connection."""
        if self._conn.fileno() < 0:
            return
        self._timer.stop()
        self._notifier.setEnabled(False)
        self._conn.close()
        self._done.forget(self)
        self.deleteLater()


class _Listener(QObject):
    """Accepts connections on the claimed Unix socket."""

    def __init__(self, claimed: _socket.socket, server: InstanceServer) -> None:
        super().__init__(server)
        import socket  # only after the tray (a start-up trick: docs/decisions/0012-start-up-tricks.md)

        self._server = server
        self._sock = socket.socket(fileno=claimed.detach())
        self._sock.setblocking(False)
        self._clients: list[_Client] = []
        self._notifier = QSocketNotifier(self._sock.fileno(), QSocketNotifier.Type.Read, self)
        self._notifier.activated.connect(self._accept)

    def _accept(self) -> None:
        while True:
            try:
                conn, _address = self._sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                if exc.errno in (errno.EMFILE, errno.ENFILE):  # the pending connection would wake us at once
                    self._notifier.setEnabled(False)
                    QTimer.singleShot(PAUSE_MS, self, self._resume)
                return
            if len(self._clients) >= MAX_CLIENTS:
                conn.close()
                continue
            conn.setblocking(False)
            self._clients.append(_Client(conn, self._server, self))

    def client_count(self) -> int:
        """Connections being served now."""
        return len(self._clients)

    def _resume(self) -> None:
        if self._sock.fileno() >= 0:  # not closed meanwhile (its descriptor may belong to another file now)
            self._notifier.setEnabled(True)

    def forget(self, client: _Client) -> None:
        """A client closed."""
        if client in self._clients:
            self._clients.remove(client)

    def close(self) -> None:
        """Stop accepting and drop every client."""
        self._notifier.setEnabled(False)
        for client in list(self._clients):
            client.close()
        self._sock.close()


class _PipeListener(QObject):
    """Windows: QLocalServer on a named pipe, the user's alone, with the same limits as the POSIX listener
    (one line of 64 KiB within the client timeout, at most MAX_CLIENTS at once)."""

    def __init__(self, server: InstanceServer) -> None:
        super().__init__(server)
        self._server = server
        self._local: QLocalServer | None = None
        # Connected clients, held here and let go explicitly: Python closures over them crashed at exit.
        self._clients: list[QLocalSocket] = []

    def listen(self, name: str) -> bool:
        """Take the pipe name; False when a live instance holds it."""
        from PySide6.QtNetwork import QLocalServer

        local = QLocalServer(self)
        local.newConnection.connect(self._on_connection)
        local.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        self._local = local
        if local.listen(name):
            return True
        if ipc.is_listening(name):
            return False
        QLocalServer.removeServer(name)
        return bool(local.listen(name))

    def close(self) -> None:
        """Stop listening and drop every client."""
        for client in self._clients:
            client.readyRead.disconnect(self._on_ready)
            client.disconnected.disconnect(self._on_disconnected)
            client.abort()
        self._clients.clear()
        if self._local is not None:
            self._local.close()

    def _on_connection(self) -> None:
        assert self._local is not None
        while self._local.hasPendingConnections():
            socket = self._local.nextPendingConnection()
            if len(self._clients) >= MAX_CLIENTS:
                socket.abort()
                socket.deleteLater()
                continue
            self._clients.append(socket)
            socket.readyRead.connect(self._on_ready)
            socket.disconnected.connect(self._on_disconnected)
            timer = QTimer(socket)  # goes with the socket
            timer.setSingleShot(True)
            timer.timeout.connect(self._expire)
            timer.start(CLIENT_TIMEOUT_MS)

    def _client(self) -> QLocalSocket | None:
        sender = self.sender()
        return next((c for c in self._clients if c is sender), None)

    def client_count(self) -> int:
        """Connections being served now."""
        return len(self._clients)

    def _expire(self) -> None:
        timer = self.sender()
        socket = next((c for c in self._clients if timer is not None and c is timer.parent()), None)
        if socket is not None:
            socket.abort()  # → disconnected → forgotten

    def _on_disconnected(self) -> None:
        socket = self._client()
        if socket is not None:
            self._clients.remove(socket)
            socket.deleteLater()

    def _on_ready(self) -> None:
        from PySide6.QtNetwork import QLocalSocket

        socket = self._client()
        if socket is None or socket.state() != QLocalSocket.LocalSocketState.ConnectedState:
            return  # answered already: anything after the first line is ignored
        if not socket.canReadLine():
            if socket.bytesAvailable() > ipc.MAX_MESSAGE:
                socket.abort()
            return
        message = ipc.decode(bytes(socket.readLine().data()))
        socket.write(ipc.encode({"ok": message is not None}))
        socket.flush()
        socket.disconnectFromServer()  # one line per connection, as on POSIX
        if message is not None:
            self._server.deliver(message)
