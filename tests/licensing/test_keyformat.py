"""The license key parser: forgiving input, typos caught locally, nothing escapes but KeyFormatError."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crystal_manager.licensing.errors import KeyFormatError
from crystal_manager.licensing.keyformat import normalize_key
from crystal_protocol.licensekey import ALPHABET, KEY_CHARS, generate_key, key_digest, key_hint


def test_generated_keys_parse_to_themselves() -> None:
    for _ in range(50):
        key = generate_key()
        assert normalize_key(key) == key
        assert len(key) == len("CM3D-") + KEY_CHARS + 3


def test_input_is_forgiving() -> None:
    key = generate_key()
    body = key.removeprefix("CM3D-")
    assert normalize_key(body.lower()) == key
    assert normalize_key("  " + key.replace("-", " ") + "\n") == key
    assert normalize_key(key.replace("-", "")) == key
    assert normalize_key(key.replace("-", "\u2013")) == key  # an en dash pasted from a mail
    if "0" in body:
        assert normalize_key(key.replace("0", "O")) == key
    if "1" in body:
        assert normalize_key(key.replace("1", "l")) == key


@pytest.mark.parametrize(("text", "reason"), [
    ("", "empty"), ("   - -", "empty"), ("CM3D-ABCDE", "length"), ("x" * 500, "length"),
    ("CM3D-UUUUU-AAAAA-BBBBB-CCCCC", "character"), ("CM3D-AB#DE-AAAAA-BBBBB-CCCCC", "character"),
])
def test_bad_input_says_what_is_wrong(text: str, reason: str) -> None:
    with pytest.raises(KeyFormatError) as caught:
        normalize_key(text)
    assert caught.value.reason == reason
    assert str(caught.value)


def test_every_single_substitution_is_caught() -> None:
    key = generate_key()
    chars = list(key.removeprefix("CM3D-").replace("-", ""))
    caught = 0
    total = 0
    for index, original in enumerate(chars):
        for replacement in ALPHABET:
            if replacement == original:
                continue
            typo = chars.copy()
            typo[index] = replacement
            total += 1
            try:
                normalize_key("".join(typo))
            except KeyFormatError as exc:
                assert exc.reason == "checksum"
                caught += 1
    # A 25-bit check misses about 1 in 33 million: over 620 typos, none should slip through.
    assert caught == total


def test_adjacent_transpositions_are_caught() -> None:
    key = generate_key()
    chars = list(key.removeprefix("CM3D-").replace("-", ""))
    for index in range(len(chars) - 1):
        if chars[index] == chars[index + 1]:
            continue
        swapped = chars.copy()
        swapped[index], swapped[index + 1] = swapped[index + 1], swapped[index]
        with pytest.raises(KeyFormatError):
            normalize_key("".join(swapped))


def test_digest_and_hint_do_not_contain_the_key() -> None:
    key = generate_key()
    assert key_hint(key) == key[-4:]
    assert key.replace("-", "")[:10] not in key_digest(key)
    assert key_digest(key.lower()) == key_digest(key)


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=300))
def test_only_key_format_errors_escape(text: str) -> None:
    try:
        key = normalize_key(text)
    except KeyFormatError:
        return
    assert normalize_key(key) == key


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=ALPHABET + "-OIL oil", min_size=15, max_size=40))
def test_near_keys_parse_or_fail_cleanly(text: str) -> None:
    try:
        key = normalize_key(text)
    except KeyFormatError as exc:
        assert exc.reason in ("empty", "length", "character", "checksum")
        return
    assert key.startswith("CM3D-")
