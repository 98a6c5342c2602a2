"""Does the license allow this release? Pure rules over the license facts, answered in plain words.

Fails closed: an unreadable limit or end date allows nothing rather than everything.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from crystal_manager.services.update_types import Entitlement
from crystal_protocol.releases import ReleaseFormatError, ReleaseInfo, Version

#: License states whose holder gets updates (a trial too, and offline grace: the lease is still valid).
ENTITLED_STATES = frozenset({"active", "trial", "offline_grace"})
_STATE_WORDS = {"locked": "locked until it is verified with the server again", "expired": "expired",
                "revoked": "revoked"}

OK = Entitlement(allowed=True, code="ok", reason="")


@dataclass(frozen=True)
class LicenseFacts:
    """The few license facts the policy needs (from services.status.LicenseStatus)."""

    state: str = "not_activated"
    max_version: str | None = None  # "2.9" allows every 2.9.x and below
    expires_at: str | None = None  # ISO 8601 UTC; None: no end


def _limit(text: str) -> tuple[int, ...]:
    parts = text.strip().split(".")
    if not 1 <= len(parts) <= 3 or not all(p.isdigit() for p in parts):
        raise ReleaseFormatError(f"not a version limit: {text!r}")
    return tuple(int(p) for p in parts)


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def check(info: ReleaseInfo, facts: LicenseFacts) -> Entitlement:
    """Whether ``facts`` allow ``info``, with the reason when not."""
    if facts.state == "not_activated":
        return Entitlement(False, "no_license", "This computer has no activated license; activate it to get "
                                                "updates.")
    if facts.state not in ENTITLED_STATES:
        words = _STATE_WORDS.get(facts.state, "not valid right now")
        return Entitlement(False, "license_locked", f"Your license is {words}; updates are available again "
                                                    "once it is valid.")
    if facts.max_version:
        try:
            limit = _limit(facts.max_version)
        except ReleaseFormatError:
            return Entitlement(False, "max_version", "Your license's version limit could not be read; verify "
                                                     "the license to get updates.")
        version = Version.parse(info.version)
        if (version.major, version.minor, version.patch)[:len(limit)] > limit:
            return Entitlement(False, "max_version", f"Your license covers versions up to {facts.max_version}; "
                                                     f"{info.version} needs an upgrade.")
    if facts.expires_at:
        try:
            after_end = _when(info.released_at) > _when(facts.expires_at)
        except ValueError:
            return Entitlement(False, "released_after_end", "Your subscription's end date could not be read; "
                                                            "verify the license to get updates.")
        if after_end:
            return Entitlement(False, "released_after_end", "Released after your subscription ended on "
                                                            f"{facts.expires_at[:10]}; renew to get it.")
    return OK
