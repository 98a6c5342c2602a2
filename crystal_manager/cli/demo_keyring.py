"""A real Secret Service for the demo when the desktop has none (a bare terminal, a container, SSH).

``./dev`` installs D-Bus and GNOME Keyring. Without a session bus the keyring library finds no backend
and the app falls back to its user-only file, so every demo screen would warn "No system keyring found".
Here the demo starts its own session bus and an unlocked keyring (its files under the demo folder, never
the user's own keyring) and stops both when it ends. With a session bus already there, the user's own
keyring is used, as the app would.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

#: The demo keyring's password: it guards a throw-away keyring in a temporary folder.
_DEMO_PASSWORD = b"crystal-demo\n"


@dataclass
class DemoKeyring:
    """The environment the demo's app processes run in, and the daemons started for it (if any)."""

    env: dict[str, str]
    where: str  # in words: where the license key goes
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def stop(self) -> None:
        """Stop the keyring and the bus (the keyring first: it leaves when its bus goes anyway)."""
        for process in reversed(self.processes):
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        self.processes.clear()


def start_demo_keyring(folder: Path, env: dict[str, str]) -> DemoKeyring:
    """Use the session's keyring, or start a bus and an unlocked GNOME Keyring under ``folder``; when
    neither is possible the app's own fallback file is used (and said)."""
    if sys.platform in ("win32", "darwin"):
        return DemoKeyring(env, "your system's keyring")
    if env.get("PYTHON_KEYRING_BACKEND"):
        return DemoKeyring(env, "the keyring backend named by PYTHON_KEYRING_BACKEND")
    if env.get("DBUS_SESSION_BUS_ADDRESS"):
        return DemoKeyring(env, "your desktop's keyring")
    bus_daemon, keyring_daemon = shutil.which("dbus-daemon"), shutil.which("gnome-keyring-daemon")
    if bus_daemon is None or keyring_daemon is None:
        return DemoKeyring(env, "a file only you can read (no D-Bus or GNOME Keyring installed: run ./dev setup)")
    runtime = folder / "run"
    runtime.mkdir(parents=True, exist_ok=True, mode=0o700)
    bus = subprocess.Popen([bus_daemon, "--session", "--nofork", "--print-address=1"], stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    assert bus.stdout is not None
    address = bus.stdout.readline().decode().strip()
    bus.stdout.close()
    if not address:
        bus.wait()
        return DemoKeyring(env, "a file only you can read (the demo's D-Bus did not start)")
    inner = {**env, "DBUS_SESSION_BUS_ADDRESS": address, "XDG_RUNTIME_DIR": str(runtime),
             "XDG_DATA_HOME": str(folder / "data")}  # the keyring's files: in the demo folder
    keyring = subprocess.Popen([keyring_daemon, "--foreground", "--unlock", "--components=secrets"],
                               stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               env=inner)
    assert keyring.stdin is not None
    keyring.stdin.write(_DEMO_PASSWORD)
    keyring.stdin.close()
    return DemoKeyring(inner, "a GNOME Keyring the demo started for itself (in the demo folder)", [bus, keyring])


__all__ = ["DemoKeyring", "start_demo_keyring"]
