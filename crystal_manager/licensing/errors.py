"""The licensing error hierarchy. Faces turn these into words via services.usertext, never themselves."""

from __future__ import annotations


class LicensingError(Exception):
    """Base of every licensing error."""


class KeyFormatError(LicensingError):
    """The license key is malformed or its checksum is wrong (caught locally; nothing was sent)."""


class LicensingOffline(LicensingError):
    """No trustworthy answer: network down, or an answer that was unsigned, badly signed, stale or replayed.

    Never a denial: the license state is not changed towards denied by this.
    """


class LicenseDenied(LicensingError):
    """A correctly signed denial from the server."""

    code = "denied"


class KeyNotFound(LicenseDenied):
    """The server has no license with this key."""

    code = "license_not_found"


class LicenseRevoked(LicenseDenied):
    """The license was revoked."""

    code = "revoked"


class SubscriptionExpired(LicenseDenied):
    """The subscription ended (or was cancelled) and is not in trial."""

    code = "expired"


class SeatLimitReached(LicenseDenied):
    """Every seat is taken by other machines; deactivate one ("manage machines")."""

    code = "seat_limit"


class NotActivated(LicensingError):
    """The operation needs an activated machine."""


class OfflineFileError(LicensingError):
    """An offline request/response file is unreadable, for another machine, or badly signed."""
