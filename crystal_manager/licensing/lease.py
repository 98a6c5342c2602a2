"""Verify a signed lease: trusted key by id, signature, its terms (read by msgspec into LeaseTerms, decision
0018), this machine, not issued in the future."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from crystal_manager.licensing.errors import LeaseExpired, LeaseForAnotherMachine, LeaseInvalid, UnknownSigningKey
from crystal_manager.licensing.signatures import check_signature
from crystal_protocol.lease import LEASE_KIND, LeaseTerms
from crystal_protocol.signing import MAX_SKEW_SECONDS, DocumentProblem, payload_of, split_document


def verify_lease(doc: object, *, keys: Mapping[str, bytes], fingerprint: str, now: datetime,
                 require_current: bool = True) -> LeaseTerms:
    """The lease's terms if ``doc`` is a lease signed by a trusted key for this machine; LeaseInvalid otherwise."""
    try:
        kid, text, message, signature = split_document(doc, LEASE_KIND)
    except DocumentProblem as exc:
        raise LeaseInvalid(f"not a lease: {exc}") from exc
    try:
        good = check_signature(keys, kid, signature, message)
    except UnknownSigningKey as exc:
        raise LeaseInvalid(f"the lease is signed by an unknown key ({kid[:20]})") from exc
    if not good:
        raise LeaseInvalid("the lease's signature does not match its contents (edited)")
    try:
        terms = LeaseTerms.from_payload(payload_of(text, LEASE_KIND))
    except DocumentProblem as exc:
        raise LeaseInvalid(f"the lease is malformed: {exc}") from exc
    if terms.kid != kid:
        raise LeaseInvalid("the lease names another key than the one that signed it")
    if terms.fingerprint != fingerprint:
        raise LeaseForAnotherMachine("the lease was issued for another machine")
    if terms.issued > now + timedelta(seconds=MAX_SKEW_SECONDS):
        raise LeaseInvalid("the lease is issued in the future")
    if require_current and now >= terms.lease_expires:
        raise LeaseExpired(f"the lease expired at {terms.lease_expires:%Y-%m-%d %H:%M} UTC")
    return terms
