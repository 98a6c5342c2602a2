"""The updates error hierarchy. Faces turn these into words via services.usertext, never themselves.

Every refusal leaves the installed product as it was: nothing unverified is extracted or switched to.
"""

from __future__ import annotations


class UpdateError(Exception):
    """Base of every updates error."""


class UpdatesNotConfigured(UpdateError):
    """The trust profile has no signed update root: updates fail closed rather than trust the server."""


class UpdateBusy(UpdateError):
    """Another Manager process is checking, downloading or installing right now (the lock is held)."""


class UpdateStateDamaged(UpdateError):
    """A local updates file does not parse; it was set aside and the action can be retried."""


class MetadataRejected(UpdateError):
    """The signed update information failed verification (bad or untrusted signature, rolled back,
    mixed-and-matched, too large): treated like no answer, nothing is offered."""


class MetadataExpired(MetadataRejected):
    """The signed update information has expired (a frozen or stale mirror)."""


class UpdateServerUnavailable(UpdateError):
    """The update server answered with an error instead of the file (e.g. 404 for a yanked release, 500)."""


class TargetRejected(UpdateError):
    """A downloaded file does not match its signed length or hashes; it was deleted, never extracted."""


class NoUpdateOffered(UpdateError):
    """There is no update to download or install (up to date, skipped, or none allowed)."""


class NotEntitled(UpdateError):
    """The license does not cover this release (``reason`` says why, in plain words)."""


class UpdateRefusedByUser(UpdateError):
    """A request the policy refuses: skipping a critical update, an unknown channel, an unknown version."""


class ArchiveRejected(UpdateError):
    """A verified archive is still unsafe or wrong to install: a path escaping the folder, a link out, a
    device file, or a ``product.json`` naming another product, version or platform."""


class HealthCheckFailed(UpdateError):
    """The new version did not start and print its version; the switch was rolled back. ``version`` and
    ``put_back`` name the two versions when the service knows them."""

    def __init__(self, message: str, *, version: str | None = None, put_back: str | None = None) -> None:
        super().__init__(message)
        self.version = version
        self.put_back = put_back


class InstallFailed(UpdateError):
    """Extraction or the switch failed (disk full, permissions); the product stays at its version."""


class NothingToRollBack(UpdateError):
    """No previous version is kept to go back to."""


class DownloadStopped(UpdateError):
    """The download was paused (``cancelled`` False: the partial file is kept) or cancelled (deleted)."""

    def __init__(self, message: str, *, cancelled: bool) -> None:
        super().__init__(message)
        self.cancelled = cancelled
