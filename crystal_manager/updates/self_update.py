"""The Manager updating itself: its own install root, a launcher, and the hand-over to the new version.

Layout (decision 0013), beside CrystalMe3D Pro's ``product/`` root in the app's data folder::

    DATA/manager/versions/<v>/        one complete bundle per version (the release archive, unpacked)
    DATA/manager/current.json         which version is current and which is kept (updates/layout.py)
    DATA/manager/current -> versions/<v>
    DATA/manager/crystal-manager      a tiny launcher: runs current/crystal-manager (menus, autostart)

Only a frozen Manager (a PyInstaller bundle) updates itself; one installed with pip is updated by pip.
The new version must pass two checks before the old one is let go: ``crystal-manager --version``
(product.json's health check, run by install.py) and a start: it is started with ``--replace`` (it asks
the running Manager to quit over the single-instance socket, decision 0006, and takes its place) and must
report, through the file named by ``$CRYSTAL_MANAGER_READY_FILE``, that its tray is up. If it does not,
the old version is made current again, and whoever started the hand-over starts the old one again.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from crystal_manager.storage.paths import AppPaths
from crystal_manager.updates.errors import InstallFailed, UpdateStateDamaged
from crystal_manager.updates.layout import InstallRoot, Pointer

#: The Manager's product name in release archives and signed target metadata.
MANAGER_PRODUCT = "crystal-manager"
#: The new version writes its version into this file once its tray is up (the start check).
READY_ENV = "CRYSTAL_MANAGER_READY_FILE"
EXECUTABLE = "crystal-manager.exe" if os.name == "nt" else "crystal-manager"
START_TIMEOUT_S = 60.0
#: After its ready report the new version must still be running this long (one that dies at once fails).
READY_GRACE_S = 3.0


def is_frozen() -> bool:
    """True in a PyInstaller bundle: only then does the Manager update itself."""
    return bool(getattr(sys, "frozen", False))


def manager_root(paths: AppPaths) -> Path:
    """Where the Manager's own versions live (inside ``CRYSTAL_MANAGER_HOME`` when it is set)."""
    return paths.data_dir / "manager"


def executable(root: Path, version: str) -> Path:
    """The Manager program of an installed version."""
    return InstallRoot(root).version_dir(version) / EXECUTABLE


def _safe_owned(info: os.stat_result) -> bool:
    """Ours, and nobody else may write it (no group/other write bit)."""
    return info.st_uid == os.getuid() and not info.st_mode & 0o022


def prepare_root(root: Path) -> None:
    """Create the install root 0o755; a root of ours that others may write is made 0o755, one owned by
    someone else is refused: whoever can write it can change the program the menu and autostart run."""
    root.mkdir(parents=True, exist_ok=True, mode=0o755)
    if os.name != "posix":
        return
    info = root.lstat()
    if stat.S_ISLNK(info.st_mode) or info.st_uid != os.getuid():
        raise InstallFailed(f"{root} belongs to another user or is a link; the Manager does not install there")
    if info.st_mode & 0o022:
        os.chmod(root, stat.S_IMODE(info.st_mode) & ~0o022)


def write_launcher(root: Path) -> Path | None:
    """Write ``root/crystal-manager``: a launcher that runs whatever version is current (POSIX only; the
    .desktop entry and autostart point at it, so they never need rewriting after an update). A launcher
    that is a link, not ours, or writable by others is replaced (atomically, 0o755)."""
    if os.name != "posix":
        return None
    launcher = root / EXECUTABLE
    text = ('#!/bin/sh\n# CrystalMe3D Pro Manager: runs the current version (see current.json beside this file).\n'
            'exec "$(dirname "$(readlink -f "$0")")/current/crystal-manager" "$@"\n')
    try:
        info = launcher.lstat()
        if stat.S_ISREG(info.st_mode) and _safe_owned(info) and info.st_mode & 0o111 \
                and launcher.read_text(encoding="utf-8") == text:
            return launcher
    except (OSError, UnicodeDecodeError):
        pass
    # A fresh random name, created exclusively and never through a link: nothing planted is written to.
    temp = root / f".{EXECUTABLE}-{secrets.token_hex(6)}.tmp"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o700)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            os.fchmod(handle.fileno(), 0o755)  # whatever the umask says
        os.replace(temp, launcher)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return launcher


def has_display(environ: dict[str, str] | None = None) -> bool:
    """Whether a GUI can start here (the start check needs one; without, only ``--version`` is checked)."""
    env = os.environ if environ is None else environ
    if os.name == "nt" or sys.platform == "darwin":
        return True
    return any(env.get(name) for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"))


def _ready_roots() -> list[Path]:
    """The install roots a start check of ours can wait in: the data folder's, and (frozen) the one this
    program runs from (ROOT/versions/<v>/crystal-manager)."""
    from crystal_manager.storage.paths import resolve_paths

    roots = [manager_root(resolve_paths())]
    if is_frozen():
        roots.append(Path(sys.executable).resolve().parents[2])
    return roots


def _ready_path(path: Path, roots: list[Path]) -> bool:
    """Whether ``path`` is ROOT/ready-*/ready for one of ``roots``, in a folder of ours only we can use."""
    folder = path.parent
    if path.name != "ready" or not folder.name.startswith("ready-"):
        return False
    try:
        info = folder.lstat()
        parent = folder.parent.resolve(strict=True)
        allowed = {root.resolve() for root in roots if root.is_dir()}
    except OSError:
        return False
    return (stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid() and not info.st_mode & 0o077
            and parent in allowed)


def report_ready(version: str, *, roots: list[Path] | None = None) -> None:
    """Called by a newly started Manager once its tray is up: answers the start check, if one is waiting.
    Only ROOT/ready-*/ready of the Manager's own install root is answered, as a new file (O_EXCL, never
    through a link): a hostile ``$CRYSTAL_MANAGER_READY_FILE`` cannot make it overwrite anything."""
    value = os.environ.pop(READY_ENV, None)  # popped: programs this one starts must not answer for it
    if not value:
        return
    # On any refusal or failure the waiting side sees no answer and keeps the old version: fail closed.
    with contextlib.suppress(OSError):
        path = Path(value)
        if not path.is_absolute() or not _ready_path(path, _ready_roots() if roots is None else roots):
            return
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(version)


@dataclass(frozen=True)
class StartCheck:
    """How the start of a new version went."""

    ok: bool
    reason: str  # plain words when not ok ("" when ok)
    process: subprocess.Popen[bytes] | None = None


def start_new(root: Path, version: str, args: list[str], *, timeout: float = START_TIMEOUT_S,
              grace: float = READY_GRACE_S, holds_name: Callable[[], bool] | None = None,
              environ: dict[str, str] | None = None) -> StartCheck:
    """Start ``version`` with ``--replace`` (plus ``args``) and wait until it reports its tray is up, it
    exits, or ``timeout`` passes; after the report it must still run ``grace`` seconds later (and, with
    ``holds_name``, answer on the single-instance name then). A new version that exits (before or right
    after its report), stays silent or does not answer is stopped and reported."""
    program = executable(root, version)
    with tempfile.TemporaryDirectory(prefix="ready-", dir=root) as folder:
        ready = Path(folder) / "ready"
        env = dict(os.environ if environ is None else environ)
        env[READY_ENV] = str(ready)
        try:
            process = subprocess.Popen([str(program), "--replace", *args], cwd=program.parent, env=env,
                                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                       stderr=subprocess.DEVNULL, start_new_session=os.name == "posix")
        except OSError as exc:
            return StartCheck(False, f"version {version} could not be started ({exc.strerror or exc})")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if _said(ready) == version:
                return _stays_up(process, version, grace, holds_name)
            code = process.poll()
            if code is not None:
                return StartCheck(False, f"version {version} stopped as it started (exit code {code})")
            time.sleep(0.1)  # polling another process's file: no event to wait on across processes
        process.kill()
        process.wait()
        return StartCheck(False, f"version {version} did not finish starting within {timeout:g} s")


def _stays_up(process: subprocess.Popen[bytes], version: str, grace: float,
              holds_name: Callable[[], bool] | None) -> StartCheck:
    """The ready report came: the version must still be running ``grace`` seconds later (one that says it
    is up and dies at once would leave the user with no Manager: the old one has quit already), and hold
    the single-instance name when the caller can probe it (else a second Manager could start beside it)."""
    try:
        code = process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        if holds_name is None or holds_name():
            return StartCheck(True, "", process)
        process.kill()  # up but unreachable: stopped, so the old one can take the name again
        process.wait()
        return StartCheck(False, f"version {version} started but does not answer")
    return StartCheck(False, f"version {version} stopped right after starting (exit code {code})")


def _said(ready: Path) -> str | None:
    try:
        return ready.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None


def put_back(root: Path, before: Pointer, failed: str) -> bool:
    """Make the install root say what it said before a switch to ``failed``, whose start check failed —
    only if it still names ``failed`` as current (compare and swap: a later install is never undone) and the
    version to go back to is still complete (current.json never names a missing folder). True if done.
    The failed version's folder is left for the next install's clean-up (it may still be running)."""
    layout = InstallRoot(root)
    try:
        now = layout.read_pointer()
    except UpdateStateDamaged:
        return False
    if now.current != failed or now.switching is not None:
        return False
    if before.current is None or layout.manifest(before.current) is None:
        return False
    previous = before.previous if before.previous and layout.manifest(before.previous) else None
    layout.write_pointer(Pointer(current=before.current, previous=previous))
    layout.point_link(before.current)
    return True


def restart(command: list[str]) -> None:
    """Start the old Manager again (detached) after a failed hand-over, so the user is never left without
    it."""
    subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                     start_new_session=os.name == "posix")
