"""Secrets (license key, machine token) live only in the OS keyring.

Where no keyring backend exists (a headless Linux without Secret Service), they fall back to a file
only the user can read, and :attr:`SecretStore.is_fallback` says so for ``status`` and the GUI.
``keyring`` is imported on first use (a start-up trick: docs/decisions/0012-start-up-tricks.md).
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, cast

from crystal_manager.storage.atomic import CorruptStateError, damaged_copy_name, read_json, write_json_atomic

SERVICE_NAME = "CrystalMe3DProManager"


def keyring_service(home_root: Path | None) -> str:
    """The keyring's service name for this copy of the app: the plain name for the per-OS folders; with
    ``CRYSTAL_MANAGER_HOME`` set, the name plus a hash of that folder, so a throwaway home never reads,
    overwrites or deletes the real home's license key (and so never frees its seat)."""
    if home_root is None:
        return SERVICE_NAME
    import hashlib

    return f"{SERVICE_NAME}-{hashlib.sha256(str(home_root).encode()).hexdigest()[:12]}"


class SecretBackend(Protocol):
    """What :class:`SecretStore` needs from a backend."""

    def get(self, name: str) -> str | None: ...
    def set(self, name: str, value: str) -> None: ...
    def delete(self, name: str) -> None: ...


@dataclass(frozen=True)
class BackendInfo:
    """Which backend holds the secrets, in words a user understands."""

    name: str
    encrypted: bool
    is_fallback: bool


class SecretStoreError(Exception):
    """The keyring refused an operation (locked, prompt dismissed, …)."""


class _KeyringBackend:
    def __init__(self, kr: Any, service: str = SERVICE_NAME) -> None:
        self._kr = kr
        self._service = service

    def get(self, name: str) -> str | None:
        value = self._kr.get_password(self._service, name)
        return value if isinstance(value, str) else None

    def set(self, name: str, value: str) -> None:
        self._kr.set_password(self._service, name, value)

    def delete(self, name: str) -> None:
        import keyring.errors

        with contextlib.suppress(keyring.errors.PasswordDeleteError):
            self._kr.delete_password(self._service, name)


#: One lock per secrets file for this process, held by every FileBackend and by set_aside: a read-modify-write
#: (FileBackend.set) and the setting aside of a damaged file must not interleave. Else a check judges the file
#: damaged, another thread writes a valid one in its place (a secret saved right after an earlier set-aside),
#: and the check moves the valid file aside instead of the damage (issue 11).
_FILE_LOCKS: dict[str, threading.Lock] = {}
_FILE_LOCKS_GUARD = threading.Lock()


def _file_lock(path: Path) -> threading.Lock:
    key = os.path.abspath(path)
    with _FILE_LOCKS_GUARD:
        return _FILE_LOCKS.setdefault(key, threading.Lock())


@contextlib.contextmanager
def _writing(path: Path, lock: threading.Lock, *, create: bool = False) -> Iterator[None]:
    """Hold this process's lock for ``path`` and, where the system allows, an OS lock on its folder, so a
    read-modify-write of another process (the CLI's activation beside the GUI saving the clock guard) cannot
    interleave with this one and drop its secret. The folder, not a lock file beside the secrets, so nothing
    is left behind for "delete everything" to miss. Best effort across processes: where the folder cannot be
    locked (Windows, some network disks) it is this process's lock alone, as before. ``create``: make the
    folder first (a write makes it anyway); else a missing folder is left missing."""
    with lock:
        if create:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd: int | None = None
        with contextlib.suppress(ImportError, OSError):
            import fcntl

            fd = os.open(path.parent, os.O_RDONLY)
            fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            if fd is not None:
                os.close(fd)  # releases the flock


def _damaged(raw: bytes) -> bool:
    """True if ``raw`` is not what FileBackend can read (a JSON object)."""
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        return True
    return not isinstance(data, dict)


class FileBackend:
    """A JSON file with mode 0600: the fallback where no keyring exists."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = _file_lock(path)

    @property
    def path(self) -> Path:
        """The file."""
        return self._path

    def _load(self) -> dict[str, str]:
        try:
            data = read_json(self._path)
        except CorruptStateError as exc:
            raise SecretStoreError(str(exc)) from exc
        if data is None:
            return {}
        if not isinstance(data, dict):
            raise SecretStoreError(f"{self._path} does not hold a JSON object")
        mode = stat.S_IMODE(os.stat(self._path).st_mode)
        if mode & 0o077:
            os.chmod(self._path, 0o600)
        return {str(k): str(v) for k, v in data.items()}

    def get(self, name: str) -> str | None:
        with self._lock:
            return self._load().get(name)

    def set(self, name: str, value: str) -> None:
        with _writing(self._path, self._lock, create=True):
            data = self._load()
            data[name] = value
            write_json_atomic(self._path, data, mode=0o600)

    def delete(self, name: str) -> None:
        with _writing(self._path, self._lock):
            data = self._load()
            if data.pop(name, None) is not None:
                write_json_atomic(self._path, data, mode=0o600)


def set_aside(path: Path, *, now: str) -> Path | None:
    """Move a damaged secrets file out of the way, kept for support (``NAME.damaged-NOW``, still 0600), so
    the next secret written starts a clean file and nothing that was there is lost. Returns the copy, or None
    when the file is not damaged (any more).

    The file is judged again here, under the lock its writers in this process hold: a valid file written
    since the caller's failed read (after another thread set the damage aside) is not damage and stays. An
    earlier copy is never replaced: a name already taken (two damaged files in one second) gets ``-2``,
    ``-3``, … (the name is taken by a hard link, or an exclusive create where the disk has none, which fail
    where os.replace would overwrite). Another process (the CLI beside the GUI) may do the same at once: the
    file judged is followed by its identity, not its name (docs/threat-model.md)."""
    with _writing(path, _file_lock(path)):
        try:
            with path.open("rb") as handle:
                seen = os.fstat(handle.fileno())
                raw = handle.read()
                if not _damaged(raw):
                    return None
                if seen.st_mode & 0o077 and hasattr(os, "fchmod"):
                    # User-only before it gets a second name: the copy shares this file's mode.
                    os.fchmod(handle.fileno(), 0o600)
        except FileNotFoundError:
            return None  # already set aside (two checks found the same damage)
        target = _claim_copy(path, now, raw)
        if target is None:
            return None  # set aside by another process between the read and the copy
        if not _same(os.stat(target), seen) and target.read_bytes() != raw:  # (a copy made here holds raw)
            # Another process replaced the file between the read and the link: what is there now is its
            # file, not the damage judged (which is gone with the replace); leave it where it is.
            target.unlink()
            return None
        os.chmod(target, 0o600)
        _remove_if_same(path, seen)
        return target


def _claim_copy(path: Path, now: str, raw: bytes) -> Path | None:
    """A copy of ``path`` under the first free ``.damaged-NOW[-n]`` name, or None if ``path`` is gone."""
    n = 1
    while True:
        target = damaged_copy_name(path, now, n)
        try:
            os.link(path, target)
            return target
        except FileExistsError:
            n += 1
        except FileNotFoundError:
            return None
        except OSError:
            # No hard links on this disk (FAT, some network shares): an exclusive create of a user-only file
            # takes the name instead, so an earlier copy is still never overwritten.
            try:
                fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o600)
            except FileExistsError:
                n += 1
                continue
            with os.fdopen(fd, "wb") as out:
                out.write(raw)
                out.flush()
                os.fsync(out.fileno())
            return target


def _same(a: os.stat_result, b: os.stat_result) -> bool:
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def _remove_if_same(path: Path, seen: os.stat_result) -> None:
    """Remove ``path`` if it still is the file ``seen`` (the damage, now kept as a copy). Another process may
    have set it aside and written a valid file there since (the GUI's next secret, the CLI's re-activation):
    that file is taken aside under a private name first (a rename is atomic), looked at, and put back if it
    is not the damage; a plain unlink of the name would delete it."""
    aside = path.with_name(f"{path.name}.setting-aside-{os.getpid()}-{threading.get_ident()}")
    try:
        os.rename(path, aside)
    except FileNotFoundError:
        return  # another process removed the damaged name; its copy and ours are the same file
    if _same(os.stat(aside), seen):
        os.unlink(aside)
        return
    try:
        os.link(aside, path)
    except FileExistsError:
        return  # yet another file was written there meanwhile: this one stays beside it, under the private name
    except OSError:  # no hard links on this disk: put it back unless another file is there by now
        if not path.exists():
            with contextlib.suppress(OSError):
                os.rename(aside, path)
        return
    os.unlink(aside)


class SecretStore:
    """The one way the app reads and writes secrets."""

    def __init__(self, backend: SecretBackend, info: BackendInfo) -> None:
        self._backend = backend
        self.info = info

    @property
    def is_fallback(self) -> bool:
        """True when secrets sit in a user-only file because no keyring exists."""
        return self.info.is_fallback

    @property
    def fallback_path(self) -> Path | None:
        """The user-only file holding the secrets, when that is where they are."""
        return self._backend.path if isinstance(self._backend, FileBackend) else None

    def get(self, name: str) -> str | None:
        """Return the secret ``name`` or ``None``."""
        try:
            return self._backend.get(name)
        except SecretStoreError:
            raise
        except Exception as exc:
            raise SecretStoreError(f"keyring read failed: {exc}") from exc

    def set(self, name: str, value: str) -> None:
        """Store the secret ``name``."""
        try:
            self._backend.set(name, value)
        except SecretStoreError:
            raise
        except Exception as exc:
            raise SecretStoreError(f"keyring write failed: {exc}") from exc

    def delete(self, name: str) -> None:
        """Forget the secret ``name`` (no error if absent)."""
        try:
            self._backend.delete(name)
        except SecretStoreError:
            raise
        except Exception as exc:
            raise SecretStoreError(f"keyring delete failed: {exc}") from exc


#: keyring's macOS backend loads its ctypes bindings on import, and ``ctypes.util.find_library`` on Linux runs
#: ``ldconfig -p`` and, where a compiler is installed, gcc and ld: three times, ~0.2-0.9 s before a keyring
#: answers. The bindings cannot load off macOS anyway; the backend then reports itself unusable, as it would.
_MACOS_BINDINGS = "keyring.backends.macOS.api"


def _skip_other_systems_keychains() -> None:
    """Off macOS, mark the macOS Keychain bindings as absent before keyring looks at its backends (a module
    set to None in sys.modules raises ImportError on import; keyring catches it). Every other backend,
    plugins and ``PYTHON_KEYRING_BACKEND`` included, is chosen by keyring as before."""
    if sys.platform != "darwin":
        modules = cast("dict[str, object]", sys.modules)  # None is what importlib documents for "absent"
        modules.setdefault(_MACOS_BINDINGS, None)


def open_secret_store(fallback_file: Path, service: str = SERVICE_NAME) -> SecretStore:
    """Pick the best keyring backend (``PYTHON_KEYRING_BACKEND`` is honoured), else the 0600 file;
    ``service``: the keyring's service name (:func:`keyring_service`)."""
    _skip_other_systems_keychains()
    import keyring
    import keyring.backends.fail

    kr = keyring.get_keyring()
    backends = getattr(kr, "backends", None)
    usable = not isinstance(kr, keyring.backends.fail.Keyring) and (backends is None or len(backends) > 0)
    if usable:
        name = type(kr).__module__ + "." + type(kr).__name__
        encrypted = "keyrings.alt" not in name and "PlaintextKeyring" not in name
        return SecretStore(_KeyringBackend(kr, service), BackendInfo(name=name, encrypted=encrypted, is_fallback=False))
    info = BackendInfo(name=f"file {fallback_file} (mode 0600)", encrypted=False, is_fallback=True)
    return SecretStore(FileBackend(fallback_file), info)


def describe(info: BackendInfo) -> dict[str, Any]:
    """A JSON-able description of where secrets are kept."""
    return {"backend": info.name, "encrypted": info.encrypted, "fallback": info.is_fallback}
