"""Desktop notifications: words for each notice, shown only when its toggle is on."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, Signal

from crystal_manager.config.settings import Settings
from crystal_manager.desktop.notices import Notice, wanted
from crystal_manager.gui.texts import days, tr


def words(notice: Notice) -> tuple[str, str]:
    """Title and body of a notice."""
    left = days(notice.days_left) if notice.days_left is not None else tr("a few days")
    version = notice.version or tr("a new version")
    match notice.event:
        case "activation_done":
            return tr("CrystalMe3D Pro is activated"), tr("The license is active on this computer.")
        case "grace_started":
            return (tr("Working offline"),
                    tr("The licensing server cannot be reached. CrystalMe3D Pro keeps working for %1; connect "
                       "to the internet before then.").replace("%1", left))
        case "expiring_soon":
            return (tr("Subscription ends soon"),
                    tr("The subscription ends in %1. Renew it on your account page to keep using "
                       "CrystalMe3D Pro.").replace("%1", left))
        case "update_available":
            return tr("Update available"), tr("CrystalMe3D Pro %1 is available.").replace("%1", version)
        case "update_downloaded":
            return tr("Update downloaded"), tr("CrystalMe3D Pro %1 is ready to install.").replace("%1", version)
        case "update_installed":
            return (tr("Update installed"),
                    tr("CrystalMe3D Pro %1 is installed. You will see it the next time you start CrystalMe3D Pro.")
                    .replace("%1", version))
        case _:
            return tr("Update failed"), notice.detail or tr("The update could not be installed.")


def level(notice: Notice) -> str:
    """The notification's icon: a warning for a failed update, the app's own icon for everything else."""
    return "warning" if notice.event == "update_failed" else "info"


class Notifier(QObject):
    """Shows notices through ``deliver(title, body)``; ``shown`` reports each one shown."""

    shown = Signal(str, str, str)  # event, title, body

    def __init__(self, settings: Settings, deliver: Callable[[str, str, str], None],
                 parent: QObject | None = None) -> None:
        """``deliver(title, body, level)`` shows it; level is "info" or "warning" (see :func:`level`)."""
        super().__init__(parent)
        self._settings = settings
        self.deliver = deliver

    def notify(self, notice: Notice) -> bool:
        """Show ``notice`` unless its toggle is off; True when shown."""
        if not wanted(self._settings, notice):
            return False
        title, body = words(notice)
        self.deliver(title, body, level(notice))
        self.shown.emit(notice.event, title, body)
        return True
