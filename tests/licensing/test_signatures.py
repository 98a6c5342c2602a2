"""The response parser: hypothesis throws arbitrary answers at it; only "offline" errors may escape."""

from __future__ import annotations

from datetime import UTC, datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hypothesis import given, settings
from hypothesis import strategies as st

from crystal_manager.licensing.errors import LicensingOffline
from crystal_manager.licensing.signatures import verify_answer
from crystal_manager.net.request import GatewayResponse
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

PRIVATE = Ed25519PrivateKey.generate()
KEYS = {"k1": PRIVATE.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)}
NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
PATH = "/v1/licenses/validate"


def signed(status: int, body: bytes, nonce: str = "nonce-123456") -> dict[str, str]:
    date, digest = format_time(NOW), body_digest(body)
    message = response_message(method="POST", path=PATH, status=status, date=date, nonce=nonce, digest=digest)
    return {DATE_HEADER.lower(): date, DIGEST_HEADER.lower(): digest, KEY_ID_HEADER.lower(): "k1",
            SIGNATURE_HEADER.lower(): b64(PRIVATE.sign(message))}


def test_a_genuine_answer_verifies() -> None:
    body = b'{"machine_id": "m_1"}'
    answer = verify_answer(GatewayResponse(200, signed(200, body), body, "POST", PATH), nonce="nonce-123456",
                           keys=KEYS, now=NOW)
    assert answer.data == {"machine_id": "m_1"} and answer.signed_at == NOW


header_values = st.one_of(st.text(max_size=120), st.sampled_from(["k1", "sha-256=", format_time(NOW), "AAAA"]))


@settings(max_examples=300, deadline=None)
@given(status=st.integers(100, 599), body=st.binary(max_size=300),
       headers=st.dictionaries(st.sampled_from([DATE_HEADER.lower(), DIGEST_HEADER.lower(), KEY_ID_HEADER.lower(),
                                                SIGNATURE_HEADER.lower(), "content-type", "retry-after",
                                                "x-crystal-nonce"]), header_values))
def test_arbitrary_answers_only_raise_offline(status: int, body: bytes, headers: dict[str, str]) -> None:
    try:
        verify_answer(GatewayResponse(status, headers, body, "POST", PATH), nonce="nonce-123456", keys=KEYS, now=NOW)
    except LicensingOffline:
        return
    raise AssertionError("an unsigned or garbage answer was accepted")


@settings(max_examples=200, deadline=None)
@given(body=st.binary(max_size=200), flip=st.integers(0, 10_000), status=st.sampled_from([200, 403, 404]))
def test_any_change_to_a_signed_answer_is_rejected(body: bytes, flip: int, status: int) -> None:
    headers = signed(status, body)
    if body:
        index = flip % len(body)
        changed = body[:index] + bytes([body[index] ^ 1]) + body[index + 1:]
    else:
        changed = b" "
    try:
        verify_answer(GatewayResponse(status, headers, changed, "POST", PATH), nonce="nonce-123456", keys=KEYS,
                      now=NOW)
    except LicensingOffline:
        return
    raise AssertionError("an altered answer was accepted")


@settings(max_examples=100, deadline=None)
@given(body=st.binary(max_size=200))
def test_genuine_signature_with_garbage_body_fails_cleanly(body: bytes) -> None:
    try:
        answer = verify_answer(GatewayResponse(200, signed(200, body), body, "POST", PATH), nonce="nonce-123456",
                               keys=KEYS, now=NOW)
    except LicensingOffline:
        return
    assert isinstance(answer.data, dict)  # accepted only when it is a signed JSON object
