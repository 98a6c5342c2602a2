"""Single instance through a local socket (as qutebrowser does): the first process listens; a second
launch hands over its arguments and exits; ``--replace`` asks the running one to quit and takes over.

Messages are one JSON line each way: ``{"argv": [...]}`` or ``{"command": "quit"}``, answered ``{"ok": true}``.

On Linux and macOS the name is a Unix socket path: the check for a running instance and the claim of the
name use the standard library before the tray shows (under a lock file, so two launches never both win),
and :mod:`crystal_manager.gui.instance_server` serves the claimed socket afterwards with QtCore's socket
notifiers. On Windows (named pipes) QtNetwork does it all. Nothing here loads Qt or ``json`` unless a
running instance answers: this module is on the path to the first tray icon.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sys
import time
import zlib
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import _socket

    from crystal_manager.storage.paths import AppPaths

TIMEOUT_MS = 3000
MAX_MESSAGE = 64 * 1024
BACKLOG = 64
# A connect that fails with one of these means nobody holds the name (a file left by a crash, or none).
# Anything else (a full backlog answers EAGAIN, a slow instance times out) means somebody might.
NOBODY = frozenset({errno.ECONNREFUSED, errno.ENOENT})
POSIX = sys.platform != "win32"
MAX_SOCKET_PATH = 100  # sockaddr_un.sun_path holds 104 (macOS) or 108 (Linux) bytes


def _user_name() -> str:
    """``getpass.getuser()`` without importing getpass (it pulls termios): same answer, same order."""
    for variable in ("LOGNAME", "USER", "LNAME", "USERNAME"):
        user = os.environ.get(variable)
        if user:
            return user
    if not POSIX:
        raise OSError("no user name in the environment")  # as getpass on Windows
    import pwd

    return pwd.getpwuid(os.getuid())[0]


def server_name(paths: AppPaths) -> str:
    """One name per user and per app folder (so test homes and real installs never meet): a socket path in
    the user's runtime folder on Linux and macOS, a pipe name on Windows."""
    key = f"{_user_name()}\0{paths.config_dir}".encode()
    # Two CRCs make a 64-bit tag: enough to keep folders apart, and no OpenSSL load (hashlib) on the path.
    name = f"crystalme3dpro-manager-{zlib.crc32(key):08x}{zlib.adler32(key):08x}"
    if not POSIX:
        return name
    # XDG_RUNTIME_DIR is the user's own; else Qt's default folder for a bare name (QDir::tempPath), where
    # the socket file is made the user's alone (see claim). Not tempfile (docs/decisions/0012-start-up-tricks.md).
    shared_tmp = "/tmp"  # noqa: S108 - what QLocalServer used before; the socket itself is mode 0700
    for folder in (os.environ.get("XDG_RUNTIME_DIR"), os.environ.get("TMPDIR"), shared_tmp):
        if folder and os.path.isdir(folder) and len(os.path.join(folder, name)) <= MAX_SOCKET_PATH:
            return os.path.join(folder, name)
    return os.path.join(shared_tmp, name)


def _knock(name: str, timeout_ms: int) -> tuple[_socket.socket | None, int | None]:
    """Connect to ``name``: the socket, or None and the errno (None for a timeout)."""
    # The C module, not ``socket``: a start-up trick (docs/decisions/0012-start-up-tricks.md).
    import _socket

    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    sock.settimeout(timeout_ms / 1000)
    try:
        sock.connect(name)
    except OSError as exc:
        sock.close()
        return None, exc.errno
    return sock, None


def _connect(name: str, timeout_ms: int) -> _socket.socket | None:
    return _knock(name, timeout_ms)[0]


def nobody_holds(name: str, timeout_ms: int = 200) -> bool:
    """True only when it is certain that no process holds ``name`` (POSIX): then its file may go."""
    sock, error = _knock(name, timeout_ms)
    if sock is not None:
        sock.close()
        return False
    return error in NOBODY


def _send_posix(name: str, message: dict[str, object], timeout_ms: int) -> bytes | None:
    sock = _connect(name, timeout_ms)
    if sock is None:
        return None
    try:
        sock.sendall(encode(message))
        answer = b""
        while b"\n" not in answer and len(answer) <= MAX_MESSAGE:
            chunk = sock.recv(4096)
            if not chunk:
                return None
            answer += chunk
    except OSError:
        return None
    finally:
        sock.close()
    return answer.split(b"\n", 1)[0]


def _send_qt(name: str, message: dict[str, object], timeout_ms: int) -> bytes | None:
    from PySide6.QtNetwork import QLocalSocket

    socket = QLocalSocket()
    socket.connectToServer(name)
    if not socket.waitForConnected(timeout_ms):
        return None
    try:
        socket.write(encode(message))
        if not socket.waitForBytesWritten(timeout_ms):
            return None
        while not socket.canReadLine():
            if not socket.waitForReadyRead(timeout_ms):
                return None
        return bytes(socket.readLine().data())
    finally:
        socket.disconnectFromServer()


def encode(message: dict[str, object]) -> bytes:
    """One message as its wire line."""
    import json  # only once somebody answers: json is not needed on the way to the tray

    return (json.dumps(message) + "\n").encode()


def decode(line: bytes) -> dict[str, object] | None:
    """A wire line as a message; None when it is not a JSON object."""
    import json

    try:
        message = json.loads(line)
    except (ValueError, RecursionError):  # RecursionError: "[[[[…" nested deeper than the parser goes
        return None
    return message if isinstance(message, dict) else None


def send(name: str, message: dict[str, object], timeout_ms: int = TIMEOUT_MS) -> bool:
    """Deliver ``message`` to the running instance; True when it acknowledged. False: nobody listens."""
    raw = (_send_posix if POSIX else _send_qt)(name, message, timeout_ms)
    if raw is None:
        return False
    answer = decode(raw)
    return answer is not None and answer.get("ok") is True


def is_listening(name: str, timeout_ms: int = 200) -> bool:
    """True when a process accepts connections on ``name``."""
    if POSIX:
        sock = _connect(name, timeout_ms)
        if sock is not None:
            sock.close()
        return sock is not None
    from PySide6.QtNetwork import QLocalSocket

    probe = QLocalSocket()
    probe.connectToServer(name)
    connected = bool(probe.waitForConnected(timeout_ms))
    probe.abort()
    return connected


def hand_over(name: str, argv: Sequence[str]) -> bool:
    """A second launch: give the running instance our arguments."""
    return send(name, {"argv": list(argv)})


def ask_to_quit(name: str, wait_s: float = 15.0) -> bool:
    """``--replace``: ask the running instance to quit and wait until it no longer listens."""
    def gone() -> bool:
        if not POSIX:
            return not is_listening(name)
        sock, error = _knock(name, 200)
        if sock is not None:
            sock.close()
            return False
        # Refused or no file: nobody. Not allowed: another user's socket at our path, never an instance of ours
        # (ours is the user's own, 0700), so nothing to wait for (claim then runs without the name). Anything
        # else is ours and busy: a full backlog (of these very probes) answers EAGAIN, a slow one times out.
        return error in NOBODY or error in (errno.EACCES, errno.EPERM)

    if not send(name, {"command": "quit"}) and gone():
        return True  # nobody was running
    # Answered, or held but not answering within the send's timeout (busy, or still starting: it listens
    # before its event loop serves, and reads the request later): either way, wait until the name is free.
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if gone():
            return True
        time.sleep(0.1)  # a separate process is shutting down; this runs before our event loop exists
    return False


class Claimed:
    """A bound, listening Unix socket and the identity of its file, so that only our own file is ever
    removed (a ``--replace`` successor may have bound a new one at the same path)."""

    __slots__ = ("ident", "name", "sock")

    def __init__(self, name: str, sock: _socket.socket, ident: tuple[int, int]) -> None:
        self.name = name
        self.sock = sock
        self.ident = ident

    def remove_name(self) -> None:
        """Unlink the socket file if it is still the one we bound."""
        try:
            found = os.stat(self.name)
        except FileNotFoundError:
            return
        if (found.st_dev, found.st_ino) == self.ident:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.name)

    def release(self) -> None:
        """Give the name up without ever serving it: the name first, then the socket."""
        self.remove_name()
        self.sock.close()


def claim(name: str) -> Claimed | None:
    """Bind ``name`` (POSIX) and listen on it with the standard library, before the tray shows. None when
    another process may hold it, or the name cannot be used at all (e.g. another user's files in a shared
    /tmp): the app then runs without single-instance hand-over. A socket file nobody answers on (left by
    a crash) is removed first. Two launches take turns through ``name.lock``. The caller hands the result
    to :class:`~crystal_manager.gui.instance_server.InstanceServer`, which serves it."""
    import fcntl

    old_umask = os.umask(0o077)  # the socket and lock files are the user's alone (as UserAccessOption)
    try:
        lock = os.open(name + ".lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    except OSError:
        return None
    finally:
        os.umask(old_umask)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _bind(name)
    except OSError:
        return None
    finally:
        os.close(lock)  # releases the lock


def _bind(name: str) -> Claimed | None:
    import _socket  # see _knock

    for _attempt in range(2):
        sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
        old_umask = os.umask(0o077)
        try:
            sock.bind(name)
        except OSError as exc:
            sock.close()
            if exc.errno != errno.EADDRINUSE or not nobody_holds(name):
                return None
            with contextlib.suppress(FileNotFoundError):
                os.unlink(name)  # nobody answers: left behind by a crash
            continue
        finally:
            os.umask(old_umask)
        try:
            sock.listen(BACKLOG)
            found = os.stat(name)
        except OSError:
            sock.close()
            raise
        return Claimed(name, sock, (found.st_dev, found.st_ino))
    return None
