"""Which release, if any, to offer: pure rules over the signed targets and local facts.

Never offered: another product or platform, a version not newer than the installed one (an older
release presented as new is ignored), one whose signed facts are malformed, a skipped non-critical one, one
that needs a newer Manager, one the license does not allow. Yanked releases are simply absent from the
signed targets. The offer is the newest release that passes every rule.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Any

from crystal_manager.services.update_types import CheckResult, Entitlement, Release
from crystal_manager.updates import entitlement
from crystal_manager.updates.entitlement import LicenseFacts
from crystal_protocol.releases import (
    ARCHIVE_SUFFIXES,
    CHANNELS,
    PRODUCT,
    ReleaseFormatError,
    ReleaseInfo,
    Version,
    current_platform,
    target_name,
)

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class Candidate:
    """One signed target as the policy sees it."""

    target_name: str
    length: int
    sha256: str | None
    custom: Any  # the target's signed ``custom`` field: a ReleaseInfo, if well formed


def visible_channels(channel: str) -> tuple[str, ...]:
    """beta sees stable and beta releases; stable sees stable only."""
    return CHANNELS if channel == "beta" else ("stable",)


def _parse(candidate: Candidate) -> tuple[ReleaseInfo, Version] | None:
    """The release's facts, or None when anything about it is malformed (then it is never offered)."""
    if (not isinstance(candidate.length, int) or candidate.length <= 0 or candidate.sha256 is None
            or not _SHA256.match(candidate.sha256)):
        return None
    try:
        info = ReleaseInfo.from_custom(candidate.custom)
        names = {target_name(info.product, info.version, info.platform, s) for s in ARCHIVE_SUFFIXES}
        version = Version.parse(info.version)
    except ReleaseFormatError:
        return None
    # The file name must say what the signed facts say: no "pro" file that is really something else.
    return (info, version) if candidate.target_name in names else None


def _release(candidate: Candidate, info: ReleaseInfo) -> Release:
    return Release(version=info.version, channel=info.channel, size=candidate.length, critical=info.critical,
                   notes=info.notes, released_at=info.released_at, min_manager=info.min_manager,
                   target_name=candidate.target_name)


def _version_or_none(text: str | None) -> Version | None:
    try:
        return Version.parse(text) if text else None
    except ReleaseFormatError:
        return None


def evaluate(candidates: Iterable[Candidate], *, installed: str | None, channel: str, skipped: Collection[str],
             manager_version: str, license: LicenseFacts, checked_at: str, signed_by: tuple[str, ...] = (),
             metadata_version: int = 0, product: str = PRODUCT, platform: str | None = None) -> CheckResult:
    """Decide what to offer. ``newest`` is the newest release newer than the installed one (offered or
    not); ``entitlement`` is the license's answer for it."""
    platform = platform or current_platform()
    channels = visible_channels(channel)
    mine: list[tuple[Version, Candidate, ReleaseInfo]] = []
    for candidate in sorted(candidates, key=lambda c: c.target_name):
        parsed = _parse(candidate)
        if parsed is None:
            continue
        info, version = parsed
        if info.product == product and info.platform == platform and info.channel in channels:
            mine.append((version, candidate, info))
    current = _version_or_none(installed)
    newer = [m for m in mine if current is None or m[0] > current]
    # Newest first; for two files of one version the first by name wins (deterministic).
    newer.sort(key=lambda m: m[0], reverse=True)

    def result(offer: Release | None, newest: Release | None, ent: Entitlement, reason: str) -> CheckResult:
        return CheckResult(checked_at=checked_at, installed_version=installed, channel=channel, offer=offer,
                           newest=newest, entitlement=ent, reason=reason, signed_by=signed_by,
                           metadata_version=metadata_version)

    if not newer:
        return result(None, None, entitlement.OK, "up_to_date" if mine else "no_releases")
    manager = _version_or_none(manager_version)
    newest_release = _release(newer[0][1], newer[0][2])
    newest_entitlement = entitlement.check(newer[0][2], license)
    first_refusal: str | None = None
    for _version, candidate, info in newer:
        refusal = _refusal(info, skipped, manager, license)
        if refusal is None:
            return result(_release(candidate, info), newest_release, newest_entitlement, "offered")
        first_refusal = first_refusal or refusal
    return result(None, newest_release, newest_entitlement, first_refusal or "up_to_date")


def _refusal(info: ReleaseInfo, skipped: Collection[str], manager: Version | None,
             license: LicenseFacts) -> str | None:
    """Why this release is not offered, or None."""
    if info.version in skipped and not info.critical:  # a critical release cannot be skipped
        return "skipped"
    if info.min_manager and (manager is None or manager < Version.parse(info.min_manager)):
        return "needs_newer_manager"
    if not entitlement.check(info, license).allowed:
        return "not_entitled"
    return None


def describe(result: CheckResult, manager_version: str | None = None) -> str:
    """The check's outcome in one plain sentence for people."""
    newest = result.newest
    if result.offer is not None:
        text = f"Version {result.offer.version} is available."
        if result.offer.critical:
            text += " It is a critical update."
        if newest is not None and newest.version != result.offer.version:
            why = result.entitlement.reason or "it is not offered to this computer"
            text += f" Version {newest.version} also exists: {why}"
        return text
    if result.reason == "no_releases":
        return f"No release is published yet for this computer on the {result.channel} channel."
    if newest is None or result.reason == "up_to_date":
        return "CrystalMe3D Pro is up to date."
    if result.reason == "skipped":
        return f"Version {newest.version} is available, but you chose to skip it."
    if result.reason == "needs_newer_manager":
        mine = f" (this one is {manager_version})" if manager_version else ""
        return (f"Version {newest.version} needs CrystalMe3D Pro Manager {newest.min_manager} or newer{mine}; "
                "update the Manager first.")
    if result.reason == "not_entitled":
        reason = result.entitlement.reason
        if result.entitlement.code in ("max_version", "released_after_end"):
            return f"Version {newest.version} is not included in your license: {reason}"
        return f"Version {newest.version} is available, but {reason[:1].lower()}{reason[1:]}"
    return f"Version {newest.version} is not offered."
