"""Values, not just names: every declared datum has a shape, and a value that does not fit it is refused
before a connection is opened (a real listening socket counts the connections)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from crystal_manager.net.errors import RequestRefused, ValueShapeError
from crystal_manager.net.gateway import Gateway
from crystal_manager.net.request import OutboundRequest, resolve
from crystal_manager.privacy.catalog import (
    COMMON_HEADERS,
    NONCE_FIELD,
    OFFLINE_REQUEST_FIELDS,
    Catalog,
    FieldSpec,
    RequestType,
    default_catalog,
)
from crystal_manager.privacy.ledger import Ledger
from crystal_manager.privacy.shapes import Member, Shape, integer, obj, one_of, problem, text
from crystal_protocol.wire import NONCE_HEADER
from tests.support.misbehaving import http_response, misbehaving, respond

CATALOG = default_catalog()
HASH = "ab" * 32
NONCE = "q3b1Zp0m9yS6JxkQ2c1vYw"


def claim(**changes: Any) -> dict[str, Any]:
    """A validate body that fits every declared shape; ``changes`` spoil it."""
    body: dict[str, Any] = {"key": "CM3D-7QK2M-X9RTA-4HV0C-Q7F3A", "fingerprint": "v1:" + HASH,
                            "fingerprint_version": "v1", "environment": "physical", "os": "Linux"}
    body.update(changes)
    return body


def validate(body: dict[str, Any]) -> OutboundRequest:
    return OutboundRequest(kind="license_validate", body=body, headers={NONCE_HEADER: NONCE})


SPOILED: dict[str, OutboundRequest] = {
    "undeclared nested value": validate(claim(components={"recent_project": "/home/alice/secret-design.c3d"})),
    "over-long label": OutboundRequest(kind="license_activate", body=claim(label="x" * 65),
                                       headers={NONCE_HEADER: NONCE}),
    "label with a line break": OutboundRequest(kind="license_activate", body=claim(label="mine\n/home/alice"),
                                               headers={NONCE_HEADER: NONCE}),
    # The server never reads a name on a license check: it is not declared there, so it cannot be sent.
    "a machine name on a license check": validate(claim(label="Alice's workstation")),
    "fingerprint of the wrong format": validate(claim(fingerprint="v1:" + "/home/alice/secret.c3d")),
    "raw machine id as fingerprint": validate(claim(fingerprint="4c4c4544-0042-3510-8052-b4c04f384b32")),
    "key that is not a key": validate(claim(key="alice@example.com")),
    "number where text is declared": validate(claim(key=12345)),
    "os outside the declared values": validate(claim(os="Ubuntu 24.04 on alice-laptop")),
    "nonce header of the wrong format": OutboundRequest(kind="license_validate", body=claim(),
                                                        headers={NONCE_HEADER: "/home/alice/secret.c3d"}),
    "range header of the wrong format": OutboundRequest(kind="update_target", path_params={"name": "a.tar.gz"},
                                                        headers={"Range": "bytes=0-; user=alice"}),
    "path parameter with a folder": OutboundRequest(kind="update_target",
                                                    path_params={"name": "../../home/alice/secret.c3d"}),
    "metadata name that is not metadata": OutboundRequest(kind="update_metadata",
                                                          path_params={"name": "alice.json"}),
}


@pytest.mark.parametrize("case", SPOILED, ids=list(SPOILED))
def test_spoiled_values_are_refused_with_no_connection(case: str, tmp_path: Path) -> None:
    with misbehaving(respond(http_response("200 OK", b"{}"))) as server, \
            Gateway(base_url=server.url, ledger=Ledger(tmp_path / "ledger.jsonl")) as gateway:
        with pytest.raises(RequestRefused, match="not sent") as refused:
            gateway.send(SPOILED[case])
        assert "alice" not in str(refused.value)  # the refusal never repeats the value it refused
        assert gateway.ledger.entries() == []
        # The same listening socket does count a declared request: the refusal was the gateway's doing.
        gateway.send(OutboundRequest(kind="health"))
        assert server.connections == 1 and len(server.requests) == 1


#: A request type with an object-shaped field, to hold the nested check to account through the gateway.
HASHES = obj(Member("machine", text(64, "[0-9a-f]{64}"), "A hash."), Member("platform", text(64, "[0-9a-f]{64}"),
                                                                            "Another hash.", required=False))
PROBE = RequestType(kind="probe", method="POST", path="/v1/health", title="t", purpose="p", when="w",
                    policy=("§4",), fields=(FieldSpec("components", "body", "{}", "p", "§2C", shape=HASHES),))
NESTED: dict[str, Any] = {
    "undeclared member": {"machine": HASH, "recent_project": "/home/alice/secret-design.c3d"},
    "a file path in a declared hash": {"machine": "/home/alice/secret.c3d"},
    "nested deeper than declared": {"machine": {"path": "/home/alice"}},
    "missing declared member": {"platform": HASH},
    "list where an object is declared": ["/home/alice"],
}


@pytest.mark.parametrize("case", NESTED, ids=list(NESTED))
def test_nested_values_are_checked_member_by_member(case: str, tmp_path: Path) -> None:
    catalog = Catalog(types=(PROBE,))
    with misbehaving(respond(http_response("200 OK", b"{}"))) as server, \
            Gateway(base_url=server.url, ledger=Ledger(tmp_path / "ledger.jsonl"), catalog=catalog) as gateway:
        with pytest.raises(ValueShapeError, match="not sent") as refused:
            gateway.send(OutboundRequest(kind="probe", body={"components": NESTED[case]}))
        assert "alice" not in str(refused.value)
        gateway.send(OutboundRequest(kind="probe", body={"components": {"machine": HASH}}))
        assert server.connections == 1


def test_the_good_claim_passes_the_check() -> None:
    resolve(CATALOG, validate(claim()))


def test_every_declaration_has_a_usable_shape() -> None:
    specs = [*COMMON_HEADERS, NONCE_FIELD, *OFFLINE_REQUEST_FIELDS,
             *(spec for request_type in CATALOG.types for spec in request_type.fields)]
    for spec in specs:
        shape = spec.shape
        assert shape.describe(), spec.name
        if shape.type == "text":
            assert 0 < shape.max_length <= 300, spec.name
        if shape.type == "object":
            assert shape.members and all(m.purpose for m in shape.members), spec.name


def test_headers_httpx_adds_are_checked_too(tmp_path: Path) -> None:
    # Host is added by httpx from the base URL, not by the caller: a catalog that declares another host
    # makes the gateway refuse it, with no connection.
    headers = tuple(replace(spec, shape=one_of("licensing.crystalme3dpro.com")) if spec.name == "Host" else spec
                    for spec in COMMON_HEADERS)
    narrowed = Catalog(common_headers=headers)
    with misbehaving(respond(http_response("200 OK", b"{}"))) as server:
        with Gateway(base_url=server.url, ledger=Ledger(tmp_path / "l.jsonl"), catalog=narrowed) as gateway, \
                pytest.raises(ValueShapeError, match="header 'host' is not one of"):
            gateway.send(OutboundRequest(kind="health"))
        with Gateway(base_url=server.url, ledger=Ledger(tmp_path / "l.jsonl")) as gateway:
            gateway.send(OutboundRequest(kind="health"))
        assert server.connections == 1


def test_shape_checker_in_words() -> None:
    assert problem(integer(0, 9), True, "n") == "n must be a whole number, not bool"
    assert problem(integer(0, 9), 10, "n") == "n is outside the declared range 0 to 9"
    assert problem(integer(0, 9), 3, "n") is None
    assert problem(Shape("object"), {}, "o") is None
    assert problem(Shape("object"), {"a": 1}, "o") == "o.a is not declared in the data catalog"
