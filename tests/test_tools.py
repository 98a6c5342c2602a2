"""tools/with-xvfb-tray.sh, the X display with a tray host that the GUI benchmarks run under: Qt sees a
system tray there, the command's exit code comes back, and the display is gone afterwards."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
HELPER = ROOT / "tools" / "with-xvfb-tray.sh"
TRAY_CHECK = ("import os; from PySide6.QtWidgets import QApplication, QSystemTrayIcon; app = QApplication([]); "
              "print(os.environ['DISPLAY'], app.platformName(), QSystemTrayIcon.isSystemTrayAvailable())")

pytestmark = pytest.mark.skipif(not (shutil.which("Xvfb") and shutil.which("trayer")),
                                reason="Xvfb and trayer are installed by ./dev setup")


def run(*command: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}  # the helper must lift this for the command
    return subprocess.run([str(HELPER), *command], capture_output=True, text=True, timeout=60, env=env,
                          check=False)


def test_qt_finds_a_system_tray_on_the_display() -> None:
    result = run(sys.executable, "-c", TRAY_CHECK)
    assert result.returncode == 0, result.stderr
    display, platform, tray = result.stdout.split()
    assert display.startswith(":") and platform == "xcb" and tray == "True"
    # Xvfb was stopped: its socket is gone.
    assert not Path(f"/tmp/.X11-unix/X{display[1:]}").exists()


def test_the_commands_exit_code_comes_back() -> None:
    assert run("sh", "-c", "exit 7").returncode == 7
    assert run().returncode == 2  # no command: usage
