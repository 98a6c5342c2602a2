"""An error from a license action → what kind of problem it is, its headline, the facts and the next step.

Decided once, without Qt: the GUI renders a :class:`Problem` (banner, buttons), the CLI prints the same
facts (:func:`crystal_manager.services.usertext.explain`) with its own typed next step. The headline names
the action that failed, so a failed deactivation never reads like a failed verification, and each offline
cause has its own headline (a wrong clock is not "the server cannot be reached"). Table-tested over every
error class in ``tests/services/test_problems.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Literal

from crystal_manager.licensing import errors as lic
from crystal_manager.net import errors as net
from crystal_manager.services.usertext import ACCOUNT_URL, ThisComputerDeactivated, explain
from crystal_manager.storage.atomic import StorageError
from crystal_manager.storage.secrets import SecretStoreError

Action = Literal["activate", "verify", "deactivate", "machines", "read"]


class ProblemKind(Enum):
    """Kinds of failure that call for different next steps."""

    TYPO = "typo"
    BAD_NAME = "bad_name"
    NETWORK = "network"
    TIMED_OUT = "timed_out"
    PROXY_TLS = "proxy_tls"
    CAPTIVE_PORTAL = "captive_portal"
    CLOCK = "clock"
    UNTRUSTED = "untrusted"
    SERVER_TROUBLE = "server_trouble"
    RATE_LIMITED = "rate_limited"
    SEAT_LIMIT = "seat_limit"
    EXPIRED = "expired"
    REVOKED = "revoked"
    NOT_FOUND = "not_found"
    MACHINE_GONE = "machine_gone"
    DEACTIVATED_ELSEWHERE = "deactivated_elsewhere"
    NOT_ACTIVATED = "not_activated"
    DENIED = "denied"
    OFFLINE_FILE = "offline_file"
    DAMAGED = "damaged"
    CANCELLED = "cancelled"
    INTERNAL = "internal"


class Cancelled(Exception):
    """The user stopped a waiting request (Cancel in the GUI, ctrl-C in the CLI)."""


#: Most specific first: a class listed earlier wins over its base classes listed later.
_ORDER: tuple[tuple[type[BaseException] | tuple[type[BaseException], ...], ProblemKind], ...] = (
    (Cancelled, ProblemKind.CANCELLED),
    (lic.KeyFormatError, ProblemKind.TYPO),
    (lic.MachineLabelError, ProblemKind.BAD_NAME),
    (lic.StaleAnswer, ProblemKind.CLOCK),
    (lic.UntrustedAnswer, ProblemKind.UNTRUSTED),
    (lic.CaptivePortal, ProblemKind.CAPTIVE_PORTAL),
    (lic.RateLimited, ProblemKind.RATE_LIMITED),
    (lic.ServerTrouble, ProblemKind.SERVER_TROUBLE),
    ((net.TLSFailed, net.ProxyFailed), ProblemKind.PROXY_TLS),
    (net.TimedOut, ProblemKind.TIMED_OUT),
    ((lic.LicensingOffline, net.TransportError), ProblemKind.NETWORK),
    (lic.SeatLimitReached, ProblemKind.SEAT_LIMIT),
    (lic.SubscriptionExpired, ProblemKind.EXPIRED),
    (lic.LicenseRevoked, ProblemKind.REVOKED),
    (lic.KeyNotFound, ProblemKind.NOT_FOUND),
    (ThisComputerDeactivated, ProblemKind.DEACTIVATED_ELSEWHERE),
    (lic.MachineNotFound, ProblemKind.MACHINE_GONE),
    (lic.LicenseDenied, ProblemKind.DENIED),
    (lic.NotActivated, ProblemKind.NOT_ACTIVATED),
    (lic.OfflineFileError, ProblemKind.OFFLINE_FILE),
    ((lic.LeaseInvalid, StorageError, SecretStoreError), ProblemKind.DAMAGED),
)

#: Kinds where trying the same thing again later may work.
RETRYABLE = frozenset({ProblemKind.NETWORK, ProblemKind.TIMED_OUT, ProblemKind.PROXY_TLS,
                       ProblemKind.CAPTIVE_PORTAL, ProblemKind.CLOCK, ProblemKind.UNTRUSTED,
                       ProblemKind.SERVER_TROUBLE, ProblemKind.RATE_LIMITED, ProblemKind.CANCELLED})

_HEADLINES: dict[ProblemKind, str] = {
    ProblemKind.TYPO: "this key has a typo",
    ProblemKind.BAD_NAME: "the name for this computer cannot be used",
    ProblemKind.NETWORK: "the licensing server cannot be reached",
    ProblemKind.TIMED_OUT: "the licensing server did not answer in time",
    ProblemKind.PROXY_TLS: "a proxy or secure-connection problem",
    ProblemKind.CAPTIVE_PORTAL: "a network sign-in page is in the way",
    ProblemKind.CLOCK: "this computer's clock looks wrong",
    ProblemKind.UNTRUSTED: "the answer could not be trusted",
    ProblemKind.SERVER_TROUBLE: "the licensing server had a problem",
    ProblemKind.RATE_LIMITED: "too many attempts",
    ProblemKind.SEAT_LIMIT: "every seat of this license is in use",
    ProblemKind.EXPIRED: "the subscription has ended",
    ProblemKind.REVOKED: "this license was revoked",
    ProblemKind.NOT_FOUND: "no license has this key",
    ProblemKind.MACHINE_GONE: "that machine is not on the license",
    ProblemKind.DEACTIVATED_ELSEWHERE: "this computer was deactivated (from another computer or by support)",
    ProblemKind.NOT_ACTIVATED: "this computer is not activated",
    ProblemKind.DENIED: "the licensing server refused",
    ProblemKind.OFFLINE_FILE: "the offline file cannot be used",
    ProblemKind.DAMAGED: "the license data on this computer is damaged",
    ProblemKind.CANCELLED: "you stopped waiting",
    ProblemKind.INTERNAL: "something went wrong inside the app",
}

_ACTION_WORDS: dict[Action, str] = {
    "activate": "Not activated", "verify": "Not verified", "deactivate": "Not deactivated",
    "machines": "Machines not listed", "read": "License not read",
}

#: What stays true after a failed action, said before the next step (never "nothing changed" after a
#: verification that started the offline grace period).
_AFTER: dict[Action, str] = {
    "activate": "Nothing was activated.",
    "verify": "CrystalMe3D Pro keeps working offline until the grace period ends (see Offline grace).",
    "deactivate": "This computer is still activated and keeps its seat.",
    "machines": "Nothing changed.",
    "read": "",
}

_NEXT: dict[ProblemKind, str] = {
    ProblemKind.TYPO: "Check it against your purchase e-mail.",
    ProblemKind.BAD_NAME: "Shorten the name or leave it empty.",
    ProblemKind.NETWORK: "Check the internet connection and try again.",
    ProblemKind.TIMED_OUT: "The server may be busy: try again in a few minutes.",
    ProblemKind.PROXY_TLS: "A proxy or TLS inspection on this network may be in the way. Ask the network "
                           "administrator to allow connections to the licensing server, then try again.",
    ProblemKind.CAPTIVE_PORTAL: "Sign in to the network (open any web page), then try again.",
    ProblemKind.CLOCK: "Set this computer's date and time correctly (automatic time is best), then try again.",
    ProblemKind.UNTRUSTED: "Try another network; if it keeps happening, contact support.",
    ProblemKind.SERVER_TROUBLE: "Try again later.",
    ProblemKind.RATE_LIMITED: "Wait a little, then try again.",
    ProblemKind.SEAT_LIMIT: "Deactivate a machine you no longer use, then activate this one.",
    ProblemKind.EXPIRED: f"Renew it on your account page ({ACCOUNT_URL}), then try again.",
    ProblemKind.REVOKED: "Contact CrystalMe3D Pro support if you think this is a mistake.",
    ProblemKind.NOT_FOUND: "Check the key; it may belong to another product or account.",
    ProblemKind.MACHINE_GONE: "Open the machine list again to see the machines on the license now.",
    ProblemKind.DEACTIVATED_ELSEWHERE: "Activate it again to use it here.",
    ProblemKind.NOT_ACTIVATED: "Activate this computer first.",
    ProblemKind.DENIED: "Contact CrystalMe3D Pro support.",
    ProblemKind.OFFLINE_FILE: "Ask the vendor for a new file made for this computer.",
    ProblemKind.DAMAGED: "Verify with the server to restore it; if that fails, activate again with your key.",
    ProblemKind.CANCELLED: "Try again when you are ready.",
    ProblemKind.INTERNAL: "Copy the diagnostics from the About page and send them to support.",
}

#: Kinds decided here before anything was sent, so "nothing was sent" is true (said once, in the detail).
_LOCAL = frozenset({ProblemKind.TYPO, ProblemKind.BAD_NAME})


class KindRules:
    """Which next steps make sense, decided by the problem's kind alone (shared by the core and GUI forms)."""

    kind: ProblemKind

    @property
    def can_retry(self) -> bool:
        """Trying again later may help."""
        return self.kind in RETRYABLE

    @property
    def offers_machines(self) -> bool:
        """Freeing a seat solves it."""
        return self.kind is ProblemKind.SEAT_LIMIT

    @property
    def offers_account(self) -> bool:
        """Renewing on the account page solves it."""
        return self.kind is ProblemKind.EXPIRED


@dataclass(frozen=True)
class Problem(KindRules):
    """A failure as every face shows it: headline (names the action), the facts, the next step."""

    kind: ProblemKind
    headline: str
    detail: str
    next_step: str


def kind_of(exc: BaseException) -> ProblemKind:
    """Classify an error (most specific first)."""
    for types, kind in _ORDER:
        if isinstance(exc, types):
            return kind
    return ProblemKind.INTERNAL


def _detail(kind: ProblemKind, exc: BaseException) -> str:
    if kind in _LOCAL:
        if isinstance(exc, lic.KeyFormatError) and exc.reason == "checksum":
            return "Nothing was sent."  # the headline and the next step say it all (one wording)
        text = str(exc).strip() or "the key is not valid"
        return f"{text[:1].upper()}{text[1:]}. Nothing was sent."
    if kind is ProblemKind.CANCELLED:  # the request went out and cannot be called back
        return "The request was already sent; if an answer still comes, the page shows what it changed."
    return explain(exc)[0]


def problem_for(exc: BaseException, action: Action | None = None) -> Problem:
    """The problem to show for ``exc`` raised by ``action`` (None: no action named)."""
    kind = kind_of(exc)
    reason = _HEADLINES[kind]
    headline = f"{_ACTION_WORDS[action]}: {reason}" if action else f"{reason[:1].upper()}{reason[1:]}"
    after = _AFTER[action] if action and kind not in _LOCAL | {ProblemKind.CANCELLED} else ""
    if action == "verify" and kind not in RETRYABLE:
        after = ""  # only offline trouble starts the grace period; a denial changes the state itself
    next_step = f"{after} {_NEXT[kind]}".strip()
    return Problem(kind=kind, headline=headline, detail=_detail(kind, exc), next_step=next_step)
