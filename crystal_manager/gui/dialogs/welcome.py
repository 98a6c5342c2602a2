"""First run: a short welcome that leads to activation and says in one sentence what the app sends."""

from __future__ import annotations

from html import escape

from PySide6.QtCore import Signal, SignalInstance
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QVBoxLayout, QWidget

from crystal_manager.gui.texts import tr
from crystal_manager.gui.widgets import page_title


def activation_in_words() -> list[str]:
    """What an activation sends, in plain words, from the data catalog (so the welcome cannot drift)."""
    from crystal_manager.privacy.catalog import default_catalog
    from crystal_manager.services.privacy_words import sends_items

    return sends_items(default_catalog(), "license_activate")  # the core's words: each thing once


def check_count() -> int:
    """How many things a license check sends: the same core function and request as the Privacy page's
    "To check your license (about once a day) it sends N things", so the two screens cannot disagree."""
    from crystal_manager.privacy.catalog import default_catalog
    from crystal_manager.services.privacy_words import license_check_items

    return len(license_check_items(default_catalog()))


def sends_html(words: list[str], checks: int | None = None) -> str:
    """The catalog's words as a short list under one lead-in line, then what is never sent (one run-on
    sentence of ten lines before). The list is what an ACTIVATION sends (said so, with its count); the
    daily check sends ``checks`` of them (the Privacy page's number)."""
    items = "".join(f"<li>{escape(word[:1].upper() + word[1:], quote=False)}</li>" for word in words)
    checks = check_count() if checks is None else checks
    return (escape(tr("To activate, it sends the CrystalMe3D Pro server these %1 things:")
                   .replace("%1", str(len(words))))
            + f"<ul style='margin-top:2px; margin-bottom:2px'>{items}</ul>"
            + escape(tr("After that, the license check (about once a day) sends %1 of them.")
                     .replace("%1", str(checks))) + " "
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
        # All three exist; which show follows the license as it is NOW (set_needs_activation): the state
        # read when the welcome opened can change a moment later (the first read, another process).
        self.activate_button = buttons.addButton(tr("&Activate now…"), QDialogButtonBox.ButtonRole.AcceptRole)
        self.activate_button.clicked.connect(lambda: self._go(self.activate_requested))
        self.later_button = buttons.addButton(tr("&Later"), QDialogButtonBox.ButtonRole.RejectRole)
        self.later_button.clicked.connect(self.reject)
        self.close_button = buttons.addButton(QDialogButtonBox.StandardButton.Close)
        self.close_button.clicked.connect(self.reject)
        self.set_needs_activation(needs_activation)
        layout = QVBoxLayout(self)
        layout.addWidget(page_title(tr("Welcome to CrystalMe3D Pro Manager")))
        layout.addWidget(body)
        layout.addWidget(self.sends)
        layout.addSpacing(8)
        layout.addWidget(buttons)
        self.setMinimumWidth(520)

    def set_needs_activation(self, needs: bool) -> None:
        """Offer "Activate now…" (with "Later") while this computer is not activated, else only Close."""
        self.activate_button.setVisible(needs)
        self.activate_button.setDefault(needs)
        self.later_button.setVisible(needs)
        self.close_button.setVisible(not needs)

    def _go(self, signal: SignalInstance) -> None:
        self.accept()
        signal.emit()
