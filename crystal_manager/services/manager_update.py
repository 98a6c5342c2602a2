"""The Manager's own update, end to end: check, download and verify its release (the same signed pipeline
as CrystalMe3D Pro's), install it beside the running one, then hand over to it (updates/self_update.py;
decision 0013). Blocking: the CLI runs it, and the GUI starts the CLI for it (the hand-over outlives the
GUI process that asked for it)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from crystal_manager import __version__
from crystal_manager.services.context import AppContext
from crystal_manager.services.update_service import UpdateService
from crystal_manager.services.update_types import DownloadProgress
from crystal_manager.updates import self_update, self_verify
from crystal_manager.updates.errors import HealthCheckFailed
from crystal_manager.updates.install import recover
from crystal_manager.updates.layout import InstallRoot, Pointer
from crystal_manager.updates.lock import UpdatesLock


def manager_update_service(ctx: AppContext, *, running_version: str = __version__,
                           root: Path | None = None) -> UpdateService:
    """The update service for the Manager itself: product ``crystal-manager``, its own install root, its own
    downloads, trusted metadata and state (never mixed with CrystalMe3D Pro's)."""
    return UpdateService(ctx, product=self_update.MANAGER_PRODUCT,
                         install_root=root if root is not None else self_update.manager_root(ctx.paths),
                         folder=ctx.paths.data_dir / "manager-updates", running_version=running_version)


@dataclass(frozen=True)
class SelfUpdateResult:
    """A finished self-update."""

    version: str  # the Manager version now current
    from_version: str  # the version that was running
    started: bool  # the new version was started and took over (False: it is used from the next start)
    launcher: str | None  # the launcher that always runs the current version (POSIX)


@contextmanager
def _one_self_update(service: UpdateService) -> Iterator[None]:
    """Held from the first step to the end of the hand-over: a second ``update self`` (or rollback) is
    refused with UpdateBusy meanwhile, so it can never install while the first may still put back."""
    with UpdatesLock(service.folder / "self-update.lock"):
        self_update.prepare_root(service.install_root)
        # Before anything reads current.json: a damaged one is set aside here (the link is trusted when it
        # names a complete version), else it would block every update and rollback for good.
        with UpdatesLock(service.folder / "lock"):
            recover(service.install_root)
        yield


def update_self(service: UpdateService, *, start: bool, start_args: list[str] | None = None,
                restart_old: list[str] | None = None, timeout: float = self_update.START_TIMEOUT_S,
                progress: Callable[[DownloadProgress], None] | None = None,
                holds_name: Callable[[], bool] | None = None) -> SelfUpdateResult:
    """Download, verify and install the offered Manager release, then (``start``) start it with
    ``--replace`` and wait for its tray. Raises the update errors of :class:`UpdateService` (UpdateBusy while
    another self-update runs), and HealthCheckFailed when the new version fails ``--version`` or its start:
    then the running version is current again (and, with ``restart_old``, started again: the new one may
    already have replaced it). ``holds_name`` probes the single-instance name (the GUI layer has it): the
    new version must answer on it after its ready report."""
    with _one_self_update(service):
        service.download(progress=progress)
        root = service.install_root
        before = InstallRoot(root).read_pointer()
        installed = service.install()  # side by side, switch, `--version` health check (else switched back)
        # What was verified, as it is on disk now: a later rollback to it checks it is still exactly this.
        self_verify.record_verified(root, installed.version)
        return _hand_over(service, before, installed.version, start=start, start_args=start_args,
                          restart_old=restart_old, timeout=timeout, holds_name=holds_name)


def roll_back_self(service: UpdateService, *, start: bool, start_args: list[str] | None = None,
                   restart_old: list[str] | None = None, timeout: float = self_update.START_TIMEOUT_S,
                   holds_name: Callable[[], bool] | None = None) -> SelfUpdateResult:
    """Go back to the previous Manager version kept in the install root (its files checked against what was
    verified at its install — KeptVersionChanged if they differ — and ``--version`` run), then hand over to
    it as :func:`update_self` does. NothingToRollBack when none is kept."""
    with _one_self_update(service):
        before = InstallRoot(service.install_root).read_pointer()
        if before.previous is not None and before.current is not None:
            self_verify.check_verified(service.install_root, before.previous)
        result = service.rollback()
        return _hand_over(service, before, result.version, start=start, start_args=start_args,
                          restart_old=restart_old, timeout=timeout, holds_name=holds_name)


def _hand_over(service: UpdateService, before: Pointer, version: str, *, start: bool,
               start_args: list[str] | None, restart_old: list[str] | None, timeout: float,
               holds_name: Callable[[], bool] | None) -> SelfUpdateResult:
    """``version`` is current now: write the launcher, then (``start``) start it with ``--replace`` and wait
    for its ready report (and that it still runs a moment later); if not, put ``before`` back (only if
    ``version`` is still current) and restart the old Manager."""
    running = service.running_version or __version__
    root = service.install_root
    launcher = self_update.write_launcher(root)
    if not start:
        return SelfUpdateResult(version, running, False, str(launcher) if launcher else None)
    check = self_update.start_new(root, version, start_args or [], timeout=timeout, holds_name=holds_name)
    if not check.ok:
        put_back = self_update.put_back(root, before, version)
        if restart_old:
            self_update.restart(restart_old)
        stays = f"the Manager stays at version {running}" if put_back else "it was not made current"
        raise HealthCheckFailed(f"{check.reason}, so {stays}", version=version, put_back=running)
    return SelfUpdateResult(version, running, True, str(launcher) if launcher else None)
