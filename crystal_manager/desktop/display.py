"""Is there a screen to show a window on? Asked before QApplication exists (Qt aborts without one)."""

from __future__ import annotations

import os
import sys


def has_display(environ: dict[str, str] | None = None) -> bool:
    """True when a GUI can start: an explicit Qt platform, a Windows/macOS session, or X11/Wayland."""
    env = os.environ if environ is None else environ
    if env.get("QT_QPA_PLATFORM"):
        return True
    if sys.platform in ("win32", "darwin"):
        return True
    return bool(env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"))
