"""The first picture: a plain tray icon in the "starting" state with a minimal menu, shown before any of
the app's own GUI modules load (a start-up trick: docs/decisions/0012-start-up-tricks.md).
:class:`~crystal_manager.gui.tray.Tray` adopts this icon and menu a moment later and from then on shows the
real state."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QCoreApplication
from PySide6.QtWidgets import QApplication, QMenu, QSystemTrayIcon

from crystal_manager.gui.icons import is_dark, stem_icon, variant_for

#: ``TrayState.STARTING.value`` (not imported: the state module is not needed yet; a test keeps them equal).
STARTING_STEM = "starting"
#: The app's translation context for free ``tr()`` calls: lupdate files them under the empty context, so
#: the look-up at run time must use the same (docs/decisions/0007).
CTX = ""


def tr(text: str, disambiguation: str | None = None) -> str:
    """Translate ``text`` (English source) in the app's translation context. Only literal strings are
    extracted by lupdate: mark strings kept in tables with ``QT_TR_NOOP``."""
    return QCoreApplication.translate(CTX, text, disambiguation)


class FirstTray:
    """The icon and menu shown at start, with the icon variant chosen for them. (A plain class, not a
    NamedTuple: a start-up trick, docs/decisions/0012-start-up-tricks.md.)"""

    __slots__ = ("icon", "menu", "variant")

    def __init__(self, icon: QSystemTrayIcon, menu: QMenu, variant: str) -> None:
        self.icon = icon
        self.menu = menu
        self.variant = variant


def app_name() -> str:
    """The app's name in the tray's words."""
    return tr("CrystalMe3D Pro Manager")


def starting_line() -> str:
    """What the tray says until the license has been read."""
    return tr("Checking the license…")


def show_first_tray(tray_probe: Callable[[], bool] = QSystemTrayIcon.isSystemTrayAvailable) -> FirstTray | None:
    """Show the starting icon when there is a system tray; None when there is none (the window is then the
    app). The palette alone picks light or dark here: the platform's colour scheme is asked once the icon
    shows (a start-up trick: docs/decisions/0012-start-up-tricks.md)."""
    if not tray_probe():
        return None
    variant = variant_for(is_dark(ask_platform=False))
    icon = QSystemTrayIcon(stem_icon(STARTING_STEM, variant))
    icon.setToolTip(f"{app_name()}\n{starting_line()}")
    menu = QMenu()  # a menu must exist before the first show (the GNOME AppIndicator host needs one)
    status = menu.addAction(starting_line())
    status.setEnabled(False)
    menu.addSeparator()
    menu.addAction(tr("Quit"), QApplication.quit)
    icon.setContextMenu(menu)
    icon.show()
    return FirstTray(icon, menu, variant)
