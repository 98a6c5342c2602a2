"""Lease verification on real server-signed leases: edits, other machines, unknown keys, expiry."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from crystal_manager.licensing.errors import LeaseExpired, LeaseForAnotherMachine, LeaseInvalid
from crystal_manager.licensing.lease import verify_lease
from crystal_manager.services.context import AppContext
from crystal_protocol.lease import LEASE_KIND
from crystal_protocol.signing import make_document, parse_time
from tests.support.licensing import issue, service
from tests.support.servers import ReferenceServer


@pytest.fixture
def lease(lic_ctx: AppContext, reference_server: ReferenceServer) -> dict[str, str]:
    service(lic_ctx).activate(issue(reference_server.data_dir).key)
    doc: dict[str, str] = json.loads(lic_ctx.paths.license_state_file.read_text())["lease"]
    return doc


def fp(doc: dict[str, str]) -> str:
    return str(json.loads(doc["payload"])["fingerprint"])


def test_genuine_lease_verifies(lease: dict[str, str], lic_ctx: AppContext) -> None:
    issued = parse_time(json.loads(lease["payload"])["issued_at"])
    terms = verify_lease(lease, keys=lic_ctx.profile.license_keys, fingerprint=fp(lease), now=issued)
    assert terms.ttl_seconds == 14 * 86400 and terms.kid == lease["kid"]


@pytest.mark.parametrize(("old", "new"), [
    ('"plan":"pro"', '"plan":"max"'), ('"status":"active"', '"status":"trial"'),
    ('"seats_total":2', '"seats_total":9'), ('"ttl_seconds":1209600', '"ttl_seconds":9209600')])
def test_one_edited_field_is_rejected(lease: dict[str, str], lic_ctx: AppContext, old: str, new: str) -> None:
    assert old in lease["payload"]
    edited = {**lease, "payload": lease["payload"].replace(old, new)}
    with pytest.raises(LeaseInvalid, match="edited"):
        verify_lease(edited, keys=lic_ctx.profile.license_keys, fingerprint=fp(lease),
                     now=parse_time(json.loads(lease["payload"])["issued_at"]))


def test_lease_of_another_machine(lease: dict[str, str], lic_ctx: AppContext) -> None:
    with pytest.raises(LeaseForAnotherMachine):
        verify_lease(lease, keys=lic_ctx.profile.license_keys, fingerprint="v1:" + "0" * 64,
                     now=parse_time(json.loads(lease["payload"])["issued_at"]))


def test_lease_signed_by_unknown_key(lease: dict[str, str], lic_ctx: AppContext) -> None:
    payload = json.loads(lease["payload"])
    forged = make_document(LEASE_KIND, payload, lease["kid"], Ed25519PrivateKey.generate().sign)
    with pytest.raises(LeaseInvalid):
        verify_lease(forged, keys=lic_ctx.profile.license_keys, fingerprint=fp(lease),
                     now=parse_time(payload["issued_at"]))
    other_kid = make_document(LEASE_KIND, payload, "0123456789abcdef", Ed25519PrivateKey.generate().sign)
    with pytest.raises(LeaseInvalid, match="unknown key"):
        verify_lease(other_kid, keys=lic_ctx.profile.license_keys, fingerprint=fp(lease),
                     now=parse_time(payload["issued_at"]))


def test_expired_and_future_leases(lease: dict[str, str], lic_ctx: AppContext) -> None:
    issued = parse_time(json.loads(lease["payload"])["issued_at"])
    with pytest.raises(LeaseExpired):
        verify_lease(lease, keys=lic_ctx.profile.license_keys, fingerprint=fp(lease), now=issued + timedelta(days=14))
    with pytest.raises(LeaseInvalid, match="future"):
        verify_lease(lease, keys=lic_ctx.profile.license_keys, fingerprint=fp(lease), now=issued - timedelta(hours=1))
