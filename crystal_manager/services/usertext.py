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
from crystal_manager.updates import errors as upd

#: What the server's "not on the license" means when this computer itself asked (verification).
DEACTIVATED_ELSEWHERE_WORDS = ("This computer was deactivated (from another computer or by support): activate it "
                               "again to use it here.")


class ThisComputerDeactivated(lic.MachineNotFound):
    """The server no longer has *this* computer on the license (freed from another computer or by support);
    raised by verification, where "that machine" would be the wrong words."""


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


ACCOUNT_URL = "https://account.crystalme3dpro.com"
_UNCHANGED = " Treated as no answer: your license is unchanged."


def _seats(exc: BaseException) -> tuple[str, Outcome]:
    detail = getattr(exc, "detail", {})
    total = detail.get("seats_total")
    if total == 1:
        count = "the only seat of this license is in use"
    else:
        count = f"{f'all {total} seats' if total is not None else 'every seat'} of this license are in use"
    return (f"Seat limit reached: {count}. Deactivate a machine you no longer use to free its seat, "
            "then activate this one.", Outcome.DENIED)


def _expired(exc: BaseException) -> tuple[str, Outcome]:
    when = getattr(exc, "detail", {}).get("expires_at")
    return (f"Your subscription has expired{f' (on {when[:10]})' if when else ''}. Renew it at {ACCOUNT_URL}.",
            Outcome.DENIED)


def _stale(exc: BaseException) -> tuple[str, Outcome]:
    return (f"This computer's clock looks wrong: {exc}. Set the date and time correctly and try again."
            + _UNCHANGED, Outcome.OFFLINE)


def _rate(exc: BaseException) -> tuple[str, Outcome]:
    wait = getattr(exc, "retry_after", None)
    return (f"Too many attempts: the server asks to wait{f' {wait} seconds' if wait else ''} before trying again."
            + _UNCHANGED, Outcome.OFFLINE)


def _key_format(exc: BaseException) -> tuple[str, Outcome]:
    from crystal_manager.services.key_words import TYPO_WORDS, key_error_words

    assert isinstance(exc, lic.KeyFormatError)
    words = key_error_words(exc)
    if words == TYPO_WORDS:
        return f"{TYPO_WORDS} (nothing was sent).", Outcome.BAD_INPUT
    return f"Check the license key — nothing was sent: {words}", Outcome.BAD_INPUT


register(lic.KeyFormatError, _key_format)
register(lic.MachineLabelError, _fixed("Check the name for this computer — nothing was sent: ", Outcome.BAD_INPUT))
register(lic.KeyNotFound, lambda exc: ("The server has no license with this key (a correctly typed key that "
                                       "does not exist). Check it against your purchase e-mail.", Outcome.DENIED))
register(lic.LicenseRevoked, lambda exc: ("This license was revoked by CrystalMe3D. Contact support.",
                                          Outcome.DENIED))
register(lic.SubscriptionExpired, _expired)
register(lic.SeatLimitReached, _seats)
register(lic.MachineNotFound, lambda exc: ("That machine is not activated on this license (it may already have "
                                           "been deactivated).", Outcome.DENIED))
register(ThisComputerDeactivated, lambda exc: (DEACTIVATED_ELSEWHERE_WORDS, Outcome.DENIED))
register(lic.LicenseDenied, _fixed("The server refused: ", Outcome.DENIED))
register(lic.LicensingOffline, _fixed("No usable answer from the licensing server: ", Outcome.OFFLINE))
register(lic.UntrustedAnswer, lambda exc: (
    f"The answer could not be trusted ({exc}). Something between you and the server — a proxy, TLS "
    "inspection or an attacker — changed it." + _UNCHANGED, Outcome.OFFLINE))
register(lic.StaleAnswer, _stale)
register(lic.CaptivePortal, lambda exc: (
    f"A web page came back instead of the licensing server ({exc}): a Wi-Fi login page (captive portal) or a "
    "proxy's sign-in page is in the way. Sign in to the network, then retry." + _UNCHANGED, Outcome.OFFLINE))
register(lic.ServerFailed, lambda exc: (f"The licensing server had a problem ({exc}). Try again later."
                                        + _UNCHANGED, Outcome.OFFLINE))
register(lic.MalformedAnswer, lambda exc: (f"The server's answer was garbled: {exc}." + _UNCHANGED,
                                           Outcome.OFFLINE))
register(lic.RateLimited, _rate)
register(lic.NotActivated, lambda exc: (f"Not activated: {exc}.",
                                        Outcome.BAD_INPUT))
register(lic.OfflineFileError, _fixed("Offline file refused — nothing was changed: ", Outcome.BAD_INPUT))
register(lic.LeaseInvalid, _fixed("License lease refused: ", Outcome.BAD_INPUT))
register(lic.FingerprintError, _fixed("Cannot identify this computer: ", Outcome.INTERNAL))
register(lic.ProtocolMismatch, _fixed("Protocol problem (please report it): ", Outcome.INTERNAL))
register(lic.LicensingError, _fixed("Licensing problem: ", Outcome.INTERNAL))


# Updates: every error of crystal_manager/updates/errors.py has its words here.
_NOTHING_CHANGED = " Nothing was installed or changed."


def _stopped(exc: BaseException) -> tuple[str, Outcome]:
    if getattr(exc, "cancelled", False):
        return "Download cancelled; what was downloaded so far was deleted.", Outcome.DENIED
    return ("Download paused; what was downloaded so far is kept. Resume with: crystal-manager update download",
            Outcome.DENIED)


register(upd.UpdateError, _fixed("Update problem: ", Outcome.INTERNAL))
register(upd.UpdatesNotConfigured, _fixed("Updates are not set up: ", Outcome.BAD_INPUT))
register(upd.UpdateBusy, lambda exc: (f"Busy: {exc}.", Outcome.DENIED))
register(upd.UpdateStateDamaged, _fixed("", Outcome.INTERNAL))
register(upd.MetadataRejected, lambda exc: (
    f"The update information could not be trusted: {exc}. Treated as no answer: nothing is offered."
    + _NOTHING_CHANGED, Outcome.OFFLINE))
register(upd.MetadataExpired, lambda exc: (
    f"The update information is out of date: {exc}. Treated as no answer: nothing is offered." + _NOTHING_CHANGED,
    Outcome.OFFLINE))
register(upd.UpdateServerUnavailable, lambda exc: (f"The update server could not provide the file: {exc}."
                                                   + _NOTHING_CHANGED, Outcome.OFFLINE))
register(upd.TargetRejected, lambda exc: (f"The downloaded update failed its signature check: {exc}."
                                          + _NOTHING_CHANGED, Outcome.OFFLINE))
register(upd.NoUpdateOffered, _fixed("No update to do: ", Outcome.BAD_INPUT))
register(upd.NotEntitled, _fixed("Not included in your license: ", Outcome.DENIED))
register(upd.UpdateRefusedByUser, lambda exc: (f"{str(exc)[:1].upper()}{str(exc)[1:]}.", Outcome.BAD_INPUT))
register(upd.ArchiveRejected, lambda exc: (f"The update file is unsafe or wrong and was not installed: {exc}."
                                           + _NOTHING_CHANGED, Outcome.OFFLINE))
def _did_not_start(exc: BaseException) -> tuple[str, Outcome]:
    version, put_back = getattr(exc, "version", None), getattr(exc, "put_back", None)
    if version is None:
        return (f"The new version did not start correctly, so the previous one was put back ({exc}).",
                Outcome.INTERNAL)
    back = f"so {put_back} was put back" if put_back else "so it was taken out again"
    return (f"CrystalMe3D Pro {version} did not start on this computer, {back}; nothing else changed. Try again "
            "later or skip this version; if it happens again, contact support.", Outcome.INTERNAL)


register(upd.HealthCheckFailed, _did_not_start)
register(upd.InstallFailed, lambda exc: (f"The update could not be installed: {exc}. CrystalMe3D Pro stays at "
                                         "the version it had.", Outcome.INTERNAL))
register(upd.NothingToRollBack, lambda exc: (f"Nothing to roll back to: {exc}.", Outcome.BAD_INPUT))
register(upd.DownloadStopped, _stopped)
