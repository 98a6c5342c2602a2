"""An error from a licensing call → what kind of problem it is, what to offer next, and its words.

The facts come from :func:`crystal_manager.services.usertext.explain`; this adds the headline and the next
step (retry, manage machines, open the account page) that a dialog can offer.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from crystal_manager.gui.texts import tr
from crystal_manager.licensing import errors as lic
from crystal_manager.net import errors as net
from crystal_manager.services.usertext import ACCOUNT_URL, explain

__all__ = ["ACCOUNT_URL", "Problem", "ProblemKind", "kind_of", "problem_for"]


class ProblemKind(Enum):
    """Kinds of failure that call for different next steps."""

    TYPO = "typo"
    BAD_NAME = "bad_name"
    NETWORK = "network"
    PROXY_TLS = "proxy_tls"
    SEAT_LIMIT = "seat_limit"
    EXPIRED = "expired"
    REVOKED = "revoked"
    NOT_FOUND = "not_found"
    DENIED = "denied"
    INTERNAL = "internal"


_ORDER: tuple[tuple[type[BaseException] | tuple[type[BaseException], ...], ProblemKind], ...] = (
    (lic.KeyFormatError, ProblemKind.TYPO),
    (lic.MachineLabelError, ProblemKind.BAD_NAME),
    ((net.TLSFailed, net.ProxyFailed), ProblemKind.PROXY_TLS),
    ((lic.LicensingOffline, net.TransportError), ProblemKind.NETWORK),
    (lic.SeatLimitReached, ProblemKind.SEAT_LIMIT),
    (lic.SubscriptionExpired, ProblemKind.EXPIRED),
    (lic.LicenseRevoked, ProblemKind.REVOKED),
    (lic.KeyNotFound, ProblemKind.NOT_FOUND),
    (lic.LicenseDenied, ProblemKind.DENIED),
)


@dataclass(frozen=True)
class Problem:
    """A failure as shown: headline, the facts, the advice, and which next steps make sense."""

    kind: ProblemKind
    headline: str
    detail: str
    advice: str

    @property
    def can_retry(self) -> bool:
        """Trying again may help (network trouble)."""
        return self.kind in (ProblemKind.NETWORK, ProblemKind.PROXY_TLS)

    @property
    def offers_machines(self) -> bool:
        """Freeing a seat solves it."""
        return self.kind is ProblemKind.SEAT_LIMIT

    @property
    def offers_account(self) -> bool:
        """Renewing on the account page solves it."""
        return self.kind is ProblemKind.EXPIRED

    def account_link(self) -> str:
        """The link to the account page as HTML (empty unless renewing helps)."""
        if not self.offers_account:
            return ""
        return "<br>" + tr('<a href="%1">Open your account page</a>').replace("%1", ACCOUNT_URL)


def kind_of(exc: BaseException) -> ProblemKind:
    """Classify an error (most specific first)."""
    for types, kind in _ORDER:
        if isinstance(exc, types):
            return kind
    return ProblemKind.INTERNAL


def problem_for(exc: BaseException) -> Problem:
    """The problem to show for ``exc``."""
    kind = kind_of(exc)
    detail, _outcome = explain(exc)
    headline, advice = {
        ProblemKind.TYPO: (tr("The key has a typo"),
                           tr("Nothing was sent. Compare the key with the one in your purchase e-mail.")),
        ProblemKind.BAD_NAME: (tr("The name for this computer cannot be used"),
                               tr("Nothing was sent. Shorten the name or leave it empty.")),
        ProblemKind.NETWORK: (tr("The licensing server cannot be reached"),
                              tr("Nothing changed. Check the internet connection and try again.")),
        ProblemKind.PROXY_TLS: (tr("A proxy or secure-connection problem"),
                                tr("A proxy or TLS inspection on this network may be in the way. Ask the "
                                   "network administrator to allow connections to the licensing server.")),
        ProblemKind.SEAT_LIMIT: (tr("Every seat of this license is in use"),
                                 tr("Deactivate a machine you no longer use, then activate this one.")),
        ProblemKind.EXPIRED: (tr("The subscription has ended"),
                              tr("Renew it on your account page, then try again.")),
        ProblemKind.REVOKED: (tr("This license was revoked"),
                              tr("Contact CrystalMe3D Pro support if you think this is a mistake.")),
        ProblemKind.NOT_FOUND: (tr("No license has this key"),
                                tr("Check the key; it may belong to another product or account.")),
        ProblemKind.DENIED: (tr("The licensing server refused"), tr("Contact CrystalMe3D Pro support.")),
        ProblemKind.INTERNAL: (tr("Something went wrong inside the app"),
                               tr("Copy the diagnostics from the About page and send them to support.")),
    }[kind]
    return Problem(kind=kind, headline=headline, detail=detail, advice=advice)
