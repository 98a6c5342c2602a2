"""CLI words without our terms (finding 13): systems in words, no machine ID in text, no nested brackets."""

from __future__ import annotations

import pytest

from crystal_manager.cli.commands.license import license_lines, system_words
from crystal_manager.privacy.texts import KEYRING_ENTRIES
from crystal_manager.services.status import LicenseStatus


@pytest.mark.parametrize(("os_name", "environment", "words"), [
    ("Linux", "container", "Linux (in a container)"),
    ("Windows", "vm", "Windows (in a virtual machine)"),
    ("macOS", "physical", "macOS"),
    (None, None, ""),
])
def test_system_words(os_name: str | None, environment: str | None, words: str) -> None:
    assert system_words(os_name, environment) == words


def test_text_lines_do_not_show_the_machine_id() -> None:
    status = LicenseStatus(state="active", machine_id="m_69b99d4832f2")
    text = "\n".join(license_lines(status))
    assert "m_69b99d4832f2" not in text and "Machine:" not in text


def test_keyring_words_have_no_brackets_inside_brackets() -> None:
    for _name, what in KEYRING_ENTRIES[:2]:
        assert "(" not in what, what
