"""Words for what the core decided: tray status line, tooltip, menu entries, license facts. All via Qt
translation (English is the source language); no decisions are made here."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import NamedTuple

from PySide6.QtCore import QT_TR_NOOP, QDateTime, QLocale

from crystal_manager.desktop.tray_state import TrayState, TrayView
from crystal_manager.gui.first_tray import app_name, starting_line
from crystal_manager.gui.first_tray import tr as _tr
from crystal_manager.services.license_rules import needs_activation, offers_activate

tr = _tr  # the one tr() lives in first_tray (the lightest module); the pages import it from here


def core_words(text: str) -> str:
    """Words the Qt-free core decided (problem headlines and next steps, the preview's plain words), through
    the translator. lupdate cannot see them (they are not literals here), so they stay English until they
    are extracted from the core's tables; they are decided once, there, for the CLI and the GUI alike."""
    return tr(text) if text else text


def fmt_day(day: date) -> str:
    """``20 Mar 2027``: the one date format of the CLI and the GUI (services.dates.date_words)."""
    from crystal_manager.services.dates import date_words

    return date_words(datetime(day.year, day.month, day.day, tzinfo=UTC), with_time=False)


def fmt_when(iso: str | None) -> str:
    """An ISO timestamp in local time, ``20 Mar 2027, 14:05`` (services.dates.date_words, as the CLI
    writes it); a dash when unknown."""
    if not iso:
        return "—"
    from crystal_manager.services.dates import date_words

    return date_words(iso, with_time=True, local=True)


def days(n: int) -> str:
    """``1 day`` / ``5 days``."""
    return tr("1 day") if n == 1 else tr("%1 days").replace("%1", str(n))


_STATE_NAMES: dict[str, str] = {  # QT_TR_NOOP: lupdate extracts them; tr() translates them when shown
    "not_activated": str(QT_TR_NOOP("Not activated")),
    "active": str(QT_TR_NOOP("Active")),
    "trial": str(QT_TR_NOOP("Trial")),
    "offline_grace": str(QT_TR_NOOP("Offline — grace period")),
    "locked": str(QT_TR_NOOP("Locked")),
    "expired": str(QT_TR_NOOP("Expired")),
    "revoked": str(QT_TR_NOOP("Revoked")),
}


def license_state_name(state: str | None) -> str:
    """The license state in words."""
    if state is None:
        return tr("Checking…")
    known = _STATE_NAMES.get(state)
    return tr(known) if known else state  # known: marked with QT_TR_NOOP above


def status_line(view: TrayView) -> str:
    """One line: ``Pro — active until 20 Mar 2027``."""
    plan = view.plan or tr("CrystalMe3D Pro")
    until = fmt_day(view.until) if view.until else None
    match view.state:
        case TrayState.STARTING:
            return starting_line()  # the same words as the first tray icon
        case TrayState.ERROR if view.license_state in (None, "active", "trial", "offline_grace"):
            return tr("Problem: %1").replace("%1", view.error or tr("unknown"))
        case TrayState.OFFLINE_GRACE:
            left = days(view.days_left) if view.days_left is not None else "?"
            return tr("%1 — offline, %2 of grace left").replace("%1", plan).replace("%2", left)
        case TrayState.EXPIRING_SOON:
            return tr("%1 — ends on %2").replace("%1", plan).replace("%2", until or "?")
    if view.license_state == "trial":
        left = days(view.days_left) if view.days_left is not None else "?"
        return tr("%1 trial — %2 left").replace("%1", plan).replace("%2", left)
    if view.license_state == "active":
        if until is None:
            return tr("%1 — active").replace("%1", plan)
        text = tr("%1 — active, renews %2") if view.renews else tr("%1 — active until %2")
        return text.replace("%1", plan).replace("%2", until)
    if view.license_state == "not_activated":
        return tr("Not activated")
    if view.license_state == "expired":
        return (tr("%1 — expired on %2").replace("%2", until) if until else tr("%1 — expired")).replace("%1", plan)
    if view.license_state == "revoked":
        return tr("License revoked")
    if view.license_state == "locked":
        return tr("Locked — connect to verify the license")
    return tr("Problem: %1").replace("%1", view.error or str(view.license_state))


def extra_line(view: TrayView) -> str | None:
    """A second line for update activity, when there is any."""
    if view.state is TrayState.UPDATE_AVAILABLE:
        return tr("An update is ready to install") if view.update_ready else tr("An update is available")
    if view.state is TrayState.DOWNLOADING:
        return tr("Downloading an update…")
    return None


def server_tag(production: bool, server_url: str) -> str | None:
    """A line naming a test server (a demo, a development profile), so two copies side by side can be told
    apart in the tray; None for the production server."""
    if production:
        return None
    from urllib.parse import urlsplit

    return tr("Test server %1").replace("%1", urlsplit(server_url).netloc or server_url)


def tooltip(view: TrayView, tag: str | None = None) -> str:
    """The tray tooltip: the app's name (and which test server, if any) and the same status in words."""
    lines = [f"{app_name()} — {tag}" if tag else app_name(), status_line(view)]
    extra = extra_line(view)
    if extra:
        lines.append(extra)
    return "\n".join(lines)


def versions_line(product_version: str | None, manager_version: str) -> str:
    """``CrystalMe3D Pro 2.4.0 · Manager 0.1.0``."""
    product = product_version or tr("not installed")
    return tr("CrystalMe3D Pro %1 · Manager %2").replace("%1", product).replace("%2", manager_version)


class MenuEntry(NamedTuple):
    """One tray-menu line: ``action`` is None for an information line, "-" for a separator."""

    text: str
    action: str | None


def menu_entries(view: TrayView, *, product_version: str | None, manager_version: str,
                 update: MenuEntry | None = None) -> list[MenuEntry]:
    """The tray menu, rebuilt each time it opens; ``update`` is the offered update's entry, if any."""
    entries = [MenuEntry(status_line(view), None)]
    extra = extra_line(view)
    if extra:
        entries.append(MenuEntry(extra, None))
    entries.append(MenuEntry(versions_line(product_version, manager_version), None))
    entries.append(MenuEntry("-", "-"))
    if view.state is TrayState.LOCKED and needs_activation(view.license_state):
        # Locked with its key here: asking the server again unlocks it; a new key is for the other states.
        if offers_activate(view.license_state):
            entries.append(MenuEntry(tr("Activate…"), "activate"))
        else:
            entries.append(MenuEntry(tr("Verify now"), "verify"))
    if update is not None:
        entries.append(update)
    entries += [
        MenuEntry(tr("Open CrystalMe3D Pro Manager"), "open"),
        MenuEntry(tr("Check for updates"), "check_updates"),
        MenuEntry(tr("Privacy…"), "privacy"),
        MenuEntry("-", "-"),
        MenuEntry(tr("Quit"), "quit"),
    ]
    return entries


# -- updates ----------------------------------------------------------------------------------------------
def fmt_size(n: int) -> str:
    """A size for people: ``48.2 MB``, ``350 KB`` (decimal units, as download sizes are usually given)."""
    if n < 1_000_000:
        return tr("%1 KB").replace("%1", QLocale().toString(max(1, round(n / 1000))))
    mb = n / 1_000_000
    return tr("%1 MB").replace("%1", QLocale().toString(mb, "f", 1 if mb < 100 else 0))


def fmt_speed(bytes_per_second: float) -> str:
    """``2.5 MB/s``."""
    return tr("%1/s").replace("%1", fmt_size(int(bytes_per_second)))


def fmt_eta(seconds: float | None) -> str:
    """``about 3 minutes left``; empty while no speed is known."""
    if seconds is None:
        return ""
    s = max(0, round(seconds))
    if s < 60:
        return tr("less than a minute left") if s > 10 else tr("a few seconds left")
    minutes = round(s / 60)
    if minutes < 60:
        return tr("about 1 minute left") if minutes == 1 else tr("about %1 minutes left").replace("%1", str(minutes))
    hours, rest = divmod(minutes, 60)
    return tr("about %1 h %2 min left").replace("%1", str(hours)).replace("%2", str(rest))


def fmt_ago(iso: str | None, *, now: datetime | None = None) -> str:
    """When something happened: ``just now``, ``5 minutes ago``, ``today at 14:05``, else a local date."""
    if not iso:
        return tr("never")
    try:
        moment = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except ValueError:
        return tr("unknown")
    if moment.tzinfo is None:
        moment = moment.astimezone()
    current = now or datetime.now(moment.tzinfo)
    seconds = (current - moment).total_seconds()
    if -120 < seconds < 60:
        return tr("just now")
    if 0 < seconds < 3600:
        minutes = int(seconds // 60)
        return tr("1 minute ago") if minutes == 1 else tr("%1 minutes ago").replace("%1", str(minutes))
    local = QDateTime.fromSecsSinceEpoch(int(moment.timestamp())).toLocalTime()
    if 0 < seconds < 86400 and local.date() == QDateTime.currentDateTime().date():
        return tr("today at %1").replace("%1", QLocale().toString(local.time(), "HH:mm"))
    return fmt_when(iso)


def fmt_release_day(iso: str | None) -> str | None:
    """A release's date as a day (``20 Mar 2027``); None when absent or unreadable."""
    if not iso:
        return None
    try:
        moment = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except ValueError:
        return None
    return fmt_day(moment.date())


def channel_name(channel: str) -> str:
    """An update channel in words."""
    match channel:
        case "stable":
            return tr("Stable")
        case "beta":
            return tr("Beta — early versions")
    return channel


def short_key_id(key_id: str) -> str:
    """The first 8 characters of a signing key's id, enough to compare with the vendor's published list."""
    return key_id[:8] + "…" if len(key_id) > 8 else key_id


def update_menu_entry(version: str, *, downloaded: bool) -> MenuEntry:
    """The tray's update line: install a downloaded update, or download the one offered."""
    if downloaded:
        return MenuEntry(tr("Install update %1…").replace("%1", version), "install_update")
    return MenuEntry(tr("Download update %1").replace("%1", version), "download_update")
