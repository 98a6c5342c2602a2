"""The tray icon: shows the state, its tooltip, and a menu rebuilt each time it is about to show (the GNOME
AppIndicator host shows an icon only when it has a menu, and the facts change)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu, QSystemTrayIcon

from crystal_manager.desktop.tray_state import TrayView
from crystal_manager.gui.icons import state_icon
from crystal_manager.gui.texts import MenuEntry, menu_entries, tooltip, tr

if TYPE_CHECKING:
    from crystal_manager.gui.first_tray import FirstTray


class Tray(QObject):
    """The tray icon and its menu. ``triggered`` carries a menu action id ("open", "privacy", …)."""

    triggered = Signal(str)

    def __init__(self, *, view: TrayView, variant: str, versions: Callable[[], tuple[str | None, str]],
                 first: FirstTray | None = None, parent: QObject | None = None,
                 update_entry: Callable[[], MenuEntry | None] | None = None, tag: str | None = None) -> None:
        """``first``: the icon and menu already shown at start, adopted instead of making new ones.
        ``update_entry``: the offered update's menu line (asked each time the menu is rebuilt).
        ``tag``: a line telling this copy apart (the test server it talks to), in the tooltip."""
        super().__init__(parent)
        self._tag = tag
        self._update_entry = update_entry
        self._view = view
        self._variant = variant
        self._versions = versions
        if first is not None:
            self.icon, self.menu = first.icon, first.menu
            self.icon.setParent(self)
        else:
            self.icon = QSystemTrayIcon(self)
            self.menu = QMenu()
        self.menu.setAccessibleName(tr("CrystalMe3D Pro Manager menu"))
        self.menu.aboutToShow.connect(self.rebuild_menu)
        self.icon.setContextMenu(self.menu)
        self.icon.activated.connect(self._on_activated)
        self.rebuild_menu()  # a menu must exist before the first show (AppIndicator)
        self._apply()

    @property
    def view(self) -> TrayView:
        """What is shown now."""
        return self._view

    @property
    def variant(self) -> str:
        """The icon variant in use (light, dark, template)."""
        return self._variant

    def show(self) -> None:
        """Put the icon in the tray."""
        self.icon.show()

    def hide(self) -> None:
        """Take the icon out of the tray."""
        self.icon.hide()

    def set_view(self, view: TrayView) -> None:
        """Show a new state (the menu too: some hosts export it without an aboutToShow)."""
        self._view = view
        self._apply()
        if not self.menu.isVisible():
            self.rebuild_menu()

    def set_variant(self, variant: str) -> None:
        """Follow a palette change."""
        self._variant = variant
        self._apply()

    def entries(self) -> list[MenuEntry]:
        """The menu as data (what :meth:`rebuild_menu` renders)."""
        product, manager = self._versions()
        update = self._update_entry() if self._update_entry is not None else None
        return menu_entries(self._view, product_version=product, manager_version=manager, update=update)

    def rebuild_menu(self) -> None:
        """Fill the menu from the current facts."""
        self.menu.clear()
        for entry in self.entries():
            if entry.action == "-":
                self.menu.addSeparator()
                continue
            action = QAction(entry.text, self.menu)
            if entry.action is None:
                action.setEnabled(False)
                if not self.menu.actions():  # the status line: bold, so it reads as the headline
                    font = action.font()
                    font.setBold(True)
                    action.setFont(font)
            else:
                action_id = entry.action
                action.triggered.connect(lambda _checked=False, a=action_id: self.triggered.emit(a))
            self.menu.addAction(action)

    def _apply(self) -> None:
        self.icon.setIcon(state_icon(self._view.state, self._variant))
        self.icon.setToolTip(tooltip(self._view, self._tag))

    def _on_activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        # Left click opens the window on Linux and Windows; macOS convention is the menu on any click.
        if reason == QSystemTrayIcon.ActivationReason.Trigger and sys.platform != "darwin":
            self.triggered.emit("open")

    def notify(self, title: str, body: str, level: str = "info") -> None:
        """A desktop notification from the tray; a failure shows the warning icon, the rest the app's own."""
        if level == "info":
            self.icon.showMessage(title, body, self.icon.icon(), 10_000)
        else:
            icon = (QSystemTrayIcon.MessageIcon.Critical if level == "error"
                    else QSystemTrayIcon.MessageIcon.Warning)
            self.icon.showMessage(title, body, icon, 10_000)
