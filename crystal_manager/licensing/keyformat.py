"""Local check of a typed license key (format and check group) before anything is sent."""

from __future__ import annotations

from crystal_manager.licensing.errors import KeyFormatError
from crystal_protocol.licensekey import KeyProblem, parse_key


def normalize_key(text: str) -> str:
    """The canonical ``CM3D-…`` key; KeyFormatError says what is wrong (typo, length, character)."""
    try:
        return parse_key(text)
    except KeyProblem as exc:
        raise KeyFormatError(str(exc), exc.reason) from None


def hint(key: str) -> str:
    """Last four characters of a canonical key."""
    return key[-4:]
