"""The lease's terms (crystal_protocol.lease.LeaseTerms, a msgspec struct since decision 0018): which payloads
it takes and which it refuses, by table and by hypothesis against the rules the lease was read by before the
move (kept here as the reference: the check must be exactly as strict as it was), and its refusals name the
member in words without repeating its value."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crystal_protocol.lease import MIN_TTL_SECONDS, STATUSES, LeaseTerms
from crystal_protocol.signing import DocumentProblem, parse_time

GOOD: dict[str, Any] = {
    "license_id": "lic_5b8998f3cd6d4d55", "machine_id": "m_f31201f86b7d", "fingerprint": "v1:" + "7d" * 32,
    "key_hint": "BJ53", "plan": "pro", "status": "trial", "expires_at": "2099-01-01T00:00:00Z", "renews_at": None,
    "trial_days_left": 30, "seats_used": 1, "seats_total": 2, "issued_at": "2026-11-30T07:34:21Z",
    "ttl_seconds": 1209600, "kid": "fd49e78a90af0e67", "entitlements": {"max_version": "2.9"},
    "trial_ends_at": "2026-12-30T07:34:21Z", "type": "lease",
}
TEXTS = ("license_id", "machine_id", "fingerprint", "key_hint", "plan", "issued_at", "kid")
OPTIONAL_TEXTS = ("expires_at", "renews_at", "trial_ends_at")
NUMBERS = ("seats_used", "seats_total", "ttl_seconds")
TIMES = ("issued_at", "expires_at", "renews_at", "trial_ends_at")
MEMBERS = (*TEXTS, *OPTIONAL_TEXTS, *NUMBERS, "status", "trial_days_left", "entitlements")


def _text(value: Any) -> bool:
    return isinstance(value, str) and len(value) <= 200


def _number(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 10**9


def _time(value: Any) -> bool:
    try:
        parse_time(value)
    except DocumentProblem:
        return False
    return True


def accepted_before(data: dict[str, Any]) -> bool:
    """LeaseTerms.from_payload's hand validation before msgspec, as a predicate."""
    ents = data.get("entitlements", {})
    return (all(_text(data.get(n)) for n in (*TEXTS, "status")) and data["status"] in STATUSES
            and all(data.get(n) is None or _text(data[n]) for n in OPTIONAL_TEXTS)
            and all(_number(data.get(n)) for n in NUMBERS) and data["ttl_seconds"] >= MIN_TTL_SECONDS
            and (data.get("trial_days_left") is None or _number(data["trial_days_left"]))
            and isinstance(ents, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in ents.items())
            and all(data.get(n) is None or _time(data[n]) for n in TIMES))


def accepted_now(data: dict[str, Any]) -> bool:
    try:
        LeaseTerms.from_payload(data)
    except DocumentProblem:
        return False
    return True


def test_a_good_payload_reads_and_gives_back_every_member() -> None:
    terms = LeaseTerms.from_payload(GOOD)
    assert terms.to_payload() == {k: v for k, v in GOOD.items() if k != "type"}
    assert terms.lease_expires == parse_time("2026-12-14T07:34:21Z")


TABLE: list[tuple[str, dict[str, Any], str | None]] = [
    ("absent optional members", {"expires_at": ..., "renews_at": ..., "trial_days_left": ..., "entitlements": ...,
                                 "trial_ends_at": ...}, None),
    ("null optional members", {"expires_at": None, "trial_days_left": None, "trial_ends_at": None}, None),
    ("every status", {"status": "revoked"}, None),
    ("the shortest TTL", {"ttl_seconds": MIN_TTL_SECONDS}, None),
    ("a 200-character text", {"plan": "p" * 200}, None),
    ("a member a newer server adds", {"grace_days": 7}, None),
    ("no kid", {"kid": ...}, "lease field kid is missing"),
    ("a null plan", {"plan": None}, "lease field plan is not valid"),
    ("a 201-character text", {"plan": "p" * 201}, "lease field plan is not valid"),
    ("an unknown status", {"status": "lifetime"}, "lease field status is not valid"),
    ("a TTL under an hour", {"ttl_seconds": MIN_TTL_SECONDS - 1}, "lease field ttl_seconds is not valid"),
    ("a bool for a number", {"seats_total": True}, "lease field seats_total is not valid"),
    ("a float for a number", {"seats_used": 1.0}, "lease field seats_used is not valid"),
    ("a negative number", {"trial_days_left": -1}, "lease field trial_days_left is not valid"),
    ("a billion", {"seats_total": 10**9}, "lease field seats_total is not valid"),
    ("null entitlements", {"entitlements": None}, "lease field entitlements is not valid"),
    ("an entitlement that is not text", {"entitlements": {"max_version": 3}}, "lease field entitlements is not valid"),
    ("a 13th month", {"expires_at": "2099-13-01T00:00:00Z"}, "lease field expires_at is not a UTC timestamp"),
    ("an offset", {"issued_at": "2026-11-30T07:34:21+00:00"}, "lease field issued_at is not a UTC timestamp"),
]


@pytest.mark.parametrize(("change", "problem"), [(c, p) for _, c, p in TABLE], ids=[t[0] for t in TABLE])
def test_a_payload_is_taken_or_refused_in_words(change: dict[str, Any], problem: str | None) -> None:
    data = {k: v for k, v in {**GOOD, **change}.items() if v is not ...}
    assert accepted_before(data) == (problem is None)
    if problem is None:
        LeaseTerms.from_payload(data)
        return
    with pytest.raises(DocumentProblem) as refused:
        LeaseTerms.from_payload(data)
    assert str(refused.value) == problem
    for value in change.values():  # a refusal never repeats what it refused
        assert value is ... or value is None or repr(value) not in str(refused.value)


SOME_VALUE = (st.none() | st.booleans() | st.integers(-5, 2 * 10**9) | st.sampled_from([*STATUSES, "x", "2.9"])
              | st.sampled_from(["2026-11-30T07:34:21Z", "2026-02-30T07:34:21Z", "2026-11-30 07:34:21Z"])
              | st.text(max_size=3) | st.text(min_size=199, max_size=202) | st.floats(allow_nan=False)
              | st.dictionaries(st.text(max_size=3), st.text(max_size=3) | st.integers(), max_size=2))


#: ``...`` leaves the member out.
@given(changes=st.dictionaries(st.sampled_from(MEMBERS), SOME_VALUE | st.just(...), max_size=3))
def test_any_payload_is_judged_as_before(changes: dict[str, Any]) -> None:
    data = {k: v for k, v in {**GOOD, **changes}.items() if v is not ...}
    assert accepted_now(data) == accepted_before(data), data
