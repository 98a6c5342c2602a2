"""The About page: versions, the trust profile in use (plainly when it is not production), where logs
are, and "copy diagnostics" (a redacted report)."""

from __future__ import annotations

import platform

from PySide6 import __version__ as pyside_version
from PySide6.QtCore import QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from crystal_manager.gui.texts import tr
from crystal_manager.gui.widgets import Banner, FactRows, page_title
from crystal_manager.services.status import AppStatus


class AboutPage(QWidget):
    """Renders the :class:`AppStatus` and paths; ``copy_requested`` asks for the diagnostics report."""

    copy_requested = Signal()
    quit_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.profile_banner = Banner("warning")
        self.rows = FactRows()
        for key, label in (("manager", tr("Manager version")), ("product", tr("CrystalMe3D Pro version")),
                           ("profile", tr("Trust profile")), ("server", tr("Server")),
                           ("config", tr("Settings folder")), ("logs", tr("Logs folder")),
                           ("runtime", tr("Runtime"))):
            self.rows.add(key, label)
        self.copied = QLabel()
        self.copied.setAccessibleName(tr("Diagnostics status"))
        self.copy_button = QPushButton(tr("&Copy diagnostics"))
        self.copy_button.setAccessibleName(tr("Copy diagnostics"))
        self.copy_button.setToolTip(tr("Copies a report for support; the license key appears only as its "
                                       "last four characters and your home folder as ~"))
        self.copy_button.clicked.connect(self.copy_requested.emit)
        self.logs_button = QPushButton(tr("Open &logs folder"))
        self.logs_button.setAccessibleName(tr("Open logs folder"))
        self.logs_button.clicked.connect(self._open_logs)
        quit_button = QPushButton(tr("&Quit the Manager"))
        quit_button.setAccessibleName(tr("Quit the Manager"))
        quit_button.clicked.connect(self.quit_requested.emit)
        buttons = QHBoxLayout()
        buttons.addWidget(self.copy_button)
        buttons.addWidget(self.logs_button)
        buttons.addStretch(1)
        buttons.addWidget(quit_button)
        layout = QVBoxLayout(self)
        layout.addWidget(page_title(tr("About")))
        layout.addWidget(self.profile_banner)
        layout.addWidget(self.rows)
        layout.addWidget(self.copied)
        layout.addLayout(buttons)
        layout.addStretch(1)
        self._log_dir = ""

    def set_status(self, status: AppStatus, *, config_dir: str, log_dir: str) -> None:
        """Show versions, profile and folders."""
        profile = status.profile
        self.rows.set("manager", status.manager_version)
        self.rows.set("product", status.product_version or tr("not installed"))
        self.rows.set("profile", profile.name if profile.production else
                      tr("%1 — NOT production").replace("%1", profile.name))
        self.rows.set("server", profile.server_url)
        self.rows.set("config", config_dir)
        self.rows.set("logs", log_dir)
        self.rows.set("runtime", f"Python {platform.python_version()}, PySide6 {pyside_version}")
        self._log_dir = log_dir
        if profile.production:
            self.profile_banner.hide()
        else:
            self.profile_banner.show_text(
                tr("Not the production profile"),
                tr("This Manager trusts the keys and server of the profile “%1” (%2), not CrystalMe3D Pro's "
                   "own. That is right for testing only.").replace("%1", profile.name)
                .replace("%2", profile.source or tr("built in")))

    def show_copied(self, ok: bool, detail: str = "") -> None:
        """Say whether the report was copied."""
        self.copied.setText(tr("Diagnostics copied to the clipboard.") if ok else
                            tr("Could not build the diagnostics: %1").replace("%1", detail))

    def _open_logs(self) -> None:
        QDesktopServices.openUrl(QUrl.fromLocalFile(self._log_dir))
