"""The main window: a page list on the left, the pages on the right, a menu with every tray action."""

from __future__ import annotations

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import QHBoxLayout, QListWidget, QMainWindow, QStackedWidget, QWidget

from crystal_manager.gui.icons import app_icon
from crystal_manager.gui.pages.about_page import AboutPage
from crystal_manager.gui.pages.license_page import LicensePage
from crystal_manager.gui.pages.privacy_page import PrivacyPage
from crystal_manager.gui.pages.settings_page import SettingsPage
from crystal_manager.gui.pages.updates_page import UpdatesPage
from crystal_manager.gui.texts import tr
from crystal_manager.gui.widgets import fit_to_screen

PAGES = ("license", "updates", "privacy", "settings", "about")


class MainWindow(QMainWindow):
    """Holds the pages. ``action`` carries menu action ids like the tray's; ``closed`` a real close;
    ``activated`` the user came back to the window (the app compares the stored files then)."""

    action = Signal(str)
    closed = Signal()
    activated = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(tr("CrystalMe3D Pro Manager"))
        self.setWindowIcon(app_icon())
        self.hide_on_close = False
        self.license_page = LicensePage()
        self.updates_page = UpdatesPage()
        self.privacy_page = PrivacyPage()
        self.settings_page = SettingsPage()
        self.about_page = AboutPage()
        self.pages: dict[str, QWidget] = {
            "license": self.license_page, "updates": self.updates_page, "privacy": self.privacy_page,
            "settings": self.settings_page, "about": self.about_page}
        names = {"license": tr("License"), "updates": tr("Updates"), "privacy": tr("Privacy"),
                 "settings": tr("Settings"), "about": tr("About")}
        self.nav = QListWidget()
        self.nav.setAccessibleName(tr("Pages"))
        self.nav.setFrameShape(QListWidget.Shape.NoFrame)
        self.nav.setStyleSheet("QListWidget::item { padding: 6px 10px; }")
        self.stack = QStackedWidget()
        for key in PAGES:
            self.nav.addItem(names[key])
            self.stack.addWidget(self.pages[key])
        self.nav.setFixedWidth(max(140, self.nav.sizeHintForColumn(0) + 32))
        self.nav.currentRowChanged.connect(self.stack.setCurrentIndex)
        self.nav.setCurrentRow(0)
        central = QWidget()
        layout = QHBoxLayout(central)
        layout.addWidget(self.nav)
        layout.addWidget(self.stack, 1)
        self.setCentralWidget(central)
        self._build_menu()
        self.statusBar().setSizeGripEnabled(False)
        fit_to_screen(self, 900, 580)

    def _build_menu(self) -> None:
        menu = self.menuBar().addMenu(tr("&Manager"))
        for text, action_id, keys in ((tr("&Activate…"), "activate", None),
                                      (tr("Check for &updates"), "check_updates", "Ctrl+U"),
                                      (tr("&Privacy…"), "privacy", None),
                                      (None, None, None),
                                      (tr("&Quit"), "quit", QKeySequence.StandardKey.Quit)):
            if text is None or action_id is None:
                menu.addSeparator()
                continue
            action = QAction(text, self)
            if keys is not None:
                action.setShortcut(QKeySequence(keys))
            action.triggered.connect(lambda _checked=False, a=action_id: self.action.emit(a))
            menu.addAction(action)
            if action_id == "activate":
                # As on the License page: no "Activate…" while a license runs here (or only needs a check).
                action.setVisible(self.license_page.activate_button.isVisibleTo(self.license_page))
                self.license_page.activate_offered.connect(action.setVisible)
                self.activate_action = action
        for index, key in enumerate(PAGES, start=1):
            jump = QAction(self)
            jump.setShortcut(QKeySequence(f"Ctrl+{index}"))
            jump.triggered.connect(lambda _checked=False, k=key: self.show_page(k))
            self.addAction(jump)

    def show_page(self, name: str) -> None:
        """Switch to page ``name`` (unknown names keep the current page)."""
        if name in PAGES:
            self.nav.setCurrentRow(PAGES.index(name))

    def current_page(self) -> str:
        """The name of the page on screen."""
        return PAGES[self.stack.currentIndex()]

    def bring_forward(self) -> None:
        """Show, un-minimise, raise and focus."""
        self.setWindowState((self.windowState() & ~Qt.WindowState.WindowMinimized) | Qt.WindowState.WindowActive)
        self.show()
        self.raise_()
        self.activateWindow()

    def changeEvent(self, event: QEvent) -> None:  # Qt names it
        """The window became the active one: say so (the user may have changed something elsewhere)."""
        super().changeEvent(event)
        if event.type() == QEvent.Type.ActivationChange and self.isActiveWindow():
            self.activated.emit()

    def closeEvent(self, event: QCloseEvent) -> None:  # Qt names it
        """With a tray, closing hides; without one, closing ends the app (never an invisible process)."""
        if self.hide_on_close:
            event.ignore()
            self.hide()
            return
        event.accept()
        self.closed.emit()
