"""The licensing error hierarchy. Faces turn these into words via services.usertext, never themselves."""

from __future__ import annotations

from datetime import datetime
from typing import Any


class LicensingError(Exception):
    """Base of every licensing error."""


class KeyFormatError(LicensingError):
    """The license key is malformed or its checksum is wrong (caught locally; nothing was sent)."""

    def __init__(self, message: str, reason: str = "format") -> None:
        super().__init__(message)
        self.reason = reason


class MachineLabelError(LicensingError):
    """The name given to this machine is too long or holds control characters (caught locally)."""


class LicensingOffline(LicensingError):
    """No trustworthy answer: network down, or an answer that was unsigned, badly signed, stale or replayed.

    Never a denial: the license state is not changed towards denied by this.
    """


class UntrustedAnswer(LicensingOffline):
    """An answer came back but failed verification: treated exactly like no answer."""


class UnsignedAnswer(UntrustedAnswer):
    """The answer carried no signature."""


class BadSignature(UntrustedAnswer):
    """The signature or body digest does not match (the answer was altered)."""


class UnknownSigningKey(UntrustedAnswer):
    """Signed by a key that is not in this app's trust anchors."""


class ReplayedAnswer(UntrustedAnswer):
    """The answer was signed for another (earlier) request: its nonce is not ours."""


class WrongPathAnswer(UntrustedAnswer):
    """The answer was signed for another endpoint than the one asked."""


class StaleAnswer(UntrustedAnswer):
    """Kept for older callers: answers are no longer refused for their signed date (the nonce makes them
    fresh; the local clock's offset only earns a warning)."""

    def __init__(self, message: str, skew_seconds: float) -> None:
        super().__init__(message)
        self.skew_seconds = skew_seconds


class ServerTrouble(LicensingOffline):
    """Something answered, but not with a signed licensing answer (error page, portal, garbage)."""


class ServerFailed(ServerTrouble):
    """An HTTP error status without a signed explanation (e.g. 500, 502)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class CaptivePortal(ServerTrouble):
    """A web page (HTML) came back: a Wi-Fi login page or a proxy's page is in the way."""


class MalformedAnswer(ServerTrouble):
    """The answer is not licensing data (not JSON, or the wrong shape)."""


class RateLimited(ServerTrouble):
    """Too many attempts; ``retry_after`` seconds to wait (None if unknown)."""

    def __init__(self, message: str, retry_after: int | None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class LicenseDenied(LicensingError):
    """A correctly signed denial from the server."""

    code = "denied"

    def __init__(self, message: str, detail: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.detail = dict(detail or {})
        self.signed_at: datetime | None = None  # the server's signed time of the denial (set by the engine)


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


class MachineNotFound(LicenseDenied):
    """This machine (or the one named) is not activated on the license, e.g. deactivated elsewhere."""

    code = "machine_not_found"


class NotActivated(LicensingError):
    """The operation needs an activated machine."""


class OfflineFileError(LicensingError):
    """An offline request/response file is unreadable, for another machine, or badly signed."""


class LeaseInvalid(LicensingError):
    """A lease failed verification (edited, unknown key, malformed)."""


class LeaseForAnotherMachine(LeaseInvalid):
    """The lease is signed for a different machine fingerprint."""


class LeaseExpired(LeaseInvalid):
    """The lease's TTL has run out."""


class FingerprintError(LicensingError):
    """The operating system's machine id could not be read."""


class ProtocolMismatch(LicensingError):
    """The server refused the request as malformed: a bug or a version mismatch, not the user's fault."""


#: Signed error codes and the denial each one means.
DENIALS: dict[str, type[LicenseDenied]] = {
    cls.code: cls for cls in (KeyNotFound, LicenseRevoked, SubscriptionExpired, SeatLimitReached, MachineNotFound)
}
