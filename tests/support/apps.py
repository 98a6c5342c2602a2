"""Tear-down shared by the GUI fixtures that build TrayApp instances."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any


def dispose_apps(made: Iterable[Any]) -> None:
    """Close each app's window (for real, not hide) and hide its tray icon."""
    for app in made:
        if app.has_window():
            window = app.window()
            window.hide_on_close = True
            window.close()
            window.deleteLater()
        if app.tray is not None:
            app.tray.hide()
        # The app goes too: its timers (the daily update check) must not wake up during later tests and fill
        # the worker pool, and late background results must not reach its deleted window.
        app.deleteLater()


ROOT = Path(__file__).resolve().parents[2]


def gui_child_env(**extra: str) -> dict[str, str]:
    """The environment of a GUI child process: offscreen Qt, this source tree, a keyring that stores nothing."""
    return {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(ROOT),
            "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring", **extra}


def run_gui_script(script: str, *args: str) -> dict[str, Any]:
    """Run ``python -c script args`` as a GUI child; its last line of output is JSON, returned parsed."""
    # -X faulthandler: a crash (a signal) leaves the Python stacks of every thread in the failure.
    out = subprocess.run([sys.executable, "-X", "faulthandler", "-c", script, *args], env=gui_child_env(),
                         capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode == 0, f"exit {out.returncode}:\n{out.stderr[-6000:]}"
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    result["_stderr"] = out.stderr
    return result
