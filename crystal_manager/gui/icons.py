"""Icons from ``crystal_manager/resources/icons``: the state's PNGs at every tray size (hosts pick 16, 22
or 32 px), light or dark to match the palette, the mask (template) variant on macOS."""

from __future__ import annotations

import sys
from functools import cache
from typing import TYPE_CHECKING

from PySide6.QtCore import QSize
from PySide6.QtGui import QGuiApplication, QIcon, QPalette

from crystal_manager.resources import resources_dir

if TYPE_CHECKING:  # the first tray icon is drawn by its stem, before the state module loads
    from crystal_manager.desktop.tray_state import TrayState

SIZES = (16, 22, 24, 32, 48, 64)


def is_dark(*, ask_platform: bool = True) -> bool:
    """True when the desktop uses a dark colour scheme (or, if unknown, a dark window palette).
    ``ask_platform=False`` reads only the palette: the first colour-scheme query loads the platform theme,
    too slow for the path to the tray (docs/decisions/0012-start-up-tricks.md); the app asks properly right
    after it shows."""
    app = QGuiApplication.instance()
    if not isinstance(app, QGuiApplication):
        return False
    if ask_platform:
        # Compared by name, without the ``Qt`` namespace: a start-up trick (docs/decisions/0012-start-up-tricks.md).
        scheme = app.styleHints().colorScheme().name
        if scheme != "Unknown":
            return scheme == "Dark"
    return app.palette().color(QPalette.ColorRole.Window).lightness() < 128


def variant_for(dark: bool, platform: str | None = None) -> str:
    """Which icon folder to use: ``template`` on macOS (the system tints it), else light/dark."""
    if (platform or sys.platform) == "darwin":
        return "template"
    return "dark" if dark else "light"


def state_icon(state: TrayState, variant: str) -> QIcon:
    """The icon of ``state``, with a pixmap for every shipped size."""
    return stem_icon(state.value, variant)


@cache
def stem_icon(stem: str, variant: str) -> QIcon:
    """The state icon named ``stem`` (``TrayState`` values), with a pixmap for every shipped size."""
    folder = resources_dir() / "icons" / variant
    icon = QIcon()
    for size in SIZES:
        icon.addFile(str(folder / f"{stem}-{size}.png"), QSize(size, size))
    if variant == "template":
        icon.setIsMask(True)
    return icon


@cache
def app_icon() -> QIcon:
    """The window icon."""
    folder = resources_dir() / "icons"
    icon = QIcon()
    for size in (*SIZES, 128, 256):
        icon.addFile(str(folder / f"app-{size}.png"), QSize(size, size))
    return icon
