"""Plain facts the update use cases return. Light on purpose (no tuf, no httpx): the GUI imports these to
render before the update service itself is loaded."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Release:
    """One signed release as offered to this machine."""

    version: str
    channel: str
    size: int  # bytes to download (the signed length)
    critical: bool
    notes: str  # plain text or Markdown, from signed metadata
    released_at: str  # ISO 8601 UTC
    min_manager: str | None
    target_name: str  # the TUF target path
    #: Bytes that will really be downloaded: a signed patch's length when one applies to the installed
    #: version, else the full ``size``. None: not worked out (read it as ``size``).
    download_size: int | None = None
    delta_from: str | None = None  # the installed version the patch applies to; None: the full download
    #: Why the full file is downloaded and not a patch, in words ("no patch from 1.1.0 is published"); None
    #: when a patch applies or it was not worked out.
    full_reason: str | None = None


@dataclass(frozen=True)
class Entitlement:
    """Whether the license allows a release, and why not in plain words."""

    allowed: bool
    code: str  # "ok", "no_license", "max_version", "released_after_end", "license_locked"
    reason: str  # plain words for people; empty when allowed


@dataclass(frozen=True)
class CheckResult:
    """What one check found."""

    checked_at: str  # ISO 8601 UTC
    installed_version: str | None
    channel: str
    offer: Release | None  # the update offered, or None
    newest: Release | None  # the newest release for this product/platform/channel, offered or not
    entitlement: Entitlement  # for ``newest`` (allowed with code "ok" when there is nothing newer)
    reason: str  # why nothing is offered ("up_to_date", "skipped", "not_entitled", "needs_newer_manager",
    #              "no_releases"), or "offered"
    signed_by: tuple[str, ...]  # key ids whose signatures on the targets metadata were verified
    metadata_version: int  # the targets metadata version trusted


@dataclass(frozen=True)
class DownloadProgress:
    """Progress of the running download."""

    version: str
    received: int
    total: int
    bytes_per_second: float
    eta_seconds: float | None  # None until a speed is known


@dataclass(frozen=True)
class PendingDownload:
    """A download kept on disk: partial (resumable) or complete and verified."""

    version: str
    target_name: str
    received: int
    total: int
    complete: bool  # fully downloaded and its signed hashes verified
    #: True when nothing had to be fetched: the release was already complete and verified on this computer
    #: (``update download`` then succeeds offline too).
    already_downloaded: bool = False


@dataclass(frozen=True)
class InstallResult:
    """How an install or rollback ended."""

    version: str  # the version now current
    previous_version: str | None  # the version kept for rollback
    health_ok: bool
    rolled_back: bool  # True when the health check failed and the switch was undone
    takes_effect: str  # "next_start" (of CrystalMe3D Pro) or "next_manager_start" (install at next start)


@dataclass(frozen=True)
class UpdateStatus:
    """Everything the Updates page and ``update status`` show, read from disk (no network)."""

    installed_version: str | None
    previous_version: str | None
    install_root: str
    channel: str
    auto_check: bool
    skipped: tuple[str, ...]
    last_check_at: str | None
    last_check: CheckResult | None
    pending: PendingDownload | None
    install_at_next_start: str | None  # version staged to be installed when the Manager next starts
    #: Why the last download took the full archive although a patch was expected or tried, in one sentence
    #: ("Took the full download because …"); None when the patch was used or none was in question.
    delta_note: str | None = None
    failed_install: str | None = None  # the downloaded version whose last install did not start (put back)


@dataclass
class DownloadControl:
    """Pause or cancel a running download from another thread. Pause keeps the partial file; cancel
    deletes it."""

    _stop: threading.Event = field(default_factory=threading.Event)
    cancelled: bool = False

    def pause(self) -> None:
        """Stop after the current chunk; the download resumes later from where it stopped."""
        self._stop.set()

    def cancel(self) -> None:
        """Stop after the current chunk and delete what was downloaded."""
        self.cancelled = True
        self._stop.set()

    @property
    def stopped(self) -> bool:
        """True once pause or cancel was asked for."""
        return self._stop.is_set()
