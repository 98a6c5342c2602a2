"""The count in a wrong-length key's message is the characters after CM3D-, without dashes (finding 6)."""

from __future__ import annotations

import pytest

from crystal_manager.licensing.errors import KeyFormatError
from crystal_manager.services.key_words import checked_key, key_error_words


@pytest.mark.parametrize(("typed", "count"), [
    ("CM3D-AAAAA", 5),
    ("CM3D-AAAAA-BBBBB", 10),
    ("cm3d aaaaa bbbbb ccccc", 15),
    ("CM3D-AAAAA-BBBBB-CCCCC-DDDDD-E", 21),
])
def test_wrong_length_counts_characters_after_the_prefix(typed: str, count: int) -> None:
    with pytest.raises(KeyFormatError) as caught:
        checked_key(typed)
    words = key_error_words(caught.value)
    assert f"this one has {count}:" in words, words
