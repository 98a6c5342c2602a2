"""The lease: the signed statement of what this machine may run, and the offline file formats.

``LeaseTerms`` is a msgspec struct (decision 0018): importing this module loads msgspec, so nothing on the path
to the tray imports it (tests/test_startup_tricks.py)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any, Literal, get_args

import msgspec

from crystal_protocol.signing import DocumentProblem, parse_time

LEASE_KIND = "lease"
OFFLINE_RESPONSE_KIND = "offline_activation"
DEACTIVATION_PROOF_KIND = "deactivation_proof"
OFFLINE_REQUEST_FORMAT = "crystal-offline-request-v1"
STATUSES = ("active", "trial", "past_due", "expired", "revoked")
DEFAULT_TTL_SECONDS = 14 * 86400
MIN_TTL_SECONDS = 3600
ENVIRONMENTS = ("physical", "vm", "container")
#: The fingerprint methods a server knows, oldest first. A seat moves to a new fingerprint (declaring its
#: previous one) only from an older to a newer method of this list: never to a made-up or an older one, so
#: two machines cannot pass one seat back and forth by relabelling their fingerprints. "v2" names the next
#: method (no client sends it yet); a move to it can happen once per machine, never back.
FINGERPRINT_VERSIONS = ("v1", "v2")


#: Texts in a lease are short (ids, hints, plan names, timestamps); entitlement values are not bounded.
Text = Annotated[str, msgspec.Meta(max_length=200)]
WholeNumber = Annotated[int, msgspec.Meta(ge=0, lt=10**9)]
#: The lease's lifetime without a fresh answer: at least an hour.
TtlSeconds = Annotated[int, msgspec.Meta(ge=MIN_TTL_SECONDS, lt=10**9)]
LeaseStatus = Literal["active", "trial", "past_due", "expired", "revoked"]
assert get_args(LeaseStatus) == STATUSES
_TIMES = ("issued_at", "expires_at", "renews_at", "trial_ends_at")


class LeaseTerms(msgspec.Struct, frozen=True, kw_only=True):
    """What a lease says: the server builds it, signs its payload, and the client reads the payload back into
    it (decision 0018). Times are ``format_time`` strings (UTC). Members a newer server adds are ignored."""

    license_id: Text
    machine_id: Text
    fingerprint: Text
    key_hint: Text
    plan: Text
    status: LeaseStatus
    expires_at: Text | None = None
    renews_at: Text | None = None
    trial_days_left: WholeNumber | None = None
    seats_used: WholeNumber
    seats_total: WholeNumber
    issued_at: Text
    ttl_seconds: TtlSeconds
    kid: Text
    entitlements: dict[str, str] = {}
    trial_ends_at: Text | None = None

    def __post_init__(self) -> None:
        for name in _TIMES:  # strictly format_time's form (a ValueError here is msgspec's ValidationError)
            if (value := getattr(self, name)) is not None:
                try:
                    parse_time(value)
                except DocumentProblem:
                    raise DocumentProblem(f"lease field {name} is not a UTC timestamp") from None

    @property
    def issued(self) -> datetime:
        """When the server issued it."""
        return parse_time(self.issued_at)

    @property
    def lease_expires(self) -> datetime:
        """When it stops being valid without a fresh answer (issued + TTL)."""
        return self.issued + timedelta(seconds=self.ttl_seconds)

    def to_payload(self) -> dict[str, Any]:
        """JSON form (the document adds ``type``): every member, absent ones as ``null`` — the same members
        and values the signed payload has always had, so the signed bytes mean what they meant."""
        return msgspec.structs.asdict(self)

    @classmethod
    def from_payload(cls, data: dict[str, Any]) -> LeaseTerms:
        """Strictly parse a verified payload; DocumentProblem (naming the member) on anything unexpected."""
        try:
            return msgspec.convert(data, cls)
        except msgspec.ValidationError as exc:
            raise DocumentProblem(_plain(str(exc))) from exc


def _plain(text: str) -> str:
    """msgspec's words as a short sentence naming the lease member (never repeating a value)."""
    if text.startswith("Object missing required field `"):
        return f"lease field {text.split('`')[1]} is missing"
    _, at, where = text.rpartition(" - at `$.")
    if at:
        member = where.rstrip("`").split(".")[0].split("[")[0]
        return f"lease field {member} is not valid"
    if text.startswith("lease field "):  # __post_init__'s own words
        return text
    return "the lease's fields are not valid"
