"""License keys: ``CM3D-XXXXX-XXXXX-XXXXX-CCCCC``, Crockford base32, the last group a check group.

The body is 15 random base32 characters (75 bits); the check group is the first 25 bits of SHA-256 over
the body, so a typo (any substitution, transposition, missing or extra character) is caught on the
user's machine before anything is sent, with a miss chance of 1 in 33 million. Input is forgiving:
case, spaces, dashes and the look-alikes O→0, I/L→1 do not matter; the prefix may be omitted.
"""

from __future__ import annotations

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
PREFIX = "CM3D"
GROUP_LEN = 5
BODY_GROUPS = 3
BODY_LEN = GROUP_LEN * BODY_GROUPS
KEY_CHARS = BODY_LEN + GROUP_LEN
MAX_INPUT = 200
_LOOKALIKE = {"O": "0", "I": "1", "L": "1"}
_SEPARATORS = frozenset(" -\t\u2010\u2011\u2012\u2013\u2014\u2212_")


class KeyProblem(ValueError):
    """The text is not a well-formed key; ``reason`` is one of empty, length, character, checksum."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def _check_group(body: str) -> str:
    import hashlib  # here, not at the top: the app reads keys rarely, and OpenSSL costs ~3.5 MiB

    digest = hashlib.sha256(b"crystal-license-key-check-v1:" + body.encode("ascii")).digest()
    bits = int.from_bytes(digest[:4], "big") >> (32 - 5 * GROUP_LEN)
    return "".join(ALPHABET[(bits >> (5 * (GROUP_LEN - 1 - i))) & 31] for i in range(GROUP_LEN))


def _format(chars: str) -> str:
    groups = [chars[i:i + GROUP_LEN] for i in range(0, len(chars), GROUP_LEN)]
    return "-".join([PREFIX, *groups])


def parse_key(text: str) -> str:
    """The canonical key for ``text``; raise :class:`KeyProblem` saying what is wrong."""
    if len(text) > MAX_INPUT:
        raise KeyProblem("length", f"that is {len(text)} characters; a license key is {len(_format('0' * KEY_CHARS))}")
    kept: list[tuple[int, str]] = []
    for position, char in enumerate(text, start=1):
        if char in _SEPARATORS or char.isspace():
            continue
        kept.append((position, char.upper()))
    if not kept:
        raise KeyProblem("empty", "no license key was entered")
    joined = "".join(c for _, c in kept)
    # A key's body may itself start with the prefix's letters, so a full-length input is kept as is; any
    # other length cannot be a key either way, and the prefix is dropped so the count below says how many
    # characters follow it ("CM3D-AAAAA" has 5, not 9).
    if joined.startswith(PREFIX) and len(kept) != KEY_CHARS:
        kept = kept[len(PREFIX):]
    chars: list[str] = []
    for position, typed in kept:
        char = _LOOKALIKE.get(typed, typed)
        if char not in ALPHABET:
            raise KeyProblem("character", f"character {typed!r} (position {position}) never appears in a license key")
        chars.append(char)
    if len(chars) != KEY_CHARS:
        raise KeyProblem("length", f"a license key has {KEY_CHARS} characters after {PREFIX}-, this one has "
                                   f"{len(chars)}: a character is missing or extra")
    body, check = "".join(chars[:BODY_LEN]), "".join(chars[BODY_LEN:])
    if _check_group(body) != check:
        raise KeyProblem("checksum", "the key has a typo: its last group does not match the rest; "
                                     "check each character")
    return _format(body + check)


def generate_key() -> str:
    """A new random key (75 random bits plus the check group)."""
    import secrets

    body = "".join(secrets.choice(ALPHABET) for _ in range(BODY_LEN))
    return _format(body + _check_group(body))


def key_digest(key: str) -> str:
    """SHA-256 of the canonical key: what the server stores and offline request files carry."""
    import hashlib

    return hashlib.sha256(b"crystal-license-key-v1:" + parse_key(key).encode("ascii")).hexdigest()


def key_hint(key: str) -> str:
    """The last four characters, the only part of a key ever shown or stored in the clear."""
    return parse_key(key)[-4:]
