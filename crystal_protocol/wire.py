"""Names and codes on the wire, protocol v1."""

from __future__ import annotations

API_PREFIX = "/v1"

#: Header carrying the client's one-time nonce; the server echoes it inside the signed response.
NONCE_HEADER = "X-Crystal-Nonce"

#: JSON error envelope: ``{"error": {"code": CODE, "message": TEXT}}``. Codes and what they mean:
ERROR_CODES: dict[str, str] = {
    "bad_request": "The request is malformed or misses a required field.",
    "not_found": "No such resource.",
    "rate_limited": "Too many attempts; retry after the number of seconds in Retry-After.",
    "internal": "The server failed; nothing was changed.",
}
