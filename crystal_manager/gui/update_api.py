"""The update service as the GUI sees it (a Protocol over
:class:`crystal_manager.services.update_service.UpdateService`), and the facts the Updates page renders.

Only the light result types are imported here: the service itself (python-tuf, hashing, the gateway) loads
on the worker, after the tray is up.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Protocol

from crystal_manager.net.request import Trigger
from crystal_manager.services.context import AppContext
from crystal_manager.services.update_types import (
    CheckResult,
    DownloadControl,
    DownloadProgress,
    InstallResult,
    PendingDownload,
    Release,
    UpdateStatus,
)

if TYPE_CHECKING:
    from crystal_manager.gui.problems import Problem


class UpdateApi(Protocol):
    """The methods of the update service the GUI calls (all blocking: run them through the worker)."""

    def status(self) -> UpdateStatus: ...
    def check(self, *, trigger: Trigger = "user") -> CheckResult: ...
    def download(self, *, control: DownloadControl | None = None,
                 progress: Callable[[DownloadProgress], None] | None = None,
                 trigger: Trigger = "user") -> PendingDownload: ...
    def discard_download(self) -> None: ...
    def install(self, *, at_next_start: bool = False) -> InstallResult: ...
    def apply_pending(self) -> InstallResult | None: ...
    def rollback(self) -> InstallResult: ...
    def skip(self, version: str) -> None: ...
    def set_channel(self, channel: str) -> None: ...
    def set_auto_check(self, enabled: bool) -> None: ...
    def check_due(self) -> bool: ...
    def signature_summary(self) -> tuple[str, ...]: ...
    def reevaluate(self) -> None: ...


UpdateApiFactory = Callable[[AppContext], UpdateApi]


def default_update_api(ctx: AppContext) -> UpdateApi:
    """The real update service (imported here, on the worker: it loads python-tuf)."""
    from crystal_manager.services.update_service import UpdateService

    return UpdateService(ctx)


class Activity(Enum):
    """What the updates part is doing right now, as the page shows it."""

    IDLE = "idle"
    STARTING = "starting"  # reading the local state for the first time
    CHECKING = "checking"
    DOWNLOADING = "downloading"
    PAUSING = "pausing"  # pause asked for; the download stops after its current piece
    CANCELLING = "cancelling"
    INSTALLING = "installing"
    ROLLING_BACK = "rolling_back"
    SAVING = "saving"  # a choice (skip, channel) being saved


@dataclass(frozen=True)
class Outcome:
    """The last install, install-at-next-start or rollback of this session (what the page confirms)."""

    kind: str  # "installed", "scheduled", "rolled_back", "auto_rolled_back"
    version: str
    previous: str | None = None


@dataclass(frozen=True)
class UpdatesFacts:
    """Everything the Updates page renders; built by the update flow from the service's plain results."""

    status: UpdateStatus | None  # None until the local state was read
    check: CheckResult | None = None  # the newest check (this session's, else the stored one)
    progress: DownloadProgress | None = None  # the running download's last report
    activity: Activity = Activity.STARTING
    signed_by: tuple[str, ...] = ()
    outcome: Outcome | None = None
    problem: Problem | None = None

    unverified: bool = False  # the last failure was a signature or hash check: say so where it is shown

    @property
    def offer_release(self) -> Release | None:
        """The release offered by the newest check, unless it is no longer newer than what is installed
        (installed since), was skipped since, or the last check failed its signature check."""
        offer = self.check.offer if self.check is not None else None
        if offer is None or self.unverified:  # after a failed signature check nothing is offered
            return None
        status = self.status
        if status is not None:
            if offer.version in status.skipped or offer.version == status.previous_version:
                return None  # skipped, or left by going back (still on this computer: no new download)
            if status.installed_version is not None and not newer(offer.version, status.installed_version):
                return None
        return offer

    @property
    def reason(self) -> str | None:
        """Why nothing is offered ("up_to_date", "skipped", "not_entitled", "needs_newer_manager",
        "no_releases"), "offered", or None before any check — following what happened since the check."""
        check = self.check
        if check is None:
            return None
        if check.offer is not None and self.offer_release is None:
            status = self.status
            if status is not None and check.offer.version in status.skipped:
                return "skipped"
            if status is not None and check.offer.version == status.previous_version:
                return "kept"  # went back from it: it is on this computer, one switch away
            return "up_to_date"
        return check.reason

    @property
    def returning(self) -> bool:
        """The version kept is newer than the one in use (after going back): switching is a return."""
        status = self.status
        if status is None or status.previous_version is None or status.installed_version is None:
            return False
        return newer(status.previous_version, status.installed_version)

    @property
    def offer(self) -> str | None:
        """The version offered, if any (see :attr:`offer_release`)."""
        release = self.offer_release
        return release.version if release is not None else None

    @property
    def downloaded(self) -> str | None:
        """The version downloaded and verified, waiting to be installed."""
        pending = self.status.pending if self.status is not None else None
        return pending.version if pending is not None and pending.complete else None

    @property
    def paused(self) -> PendingDownload | None:
        """A partial download kept on disk while nothing downloads (paused, or stopped by a crash)."""
        pending = self.status.pending if self.status is not None else None
        if pending is None or pending.complete or self.activity is Activity.DOWNLOADING:
            return None
        return pending

    @property
    def busy(self) -> bool:
        """Something runs: the buttons that start work wait."""
        return self.activity not in (Activity.IDLE,)


def newer(version: str, than: str) -> bool:
    """``version`` sorts after ``than`` (SemVer); unreadable versions count as newer only when different."""
    from crystal_protocol.releases import ReleaseFormatError, Version

    try:
        return Version.parse(version) > Version.parse(than)
    except ReleaseFormatError:
        return version != than
