"""The welcome says exactly what an activation sends, in plain words taken from the data catalog."""

from __future__ import annotations

from pytestqt.qtbot import QtBot

from crystal_manager.gui.dialogs.welcome import WelcomeDialog
from crystal_manager.privacy.catalog import default_catalog, sent_in_words


def test_the_welcome_names_everything_an_activation_sends(qtbot: QtBot) -> None:
    dialog = WelcomeDialog(needs_activation=True)
    qtbot.addWidget(dialog)
    text = dialog.sends.text()
    catalog = default_catalog()
    activate = catalog.get("license_activate")
    assert activate is not None
    words = sent_in_words(activate, catalog)
    assert all(word[1:] in text for word in words)
    # Readable: one item per datum under a lead-in line, not one run-on sentence.
    assert text.count("<li>") == len(words) and "; and" not in text
    # Every datum an activation carries (beyond HTTP's own machinery) is in the list.
    assert {spec.name for spec in activate.fields if not spec.plain} == set()
    assert "your license key" in words and "a random one-time number" in words
    assert "host" not in text.lower() and "cpu" not in text.lower()
