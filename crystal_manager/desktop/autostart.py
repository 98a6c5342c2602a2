"""Start at login, off until the user turns it on: an XDG autostart file on Linux, the ``Run`` key on
Windows, a LaunchAgent on macOS. No Qt; the GUI's Settings page only flips it."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from crystal_manager.storage.atomic import StorageError, write_bytes_atomic

ENTRY_NAME = "CrystalMe3DProManager"
DESKTOP_FILE = "crystalme3dpro-manager.desktop"
LAUNCH_AGENT_LABEL = "com.crystalme3dpro.manager"
RUN_KEY = r"Software\Microsoft\Windows\CurrentVersion\Run"


class AutostartError(StorageError):
    """The login entry could not be written or removed."""


class Autostart(Protocol):
    """One platform's login entry."""

    @property
    def location(self) -> str:
        """Where the entry lives, to show the user."""
        ...

    def is_enabled(self) -> bool:
        """True when the entry exists."""
        ...

    def enable(self, argv: Sequence[str]) -> None:
        """Create or refresh the entry that runs ``argv`` at login."""
        ...

    def disable(self) -> None:
        """Remove the entry (no error if absent)."""
        ...


def launch_argv() -> tuple[str, ...]:
    """The command that starts the GUI: the frozen executable, or this Python with the GUI's fast path."""
    if getattr(sys, "frozen", False):
        # A bundle the Manager installed by updating itself (ROOT/versions/<v>/): the launcher ROOT/<name>
        # runs whichever version is current, so the entry survives the next self-update (decision 0013).
        exe = os.path.abspath(sys.executable)
        versions = os.path.dirname(os.path.dirname(exe))
        launcher = os.path.join(os.path.dirname(versions), os.path.basename(exe))
        if os.path.basename(versions) == "versions" and os.access(launcher, os.X_OK):
            return (launcher,)
        return (sys.executable,)
    return (sys.executable, "-m", "crystal_manager.gui")


def _desktop_quote(arg: str) -> str:
    # Desktop Entry spec, "Exec key": quote args with reserved characters; escape " ` $ \ inside; % → %%.
    arg = arg.replace("%", "%%")
    if arg and not any(c in arg for c in " \t\n\"'\\><~|&;$*?#()`"):
        return arg
    escaped = "".join("\\" + c if c in '"`$\\' else c for c in arg)
    return f'"{escaped}"'


def desktop_entry(argv: Sequence[str]) -> str:
    """The text of the XDG autostart file."""
    return "\n".join([
        "[Desktop Entry]",
        "Type=Application",
        "Name=CrystalMe3D Pro Manager",
        "Comment=License, updates and privacy for CrystalMe3D Pro",
        "Exec=" + " ".join(_desktop_quote(a) for a in argv),
        "Icon=crystalme3dpro-manager",
        "Terminal=false",
        "X-GNOME-Autostart-enabled=true",
        "",
    ])


class _FileEntry:
    def __init__(self, path: Path) -> None:
        self.path = path

    @property
    def location(self) -> str:
        return str(self.path)

    def is_enabled(self) -> bool:
        return self.path.is_file()

    def _write(self, data: bytes) -> None:
        try:
            write_bytes_atomic(self.path, data, mode=0o644)
        except OSError as exc:
            raise AutostartError(f"cannot write {self.path}: {exc.strerror}") from exc

    def disable(self) -> None:
        try:
            self.path.unlink(missing_ok=True)
        except OSError as exc:
            raise AutostartError(f"cannot remove {self.path}: {exc.strerror}") from exc


class XdgAutostart(_FileEntry):
    """``$XDG_CONFIG_HOME/autostart/*.desktop`` (Linux and other freedesktop systems)."""

    def enable(self, argv: Sequence[str]) -> None:
        """Write the .desktop file."""
        self._write(desktop_entry(argv).encode("utf-8"))


class LaunchAgent(_FileEntry):
    """``~/Library/LaunchAgents/<label>.plist`` (macOS)."""

    def enable(self, argv: Sequence[str]) -> None:
        """Write the plist (RunAtLoad, no KeepAlive: quitting must stay quit)."""
        import plistlib  # only on macOS: it loads XML parsers

        plist = {"Label": LAUNCH_AGENT_LABEL, "ProgramArguments": list(argv), "RunAtLoad": True,
                 "KeepAlive": False, "ProcessType": "Interactive"}
        self._write(plistlib.dumps(plist))


def windows_command_line(argv: Sequence[str]) -> str:
    """The ``Run`` value: one command line quoted the Windows way."""
    return subprocess.list2cmdline(list(argv))


def _winreg() -> Any:
    # typeshed declares winreg only for win32; loading it by name keeps mypy on other systems honest.
    return importlib.import_module("winreg")


class RunKey:
    """``HKCU\\...\\CurrentVersion\\Run`` value (Windows)."""

    location = "HKEY_CURRENT_USER\\" + RUN_KEY + "\\" + ENTRY_NAME

    def is_enabled(self) -> bool:
        """True when the value exists."""
        winreg = _winreg()
        try:
            with winreg.OpenKey(winreg.HKEY_CURRENT_USER, RUN_KEY) as key:
                winreg.QueryValueEx(key, ENTRY_NAME)
        except OSError:
            return False
        return True

    def enable(self, argv: Sequence[str]) -> None:
        """Set the value."""
        winreg = _winreg()
        try:
            with winreg.CreateKey(winreg.HKEY_CURRENT_USER, RUN_KEY) as key:
                winreg.SetValueEx(key, ENTRY_NAME, 0, winreg.REG_SZ, windows_command_line(argv))
        except OSError as exc:
            raise AutostartError(f"cannot write the Run key: {exc}") from exc

    def disable(self) -> None:
        """Delete the value (absent is fine)."""
        winreg = _winreg()
        try:
            with winreg.OpenKey(winreg.HKEY_CURRENT_USER, RUN_KEY, 0, winreg.KEY_SET_VALUE) as key:
                winreg.DeleteValue(key, ENTRY_NAME)
        except FileNotFoundError:
            return
        except OSError as exc:
            raise AutostartError(f"cannot remove the Run key value: {exc}") from exc


class KeptWithAppFiles(XdgAutostart):
    """With ``CRYSTAL_MANAGER_HOME`` set, every file of this copy stays under it, the login entry too:
    written to ``$CRYSTAL_MANAGER_HOME/autostart/`` where no desktop reads it, so it does not start anything
    at login (a demo or a test copy never touches the user's real login programs)."""


def for_platform(platform: str | None = None, environ: Mapping[str, str] | None = None) -> Autostart:
    """The login entry for ``platform`` (default: this one); paths follow ``XDG_CONFIG_HOME`` / ``HOME``, or
    ``CRYSTAL_MANAGER_HOME`` when set (then nothing is written outside it)."""
    plat = platform or sys.platform
    env = os.environ if environ is None else environ
    app_home = env.get("CRYSTAL_MANAGER_HOME")
    if app_home:
        return KeptWithAppFiles(Path(app_home) / "autostart" / DESKTOP_FILE)
    home = Path(env.get("HOME") or Path.home())
    if plat == "win32":
        return RunKey()
    if plat == "darwin":
        return LaunchAgent(home / "Library" / "LaunchAgents" / f"{LAUNCH_AGENT_LABEL}.plist")
    config = Path(env.get("XDG_CONFIG_HOME") or home / ".config")
    return XdgAutostart(config / "autostart" / DESKTOP_FILE)


def in_words(entry: Autostart) -> str:
    """Where the login entry lives, in words for the Settings page (the path itself is its tooltip)."""
    if isinstance(entry, KeptWithAppFiles):
        return ("This copy keeps all its files in one folder of its own (set when it was started), the login "
                "entry too, so your desktop will not start it at login.")
    if isinstance(entry, RunKey):
        return "When this is on, Windows starts it when you log in (your user's startup programs)."
    if isinstance(entry, LaunchAgent):
        return "When this is on, macOS starts it when you log in (your user's login items)."
    return "When this is on, your desktop starts it when you log in (your user's autostart programs)."


def apply(enabled: bool, entry: Autostart | None = None, argv: Sequence[str] | None = None) -> None:
    """Make the login entry match the user's choice."""
    target = entry or for_platform()
    if enabled:
        target.enable(argv or launch_argv())
    else:
        target.disable()
