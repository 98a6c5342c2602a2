"""First run: a short welcome that leads to activation and says in one sentence what the app sends."""

from __future__ import annotations

from html import escape

from PySide6.QtCore import Signal, SignalInstance
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QVBoxLayout, QWidget

from crystal_manager.gui.texts import tr
from crystal_manager.gui.widgets import page_title


def activation_in_words() -> list[str]:
    """What an activation sends, in plain words, from the data catalog (so the welcome cannot drift)."""
    from crystal_manager.privacy.catalog import default_catalog, sent_in_words

    catalog = default_catalog()
    request_type = catalog.get("license_activate")
    assert request_type is not None
    return sent_in_words(request_type, catalog)


def sends_html(words: list[str]) -> str:
    """The catalog's words as a short list under one lead-in line, then what is never sent (one run-on
    sentence of ten lines before)."""
    items = "".join(f"<li>{escape(word[:1].upper() + word[1:], quote=False)}</li>" for word in words)
    return (escape(tr("To check the license it sends the CrystalMe3D Pro server:"))
            + f"<ul style='margin-top:2px; margin-bottom:2px'>{items}</ul>"
            + escape(tr("Never your files, images or projects.")) + " "
            + '<a href="privacy">' + escape(tr("See exactly what is sent")) + "</a>")


class WelcomeDialog(QDialog):
    """``activate_requested`` / ``privacy_requested`` lead on; closing just ends the welcome."""

    activate_requested = Signal()
    privacy_requested = Signal()

    def __init__(self, *, needs_activation: bool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(tr("Welcome"))
        body = QLabel(tr("CrystalMe3D Pro Manager keeps your CrystalMe3D Pro license active and shows its "
                         "status from the system tray."))
        body.setWordWrap(True)
        self.sends = QLabel(sends_html(activation_in_words()))
        self.sends.setWordWrap(True)
        self.sends.setAccessibleName(tr("What the app sends"))
        self.sends.linkActivated.connect(lambda _link: self._go(self.privacy_requested))
        buttons = QDialogButtonBox()
        if needs_activation:
            self.activate_button = buttons.addButton(tr("&Activate now…"), QDialogButtonBox.ButtonRole.AcceptRole)
            self.activate_button.setDefault(True)
            self.activate_button.clicked.connect(lambda: self._go(self.activate_requested))
            buttons.addButton(tr("&Later"), QDialogButtonBox.ButtonRole.RejectRole).clicked.connect(self.reject)
        else:
            buttons.addButton(QDialogButtonBox.StandardButton.Close).clicked.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(page_title(tr("Welcome to CrystalMe3D Pro Manager")))
        layout.addWidget(body)
        layout.addWidget(self.sends)
        layout.addSpacing(8)
        layout.addWidget(buttons)
        self.setMinimumWidth(520)

    def _go(self, signal: SignalInstance) -> None:
        self.accept()
        signal.emit()
