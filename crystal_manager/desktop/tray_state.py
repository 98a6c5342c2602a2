"""What the tray shows, decided without Qt: the license and update facts → one state, its icon and facts.

The GUI only renders the :class:`TrayView` (words via Qt ``tr``); the choice of state lives here so that
it is tested without a display and shared with anything else that wants it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from enum import Enum
from typing import TYPE_CHECKING, NamedTuple

from crystal_manager.licensing.plans import plan_name
from crystal_manager.services.license_rules import BLOCKED_STATES, RUNNING_STATES

if TYPE_CHECKING:  # annotations only: the status module is not needed to draw the first tray icon
    from crystal_manager.services.status import LicenseStatus

EXPIRING_SOON_DAYS = 7


class TrayState(Enum):
    """Every state the tray icon can show; the value is the icon's file stem."""

    STARTING = "starting"
    ACTIVE = "active"
    EXPIRING_SOON = "expiring"
    TRIAL = "trial"
    OFFLINE_GRACE = "grace"
    LOCKED = "locked"
    UPDATE_AVAILABLE = "update"
    DOWNLOADING = "downloading"
    ERROR = "error"


#: Icon stems that must exist in ``crystal_manager/resources/icons`` for every variant and size.
ICON_STATES: tuple[TrayState, ...] = tuple(TrayState)

#: License states after which the product will not run until someone acts (the one rule lives in the core).
LOCKED_LICENSE_STATES = BLOCKED_STATES


class UpdateActivity(Enum):
    """What the updater is doing (the updates feature reports it; none until then)."""

    IDLE = "idle"
    AVAILABLE = "available"
    READY = "ready"  # downloaded and verified: ready to install (the same icon as AVAILABLE, other words)
    DOWNLOADING = "downloading"


class TrayInputs(NamedTuple):
    """Everything the tray state depends on."""

    license: LicenseStatus | None  # None: not read yet
    update: UpdateActivity = UpdateActivity.IDLE
    error: str | None = None  # the last background failure, in words, if it still matters


class TrayView(NamedTuple):
    """The decided state with the facts its words need (the GUI turns these into translated text)."""

    state: TrayState
    license_state: str | None
    plan: str | None
    until: date | None  # expiry, renewal or end of grace: the date the status line names
    renews: bool  # True when ``until`` is a renewal date, not an end
    days_left: int | None  # trial days or grace days, rounded down
    error: str | None
    update_ready: bool = False  # UPDATE_AVAILABLE and already downloaded: "ready to install"


def parse_day(value: str | None) -> date | None:
    """The calendar day (UTC) of an ISO date or datetime string; None when absent or unreadable."""
    if not value:
        return None
    text = value.strip().replace("Z", "+00:00")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC)
    return parsed.date()


def _expiring_soon(lic: LicenseStatus, today: date) -> bool:
    if lic.renews_at:
        return False  # it renews by itself: nothing ends
    end = parse_day(lic.expires_at)
    return end is not None and today <= end <= today + timedelta(days=EXPIRING_SOON_DAYS)


def decide(inputs: TrayInputs, *, today: date) -> TrayView:
    """Pick the one state to show. Priority: locked > error > downloading > grace > expiring > update >
    trial > active — what needs the user's action first, then what is merely informative."""
    lic = inputs.license
    if lic is None:
        state = TrayState.ERROR if inputs.error else TrayState.STARTING
        return TrayView(state, None, None, None, False, None, inputs.error)
    renews = bool(lic.renews_at)
    until = parse_day(lic.renews_at) if renews else parse_day(lic.expires_at)
    days_left: int | None = None
    if lic.state == "trial" and lic.trial_days_left is not None:
        days_left = max(0, int(lic.trial_days_left))
    if lic.state == "offline_grace" and lic.grace_days_left is not None:
        days_left = max(0, int(lic.grace_days_left))
        until = today + timedelta(days=days_left)
        renews = False
    known = BLOCKED_STATES | RUNNING_STATES
    if lic.state in LOCKED_LICENSE_STATES:
        state = TrayState.LOCKED
    elif inputs.error or lic.state not in known:
        state = TrayState.ERROR
    elif inputs.update is UpdateActivity.DOWNLOADING:
        state = TrayState.DOWNLOADING
    elif lic.state == "offline_grace":
        state = TrayState.OFFLINE_GRACE
    elif _expiring_soon(lic, today):
        state = TrayState.EXPIRING_SOON
    elif inputs.update in (UpdateActivity.AVAILABLE, UpdateActivity.READY):
        state = TrayState.UPDATE_AVAILABLE
    elif lic.state == "trial":
        state = TrayState.TRIAL
    else:
        state = TrayState.ACTIVE
    error = inputs.error or (f"unknown license state {lic.state!r}" if lic.state not in known else None)
    return TrayView(state, lic.state, plan_name(lic.plan), until, renews, days_left, error,
                    update_ready=state is TrayState.UPDATE_AVAILABLE and inputs.update is UpdateActivity.READY)
