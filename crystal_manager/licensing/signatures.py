"""Verify signed answers and signed documents. Anything that does not verify is "no answer" (offline).

The trusted public keys come from the profile (trust anchors), looked up by key id; never from the server.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from crystal_manager.licensing.errors import (
    BadSignature,
    CaptivePortal,
    MalformedAnswer,
    RateLimited,
    ReplayedAnswer,
    ServerFailed,
    UnknownSigningKey,
    UnsignedAnswer,
    WrongPathAnswer,
)
from crystal_manager.net.request import GatewayResponse
from crystal_protocol.signing import (
    DATE_HEADER,
    DIGEST_HEADER,
    KEY_ID_HEADER,
    SIGNATURE_HEADER,
    DocumentProblem,
    body_digest,
    parse_time,
    response_message,
    unb64,
)
from crystal_protocol.wire import LICENSE_PATHS, NONCE_HEADER


@dataclass(frozen=True)
class VerifiedAnswer:
    """A response whose signature, digest, nonce, path and date all checked out."""

    status: int
    data: dict[str, Any]
    signed_at: datetime  # the server's signed time: the time for every date decided online
    received_at: datetime  # this computer's clock when the answer was checked (for the clock's offset)


def new_nonce() -> str:
    """A one-time value for one request (128 random bits)."""
    import secrets  # hmac, hence OpenSSL: only when a request is made

    return secrets.token_urlsafe(16)


def check_signature(keys: Mapping[str, bytes], kid: str, signature: bytes, message: bytes) -> bool:
    """True if ``signature`` over ``message`` verifies with the trusted key ``kid``; UnknownSigningKey if absent."""
    public = keys.get(kid)
    if public is None:
        raise UnknownSigningKey(f"signed with key {kid[:20]!r}, which this app does not trust")
    # Imported here: cryptography costs ~7 MiB, and a start with nothing signed to check needs none of it.
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        Ed25519PublicKey.from_public_bytes(public).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


def _retry_after(response: GatewayResponse) -> int | None:
    value = response.header("retry-after")
    return int(value) if value is not None and value.strip().isdigit() and len(value) < 8 else None


def _unsigned(response: GatewayResponse) -> Exception:
    """Say what an unsigned answer most likely was."""
    kind = (response.header("content-type") or "").lower()
    head = response.body[:512].lstrip().lower()
    if response.status == 429:
        wait = _retry_after(response)
        return RateLimited(f"the server is busy (HTTP 429){f'; retry in {wait} s' if wait else ''}", wait)
    if "html" in kind or head.startswith((b"<!doctype html", b"<html")):
        return CaptivePortal(f"a web page came back instead of the licensing answer (HTTP {response.status})")
    if response.status >= 500:
        return ServerFailed(f"the server failed (HTTP {response.status})", response.status)
    try:
        json.loads(response.body)
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: deep nesting
        return MalformedAnswer(f"the answer is not licensing data (HTTP {response.status}, not JSON)")
    return UnsignedAnswer(f"the answer (HTTP {response.status}) carries no signature")


def verify_answer(response: GatewayResponse, *, nonce: str, keys: Mapping[str, bytes],
                  now: datetime) -> VerifiedAnswer:
    """Check a licensing answer; raise an UntrustedAnswer/ServerTrouble (both "offline") if it fails.
    ``now`` is the local clock, kept with the answer only to measure the clock's offset."""
    date, digest = response.header(DATE_HEADER), response.header(DIGEST_HEADER)
    kid, sig_text = response.header(KEY_ID_HEADER), response.header(SIGNATURE_HEADER)
    if not (date and digest and kid and sig_text):
        raise _unsigned(response)
    try:
        signature = unb64(sig_text)
    except DocumentProblem as exc:
        raise BadSignature("the signature header is not base64") from exc
    if body_digest(response.body) != digest:
        raise BadSignature("the body does not match its signed digest (altered on the way)")

    def message(path: str, with_nonce: str) -> bytes:
        return response_message(method=response.method, path=path, status=response.status, date=date,
                                nonce=with_nonce, digest=digest)

    if not check_signature(keys, kid, signature, message(response.path, nonce)):
        echoed = response.header(NONCE_HEADER)
        if echoed is not None and echoed != nonce and check_signature(keys, kid, signature,
                                                                      message(response.path, echoed)):
            raise ReplayedAnswer("the answer was signed for an earlier request (replayed)")
        for other in LICENSE_PATHS.values():
            if other != response.path and check_signature(keys, kid, signature, message(other, nonce)):
                raise WrongPathAnswer(f"the answer was signed for {other}, not {response.path}")
        raise BadSignature("the signature does not match this request and answer")
    try:
        signed_at = parse_time(date)
    except DocumentProblem as exc:
        raise BadSignature("the signed date is malformed") from exc
    # No check against the local clock: the signature covers this request's one-time nonce, so the answer
    # is fresh whatever the clock says (a wrong clock only earns a warning; see licensing/clock.py).
    try:
        data = json.loads(response.body)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise MalformedAnswer("the signed answer is not JSON") from exc
    if not isinstance(data, dict):
        raise MalformedAnswer("the signed answer is not a JSON object")
    return VerifiedAnswer(status=response.status, data=data, signed_at=signed_at, received_at=now)
