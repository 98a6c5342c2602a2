"""Which notifications a change of state deserves, decided without Qt; each can be turned off in settings.

The GUI words and shows them (tray balloon / desktop notification); updates report their own events.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from crystal_manager.config.settings import NOTIFICATION_EVENTS, Settings
from crystal_manager.desktop.tray_state import EXPIRING_SOON_DAYS, parse_day
from crystal_manager.services.status import LicenseStatus

ACTIVE_STATES = frozenset({"active", "trial"})


@dataclass(frozen=True)
class Notice:
    """One notification: its event (a key of ``Settings.notifications``) and the facts its words need."""

    event: str
    days_left: int | None = None
    version: str | None = None
    detail: str | None = None

    def __post_init__(self) -> None:
        if self.event not in NOTIFICATION_EVENTS:
            raise ValueError(f"unknown notification event {self.event!r}")


def _days_to_expiry(lic: LicenseStatus, today: date) -> int | None:
    if lic.renews_at or lic.state not in ACTIVE_STATES:
        return None
    end = parse_day(lic.expires_at)
    if end is None:
        return None
    days = (end - today).days
    return days if 0 <= days <= EXPIRING_SOON_DAYS else None


def license_notices(old: LicenseStatus | None, new: LicenseStatus, *, today: date) -> list[Notice]:
    """Notices for the step from ``old`` (None: first reading since start) to ``new``."""
    notices: list[Notice] = []
    if old is not None and old.state not in ACTIVE_STATES | {"offline_grace"} and new.state in ACTIVE_STATES:
        notices.append(Notice("activation_done"))
    if new.state == "offline_grace" and (old is None or old.state != "offline_grace"):
        days = int(new.grace_days_left) if new.grace_days_left is not None else None
        notices.append(Notice("grace_started", days_left=days))
    days = _days_to_expiry(new, today)
    was = _days_to_expiry(old, today) if old is not None else None
    if days is not None and was is None:  # entering the window, or first reading since start
        notices.append(Notice("expiring_soon", days_left=days))
    return notices


def wanted(settings: Settings, notice: Notice) -> bool:
    """True unless the user turned this event off."""
    return settings.notifications.get(notice.event, True)
