"""The update actions behind the Updates page and the tray: check, download (with progress, pause, resume,
cancel), install now or at the next start, go back, skip, channel, the automatic check — each runs its
service call through the background helper (network, hashing and extraction never on the GUI thread) and
reports new facts, the tray's activity and the notifications."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, TypeVar

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QWidget

from crystal_manager.desktop.notices import Notice
from crystal_manager.desktop.tray_state import UpdateActivity
from crystal_manager.gui.texts import MenuEntry, tr, update_menu_entry
from crystal_manager.gui.update_api import (
    Activity,
    Outcome,
    UpdateApi,
    UpdateApiFactory,
    UpdatesFacts,
    default_update_api,
)
from crystal_manager.gui.worker import BackgroundOp, run_in_background
from crystal_manager.net.request import Trigger
from crystal_manager.services.context import AppContext
from crystal_manager.services.update_types import (
    CheckResult,
    DownloadControl,
    DownloadProgress,
    InstallResult,
    PendingDownload,
    UpdateStatus,
)

if TYPE_CHECKING:
    from PySide6.QtWidgets import QMessageBox

T = TypeVar("T")
Report = Callable[[object], None]
log = logging.getLogger(__name__)
PROGRESS_EVERY_S = 0.1  # the page redraws progress at most ten times a second
RUNNING_DOWNLOAD = (Activity.DOWNLOADING, Activity.PAUSING, Activity.CANCELLING)


class UpdateFlow(QObject):
    """Owns :class:`UpdatesFacts`. Signals: ``facts_changed`` (UpdatesFacts), ``activity_changed``
    (UpdateActivity, for the tray), ``notice`` (Notice), ``done`` (the name of the action that ended)."""

    facts_changed = Signal(object)
    activity_changed = Signal(object)
    notice = Signal(object)
    done = Signal(str)

    def __init__(self, ctx: AppContext, api_factory: UpdateApiFactory = default_update_api,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self._factory = api_factory
        self._api: UpdateApi | None = None
        self._api_lock = threading.Lock()
        self.facts = UpdatesFacts(status=None)
        self._control: DownloadControl | None = None
        self._tray = UpdateActivity.IDLE
        self._announced: set[tuple[str, str]] = set()  # (event, version) already notified this session
        self._last_progress = 0.0

    # -- plumbing -------------------------------------------------------------------------------------
    def api(self) -> UpdateApi:
        """The update service, made on first use — on the worker, since it loads python-tuf."""
        with self._api_lock:
            if self._api is None:
                self._api = self._factory(self.ctx)
            return self._api

    def _set(self, **changes: object) -> None:
        facts = replace(self.facts, **changes)  # type: ignore[arg-type]
        status = facts.status
        # The service stores each check (and re-decides it after a skip or a channel change): show that one.
        check = status.last_check if status is not None else None
        if check is not None and status is not None and check.channel != status.channel:
            check = None  # decided for the other channel: it offers nothing now
        self.facts = replace(facts, check=check)
        self.facts_changed.emit(self.facts)
        tray = self.tray_activity()
        if tray is not self._tray:
            self._tray = tray
            self.activity_changed.emit(tray)

    def _run(self, name: str, activity: Activity, call: Callable[[UpdateApi, Report], T],
             on_success: Callable[[T], None], *,
             on_failure: Callable[[BaseException], None] | None = None) -> BackgroundOp[tuple[T, UpdateStatus]]:
        """Run ``call(api, report)`` then a fresh ``status()`` on the worker; back on the GUI thread show
        both. ``done(name)`` follows either way (a failure shows its problem first)."""
        # A new action: the last one's confirmation and problem are old news.
        self._set(activity=activity, problem=None, unverified=False, outcome=None)
        flow = self

        def body(handle: BackgroundOp[tuple[T, UpdateStatus]]) -> tuple[T, UpdateStatus]:
            api = flow.api()
            result = call(api, handle.report)
            return result, api.status()

        def succeeded(value: tuple[T, UpdateStatus]) -> None:
            result, status = value
            self._set(status=status, activity=Activity.IDLE)
            on_success(result)
            self.done.emit(name)

        def failed(exc: BaseException) -> None:
            self._set(activity=Activity.IDLE)
            (on_failure or self._show_problem)(exc)
            self.refresh(then=name)

        return run_in_background(self, _never(body), with_handle=body, on_success=succeeded, on_failure=failed,
                                 on_progress=self._on_progress)

    def _show_problem(self, exc: BaseException) -> None:
        from crystal_manager.gui.update_words import is_verification_failure, update_problem

        log.info("update action failed: %s: %s", type(exc).__name__, exc)
        self._set(problem=update_problem(exc), unverified=is_verification_failure(exc))

    def _notify(self, event: str, version: str | None, detail: str | None = None, *, once: bool = True) -> None:
        if once:
            if (event, version or "") in self._announced:
                return
            self._announced.add((event, version or ""))
        self.notice.emit(Notice(event, version=version, detail=detail))

    # -- facts ----------------------------------------------------------------------------------------
    def tray_activity(self) -> UpdateActivity:
        """What the tray shows for updates: downloading, an update waiting, or nothing."""
        facts = self.facts
        if facts.activity in RUNNING_DOWNLOAD:
            return UpdateActivity.DOWNLOADING
        installed = facts.status.installed_version if facts.status is not None else None
        failed = facts.status.failed_install if facts.status is not None else None
        if facts.downloaded is not None and facts.downloaded not in (installed, failed):
            return UpdateActivity.READY  # as the menu offers it: "Install …", not "Download …"
        if facts.offer is not None or (facts.downloaded is not None and facts.downloaded != installed):
            return UpdateActivity.AVAILABLE
        return UpdateActivity.IDLE

    def menu_entry(self) -> MenuEntry | None:
        """The tray menu's update line: install the downloaded update, or download the offered one."""
        facts = self.facts
        installed = facts.status.installed_version if facts.status is not None else None
        failed = facts.status.failed_install if facts.status is not None else None
        if facts.downloaded is not None and facts.downloaded not in (installed, failed):
            return update_menu_entry(facts.downloaded, downloaded=True)
        if facts.offer is not None and facts.activity not in RUNNING_DOWNLOAD and facts.paused is None:
            return update_menu_entry(facts.offer, downloaded=False)
        return None

    @property
    def busy(self) -> bool:
        """An action runs (another one waits for it)."""
        return self.facts.activity is not Activity.IDLE and self.facts.status is not None

    def refresh(self, *, then: str | None = None, reevaluate: bool = False) -> None:
        """Read the local state again (status and who signed the trusted metadata), in the background.
        ``reevaluate``: the license changed, so the last check is first decided again (no network)."""
        flow = self

        def read() -> tuple[UpdateStatus, tuple[str, ...]]:
            api = flow.api()
            if reevaluate:
                api.reevaluate()
            return api.status(), api.signature_summary()

        def shown(value: tuple[UpdateStatus, tuple[str, ...]]) -> None:
            status, signers = value
            activity = self.facts.activity
            self._set(status=status, signed_by=signers,
                      activity=Activity.IDLE if activity is Activity.STARTING else activity)
            self.done.emit(then or "refresh")

        def failed(exc: BaseException) -> None:
            self._set(activity=Activity.IDLE if self.facts.activity is Activity.STARTING else self.facts.activity)
            if self.facts.problem is None:  # an action's own problem says more than this one
                self._show_problem(exc)
            self.done.emit(then or "refresh")

        run_in_background(self, read, on_success=shown, on_failure=failed)

    # -- start and the automatic check ----------------------------------------------------------------
    def start(self) -> None:
        """At Manager start: finish an install chosen for the next start (or recover from a crash), then
        read the state. (The daily check is the app's timer: it waits for the desktop to settle.)"""
        flow = self

        def body() -> InstallResult | None:
            return flow.api().apply_pending()

        def done(result: InstallResult | None) -> None:
            if result is not None:
                self._after_install(result, at_next_start=False)
            self.refresh(then="start")

        def failed(exc: BaseException) -> None:
            from crystal_manager.updates.errors import ArchiveRejected, HealthCheckFailed, InstallFailed, TargetRejected

            self._show_problem(exc)
            # Only an install chosen for this start that failed is news; "updates are not set up" is not.
            if isinstance(exc, ArchiveRejected | HealthCheckFailed | InstallFailed | TargetRejected):
                self._notify("update_failed", None, self.facts.problem.headline if self.facts.problem else None,
                             once=False)
            self.refresh(then="start")

        run_in_background(self, body, on_success=done, on_failure=failed)

    def check_if_due(self) -> None:
        """The timer's tick: check in the background when the daily check is due (and nothing runs)."""
        if self.busy:
            return
        flow = self

        def due(is_due: bool) -> None:
            if is_due and not self.busy:
                self.check(trigger="scheduled")

        run_in_background(self, lambda: flow.api().check_due(), on_success=due)

    # -- actions --------------------------------------------------------------------------------------
    def check(self, *, trigger: Trigger = "user") -> None:
        """Ask the update server (the user pressed Check, or the daily check)."""
        if self.busy:
            return

        def checked(result: CheckResult) -> None:
            self._set(signed_by=result.signed_by)
            if self.facts.offer is not None:
                self._notify("update_available", self.facts.offer)
                status = self.facts.status
                if (trigger == "scheduled" and status is not None and status.auto_check
                        and self.facts.downloaded != self.facts.offer):
                    self.download(trigger="scheduled")  # the background download of the automatic check

        def failed(exc: BaseException) -> None:
            if trigger == "scheduled":  # a missed daily check is no news: the next one tries again
                log.info("scheduled update check failed: %s: %s", type(exc).__name__, exc)
                return
            self._show_problem(exc)

        self._run("check", Activity.CHECKING, lambda api, _r: api.check(trigger=trigger), checked,
                  on_failure=failed)

    def download(self, *, trigger: Trigger = "user") -> None:
        """Download the offered update (resuming a paused one)."""
        if self.busy:
            return
        control = DownloadControl()
        self._control = control

        def call(api: UpdateApi, report: Report) -> PendingDownload:
            return api.download(control=control, progress=report, trigger=trigger)

        def downloaded(pending: PendingDownload) -> None:
            self._control = None
            self._set(progress=None)
            if pending.complete:
                self._notify("update_downloaded", pending.version)

        def failed(exc: BaseException) -> None:
            from crystal_manager.updates.errors import DownloadStopped

            self._control = None
            self._set(progress=None)
            if isinstance(exc, DownloadStopped):
                return  # paused (the partial file stays) or cancelled: what the user asked for
            self._show_problem(exc)
            if trigger == "scheduled":
                self._notify("update_failed", None, self.facts.problem.headline if self.facts.problem else None,
                             once=False)

        self._run("download", Activity.DOWNLOADING, call, downloaded, on_failure=failed)

    def _on_progress(self, value: object) -> None:
        if not isinstance(value, DownloadProgress) or self.facts.activity not in RUNNING_DOWNLOAD:
            return
        now = time.monotonic()
        last = value.total > 0 and value.received >= value.total
        if now - self._last_progress < PROGRESS_EVERY_S and not last:
            self.facts = replace(self.facts, progress=value)  # kept, drawn with the next redraw
            return
        self._last_progress = now
        self._set(progress=value)

    def pause(self) -> None:
        """Stop the download after its current piece; the partial file stays for Resume."""
        if self._control is not None and self.facts.activity is Activity.DOWNLOADING:
            self._control.pause()
            self._set(activity=Activity.PAUSING)

    def resume(self) -> None:
        """Continue a paused download from where it stopped."""
        self.download()

    def cancel(self) -> None:
        """Stop the download and delete what was downloaded (a paused one too)."""
        if self._control is not None and self.facts.activity in (Activity.DOWNLOADING, Activity.PAUSING):
            self._control.cancel()
            self._set(activity=Activity.CANCELLING)
            return
        if self.busy or self.facts.paused is None:
            return
        # A paused download: its partial file is deleted locally (no network needed).
        self._run("cancel", Activity.CANCELLING, lambda api, _r: api.discard_download(), lambda _p: None)

    def install(self, *, at_next_start: bool = False) -> None:
        """Install the downloaded update now, or record it for the next start of the Manager."""
        if self.busy:
            return

        def failed(exc: BaseException) -> None:
            self._show_problem(exc)
            self._notify("update_failed", self.facts.downloaded,
                         self.facts.problem.headline if self.facts.problem else None, once=False)

        self._run("install", Activity.INSTALLING, lambda api, _r: api.install(at_next_start=at_next_start),
                  lambda result: self._after_install(result, at_next_start=at_next_start), on_failure=failed)

    def confirm_install(self, parent: QWidget | None = None) -> QMessageBox | None:
        """Ask, then install the downloaded update now (the tray's "Install update…")."""
        version = self.facts.downloaded
        if self.busy or version is None:
            return None
        from crystal_manager.gui.dialogs.confirm import confirm

        return confirm(parent, title=tr("Install the update"),
                       text=tr("Install CrystalMe3D Pro %1 now? The current version is kept, so you can go back "
                               "to it. You will see the new version the next time you start CrystalMe3D Pro.")
                       .replace("%1", version),
                       action=tr("Install %1").replace("%1", version), on_yes=self.install)

    def _after_install(self, result: InstallResult, *, at_next_start: bool) -> None:
        if at_next_start:
            self._set(outcome=Outcome("scheduled", self.facts.downloaded or result.version))
        elif result.rolled_back or not result.health_ok:
            self._set(outcome=Outcome("auto_rolled_back", result.version, result.previous_version))
            self._notify("update_failed", result.version, tr("The new version did not start, so %1 was put back.")
                         .replace("%1", result.version), once=False)
        else:
            self._set(outcome=Outcome("installed", result.version, result.previous_version))
            self._notify("update_installed", result.version, once=False)

    def rollback(self, parent: QWidget | None = None) -> None:
        """Ask, then go back to (or return to) the other version kept. The state is read afresh first: the
        CLI or another Manager may have switched versions since the page was drawn, and the question must
        name the versions as they are now. The answer is checked against the disk again before switching."""
        if self.busy or self.facts.status is None:
            return
        flow = self

        def fresh(status: UpdateStatus) -> None:
            if self.busy:
                return
            changed = _pair(status) != _pair(self.facts.status)
            if changed:
                self._set(status=status)  # the page shows the versions as they are now, then asks
            self._ask_rollback(parent, changed=changed)

        run_in_background(self, lambda: flow.api().status(), on_success=fresh, on_failure=self._show_problem)

    def _ask_rollback(self, parent: QWidget | None, *, changed: bool = False) -> QMessageBox | None:
        status = self.facts.status
        previous = status.previous_version if status is not None else None
        if self.busy or previous is None or status is None:
            return None
        from crystal_manager.gui.dialogs.confirm import confirm

        current = status.installed_version or tr("the current version")
        if self.facts.returning:
            text = tr("Return to CrystalMe3D Pro %1? Version %2 stays on this computer. You will see the change "
                      "the next time you start CrystalMe3D Pro.")
            title, action = tr("Return to the newer version"), tr("Return to %1")
        else:
            text = tr("Go back to CrystalMe3D Pro %1? Version %2 stays on this computer, so you can return to it "
                      "later. You will see the change the next time you start CrystalMe3D Pro.")
            title, action = tr("Go back to the previous version"), tr("Go back to %1")
        expected = _pair(status)
        text = text.replace("%1", previous).replace("%2", current)
        if changed:
            text = tr("The versions on this computer changed since the page was shown (another program, such "
                      "as crystal-manager in a terminal, switched them).") + "\n\n" + text
        return confirm(parent, title=title, text=text,
                       action=action.replace("%1", previous), on_yes=lambda: self._do_rollback(expected, parent))

    def _do_rollback(self, expected: tuple[str | None, str | None], parent: QWidget | None) -> None:
        def body(api: UpdateApi, _report: Report) -> InstallResult | None:
            # Switch only between the two versions the user agreed to; otherwise do nothing and ask again.
            if _pair(api.status()) != expected:
                return None
            return api.rollback()

        def back(result: InstallResult | None) -> None:
            if result is None:
                self._ask_rollback(parent, changed=True)  # switched meanwhile: the page shows it; ask anew
                return
            self._set(outcome=Outcome("rolled_back", result.version, result.previous_version))

        self._run("rollback", Activity.ROLLING_BACK, body, back)

    def skip(self, version: str) -> None:
        """Do not offer ``version`` again (refused for an important update)."""
        if self.busy:
            return
        self._run("skip", Activity.SAVING, lambda api, _r: api.skip(version), lambda _none: None)

    def set_channel(self, channel: str) -> None:
        """Follow another channel (the service decides again from the last check's signed list)."""
        if self.busy:
            return
        self._run("channel", Activity.SAVING, lambda api, _r: api.set_channel(channel), lambda _none: None)

    def set_auto_check(self, enabled: bool) -> None:
        """Turn the daily automatic check (with its background download) on or off."""
        flow = self

        def body() -> UpdateStatus:
            api = flow.api()
            api.set_auto_check(enabled)
            return api.status()

        def saved(status: UpdateStatus) -> None:
            self._set(status=status)
            self.done.emit("auto_check")

        def failed(exc: BaseException) -> None:
            self._show_problem(exc)
            self.refresh(then="auto_check")

        # Not through _run: the choice is saved while a download may be running, and must not end it.
        run_in_background(self, body, on_success=saved, on_failure=failed)


def _pair(status: UpdateStatus | None) -> tuple[str | None, str | None]:
    """The version in use and the one kept: what a rollback switches between."""
    return (status.installed_version, status.previous_version) if status is not None else (None, None)


def _never(_body: Callable[[BackgroundOp[T]], T]) -> Callable[[], T]:
    """run_in_background wants a plain op too; with ``with_handle`` given, that one runs instead."""
    def op() -> T:
        raise AssertionError("with_handle runs instead")

    return op
