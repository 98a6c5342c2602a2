"""The signed update information: python-tuf's ngclient refreshes it through our gateway, and its
answers (or refusals) become plain facts and our own errors.

The trusted metadata lives in ``data_dir/updates/metadata`` and is kept between runs: rollback
protection means nothing if the client forgets what it trusted (go-tuf CVE-2022-29173). The caller holds
the updates lock (``updates/lock.py``) for the whole refresh. Imports tuf: load only when a check runs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tuf.api import exceptions as tuf_errors
from tuf.api.metadata import Metadata, Root, TargetFile, Targets
from tuf.ngclient import Updater, UpdaterConfig

from crystal_manager.net.errors import NetError
from crystal_manager.net.request import Trigger
from crystal_manager.updates.errors import (
    MetadataExpired,
    MetadataRejected,
    UpdateServerUnavailable,
    UpdatesNotConfigured,
)
from crystal_manager.updates.fetcher import GatewayFetcher, MetadataNameRefused, Sender


@dataclass(frozen=True)
class TrustedTargets:
    """What one refresh established: every signed target, who signed the list, and its version."""

    targets: dict[str, TargetFile]
    signed_by: tuple[str, ...]
    version: int


def metadata_base_url(server_url: str) -> str:
    """The address ngclient builds metadata URLs from (the fetcher maps them back to file names)."""
    from crystal_protocol.wire import API_PREFIX

    return f"{server_url.rstrip('/')}{API_PREFIX}/updates/metadata/"


def _bootstrap(tuf_root: dict[str, Any] | None) -> bytes:
    if not tuf_root:
        # Fail closed: without a root of trust built into the profile, nothing from the server is trusted.
        raise UpdatesNotConfigured("this profile has no signed update root (tuf_root), so updates are off: "
                                   "nothing from an update server would be trusted")
    return json.dumps(tuf_root).encode("utf-8")


def _short(exc: BaseException) -> str:
    text = str(exc).strip() or "malformed"  # e.g. python-tuf's bare SerializationError for a NaN
    return text if len(text) <= 160 else text[:157] + "…"


def translate(exc: BaseException) -> Exception:
    """ngclient's exception → ours. A transport failure stays a network problem, not tampering."""
    if isinstance(exc, tuf_errors.ExpiredMetadataError):
        return MetadataExpired("the signed update information has expired: the update server, or a copy of "
                               f"it in between, is stale or frozen ({_short(exc)})")
    if isinstance(exc, tuf_errors.UnsignedMetadataError):
        return MetadataRejected(f"the update information is not signed by the trusted keys ({_short(exc)})")
    if isinstance(exc, tuf_errors.BadVersionNumberError):
        return MetadataRejected("the update information is older than what this computer already trusts "
                                f"(a rollback) ({_short(exc)})")
    if isinstance(exc, tuf_errors.LengthOrHashMismatchError):
        # ngclient's text is two 64-digit hashes: no help to a person (they stay in the exception's cause).
        return MetadataRejected("the update information files do not match each other (mixed or altered "
                                "files)")
    if isinstance(exc, tuf_errors.RepositoryError):
        return MetadataRejected(f"the update information failed verification ({_short(exc)})")
    if isinstance(exc, tuf_errors.DownloadHTTPError):
        return UpdateServerUnavailable(f"{exc} — try again later")
    if isinstance(exc, MetadataNameRefused | tuf_errors.DownloadLengthMismatchError):
        return MetadataRejected(_short(exc))
    if isinstance(exc, tuf_errors.DownloadError):
        cause = exc.__cause__
        if isinstance(cause, NetError):
            return cause
        if isinstance(cause, MetadataNameRefused | tuf_errors.DownloadLengthMismatchError):
            return MetadataRejected(_short(cause))
        return UpdateServerUnavailable(f"the update information could not be fetched ({_short(exc)})")
    return exc if isinstance(exc, Exception) else RuntimeError(str(exc))


def _signed_by(metadata_dir: Path, root: Root, trusted: Targets) -> tuple[str, ...]:
    """Key ids of the targets role (in the trusted root) whose signatures on the trusted targets verify.

    ngclient keeps only the signed part in memory, so the signatures are read back from the copy it
    persisted after verifying it; that copy must be the very version it trusts."""
    md = Metadata[Targets].from_bytes((metadata_dir / "targets.json").read_bytes())
    if md.signed.version != trusted.version or md.signed != trusted:
        raise MetadataRejected("the stored update information changed while it was being read")
    result = root.get_verification_result(Targets.type, md.signed_bytes, md.signatures)
    if not result.verified:
        raise MetadataRejected("the stored update information is not signed by the trusted keys")
    return tuple(sorted(result.signed))


def refresh(metadata_dir: Path, tuf_root: dict[str, Any] | None, gateway: Sender, server_url: str, *,
            trigger: Trigger = "user") -> TrustedTargets:
    """Refresh root → timestamp → snapshot → targets through the gateway; return the trusted targets."""
    bootstrap = _bootstrap(tuf_root)
    metadata_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    config = UpdaterConfig()
    base = metadata_base_url(server_url)
    fetcher = GatewayFetcher(gateway, base, trigger=trigger, config=config)
    try:
        try:
            updater = Updater(metadata_dir=str(metadata_dir), metadata_base_url=base, fetcher=fetcher,
                              config=config, bootstrap=bootstrap)
        except (tuf_errors.RepositoryError, ValueError, KeyError, TypeError) as exc:
            raise UpdatesNotConfigured(f"this profile's update root (tuf_root) is not usable root "
                                       f"metadata ({_short(exc)})") from exc
        updater.refresh()
        # ngclient has no public listing of all targets (get_targetinfo looks up one known path), so the
        # verified top-level targets are read from its trusted set right after refresh(). A tuf upgrade
        # that moves this fails tests/updates/test_trust.py::test_private_trusted_set_still_has_targets.
        trusted_set = updater._trusted_set
        targets: Targets = trusted_set.targets
        root: Root = trusted_set.root
        signed_by = _signed_by(metadata_dir, root, targets)
    except (tuf_errors.RepositoryError, tuf_errors.DownloadError) as exc:
        raise translate(exc) from exc
    return TrustedTargets(targets=dict(targets.targets), signed_by=signed_by, version=targets.version)


def cached_targets(metadata_dir: Path) -> dict[str, TargetFile] | None:
    """The targets of the last refresh, read offline: the stored targets metadata, checked against the
    stored trusted root's keys (no expiry check: this answers "what did we trust", never "what is new").
    None when nothing verified is stored."""
    try:
        root = Metadata[Root].from_bytes((metadata_dir / "root.json").read_bytes()).signed
        md = Metadata[Targets].from_bytes((metadata_dir / "targets.json").read_bytes())
        root.verify_delegate(Targets.type, md.signed_bytes, md.signatures)
    except (OSError, tuf_errors.RepositoryError, ValueError):
        return None
    return dict(md.signed.targets)
