"""The machine's name: optional, trimmed, bounded as the server bounds it, no control characters."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crystal_manager.licensing.errors import MachineLabelError
from crystal_manager.licensing.label import clean_label
from crystal_protocol.labels import MAX_MACHINE_LABEL


@pytest.mark.parametrize(("text", "expected"), [
    (None, None), ("", None), ("   ", None), ("  Studio PC ", "Studio PC"), ("Büro — Mac", "Büro — Mac"),
    ("x" * MAX_MACHINE_LABEL, "x" * MAX_MACHINE_LABEL),
])
def test_accepted_names(text: str | None, expected: str | None) -> None:
    assert clean_label(text) == expected


@pytest.mark.parametrize("text", ["x" * (MAX_MACHINE_LABEL + 1), "two\nlines", "tab\there", "bell\a", "nul\0"])
def test_refused_names(text: str) -> None:
    with pytest.raises(MachineLabelError):
        clean_label(text)


@given(st.text(max_size=200))
def test_whatever_is_accepted_is_what_the_server_stores(text: str) -> None:
    try:
        label = clean_label(text)
    except MachineLabelError:
        return
    # The server keeps printable characters of at most MAX_MACHINE_LABEL: an accepted name arrives unchanged.
    assert label is None or (len(label) <= MAX_MACHINE_LABEL and label.isprintable() and label == label.strip())
