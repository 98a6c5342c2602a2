"""The licensing messages (crystal_protocol/messages.py): each defined once, held to the data catalog.

The catalog (what the app may send, shown on the Privacy page) and the structs (what the server accepts)
must list the same members with the same required ones, and every value the catalog lets the app send
must be one the server accepts; hypothesis draws those values from the catalog's own shapes.
"""

from __future__ import annotations

import functools
import re
from typing import Any, get_args

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crystal_manager.privacy.catalog import OFFLINE_REQUEST_FIELDS, FieldSpec, default_catalog
from crystal_manager.privacy.shapes import Shape
from crystal_protocol import messages
from crystal_protocol.lease import ENVIRONMENTS, OFFLINE_REQUEST_FORMAT
from crystal_protocol.licensekey import generate_key
from crystal_protocol.messages import (
    EXCHANGES,
    ActivateRequest,
    DeactivateRequest,
    ErrorAnswer,
    Message,
    MessageProblem,
    OfflineRequest,
    as_json,
    member_names,
    read,
    required_names,
)
from crystal_protocol.wire import DENIAL_CODES, ERROR_CODES, LICENSE_PATHS, ErrorCode

FINGERPRINT = "v1:" + "3f" * 32
#: A real value for every member name the licensing requests have (each fits the catalog's shape too).
REAL: dict[str, Any] = {
    "key": generate_key(), "fingerprint": FINGERPRINT, "fingerprint_version": "v1", "environment": "physical",
    "os": "Linux", "label": "Studio PC", "machine_public_key": "Qm9n" + "A" * 39 + "=",
    "previous_fingerprint": "v2:" + "77" * 32, "machine_id": "m_1a2b3c4d5e6f", "scope": "this_machine",
    "format": OFFLINE_REQUEST_FORMAT, "key_digest": "5b" * 32, "key_hint": "Q7F3",
    "request_nonce": "q3b1Zp0m9yS6JxkQ2c1vYw", "created_at": "2025-03-01T10:00:00Z",
}


def catalog_requests() -> list[tuple[str, type[Message], tuple[FieldSpec, ...]]]:
    """(name, request struct, the catalog's body fields) for every licensing request the app sends, and the
    offline request file (written by the app, sent by a portal)."""
    by_path = {request_type.path: request_type for request_type in default_catalog().types}
    found = [(name, EXCHANGES[name][0], tuple(f for f in by_path[path].fields if f.location == "body"))
             for name, path in LICENSE_PATHS.items() if path in by_path]
    return [*found, ("offline request file", OfflineRequest, OFFLINE_REQUEST_FIELDS)]


CASES = catalog_requests()


def test_every_licensing_path_has_its_messages_and_the_app_sends_all_but_the_portals() -> None:
    assert set(EXCHANGES) == set(LICENSE_PATHS)
    sent = {name for name, _type, _fields in CASES}
    assert set(LICENSE_PATHS) - sent == {"offline_answer"}  # called by the vendor's web portal, not the app


@pytest.mark.parametrize(("name", "message_type", "fields"), CASES, ids=[c[0] for c in CASES])
def test_the_catalog_lists_exactly_the_struct_members(name: str, message_type: type[Message],
                                                      fields: tuple[FieldSpec, ...]) -> None:
    assert [f.name for f in fields] and set(member_names(message_type)) == {f.name for f in fields}, name
    assert required_names(message_type) == {f.name for f in fields if f.required}, name


def minimal(message_type: type[Message]) -> dict[str, Any]:
    """A body with a real value for every required member (a new dict each time: tests change it)."""
    return {member: REAL[member] for member in _required(message_type)}


#: ``required_names`` once per message type: it reads the struct's fields again each time (~1 ms), and the
#: hypothesis test asks for every example.
_required = functools.cache(required_names)


@functools.cache
def values_of(shape: Shape) -> st.SearchStrategy[str]:
    """Every text the catalog's shape allows (its declared values, or its pattern within its length).

    Made once per shape: a strategy built afresh for each example is validated again each time (hypothesis
    rebuilds the regex's parts), which took more CPU than drawing from it."""
    if shape.enum:
        return st.sampled_from(shape.enum)
    assert shape.type == "text" and shape.pattern, shape
    return st.from_regex(re.compile(shape.pattern), fullmatch=True).filter(lambda v: len(v) <= shape.max_length)


FIELD_CASES = [(name, message_type, spec) for name, message_type, fields in CASES for spec in fields]


@pytest.mark.parametrize(("name", "message_type", "spec"), FIELD_CASES,
                         ids=[f"{c[0]}.{c[2].name}" for c in FIELD_CASES])
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_what_the_catalog_lets_the_app_send_the_server_accepts(name: str, message_type: type[Message],
                                                               spec: FieldSpec, data: st.DataObject) -> None:
    value = data.draw(values_of(spec.shape), label=spec.name)
    parsed = read(message_type, {**minimal(message_type), spec.name: value})
    assert getattr(parsed, spec.name) == value


def test_a_body_leaves_out_absent_members_and_reads_back_the_same() -> None:
    request = ActivateRequest(key=REAL["key"], fingerprint=FINGERPRINT, fingerprint_version="v1",
                              environment="vm", os="Linux")
    sent = as_json(request)
    assert sent == {"key": REAL["key"], "fingerprint": FINGERPRINT, "fingerprint_version": "v1",
                    "environment": "vm", "os": "Linux"}  # no label, no nulls
    assert read(ActivateRequest, sent) == request


def test_members_an_older_client_sent_are_accepted_and_dropped() -> None:
    old = {**minimal(ActivateRequest), "components": {"host": "ab" * 32}, "label": "Old PC"}
    assert read(ActivateRequest, old) == read(ActivateRequest, {**minimal(ActivateRequest), "label": "Old PC"})


@pytest.mark.parametrize(("member", "value"), [
    ("fingerprint", "v1:" + "G" * 64), ("fingerprint", "3f" * 32), ("fingerprint", 7),
    ("fingerprint_version", "version-one"), ("environment", "mainframe"), ("os", "L" * 21),
    ("label", "x" * 200), ("machine_public_key", "A" * 65), ("previous_fingerprint", ["v1:" + "0" * 64]),
    ("key", "K" * 201),
])
def test_a_malformed_member_is_refused_by_name_without_repeating_it(member: str, value: object) -> None:
    with pytest.raises(MessageProblem) as refused:
        read(ActivateRequest, {**minimal(ActivateRequest), member: value})
    assert f"$.{member}" in str(refused.value)
    assert not isinstance(value, str) or value not in str(refused.value)


@pytest.mark.parametrize("member", sorted(required_names(ActivateRequest)))
def test_a_missing_required_member_is_named(member: str) -> None:
    sent = minimal(ActivateRequest)
    del sent[member]
    with pytest.raises(MessageProblem, match=f"`{member}`"):
        read(ActivateRequest, sent)


@pytest.mark.parametrize("data", [None, [], "key", 3, {"key": None}])
def test_what_is_not_an_object_of_the_message_is_refused(data: object) -> None:
    with pytest.raises(MessageProblem):
        read(DeactivateRequest, data)


def test_the_shared_definitions_agree() -> None:
    assert get_args(messages.Environment) == ENVIRONMENTS
    assert read(OfflineRequest, minimal(OfflineRequest)).format == OFFLINE_REQUEST_FORMAT
    assert set(get_args(ErrorCode)) == set(ERROR_CODES) and set(ERROR_CODES) > DENIAL_CODES
    assert {"license_not_found", "revoked", "expired", "seat_limit", "machine_not_found"} == DENIAL_CODES
    assert re.fullmatch(messages.FINGERPRINT_PATTERN, FINGERPRINT)


def test_an_error_answer_carries_its_details_and_nothing_else() -> None:
    answer = read(ErrorAnswer, {"error": {"code": "seat_limit", "message": "all 2 seats are in use",
                                          "seats_used": 2, "seats_total": 2, "hint": "ignored"}})
    assert answer.error.code == "seat_limit" and answer.error.detail() == {"seats_used": 2, "seats_total": 2}
    with pytest.raises(MessageProblem, match=r"\$\.error\.retry_after"):
        read(ErrorAnswer, {"error": {"code": "rate_limited", "retry_after": -1}})
