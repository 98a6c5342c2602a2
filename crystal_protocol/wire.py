"""Names and codes on the wire, protocol v1."""

from __future__ import annotations

from typing import Literal, get_args

API_PREFIX = "/v1"

#: Header carrying the client's one-time nonce; the server echoes it inside the signed response.
NONCE_HEADER = "X-Crystal-Nonce"

#: Every error code (the server's ``Denied`` takes only these; mypy checks each one spelled).
ErrorCode = Literal["bad_request", "not_found", "rate_limited", "internal", "invalid_key", "license_not_found",
                    "revoked", "expired", "seat_limit", "machine_not_found", "bad_document"]
#: The codes that are denials: when correctly signed they change the license state.
DenialCode = Literal["license_not_found", "revoked", "expired", "seat_limit", "machine_not_found"]

#: JSON error envelope: ``{"error": {"code": CODE, "message": TEXT}}``. Codes and what they mean:
ERROR_CODES: dict[ErrorCode, str] = {
    "bad_request": "The request is malformed or misses a required field.",
    "not_found": "No such resource.",
    "rate_limited": "Too many attempts; retry after the number of seconds in Retry-After.",
    "internal": "The server failed; nothing was changed.",
    "invalid_key": "The license key is malformed (its check group does not match).",
    "license_not_found": "No license has this key.",
    "revoked": "The license was revoked by the vendor.",
    "expired": "The subscription ended or was cancelled, and no trial is left.",
    "seat_limit": "Every seat of the license is used by other machines; deactivate one first.",
    "machine_not_found": "This machine (or the one named) is not activated on the license.",
    "bad_document": "An offline request, response or proof file is malformed or badly signed.",
}

#: Error codes that are denials (the client's denial errors are one per code: licensing/errors.DENIALS).
DENIAL_CODES: frozenset[DenialCode] = frozenset(get_args(DenialCode))

#: Licensing endpoints (all POST with a JSON body; the key never goes in a URL).
LICENSE_PATHS: dict[str, str] = {
    "activate": f"{API_PREFIX}/licenses/activate",
    "validate": f"{API_PREFIX}/licenses/validate",
    "deactivate": f"{API_PREFIX}/licenses/deactivate",
    "machines": f"{API_PREFIX}/licenses/machines",
    "access": f"{API_PREFIX}/licenses/access",
    "delete": f"{API_PREFIX}/licenses/delete",
    "offline_answer": f"{API_PREFIX}/licenses/offline/answer",
}
