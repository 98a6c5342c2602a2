"""The Updates page. Until the updates feature arrives it shows the installed versions, honestly."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from crystal_manager.gui.texts import tr
from crystal_manager.gui.widgets import FactRows, page_title


class UpdatesPage(QWidget):
    """Installed versions and where the product lives."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.rows = FactRows()
        self.rows.add("product", tr("CrystalMe3D Pro"))
        self.rows.add("manager", tr("CrystalMe3D Pro Manager"))
        self.rows.add("root", tr("Installed in"))
        self.note = QLabel(tr("Checking for and installing signed updates is not part of this version of the "
                              "Manager yet; the versions above are read from this computer."))
        self.note.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(page_title(tr("Updates")))
        layout.addWidget(self.rows)
        layout.addWidget(self.note)
        layout.addStretch(1)

    def set_versions(self, *, product: str | None, manager: str, install_root: str) -> None:
        """Show the installed versions."""
        self.rows.set("product", product or tr("not installed"))
        self.rows.set("manager", manager)
        self.rows.set("root", install_root)
