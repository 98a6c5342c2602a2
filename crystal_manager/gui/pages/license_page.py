"""The License page: the same facts as ``crystal-manager status``, and the actions on the license."""

from __future__ import annotations

from datetime import date

from PySide6.QtCore import Signal, SignalInstance
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from crystal_manager.desktop.tray_state import TrayInputs, decide
from crystal_manager.gui.license_api import LicenseFacts
from crystal_manager.gui.problems import Problem
from crystal_manager.gui.texts import days, fmt_day, fmt_when, license_state_name, status_line, tr
from crystal_manager.gui.widgets import Banner, FactRows, page_title
from crystal_manager.services.license_rules import (
    dates_for,
    has_ended,
    is_activated,
    offers_activate,
    offers_machine_actions,
)
from crystal_manager.services.status import plan_name


def fallback_file(backend_name: str) -> str:
    """The key file's path from the store's description ("file PATH (mode 0600)"): the sentence around it
    already says only the user can read it, in words instead of a permission number."""
    name = backend_name.removeprefix("file ")
    return name.removesuffix(" (mode 0600)")


class LicensePage(QWidget):
    """Renders :class:`LicenseFacts`; its buttons only emit requests."""

    activate_requested = Signal()
    verify_requested = Signal()
    deactivate_requested = Signal()
    machines_requested = Signal()
    stop_requested = Signal()
    activate_offered = Signal(bool)  # the window's menu shows "Activate…" exactly when this page does

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.summary.setAccessibleName(tr("License summary"))
        self.rows = FactRows()
        for key, label in (("state", tr("State")), ("plan", tr("Plan")), ("renews", tr("Renews on")),
                           ("expires", tr("Ends on")), ("trial", tr("Trial")), ("grace", tr("Offline grace")),
                           ("seats", tr("Seats")), ("max_version", tr("Highest version")),
                           ("offline_until", tr("Works offline until")), ("verified", tr("Last verified")),
                           ("next", tr("Next check")), ("key", tr("License key")),
                           ("message", tr("Note"))):
            self.rows.add(key, label)
        self.secrets_banner = Banner("warning")
        self.clock_banner = Banner("warning")
        self.problem_banner = Banner("error")
        self.problem_banner.body.setOpenExternalLinks(True)  # "Open your account page" on an ended subscription
        self.busy = QLabel()
        self.busy.setAccessibleName(tr("Progress"))
        self.busy.hide()  # an empty label still takes a line: a gap above the buttons while nothing runs
        self.stop_button = self._button(tr("&Stop waiting"), self.stop_requested,
                                        tr("Stop waiting for the licensing server's answer"))
        self.stop_button.hide()
        self.activate_button = self._button(tr("&Activate…"), self.activate_requested,
                                            tr("Enter a license key to activate this machine"))
        self.verify_button = self._button(tr("&Verify now"), self.verify_requested,
                                          tr("Ask the licensing server about this license now"))
        self.machines_button = self._button(tr("&Manage machines…"), self.machines_requested,
                                            tr("See the machines using this license and free a seat"))
        self.deactivate_button = self._button(tr("&Deactivate this machine…"), self.deactivate_requested,
                                              tr("Free this machine's seat and remove the license from it"))
        buttons = QHBoxLayout()
        # Verify now first: it is the one action that helps in every activated state (and unlocks a locked one).
        for button in (self.verify_button, self.activate_button, self.machines_button, self.deactivate_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(page_title(tr("License")))
        layout.addWidget(self.summary)
        layout.addWidget(self.secrets_banner)
        layout.addWidget(self.clock_banner)
        layout.addWidget(self.problem_banner)
        layout.addWidget(self.rows)
        busy_row = QHBoxLayout()
        busy_row.addWidget(self.busy)
        busy_row.addWidget(self.stop_button)
        busy_row.addStretch(1)
        layout.addLayout(busy_row)
        layout.addLayout(buttons)
        layout.addStretch(1)
        self._busy = False
        self._facts: LicenseFacts | None = None
        self._problem: Problem | None = None
        self.set_facts(None)

    def _button(self, text: str, signal: SignalInstance, description: str) -> QPushButton:
        button = QPushButton(text)
        button.setAccessibleName(text.replace("&", "").rstrip("…"))
        button.setAccessibleDescription(description)
        button.setToolTip(description)
        button.clicked.connect(signal.emit)
        return button

    def set_facts(self, facts: LicenseFacts | None, *, today: date | None = None) -> None:
        """Show the license facts (None: not read yet)."""
        day = today or date.today()
        self._facts = facts
        lic = facts.status if facts else None
        view = decide(TrayInputs(lic), today=day)
        self.summary.setText(status_line(view))
        rows = self.rows
        if lic is None:
            for key in ("plan", "renews", "expires", "trial", "grace", "seats", "max_version", "offline_until",
                        "verified", "next", "key", "message"):
                rows.set(key, None)
            rows.set("state", license_state_name(None))
            self.clock_banner.hide()
            self._enable(None)
            return
        rows.set("state", license_state_name(lic.state))
        rows.set("plan", plan_name(lic.plan))
        when = dates_for(lic)  # which dates apply in which state: decided in the core, once
        rows.set("renews", fmt_when(when.renews_at).split(",")[0] if when.renews_at else None)
        rows.set("expires", fmt_when(when.ends_at).split(",")[0] if when.ends_at else None)
        rows.set("trial", tr("%1 left").replace("%1", days(when.trial_days_left))
                 if when.trial_days_left is not None else None)
        grace = None
        if when.grace_days_left is not None and view.until is not None:
            grace = tr("%1 left (until %2). Connect to the internet so the license can be verified.") \
                .replace("%1", days(view.days_left or 0)).replace("%2", fmt_day(view.until))
        rows.set("grace", grace)
        seats = None
        if lic.seats_total is not None:
            seats = tr("%1 of %2 in use").replace("%1", str(lic.seats_used if lic.seats_used is not None else "?")) \
                .replace("%2", str(lic.seats_total))
        # Seats and the key belong to an activated computer: after the key was lost (a damaged key file)
        # the state says "Not activated", and nothing beside it may claim a seat or a key is here.
        rows.set("seats", seats if is_activated(lic.state) else None)
        # As the CLI's status: the newest version this license may install, and how long it keeps working
        # without reaching the licensing server (the signed lease), while it is activated and not ended.
        rows.set("max_version", lic.max_version if is_activated(lic.state) else None)
        rows.set("offline_until", fmt_when(lic.lease_expires_at)
                 if lic.lease_expires_at and is_activated(lic.state) and not has_ended(lic.state) else None)
        rows.set("verified", fmt_when(when.last_verified_at) if when.last_verified_at else
                 (tr("never") if when.never_verified else None))
        rows.set("next", fmt_when(when.next_check_at) if when.next_check_at else None)
        rows.set("key", tr("ending in %1").replace("%1", lic.key_hint)
                 if lic.key_hint and is_activated(lic.state) else None)
        # The note is the stored reason; when the problem banner already says it, once is enough.
        shown = self._problem.detail if self._problem is not None else None
        rows.set("message", lic.message[:1].upper() + lic.message[1:] if lic.message and lic.message != shown
                 else None)
        if facts is not None and facts.secrets is not None and facts.secrets.is_fallback:
            where = fallback_file(facts.secrets.name)
            words = (tr("The license key is kept in a file that only your user account can read: %1. ")
                     if is_activated(lic.state) else
                     tr("When you activate, the license key will be kept in a file that only your user account "
                        "can read: %1. "))
            self.secrets_banner.show_text(
                tr("No system keyring found"),
                (words + tr("Install and unlock a keyring (for example GNOME Keyring or KWallet) to keep it "
                            "encrypted.")).replace("%1", where))
        else:
            self.secrets_banner.hide()
        self._show_clock(lic.clock_offset_seconds if lic.clock_wrong else None)
        self._enable(lic.state)

    def _show_clock(self, offset: int | None) -> None:
        """A warning when this computer's clock is off by more than a few minutes (the license still works)."""
        if offset is None:
            self.clock_banner.hide()
            return
        minutes = max(1, round(abs(offset) / 60))
        amount = (days(round(abs(offset) / 86400)) if abs(offset) >= 86400 * 0.95 else
                  tr("%1 hours").replace("%1", str(round(abs(offset) / 3600))) if abs(offset) >= 5400 else
                  tr("%1 minutes").replace("%1", str(minutes)))
        side = tr("ahead of") if offset > 0 else tr("behind")
        self.clock_banner.show_text(
            tr("This computer's clock is wrong"),
            tr("At the last check it was %1 %2 the licensing server's time. Your license is not affected and "
               "the dates shown are the server's; set the clock right to keep other programs correct.")
            .replace("%1", amount).replace("%2", side))

    def _enable(self, state: str | None) -> None:
        """Offer only what fits the state (the rules live in services.license_rules; None: not read yet)."""
        idle = not self._busy
        known = state is not None
        offer_key = not known or offers_activate(state)
        self.activate_button.setVisible(offer_key)
        self.activate_button.setEnabled(known and idle)
        self.verify_button.setVisible(is_activated(state))
        self.verify_button.setEnabled(idle)
        for button in (self.machines_button, self.deactivate_button):
            button.setVisible(offers_machine_actions(state))
            button.setEnabled(idle)
        # The default (Enter) is the way forward: Verify now while a key is here, else Activate.
        self.verify_button.setDefault(is_activated(state))
        self.activate_button.setDefault(not is_activated(state))
        self.activate_offered.emit(known and offer_key)

    def set_busy(self, text: str | None) -> None:
        """Show what is running (None: idle); buttons wait meanwhile."""
        self._busy = bool(text)
        self.busy.setText(text or "")
        self.busy.setVisible(self._busy)
        self.stop_button.setVisible(self._busy)
        if text:
            self.problem_banner.hide()
        self.set_facts(self._facts)

    def set_problem(self, problem: Problem | None) -> None:
        """Show the last failure (None: clear it)."""
        self._problem = problem
        self.set_facts(self._facts)
        if problem is None:
            self.problem_banner.hide()
        else:
            self.problem_banner.show_problem(problem, problem.account_link())
