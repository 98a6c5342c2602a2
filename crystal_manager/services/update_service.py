"""Update use cases for both faces: check, download, install, roll back, skip, channel, status.

Ties the pieces together: trust.py (ngclient through the gateway) decides what is signed, policy.py what
is offered, download.py fetches and verifies, install.py switches versions. Every network or install
step runs under the updates lock (one process at a time). Heavy parts (tuf, httpx, tarfile) load only
inside the methods that need them, so ``status()`` and the GUI's first picture stay light.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crystal_manager import __version__
from crystal_manager.net.errors import NetError
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
from crystal_manager.updates.entitlement import LicenseFacts
from crystal_manager.updates.errors import (
    ArchiveRejected,
    DownloadStopped,
    HealthCheckFailed,
    NotEntitled,
    NoUpdateOffered,
    TargetRejected,
    UpdateError,
    UpdateRefusedByUser,
    UpdateServerUnavailable,
)
from crystal_manager.updates.lock import UpdatesLock
from crystal_manager.updates.policy import Candidate, describe, evaluate
from crystal_manager.updates.state import PendingRecord, StateFile, UpdateState
from crystal_protocol.releases import CHANNELS, PRODUCT, ReleaseFormatError, ReleaseInfo, Version, current_platform

if TYPE_CHECKING:
    from crystal_manager.services.status import LicenseStatus
    from crystal_manager.updates.delta import PatchPlan
    from crystal_manager.updates.download import SignedFile
    from crystal_manager.updates.trust import TrustedTargets


def _now() -> datetime:
    return datetime.now(UTC)


def _stamp(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def _signed_file(record: PendingRecord) -> SignedFile:
    from crystal_manager.updates.download import SignedFile

    # Consistent snapshots: the server keeps each target under "<sha256>.<name>", so a file is never
    # replaced in place and any cache in between can keep it.
    return SignedFile(name=record.target_name, url_name=f"{record.sha256}.{record.target_name}",
                      length=record.length, sha256=record.sha256)


class UpdateService:
    """The update use cases (see .helpers/SERVICE_API.md). Blocking; call from a worker thread."""

    def __init__(self, ctx: AppContext, *, license_status: Callable[[], LicenseStatus] | None = None,
                 product: str = PRODUCT, install_root: Path | None = None, folder: Path | None = None,
                 running_version: str | None = None) -> None:
        """``product``/``install_root``/``folder``: what is updated, where its versions live and where its
        downloads, trusted metadata and state are kept (default: CrystalMe3D Pro under the app's product
        root). ``running_version``: the version running now, for a product that updates itself (the
        Manager): it counts as installed when the install root holds nothing newer, and such a product's
        updates do not depend on the license (see :func:`manager_update_service`)."""
        self.ctx = ctx
        self._license_status = license_status
        self.product = product
        self.install_root = install_root if install_root is not None else ctx.paths.install_root
        self.running_version = running_version
        self.folder = folder if folder is not None else ctx.paths.data_dir / "updates"
        self.metadata_dir = self.folder / "metadata"
        self.downloads_dir = self.folder / "downloads"
        self._state = StateFile(self.folder / "state.json")
        #: What crash recovery did at the last apply_pending(), in words (None: nothing to recover).
        self.recovery_note: str | None = None

    # -- local facts -------------------------------------------------------------------------------------

    @property
    def state_warning(self) -> str | None:
        """Set when a damaged state file was set aside (the action still went on)."""
        return self._state.damaged

    def _license(self) -> LicenseFacts:
        if self.running_version is not None:
            # The Manager's own updates are not part of the CrystalMe3D Pro license: whoever runs the Manager
            # gets its fixes (licensing and update fixes above all), with or without a license.
            return LicenseFacts(state="active")
        if self._license_status is None:
            from crystal_manager.services.license_service import LicenseService

            self._license_status = LicenseService(self.ctx).status
        status = self._license_status()
        return LicenseFacts(state=status.state, max_version=status.max_version, expires_at=status.expires_at)

    def _installed(self) -> tuple[str | None, str | None]:
        from crystal_manager.updates.layout import InstallRoot

        layout = InstallRoot(self.install_root)
        current, previous = layout.current_version(), layout.previous_version()
        running = self.running_version
        if running is not None and (current is None or Version.parse(running) > Version.parse(current)):
            # A Manager started from outside its install root (the first bundle unpacked anywhere) or newer
            # than what the root names: what runs is what is installed, so nothing older is ever offered.
            return running, previous
        return current, previous

    @contextmanager
    def _locked(self) -> Iterator[None]:
        with UpdatesLock(self.folder / "lock"):
            yield

    def _evaluate(self, candidates: list[Candidate], *, checked_at: str, signed_by: tuple[str, ...],
                  metadata_version: int, state: UpdateState) -> CheckResult:
        result = evaluate(candidates, installed=self._installed()[0], channel=self.ctx.settings.update_channel,
                          skipped=state.skipped, manager_version=__version__, license=self._license(),
                          checked_at=checked_at, signed_by=signed_by, metadata_version=metadata_version,
                          product=self.product)
        return self._with_download_size(result, candidates)

    def _with_download_size(self, result: CheckResult, candidates: list[Candidate]) -> CheckResult:
        """The offer with what will really be downloaded: a signed patch from the installed version when one
        applies (decided from local files: no network), else the full archive."""
        offer = result.offer
        full = next((c for c in candidates if offer is not None and c.target_name == offer.target_name), None)
        if offer is None or full is None or full.sha256 is None:
            return result
        plan, why = self._patch_plan(candidates, full.target_name, full.length, full.sha256)
        offer = replace(offer, download_size=plan.signed.length if plan else offer.size,
                        delta_from=plan.info.from_version if plan else None, full_reason=None if plan else why or None)
        return replace(result, offer=offer)

    def _patch_plan(self, candidates: list[Candidate], name: str, length: int,
                    sha256: str) -> tuple[PatchPlan | None, str]:
        from crystal_manager.updates import delta

        return delta.choose(((c.target_name, c.length, c.sha256, c.custom) for c in candidates), full_name=name,
                            full_length=length, full_sha256=sha256, installed=self._installed()[0],
                            folder=self.downloads_dir, product=self.product, platform=current_platform())

    def status(self) -> UpdateStatus:
        """Everything the Updates page shows, from local files only (no network)."""
        state = self._state.load()
        installed, previous = self._installed()
        return UpdateStatus(
            installed_version=installed, previous_version=previous, install_root=str(self.install_root),
            channel=self.ctx.settings.update_channel, auto_check=self.ctx.settings.auto_check_updates,
            skipped=state.skipped, last_check_at=state.last_check_at, last_check=state.last_check,
            pending=self._pending(state.pending),
            install_at_next_start=state.install_at_next_start.version if state.install_at_next_start else None,
            delta_note=_note(state),
            failed_install=state.failed_install)

    def _pending(self, record: PendingRecord | None) -> PendingDownload | None:
        if record is None:
            return None
        from crystal_manager.updates.download import partial_state, verified_download

        signed = _signed_file(record)
        # The verified file only takes its final name after its hash matched: no re-hash needed to show it.
        from crystal_manager.updates import delta

        total = record.length
        if (verified_download(self.downloads_dir, signed, check_hash=False) is not None
                or delta.kept_result(self.downloads_dir, record.target_name) is not None):
            received, complete = record.length, True
        else:
            # A patch being downloaded counts for what it is: the bytes that really come over the network.
            part = (partial_state(self.downloads_dir, signed)
                    or delta.patch_progress(self.downloads_dir, record.target_name, self.product))
            received, complete = (part[0] if part else 0), False
            total = part[1] if part else total
        return PendingDownload(version=record.version, target_name=record.target_name, received=received,
                               total=total, complete=complete)

    def check_due(self) -> bool:
        """True when the automatic check is on and the last check is older than the interval."""
        settings = self.ctx.settings
        # "Pause background checks" (Privacy page) stops the automatic check too: nothing leaves unasked.
        if not settings.auto_check_updates or settings.background_checks_paused:
            return False
        last = self._state.load().last_check_at
        if not last:
            return True
        try:
            then = datetime.fromisoformat(last.replace("Z", "+00:00"))
        except ValueError:
            return True
        elapsed = (_now() - then).total_seconds()
        # A last check "in the future" means the clock moved back: check rather than wait for it.
        return elapsed < 0 or elapsed >= settings.check_interval_hours * 3600

    def signature_summary(self) -> tuple[str, ...]:
        """Key ids whose signatures on the trusted targets metadata verified at the last check."""
        last = self._state.load().last_check
        return last.signed_by if last else ()

    # -- check -------------------------------------------------------------------------------------------

    def check(self, *, trigger: Trigger = "user") -> CheckResult:
        """Refresh the signed update information through the gateway, then decide what is offered.
        Sends only metadata file names: nothing about the user or this computer."""
        with self._locked():
            return self._check_locked(trigger)[0]

    def _check_locked(self, trigger: Trigger) -> tuple[CheckResult, TrustedTargets]:
        from crystal_manager.updates import trust

        trusted = trust.refresh(self.metadata_dir, self.ctx.profile.tuf_root, self.ctx.gateway,
                                self.ctx.gateway.base_url, trigger=trigger)
        platform = current_platform()
        candidates = []
        for name, target in trusted.targets.items():
            custom = target.custom
            # Only this product's releases for this platform are kept for later local re-evaluation.
            if (isinstance(custom, dict) and custom.get("product") == self.product
                    and custom.get("platform") == platform):
                candidates.append(Candidate(name, target.length, target.hashes.get("sha256"), custom))
        state = self._state.load()
        result = self._evaluate(candidates, checked_at=_stamp(_now()), signed_by=trusted.signed_by,
                                metadata_version=trusted.version, state=state)
        self._state.update(last_check_at=result.checked_at, last_check=result,
                           releases=tuple(_candidate_json(c) for c in candidates),
                           pending=self._still_signed(state.pending, trusted),
                           install_at_next_start=self._still_signed(state.install_at_next_start, trusted))
        return result, trusted

    def _still_signed(self, record: PendingRecord | None, trusted: TrustedTargets) -> PendingRecord | None:
        """The record if its release is still signed as it was; else its files are deleted (yanked or
        replaced: nothing unsigned stays cached)."""
        if record is None:
            return None
        target = trusted.targets.get(record.target_name)
        if target is not None and target.length == record.length and target.hashes.get("sha256") == record.sha256:
            return record
        self._discard(record)
        return None

    def _discard(self, record: PendingRecord) -> None:
        """Delete everything kept for ``record``'s release: the full download, patches, the patched tar."""
        from crystal_manager.updates import delta
        from crystal_manager.updates.download import discard

        discard(self.downloads_dir, _signed_file(record))
        delta.discard_for(self.downloads_dir, record.target_name, self.product)

    def reevaluate(self) -> None:
        """Decide the last check again with the license as it is now (no network): after an activation or a
        deactivation — in this process or another — what may be offered changes."""
        self._reevaluate()

    def _reevaluate(self) -> None:
        """After a skip or a channel change: decide again from the last check's signed facts (no network)."""
        state = self._state.load()
        last = state.last_check
        if last is None:
            return
        candidates = [c for c in (_candidate_from(item) for item in state.releases) if c is not None]
        result = self._evaluate(candidates, checked_at=last.checked_at, signed_by=last.signed_by,
                                metadata_version=last.metadata_version, state=state)
        self._state.update(last_check=result)

    # -- download ----------------------------------------------------------------------------------------

    def download(self, *, control: DownloadControl | None = None,
                 progress: Callable[[DownloadProgress], None] | None = None,
                 trigger: Trigger = "user") -> PendingDownload:
        """Download the offered release (from a fresh check), resuming a partial file; verified on return."""
        from crystal_manager.updates.download import download_target

        with self._locked():
            try:
                result, trusted = self._check_locked(trigger)
            except (NetError, UpdateServerUnavailable):
                kept = self._kept_offline()
                if kept is None:
                    raise
                return kept
            offer = result.offer
            if offer is None:
                if result.reason == "not_entitled":
                    raise NotEntitled(result.entitlement.reason)
                raise NoUpdateOffered(describe(result, __version__))
            target = trusted.targets[offer.target_name]
            record = PendingRecord(version=offer.version, target_name=offer.target_name, length=target.length,
                                   sha256=str(target.hashes["sha256"]))
            before = self._state.load()
            if before.pending is not None and before.pending != record:
                self._discard(before.pending)  # an older offer's partial file
            self._state.update(pending=record, failed_install=before.failed_install if before.pending == record
                               else None)
            note = None
            try:
                if self._has_download(record):
                    return replace(self._complete(record), already_downloaded=True)
                note = self._try_patch(trusted, record, control=control, progress=progress, trigger=trigger)
                if note is None:
                    self._set_note(None)
                    return self._complete(record)
                download_target(self.ctx.gateway, _signed_file(record), self.downloads_dir, version=record.version,
                                control=control, progress=progress, trigger=trigger)
            except DownloadStopped as exc:
                if exc.cancelled:
                    self._state.update(pending=None)
                raise
            except TargetRejected:
                self._state.update(pending=None)
                raise
            self._set_note(f"Took the full download because {note}." if note else None)
            return self._complete(record)

    def _kept_offline(self) -> PendingDownload | None:
        """Offline: the pending release when it is complete, re-hashed, and still named by the trusted
        metadata kept from the last check (nothing to fetch, so no network needed); else None."""
        record = self._state.load().pending
        if record is None:
            return None
        try:
            self._signed_release(record)
        except TargetRejected:
            return None
        if not self._has_download(record):
            return None
        return replace(self._complete(record), already_downloaded=True)

    @staticmethod
    def _complete(record: PendingRecord) -> PendingDownload:
        return PendingDownload(version=record.version, target_name=record.target_name, received=record.length,
                               total=record.length, complete=True)

    def _set_note(self, note: str | None) -> None:
        state = self._state.load()
        extra = {k: v for k, v in state.extra.items() if k != "delta_note"}
        self._state.update(extra={**extra, "delta_note": note} if note else extra)

    def _has_download(self, record: PendingRecord) -> bool:
        """The full archive or a patched tar of this release is kept and still matches its signed hash."""
        from crystal_manager.updates.download import verified_download

        return verified_download(self.downloads_dir, _signed_file(record)) is not None \
            or self._patched(record) is not None

    def _patched(self, record: PendingRecord) -> Path | None:
        """The kept patched tar of ``record``'s release, re-hashed against the signed patch facts."""
        from crystal_manager.updates import delta, trust
        from crystal_protocol.releases import PatchInfo

        for target in (trust.cached_targets(self.metadata_dir) or {}).values():
            try:
                info = PatchInfo.from_custom(target.custom)
            except ReleaseFormatError:
                continue
            if (info.to_target, info.to_sha256, info.to_length) == (record.target_name, record.sha256,
                                                                     record.length):
                found = delta.verified_result(self.downloads_dir, info)
                if found is not None:
                    return found
        return None

    def _try_patch(self, trusted: TrustedTargets, record: PendingRecord, **download: Any) -> str | None:
        """Download and apply a signed patch from the installed version. None when the release is now kept
        (as a verified patched tar); else why the full archive must be taken, in words. A pause, a cancel or
        a lost connection raises as for a full download (a paused patch resumes at the next download)."""
        from crystal_manager.updates import delta
        from crystal_manager.updates.download import discard, download_target

        candidates = [Candidate(name, t.length, t.hashes.get("sha256"), t.custom)
                      for name, t in trusted.targets.items()]
        plan, why = self._patch_plan(candidates, record.target_name, record.length, record.sha256)
        if plan is None:
            return why
        try:
            patch = download_target(self.ctx.gateway, plan.signed, self.downloads_dir, version=record.version,
                                    **download)
        except TargetRejected:
            # Deleted by download_target; the details are in the exception, the reason in a few words here.
            return f"the patch from {plan.info.from_version} did not match its signature and was deleted"
        try:
            delta.apply(plan, patch, self.downloads_dir)
        except delta.PatchFailed as exc:
            return str(exc)
        except OSError as exc:
            return f"the patch could not be applied ({exc.strerror or exc})"
        finally:
            discard(self.downloads_dir, plan.signed)  # applied or useless: never needed again
        return None

    def discard_download(self) -> None:
        """Delete the kept download (partial or complete) and forget it. Local only: works offline."""

        with self._locked():
            record = self._state.load().pending
            if record is not None:
                self._discard(record)
            self._state.update(pending=None, install_at_next_start=None, failed_install=None)

    # -- install -----------------------------------------------------------------------------------------

    def install(self, *, at_next_start: bool = False) -> InstallResult:
        """Install the verified download now, or record it for the Manager's next start."""
        with self._locked():
            state = self._state.load()
            record = state.pending
            if record is None:
                raise NoUpdateOffered("nothing has been downloaded yet; download the update first "
                                      "(crystal-manager update download)")
            if at_next_start:
                self._signed_release(record)
                self._verified(record)
                self._state.update(install_at_next_start=record)
                installed = self._installed()[0]
                return InstallResult(version=record.version, previous_version=installed, health_ok=True,
                                     rolled_back=False, takes_effect="next_manager_start")
            return self._install_record(record)

    def _signed_release(self, record: PendingRecord) -> ReleaseInfo:
        """The release's signed facts from the kept metadata; the record must match them exactly."""
        from crystal_manager.updates import trust

        targets = trust.cached_targets(self.metadata_dir) or {}
        target = targets.get(record.target_name)
        if target is None or target.length != record.length or target.hashes.get("sha256") != record.sha256:
            raise TargetRejected(f"{record.target_name} is no longer in the signed update information; check "
                                 "for updates again")
        try:
            return ReleaseInfo.from_custom(target.custom)
        except ReleaseFormatError as exc:
            raise TargetRejected(f"the signed facts about {record.target_name} are malformed ({exc})") from exc

    def _verified(self, record: PendingRecord) -> Path:
        """The downloaded file, re-hashed now against the signed length and SHA-256."""
        from crystal_manager.updates.download import verified_download

        signed = _signed_file(record)
        # download.py names a verified file "<sha256>.<name>"; if it is there but no longer matches, it was
        # changed after it was verified (and verified_download has just deleted it).
        was_there = (self.downloads_dir / signed.url_name).is_file()
        path = verified_download(self.downloads_dir, signed) or (None if was_there else self._patched(record))
        if path is None and was_there:
            raise TargetRejected(f"the downloaded {record.target_name} changed on disk after it was verified; "
                                 "it was deleted — download it again")
        if path is None:
            raise NoUpdateOffered(f"the download of {record.version} is not complete; resume it with "
                                  "crystal-manager update download")
        return path

    def _install_record(self, record: PendingRecord) -> InstallResult:
        from crystal_manager.updates import entitlement
        from crystal_manager.updates.install import install_archive

        info = self._signed_release(record)
        installed = self._installed()[0]
        # Never a downgrade through install (a pending record naming an older release, e.g. a hand-edited
        # state file): going back is rollback's job, to a version kept on this computer.
        if installed is not None and Version.parse(info.version) <= Version.parse(installed):
            self._forget(record)
            raise NoUpdateOffered(f"{info.version} is not newer than the installed {installed}; nothing to install")
        # The license may have changed since the download (revoked, expired): asked again, fail closed.
        allowed = entitlement.check(info, self._license())
        if not allowed.allowed:
            raise NotEntitled(allowed.reason)
        # Hash the exact bytes right before extraction (Sparkle #2550: a payload swapped after the check).
        path = self._verified(record)
        try:
            result = install_archive(self.install_root, path, expect=info, product=self.product)
        except ArchiveRejected:
            self._forget(record)  # a signed file that is still unsafe: never offered to install again
            raise
        except HealthCheckFailed as exc:
            self._state.update(failed_install=record.version, install_at_next_start=None)
            put_back = self._installed()[0]
            raise HealthCheckFailed(str(exc), version=record.version, put_back=put_back) from exc
        if result.rolled_back:
            self._state.update(failed_install=record.version, install_at_next_start=None)
            raise HealthCheckFailed(f"{record.version} failed its start check", version=record.version,
                                    put_back=result.version)
        self._state.update(pending=None, install_at_next_start=None, failed_install=None)
        self._delete_other_downloads(keep=path.name)
        self._reevaluate()  # the last check's offer was this version: now it is installed
        return result

    def _forget(self, record: PendingRecord) -> None:
        """Delete a download that must never be installed, and every record of it."""
        self._discard(record)
        self._state.update(pending=None, install_at_next_start=None)

    def _delete_other_downloads(self, keep: str) -> None:
        try:
            entries = list(self.downloads_dir.iterdir())
        except FileNotFoundError:
            return
        for entry in entries:
            if entry.is_file() and entry.name != keep:
                entry.unlink(missing_ok=True)

    def apply_pending(self) -> InstallResult | None:
        """At Manager start: finish or undo an interrupted install, then an install-at-next-start."""
        from crystal_manager.updates.install import recover

        with self._locked():
            self.recovery_note = recover(self.install_root)
            record = self._state.load().install_at_next_start
            if record is None:
                return None
            try:
                return self._install_record(record)
            except UpdateError:
                # A definite failure is not retried at every start; a crash (no exception) is.
                self._state.update(install_at_next_start=None)
                raise

    def rollback(self) -> InstallResult:
        """Back to the previous kept version (takes effect at the product's next start)."""
        from crystal_manager.updates.install import rollback

        with self._locked():
            result = rollback(self.install_root)
        self._reevaluate()  # the version rolled back from is offered again (unless skipped)
        return result

    # -- choices -----------------------------------------------------------------------------------------

    def skip(self, version: str) -> None:
        """Never offer ``version`` again (a newer one still is). Not for a critical or unknown release."""
        try:
            Version.parse(version)
        except ReleaseFormatError as exc:
            raise UpdateRefusedByUser(str(exc)) from exc
        state = self._state.load()
        known = {c.custom.get("version"): c for c in
                 (_candidate_from(item) for item in state.releases) if c is not None}
        candidate = known.get(version)
        if candidate is None:
            raise UpdateRefusedByUser(f"{version} is not a release known to this computer; check for updates "
                                      "first")
        if candidate.custom.get("critical") is True:
            raise UpdateRefusedByUser(f"{version} is an important update and cannot be skipped")
        installed = self._installed()[0]
        if installed is not None and Version.parse(version) <= Version.parse(installed):
            raise UpdateRefusedByUser(f"{version} is not newer than the installed {installed}, so it is never "
                                      "offered anyway")
        if version not in state.skipped:
            self._state.update(skipped=(*state.skipped, version)[-50:])
        if state.pending is not None and state.pending.version == version:
            self.discard_download()  # a skipped version is not installed from what was downloaded either
        self._reevaluate()

    def set_channel(self, channel: str) -> None:
        """Choose the update channel: "stable" or "beta"."""
        if channel not in CHANNELS:
            raise UpdateRefusedByUser(f"{channel!r} is not an update channel; choose {' or '.join(CHANNELS)}")
        self.ctx.settings.update_channel = channel
        self.ctx.save_settings()
        self._reevaluate()

    def set_auto_check(self, enabled: bool) -> None:
        """Turn the automatic check (and background download) on or off."""
        self.ctx.settings.auto_check_updates = bool(enabled)
        self.ctx.save_settings()


def _note(state: UpdateState) -> str | None:
    note = state.extra.get("delta_note")
    return note if isinstance(note, str) else None


def _candidate_json(candidate: Candidate) -> dict[str, Any]:
    return {"target_name": candidate.target_name, "length": candidate.length, "sha256": candidate.sha256,
            "custom": candidate.custom}


def _candidate_from(item: Any) -> Candidate | None:
    if not isinstance(item, dict) or not isinstance(item.get("custom"), dict):
        return None
    name, length, sha = item.get("target_name"), item.get("length"), item.get("sha256")
    if not isinstance(name, str) or not isinstance(length, int) or not isinstance(sha, str | None):
        return None
    return Candidate(name, length, sha, item["custom"])
