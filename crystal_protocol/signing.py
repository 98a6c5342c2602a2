"""How answers and documents are signed (Ed25519); the byte strings both sides sign and verify.

Response signature: the server signs ``response_message(method, path, status, date, nonce, digest)``
and sends the date, digest, key id and signature in the headers below. Signed documents (leases,
offline answers, deactivation proofs) are JSON objects carrying their payload as a string, so the
exact signed bytes travel and are stored unchanged.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

DATE_HEADER = "X-Crystal-Date"
DIGEST_HEADER = "X-Crystal-Digest"
KEY_ID_HEADER = "X-Crystal-Key-Id"
SIGNATURE_HEADER = "X-Crystal-Signature"
#: An answer whose signed date is further than this from the client's clock is stale.
MAX_SKEW_SECONDS = 300
DOCUMENT_FORMAT = "crystal-signed-v1"
MAX_DOCUMENT_BYTES = 64 * 1024


class DocumentProblem(ValueError):
    """A signed document or timestamp is malformed."""


def b64(data: bytes) -> str:
    """Standard base64 text."""
    return base64.b64encode(data).decode("ascii")


def unb64(text: str) -> bytes:
    """Decode strict base64; DocumentProblem if it is not."""
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError) as exc:
        raise DocumentProblem("not base64") from exc


def body_digest(body: bytes) -> str:
    """``sha-256=<base64>`` of the exact body bytes."""
    import hashlib  # here: loading OpenSSL costs ~3.5 MiB, and reading dates needs none of it

    return "sha-256=" + b64(hashlib.sha256(body).digest())


def response_message(*, method: str, path: str, status: int, date: str, nonce: str, digest: str) -> bytes:
    """The bytes a response signature covers."""
    return "\n".join(["crystal-response-v1", method.upper(), path, str(status), date, nonce, digest]).encode()


def document_message(kind: str, payload: str) -> bytes:
    """The bytes a document signature covers: the type is bound so one kind cannot pass as another."""
    return b"crystal-document-v1\n" + kind.encode() + b"\n" + payload.encode("utf-8")


def canonical_json(value: Any) -> str:
    """Deterministic JSON text (sorted keys, no spaces)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def format_time(moment: datetime) -> str:
    """``2025-01-31T12:00:00Z``: UTC, whole seconds."""
    return moment.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: object) -> datetime:
    """Parse :func:`format_time` output strictly; DocumentProblem otherwise."""
    if not isinstance(text, str) or len(text) != 20 or not text.endswith("Z"):
        raise DocumentProblem(f"not a UTC timestamp: {str(text)[:40]!r}")
    try:
        return _parse_utc(text)
    except ValueError as exc:
        raise DocumentProblem(f"not a UTC timestamp: {text!r}") from exc


@lru_cache(maxsize=256)
def _parse_utc(text: str) -> datetime:
    # Remembered: the server reads the same few dates of a license several times per validation, and
    # strptime is ~15 us each (P8 in docs/performance.md). A failure raises and is not remembered.
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def make_document(kind: str, payload: dict[str, Any], kid: str, sign: Any) -> dict[str, str]:
    """A signed document; ``sign(message) -> signature bytes``."""
    text = canonical_json({**payload, "type": kind})
    return {"format": DOCUMENT_FORMAT, "type": kind, "payload": text, "kid": kid,
            "sig": b64(sign(document_message(kind, text)))}


def split_document(doc: object, kind: str) -> tuple[str, str, bytes, bytes]:
    """Check a document's shape: (kid, payload text, signed message, signature). Verification is the caller's."""
    if not isinstance(doc, dict):
        raise DocumentProblem("a signed document is a JSON object")
    if doc.get("format") != DOCUMENT_FORMAT:
        raise DocumentProblem("not a crystal signed document")
    if doc.get("type") != kind:
        raise DocumentProblem(f"expected a {kind} document, got {str(doc.get('type'))[:40]!r}")
    payload, kid, sig = doc.get("payload"), doc.get("kid"), doc.get("sig")
    if not isinstance(payload, str) or not isinstance(kid, str) or not isinstance(sig, str):
        raise DocumentProblem("document fields payload, kid and sig must be strings")
    if len(payload) > MAX_DOCUMENT_BYTES:
        raise DocumentProblem("document payload too large")
    return kid, payload, document_message(kind, payload), unb64(sig)


def payload_of(text: str, kind: str) -> dict[str, Any]:
    """Parse a verified payload and check it says the same type."""
    try:
        value = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise DocumentProblem("payload is not JSON") from exc
    if not isinstance(value, dict) or value.get("type") != kind:
        raise DocumentProblem("payload type does not match the document")
    return value
