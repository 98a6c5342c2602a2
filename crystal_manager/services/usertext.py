"""The one place where errors become words for people, and an outcome the CLI maps to an exit code.

Each subsystem raises its own typed errors; faces never format them themselves.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum

from crystal_manager.config.profile import ProfileError
from crystal_manager.licensing import errors as lic
from crystal_manager.net import errors as net
from crystal_manager.services.health import HealthError
from crystal_manager.storage.atomic import StorageError
from crystal_manager.storage.secrets import SecretStoreError


class Outcome(Enum):
    """What kind of failure it was; each has its own exit code."""

    OK = "ok"
    BAD_INPUT = "bad_input"
    DENIED = "denied"
    OFFLINE = "offline"
    INTERNAL = "internal"


Explainer = Callable[[BaseException], tuple[str, Outcome]]
_EXPLAINERS: dict[type[BaseException], Explainer] = {}


def register(kind: type[BaseException], explainer: Explainer) -> None:
    """Let a subsystem add the words for its own errors (most specific class wins)."""
    _EXPLAINERS[kind] = explainer


def explain(exc: BaseException) -> tuple[str, Outcome]:
    """One line for people, and the outcome."""
    for klass in type(exc).__mro__:
        explainer = _EXPLAINERS.get(klass)
        if explainer is not None:
            return explainer(exc)
    return f"Internal error: {type(exc).__name__}: {exc}", Outcome.INTERNAL


def _fixed(prefix: str, outcome: Outcome) -> Explainer:
    return lambda exc: (f"{prefix}{exc}", outcome)


register(ProfileError, _fixed("Profile problem: ", Outcome.BAD_INPUT))
register(net.RequestRefused, _fixed("Not sent: ", Outcome.INTERNAL))
register(net.InsecureTransportError, _fixed("Not sent: ", Outcome.BAD_INPUT))
register(net.ConnectFailed, _fixed("Network problem — the server cannot be reached: ", Outcome.OFFLINE))
register(net.TimedOut, _fixed("Network problem — ", Outcome.OFFLINE))
register(net.TLSFailed, _fixed("Secure connection problem (a proxy or TLS inspection may be in the way) — ",
                               Outcome.OFFLINE))
register(net.ProxyFailed, _fixed("Proxy problem — ", Outcome.OFFLINE))
register(net.TransportError, _fixed("Network problem — ", Outcome.OFFLINE))
register(HealthError, _fixed("Server problem: ", Outcome.OFFLINE))
register(StorageError, _fixed("Storage problem: ", Outcome.INTERNAL))
register(SecretStoreError, _fixed("Keyring problem: ", Outcome.INTERNAL))

# Licensing errors (the GUI's License page and activation dialog add what to do next; these are the facts).
register(lic.KeyFormatError, _fixed("The license key has a typo (nothing was sent): ", Outcome.BAD_INPUT))
register(lic.LicensingOffline, _fixed("No trustworthy answer from the licensing server; nothing changed: ",
                                      Outcome.OFFLINE))
register(lic.LicenseDenied, _fixed("The licensing server refused: ", Outcome.DENIED))
register(lic.KeyNotFound, _fixed("No license has this key: ", Outcome.DENIED))
register(lic.LicenseRevoked, _fixed("This license was revoked: ", Outcome.DENIED))
register(lic.SubscriptionExpired, _fixed("The subscription has ended: ", Outcome.DENIED))
register(lic.SeatLimitReached, _fixed("Every seat of this license is in use: ", Outcome.DENIED))
register(lic.NotActivated, _fixed("This machine is not activated: ", Outcome.BAD_INPUT))
register(lic.OfflineFileError, _fixed("Offline activation file problem: ", Outcome.BAD_INPUT))
