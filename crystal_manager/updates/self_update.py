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
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from crystal_manager.storage.paths import AppPaths
from crystal_manager.updates.layout import InstallRoot, Pointer

#: The Manager's product name in release archives and signed target metadata.
MANAGER_PRODUCT = "crystal-manager"
#: The new version writes its version into this file once its tray is up (the start check).
READY_ENV = "CRYSTAL_MANAGER_READY_FILE"
EXECUTABLE = "crystal-manager.exe" if os.name == "nt" else "crystal-manager"
START_TIMEOUT_S = 60.0


def is_frozen() -> bool:
    """True in a PyInstaller bundle: only then does the Manager update itself."""
    return bool(getattr(sys, "frozen", False))


def manager_root(paths: AppPaths) -> Path:
    """Where the Manager's own versions live (inside ``CRYSTAL_MANAGER_HOME`` when it is set)."""
    return paths.data_dir / "manager"


def executable(root: Path, version: str) -> Path:
    """The Manager program of an installed version."""
    return InstallRoot(root).version_dir(version) / EXECUTABLE


def write_launcher(root: Path) -> Path | None:
    """Write ``root/crystal-manager``: a launcher that runs whatever version is current (POSIX only; the
    .desktop entry and autostart point at it, so they never need rewriting after an update)."""
    if os.name != "posix":
        return None
    launcher = root / EXECUTABLE
    text = ('#!/bin/sh\n# CrystalMe3D Pro Manager: runs the current version (see current.json beside this file).\n'
            'exec "$(dirname "$(readlink -f "$0")")/current/crystal-manager" "$@"\n')
    try:
        if launcher.is_file() and not launcher.is_symlink() and launcher.read_text(encoding="utf-8") == text:
            return launcher
    except (OSError, UnicodeDecodeError):
        pass
    temp = root / f".{EXECUTABLE}.tmp"
    temp.write_text(text, encoding="utf-8")
    temp.chmod(0o755)
    os.replace(temp, launcher)
    return launcher


def has_display(environ: dict[str, str] | None = None) -> bool:
    """Whether a GUI can start here (the start check needs one; without, only ``--version`` is checked)."""
    env = os.environ if environ is None else environ
    if os.name == "nt" or sys.platform == "darwin":
        return True
    return any(env.get(name) for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"))


def report_ready(version: str) -> None:
    """Called by a newly started Manager once its tray is up: answers the start check, if one is waiting."""
    path = os.environ.pop(READY_ENV, None)  # popped: programs this one starts must not answer for it
    if not path:
        return
    # On failure the waiting side sees no answer and keeps the old version: fail closed.
    with contextlib.suppress(OSError):
        Path(path).write_text(version, encoding="utf-8")


@dataclass(frozen=True)
class StartCheck:
    """How the start of a new version went."""

    ok: bool
    reason: str  # plain words when not ok ("" when ok)
    process: subprocess.Popen[bytes] | None = None


def start_new(root: Path, version: str, args: list[str], *, timeout: float = START_TIMEOUT_S,
              environ: dict[str, str] | None = None) -> StartCheck:
    """Start ``version`` with ``--replace`` (plus ``args``) and wait until it reports its tray is up, it
    exits, or ``timeout`` passes. A new version that exits or stays silent is stopped and reported."""
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
                return StartCheck(True, "", process)
            code = process.poll()
            if code is not None:
                return StartCheck(False, f"version {version} stopped as it started (exit code {code})")
            time.sleep(0.1)  # polling another process's file: no event to wait on across processes
        process.kill()
        process.wait()
        return StartCheck(False, f"version {version} did not finish starting within {timeout:g} s")


def _said(ready: Path) -> str | None:
    try:
        return ready.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None


def put_back(root: Path, before: Pointer) -> None:
    """Make the install root say what it said before a switch whose new version failed its start check.
    The failed version's folder is left for the next install's clean-up (it may still be running)."""
    layout = InstallRoot(root)
    layout.write_pointer(Pointer(current=before.current, previous=before.previous))
    layout.point_link(before.current)


def restart(command: list[str]) -> None:
    """Start the old Manager again (detached) after a failed hand-over, so the user is never left without
    it."""
    subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                     start_new_session=os.name == "posix")
