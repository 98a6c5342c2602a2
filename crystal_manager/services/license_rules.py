"""One rule per license fact, decided once for every face: which states need the user to act, which
dates and counts apply in which state, and the state in plain words.

Pure and light (no Qt, no cryptography, no keyring): the tray's first picture, the License page, the
welcome dialog and the CLI all ask here, so they can never disagree. Table-tested over every state in
``tests/services/test_license_rules.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


class LicenseStatus(Protocol):
    """The facts the rules read (:class:`crystal_manager.services.status.LicenseStatus` has them): a
    Protocol, so this module imports nothing of ours and the status module may ask it."""

    @property
    def state(self) -> str: ...
    @property
    def expires_at(self) -> str | None: ...
    @property
    def renews_at(self) -> str | None: ...
    @property
    def trial_days_left(self) -> int | None: ...
    @property
    def grace_days_left(self) -> float | None: ...
    @property
    def last_verified_at(self) -> str | None: ...
    @property
    def next_check_at(self) -> str | None: ...
    @property
    def offline_activation(self) -> bool: ...

#: Every state :func:`crystal_manager.licensing.evaluate.evaluate` can return (the test checks they match).
ALL_STATES = ("not_activated", "active", "trial", "offline_grace", "locked", "expired", "revoked")

#: The product does not run until someone acts: the tray shows the lock, and Activate is offered
#: (a revoked or ended license can be replaced by another key; a locked one by verifying or a new key).
BLOCKED_STATES = frozenset({"not_activated", "locked", "expired", "revoked"})

#: The license has ended by a signed answer: renewal and the next check no longer apply.
ENDED_STATES = frozenset({"expired", "revoked"})

#: The product runs.
RUNNING_STATES = frozenset({"active", "trial", "offline_grace"})

STATE_WORDS: dict[str, str] = {
    "not_activated": "Not activated",
    "active": "Active",
    "trial": "Trial",
    "offline_grace": "Offline — grace period",
    "locked": "Locked",
    "expired": "Expired",
    "revoked": "Revoked",
}


def needs_activation(state: str | None) -> bool:
    """True when the user must act before the product runs: offer Activate (tray menu, welcome, page)."""
    return state in BLOCKED_STATES


def is_activated(state: str | None) -> bool:
    """True when this machine holds a license (verify, the machine list and deactivate make sense)."""
    return state is not None and state != "not_activated"


def offers_activate(state: str | None) -> bool:
    """True when entering a key is the way forward: not activated, expired or revoked. A locked license
    still has its key here; asking the server again (Verify now) is what unlocks it, not a new key."""
    return state in {"not_activated", "expired", "revoked"}


def offers_machine_actions(state: str | None) -> bool:
    """True when the machine list and deactivating make sense: an activated, unlocked license (while
    locked the server has first to confirm the license, so only Verify now is offered)."""
    return is_activated(state) and state != "locked"


def has_ended(state: str | None) -> bool:
    """True when a signed answer ended the license (expired or revoked)."""
    return state in ENDED_STATES


def state_words(state: str | None) -> str:
    """The state for people ("Not activated", "Offline — grace period"); never the raw value."""
    if state is None:
        return "Checking…"
    return STATE_WORDS.get(state, "Unknown state")


@dataclass(frozen=True)
class LicenseDates:
    """Which dates and counts apply to the license in its state (None: not shown)."""

    renews_at: str | None
    ends_at: str | None
    trial_days_left: int | None
    grace_days_left: float | None
    last_verified_at: str | None
    never_verified: bool  # an activated license that was never checked online says so
    next_check_at: str | None


def dates_for(lic: LicenseStatus) -> LicenseDates:
    """The one rule for which dates apply: a renewal only while the license has not ended, an end date only
    when it does not renew, trial days only in a trial, grace days only offline, the next check only while
    there is something to check."""
    ended, activated = has_ended(lic.state), is_activated(lic.state)
    return LicenseDates(
        renews_at=lic.renews_at if lic.renews_at and activated and not ended else None,
        ends_at=lic.expires_at if lic.expires_at and activated and not (lic.renews_at and not ended) else None,
        trial_days_left=lic.trial_days_left if lic.state == "trial" else None,
        grace_days_left=lic.grace_days_left if lic.state == "offline_grace" else None,
        last_verified_at=lic.last_verified_at if activated else None,
        never_verified=activated and not lic.last_verified_at and not lic.offline_activation,
        next_check_at=lic.next_check_at if lic.next_check_at and activated and not ended else None,
    )


def offline_until_words(state: str | None, lease_expires_at: str | None) -> str:
    """After a check that could not reach the server: until when the license keeps working without one
    ("The license keeps working offline until 14 Dec 2026, 05:39 UTC."); empty when that does not apply."""
    if not is_activated(state) or has_ended(state) or not lease_expires_at:
        return ""
    return f"The license keeps working offline until {human_time(lease_expires_at)}."


def human_time(stamp: str | None) -> str | None:
    """``2099-12-31T00:00:00Z`` → ``31 Dec 2099``; with a time of day when it has one (``25 Nov 2026, 13:03
    UTC``). For text output; ``--json`` keeps the raw value. (services.dates.date_words: one format.)"""
    from crystal_manager.services.dates import date_words

    return date_words(stamp, local=False) if stamp else None


@dataclass(frozen=True)
class PreviewWords:
    """One row of "what will be sent", for people: the datum, its value, why, and the policy section."""

    what: str
    value: str
    why: str
    policy: str


def preview_words(name: str, shown_value: str, purpose: str, policy: str) -> PreviewWords:
    """A previewed field in the catalog's plain words (never its wire name, a cryptography name or a
    section number): the catalog's ``plain`` name and plain purpose, the policy section's own title."""
    from crystal_manager.privacy.catalog import NONCE_FIELD, OFFLINE_REQUEST_FIELDS, POLICY_SECTIONS, default_catalog

    specs = {spec.name: spec for request in default_catalog().types for spec in request.fields}
    specs.update({spec.name: spec for spec in (*OFFLINE_REQUEST_FIELDS, NONCE_FIELD)})
    spec = specs.get(name)
    plain = spec.plain if spec is not None and spec.plain else name.replace("_", " ")
    why = (getattr(spec, "plain_purpose", "") or spec.purpose) if spec is not None else purpose
    section = POLICY_SECTIONS.get(policy, "")
    title = section.split(":", 1)[0].strip() if section else ""
    return PreviewWords(what=plain[:1].upper() + plain[1:], value=shown_value, why=why,
                        policy=f"Privacy policy: {title}" if title else "")


def keyring_words(backend: str | None, fallback: bool | None) -> str | None:
    """Where the license key is kept, in words (None when unknown): the backend's class name is for
    diagnostics, not for people."""
    if backend is None:
        return None
    if fallback:
        return "a file only you can read (no system keyring found)"
    for marker, words in (("SecretService", "the desktop's keyring (GNOME Keyring or another Secret Service)"),
                          ("kwallet", "KDE Wallet"), ("Windows", "Windows Credential Manager"),
                          ("macOS", "the macOS Keychain")):
        if marker.lower() in backend.lower():
            return words
    return "the system keyring"
