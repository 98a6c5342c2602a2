"""The Settings page: start at login (off until chosen) and a toggle for each notification."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QCheckBox, QGroupBox, QLabel, QVBoxLayout, QWidget

from crystal_manager.config.settings import NOTIFICATION_EVENTS, Settings
from crystal_manager.gui.texts import core_words, tr
from crystal_manager.gui.widgets import page_title


def event_label(event: str) -> str:
    """The notification event in words."""
    return {
        "activation_done": tr("Activation finished"),
        "grace_started": tr("Working offline: grace period started, and days left"),
        "expiring_soon": tr("Subscription ends within 7 days"),
        "update_available": tr("An update is available"),
        "update_downloaded": tr("An update was downloaded"),
        "update_installed": tr("An update was installed"),
        "update_failed": tr("An update failed"),
    }.get(event, event)


class SettingsPage(QWidget):
    """Emits the user's choices; the app saves them and applies autostart."""

    autostart_changed = Signal(bool)
    notification_changed = Signal(str, bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.autostart = QCheckBox(tr("&Start CrystalMe3D Pro Manager when I log in"))
        self.autostart.setAccessibleName(tr("Start when I log in"))
        self.autostart.toggled.connect(self.autostart_changed.emit)
        self.autostart_note = QLabel()
        self.autostart_note.setWordWrap(True)
        self.toggles: dict[str, QCheckBox] = {}
        box = QGroupBox(tr("Notifications"))
        box_layout = QVBoxLayout(box)
        for event in NOTIFICATION_EVENTS:
            check = QCheckBox(event_label(event))
            check.setAccessibleName(event_label(event))
            check.toggled.connect(lambda on, e=event: self.notification_changed.emit(e, on))
            box_layout.addWidget(check)
            self.toggles[event] = check
        layout = QVBoxLayout(self)
        layout.addWidget(page_title(tr("Settings")))
        layout.addWidget(self.autostart)
        layout.addWidget(self.autostart_note)
        layout.addWidget(box)
        layout.addStretch(1)

    def set_settings(self, settings: Settings, *, autostart_location: str, autostart_words: str = "") -> None:
        """Show the saved choices without emitting change signals."""
        for widget, on in [(self.autostart, settings.autostart),
                           *((self.toggles[e], settings.notifications.get(e, True)) for e in NOTIFICATION_EVENTS)]:
            widget.blockSignals(True)
            widget.setChecked(on)
            widget.blockSignals(False)
        # Where, in words; the full path is for those who look for it (tooltip), not the page's text.
        self.autostart_note.setText(core_words(autostart_words))
        self.autostart_note.setToolTip(autostart_location)

    def show_autostart_error(self, text: str) -> None:
        """Autostart could not be changed: say so and show the real state."""
        self.autostart_note.setText(text)
