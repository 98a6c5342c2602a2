"""The words for a mistyped license key, one wording for every face (CLI, License page, activation dialog).

The key's last group is a checksum over the whole key, so a typo anywhere shows as a mismatch: the words
never claim the typo is in the last group."""

from __future__ import annotations

from crystal_manager.licensing.errors import KeyFormatError
from crystal_manager.licensing.keyformat import normalize_key
from crystal_protocol.licensekey import PREFIX

#: A full-length key whose checksum does not match (a typo somewhere).
TYPO_WORDS = "This key has a typo — check it against your purchase e-mail"
#: Input that is no license key at all (it does not start with the prefix and is not a key's length).
NOT_A_KEY_WORDS = f"this doesn't look like a license key (they start with {PREFIX}-)"


def key_error_words(exc: KeyFormatError) -> str:
    """What is wrong with a typed key, in one clause (no full stop)."""
    if exc.reason == "checksum":
        return TYPO_WORDS
    return str(exc)


def checked_key(text: str) -> str:
    """The canonical key for ``text``, checked locally before anything is sent; KeyFormatError in plain words
    otherwise (``reason`` "not_a_key" when the input does not even start like a key)."""
    try:
        return normalize_key(text)
    except KeyFormatError as exc:
        compact = "".join(c for c in text.upper() if c.isalnum())
        if exc.reason in ("length", "character") and compact and not compact.startswith(PREFIX):
            raise KeyFormatError(NOT_A_KEY_WORDS, "not_a_key") from None
        raise
