"""The licensing messages in use on both sides.

Server: the real reference server over a real socket refuses each malformed member of an activation with a
signed ``bad_request`` naming the member (never echoing the value) and takes no seat.
Client: the real engine reads every signed answer through its message, so an answer signed by a trusted
key but of the wrong shape is "offline" (MalformedAnswer), never a crash and never a denial; each denial
code of wire.DENIAL_CODES becomes its own error with the details the error envelope declares.
"""

from __future__ import annotations

import http.client
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from crystal_manager.licensing import errors
from crystal_manager.licensing.engine import EngineConfig, LicensingEngine
from crystal_manager.licensing.fingerprint import MachineIdentity
from crystal_manager.net.request import GatewayResponse, OutboundRequest
from crystal_manager.privacy.catalog import default_catalog
from crystal_manager.storage.secrets import SecretStore, open_secret_store
from crystal_protocol.licensekey import generate_key
from crystal_protocol.messages import ActivateRequest, as_json
from crystal_protocol.signing import (
    DATE_HEADER,
    DIGEST_HEADER,
    KEY_ID_HEADER,
    SIGNATURE_HEADER,
    b64,
    body_digest,
    format_time,
    response_message,
)
from crystal_protocol.wire import DENIAL_CODES, LICENSE_PATHS, NONCE_HEADER
from tests.support.keyring_memory import MemoryKeyring
from tests.support.licensing import issue
from tests.support.servers import ReferenceServer

FINGERPRINT = "v1:" + "3f" * 32
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def post(url: str, path: str, body: object) -> tuple[int, dict[str, Any]]:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
    try:
        conn.request("POST", path, body=json.dumps(body), headers={"Content-Type": "application/json",
                                                                   NONCE_HEADER: "test-nonce-1"})
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


def test_the_server_refuses_each_malformed_member_by_name_and_takes_no_seat(
        reference_server: ReferenceServer) -> None:
    key = issue(reference_server.data_dir, seats=1).key
    good = as_json(ActivateRequest(key=key, fingerprint=FINGERPRINT, fingerprint_version="v1",
                                   environment="physical", os="Linux", label="Studio"))
    wrong: dict[str, object] = {"fingerprint": "v1:" + "Z" * 64, "fingerprint_version": "one",
                                "environment": "mainframe-77", "os": "O" * 21, "label": "L" * 65,
                                "machine_public_key": "A" * 65, "previous_fingerprint": 12}
    for member, value in wrong.items():
        status, answer = post(reference_server.url, LICENSE_PATHS["activate"], {**good, member: value})
        assert status == 400 and answer["error"]["code"] == "bad_request", (member, answer)
        assert f"$.{member}" in answer["error"]["message"] and str(value) not in answer["error"]["message"]
    for member in ("fingerprint", "environment", "os"):
        status, answer = post(reference_server.url, LICENSE_PATHS["activate"],
                              {k: v for k, v in good.items() if k != member})
        assert status == 400 and f"`{member}`" in answer["error"]["message"], answer
    status, listing = post(reference_server.url, LICENSE_PATHS["machines"], {"key": key})
    assert status == 200 and listing["seats_used"] == 0  # none of those took the only seat
    status, answer = post(reference_server.url, LICENSE_PATHS["activate"], good)
    assert status == 200 and answer["machine_id"].startswith("m_")


# -- the client, facing answers signed by a key it trusts -----------------------------------------------
SERVER_KEY = Ed25519PrivateKey.generate()
TRUSTED = {"test-kid": SERVER_KEY.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)}


class SigningServer:
    """The server's half of an exchange, made with crystal_protocol.signing and a key the engine trusts:
    answers every request with ``status`` and ``body``, signed for that request's path and nonce."""

    def __init__(self, status: int, body: object) -> None:
        self.status, self.body = status, json.dumps(body).encode()
        self.sent: list[OutboundRequest] = []

    def send(self, request: OutboundRequest) -> GatewayResponse:
        self.sent.append(request)
        request_type = default_catalog().get(request.kind)
        assert request_type is not None
        date, digest = format_time(NOW), body_digest(self.body)
        message = response_message(method="POST", path=request_type.path, status=self.status, date=date,
                                   nonce=request.headers[NONCE_HEADER], digest=digest)
        headers = {DATE_HEADER.lower(): date, DIGEST_HEADER.lower(): digest, KEY_ID_HEADER.lower(): "test-kid",
                   SIGNATURE_HEADER.lower(): b64(SERVER_KEY.sign(message))}
        return GatewayResponse(status=self.status, headers=headers, body=self.body, method="POST",
                               path=request_type.path)


@pytest.fixture
def secrets(tmp_path: Path, memory_keyring: MemoryKeyring) -> SecretStore:
    return open_secret_store(tmp_path / "secrets.json")


def engine_for(server: SigningServer, secrets: SecretStore, tmp_path: Path) -> LicensingEngine:
    identity = MachineIdentity(version="v1", fingerprint=FINGERPRINT, environment="physical", os_family="Linux")
    return LicensingEngine(EngineConfig(
        sender=lambda: server, secrets=lambda: secrets, state_file=tmp_path / "license.json", keys=TRUSTED,
        identity=lambda: identity, now=lambda: NOW, check_interval=timedelta(days=1), describe=str))


@pytest.mark.parametrize("answer", [
    {"machine_id": "m_1"}, {"machine_id": "m_1", "lease": "a lease"}, {"machine_id": "m_1", "lease": {"kid": 7}},
    {"lease": {"format": "x"}}, [], "activated",
])
def test_a_signed_activation_answer_of_the_wrong_shape_is_offline_and_stores_nothing(
        answer: object, secrets: SecretStore, tmp_path: Path) -> None:
    server = SigningServer(200, answer)
    engine = engine_for(server, secrets, tmp_path)
    with pytest.raises(errors.MalformedAnswer):
        engine.activate(generate_key())
    assert server.sent and engine.load().lease is None and secrets.get("license_key") is None


@pytest.mark.parametrize("code", sorted(DENIAL_CODES))
def test_each_denial_code_is_its_own_error_with_the_declared_details(
        code: str, secrets: SecretStore, tmp_path: Path) -> None:
    server = SigningServer(403, {"error": {"code": code, "message": "no", "seats_used": 2, "seats_total": 2,
                                           "expires_at": "2026-05-01T00:00:00Z", "shoe_size": 44}})
    with pytest.raises(errors.LicenseDenied) as denied:
        engine_for(server, secrets, tmp_path).deactivate_with_key(generate_key(), "m_1a2b")
    assert type(denied.value) is errors.DENIALS[code] and denied.value.code == code
    assert denied.value.detail == {"seats_used": 2, "seats_total": 2, "expires_at": "2026-05-01T00:00:00Z"}
    assert denied.value.signed_at == NOW


def test_the_client_knows_exactly_the_denial_codes_of_the_wire() -> None:
    assert set(errors.DENIALS) == DENIAL_CODES


@pytest.mark.parametrize(("status", "answer", "expected"), [
    (429, {"error": {"code": "rate_limited", "retry_after": 30}}, errors.RateLimited),
    (429, {"error": {"code": "rate_limited", "retry_after": "soon"}}, errors.MalformedAnswer),
    (403, {"error": "denied"}, errors.MalformedAnswer),
    (403, {"error": {"message": "no code"}}, errors.MalformedAnswer),
    (400, {"error": {"code": "from_a_newer_server"}}, errors.ProtocolMismatch),
    (200, {"machines": "none"}, errors.MalformedAnswer),
    (200, {"machines": [{"machine_id": "m_1"}], "seats_used": 1, "seats_total": 2}, errors.MalformedAnswer),
])
def test_refusals_and_answers_are_read_through_their_messages(
        status: int, answer: object, expected: type[Exception], secrets: SecretStore, tmp_path: Path) -> None:
    with pytest.raises(expected) as caught:
        engine_for(SigningServer(status, answer), secrets, tmp_path).machines(generate_key())
    if isinstance(caught.value, errors.RateLimited):
        assert caught.value.retry_after == 30


def test_a_good_machine_list_is_returned_as_sent(secrets: SecretStore, tmp_path: Path) -> None:
    row = {"machine_id": "m_1", "label": "Studio", "os": "Linux", "environment": "vm",
           "activated_at": "2026-05-01T00:00:00Z", "last_seen_at": "2026-05-02T00:00:00Z", "this_machine": True}
    server = SigningServer(200, {"machines": [row], "seats_used": 1, "seats_total": 2})
    key = generate_key()
    assert engine_for(server, secrets, tmp_path).machines(key)["machines"] == [row]
    assert server.sent[0].body == {"key": key, "fingerprint": FINGERPRINT}
