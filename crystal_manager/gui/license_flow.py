"""The license actions behind the License page, the tray and the dialogs: each runs its service call
through the background helper and reports the new facts or the problem."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QWidget

from crystal_manager.gui.license_api import LicenseApi, LicenseFacts, read_facts
from crystal_manager.gui.problems import problem_for
from crystal_manager.gui.texts import tr
from crystal_manager.gui.worker import run_in_background
from crystal_manager.services.context import AppContext
from crystal_manager.services.problems import Action, Cancelled
from crystal_manager.services.status import LicenseStatus

# The dialogs load when they open (~4 MiB of widgets and texts nobody needs at start).
if TYPE_CHECKING:
    from crystal_manager.gui.dialogs.activation import ActivationDialog
    from crystal_manager.gui.dialogs.machines import MachinesDialog


class LicenseFlow(QObject):
    """Owns the facts; ``facts_changed`` (LicenseFacts), ``failed`` (Problem), ``busy`` (text or "")."""

    facts_changed = Signal(object)
    failed = Signal(object)
    busy = Signal(str)
    privacy_requested = Signal()

    def __init__(self, ctx: AppContext, api_factory: Callable[[AppContext], LicenseApi],
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self._api_factory = api_factory
        self._api: LicenseApi | None = None
        self.facts: LicenseFacts | None = None
        self._started = 0  # operations started, and the newest one whose result is shown:
        self._shown = 0  # an older answer arriving late never overwrites a newer one
        self.want_secrets = False  # opening the keyring is heavy: only once the License page exists
        self.dialog: ActivationDialog | None = None
        self._waiting: tuple[int, Action] | None = None  # the operation the page waits for, and its action

    @property
    def api(self) -> LicenseApi:
        """The licensing service (created on first use, after the tray is up)."""
        if self._api is None:
            self._api = self._api_factory(self.ctx)
        return self._api

    def refresh(self) -> None:
        """Read local facts again (keyring and state file: in the background)."""
        ctx, api, secrets = self.ctx, self.api, self.want_secrets
        seq = self._next()
        run_in_background(self, lambda: read_facts(ctx, api, with_secrets=secrets),
                          on_success=lambda facts: self._set_facts(seq, facts),
                          on_failure=lambda exc: self._fail(exc, "read"))

    def _next(self) -> int:
        self._started += 1
        return self._started

    def _set_facts(self, seq: int, facts: LicenseFacts, *, changed_state: bool = False) -> None:
        # ``changed_state``: the result of an operation (verify, activate, deactivate) that wrote the
        # license. It is the newest truth whenever it arrives — also after a read that started later but
        # finished first (a damaged license.json re-validated in the background stayed "Locked" so) — and a
        # read started before it finished is older than it.
        if changed_state:
            seq = self._next()
        elif seq < self._shown:
            if facts.secrets is not None and self.facts is not None and self.facts.secrets is None:
                self.facts = LicenseFacts(status=self.facts.status, secrets=facts.secrets)
                self.facts_changed.emit(self.facts)
            return
        self._shown = seq
        if facts.secrets is None and self.facts is not None:
            facts = LicenseFacts(status=facts.status, secrets=self.facts.secrets)
        self.facts = facts
        self.facts_changed.emit(facts)

    def _status_handler(self, seq: int) -> Callable[[LicenseStatus], None]:
        def done(status: LicenseStatus) -> None:
            self.busy.emit("")
            overtaken = self._started > seq  # a read began while this ran: it may have seen a newer change
            self._set_facts(seq, LicenseFacts(status=status, secrets=None), changed_state=True)
            if overtaken:
                self.refresh()  # that read's answer was set aside; one read begun now settles which is newest

        return done

    def _fail(self, exc: BaseException, action: Action | None = None) -> None:
        self.busy.emit("")
        self.failed.emit(problem_for(exc, action))

    def _op_failed(self, exc: BaseException, action: Action) -> None:
        # A failed verify may still have changed the license here (revoked, expired, offline grace): show
        # the facts as stored now, THEN the problem (new facts clear an older problem, not this one).
        ctx, api, secrets = self.ctx, self.api, self.want_secrets
        seq = self._next()

        def shown(facts: LicenseFacts) -> None:
            self._set_facts(seq, facts)
            self._fail(exc, action)

        run_in_background(self, lambda: read_facts(ctx, api, with_secrets=secrets), on_success=shown,
                          on_failure=lambda _again: self._fail(exc, action))

    def _run(self, busy: str, action: Action, call: Callable[[], LicenseStatus]) -> None:
        self.busy.emit(busy)
        seq = self._next()
        self._waiting = (seq, action)
        show = self._status_handler(seq)

        def succeeded(status: LicenseStatus) -> None:
            if self._waiting is not None and self._waiting[0] == seq:
                self._waiting = None
            show(status)  # a late answer after "Stop waiting" is still the truth: shown

        def failed(exc: BaseException) -> None:
            if self._waiting is None or self._waiting[0] != seq:
                self.refresh()  # the user stopped waiting: no banner now, only the facts as they stand
                return
            self._waiting = None
            self._op_failed(exc, action)

        run_in_background(self, call, on_success=succeeded, on_failure=failed)

    def stop_waiting(self) -> None:
        """The user pressed Stop waiting: the page is usable again at once and says what stopping means.
        The request already sent cannot be taken back; its answer, if one comes, updates the facts."""
        if self._waiting is None:
            return
        _seq, action = self._waiting
        self._waiting = None
        self._fail(Cancelled(), action)

    def verify_now(self) -> None:
        """Ask the server now (the user pressed Verify)."""
        api = self.api
        self._run(tr("Verifying with the licensing server…"), "verify", lambda: api.verify(trigger="user"))

    def verify_if_due(self) -> None:
        """The scheduled check (at start when overdue, then on a timer)."""
        api = self.api
        run_in_background(self, api.verify_if_due, on_success=self._status_handler(self._next()),
                          on_failure=lambda exc: self._op_failed(exc, "verify"))

    def deactivate_this(self, parent: QWidget | None) -> None:
        """Ask, then free this machine's seat."""
        from crystal_manager.gui.dialogs.confirm import confirm

        api = self.api
        confirm(parent, title=tr("Deactivate this machine"),
                text=tr("Deactivate CrystalMe3D Pro on this computer? Its seat becomes free for another "
                        "machine, and the license key is removed from here."),
                action=tr("Deactivate"),
                on_yes=lambda: self._run(tr("Deactivating…"), "deactivate", lambda: api.deactivate(None)))

    def open_machines(self, parent: QWidget | None) -> MachinesDialog:
        """The machines on this license."""
        from crystal_manager.gui.dialogs.machines import MachinesDialog

        dialog = MachinesDialog(self.api, parent=parent)
        dialog.seat_freed.connect(lambda _mid: self.refresh())
        dialog.open()
        return dialog

    def open_activation(self, parent: QWidget | None) -> ActivationDialog:
        """The activation dialog (one at a time)."""
        if self.dialog is not None and self.dialog.isVisible():
            self.dialog.raise_()
            self.dialog.activateWindow()
            return self.dialog
        from crystal_manager.gui.dialogs.activation import ActivationDialog

        dialog = ActivationDialog(self.api, parent=parent, server_url=self.ctx.profile.server_url)
        dialog.activated.connect(self._on_activated)
        dialog.privacy_requested.connect(self.privacy_requested.emit)
        self.dialog = dialog
        dialog.open()
        return dialog

    def _on_activated(self, status: LicenseStatus) -> None:
        self._status_handler(self._next())(status)
