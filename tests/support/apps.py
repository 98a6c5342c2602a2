"""Tear-down shared by the GUI fixtures that build TrayApp instances."""

from __future__ import annotations

from collections.abc import Iterable
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
