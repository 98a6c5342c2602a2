"""The lease: the signed statement of what this machine may run, and the offline file formats."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

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


def _opt_str(data: dict[str, Any], name: str) -> str | None:
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > 200:
        raise DocumentProblem(f"lease field {name} must be text")
    return value


def _str(data: dict[str, Any], name: str) -> str:
    value = _opt_str(data, name)
    if value is None:
        raise DocumentProblem(f"lease field {name} is missing")
    return value


def _int(data: dict[str, Any], name: str, *, optional: bool = False) -> int | None:
    value = data.get(name)
    if value is None and optional:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 10**9:
        raise DocumentProblem(f"lease field {name} must be a whole number")
    return value


@dataclass(frozen=True)
class LeaseTerms:
    """What a lease says. Times are ``format_time`` strings (UTC)."""

    license_id: str
    machine_id: str
    fingerprint: str
    key_hint: str
    plan: str
    status: str
    expires_at: str | None
    renews_at: str | None
    trial_days_left: int | None
    seats_used: int
    seats_total: int
    issued_at: str
    ttl_seconds: int
    kid: str
    entitlements: dict[str, str] = field(default_factory=dict)
    trial_ends_at: str | None = None

    @property
    def issued(self) -> datetime:
        """When the server issued it."""
        return parse_time(self.issued_at)

    @property
    def lease_expires(self) -> datetime:
        """When it stops being valid without a fresh answer (issued + TTL)."""
        return self.issued + timedelta(seconds=self.ttl_seconds)

    def to_payload(self) -> dict[str, Any]:
        """JSON form (the document adds ``type``)."""
        return asdict(self)

    @classmethod
    def from_payload(cls, data: dict[str, Any]) -> LeaseTerms:
        """Strictly parse a verified payload; DocumentProblem on anything unexpected."""
        status = _str(data, "status")
        if status not in STATUSES:
            raise DocumentProblem(f"unknown lease status {status[:20]!r}")
        ents = data.get("entitlements", {})
        if not isinstance(ents, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in ents.items()):
            raise DocumentProblem("lease entitlements must map names to text")
        ttl = _int(data, "ttl_seconds")
        assert ttl is not None
        if ttl < MIN_TTL_SECONDS:
            raise DocumentProblem("lease TTL is below the minimum")
        for name in ("issued_at", "expires_at", "renews_at", "trial_ends_at"):
            if data.get(name) is not None:
                parse_time(data[name])
        seats_used, seats_total = _int(data, "seats_used"), _int(data, "seats_total")
        assert seats_used is not None and seats_total is not None
        return cls(license_id=_str(data, "license_id"), machine_id=_str(data, "machine_id"),
                   fingerprint=_str(data, "fingerprint"), key_hint=_str(data, "key_hint"),
                   plan=_str(data, "plan"), status=status, expires_at=_opt_str(data, "expires_at"),
                   renews_at=_opt_str(data, "renews_at"),
                   trial_days_left=_int(data, "trial_days_left", optional=True),
                   seats_used=seats_used, seats_total=seats_total, issued_at=_str(data, "issued_at"),
                   ttl_seconds=ttl, kid=_str(data, "kid"), entitlements=dict(ents),
                   trial_ends_at=_opt_str(data, "trial_ends_at"))
