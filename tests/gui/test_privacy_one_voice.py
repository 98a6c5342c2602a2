"""The Privacy page speaks with the core's words: the summary lists what a license check sends exactly as
``services.privacy_words.license_check_items`` does (the Welcome's list too), each thing once."""

from __future__ import annotations

from PySide6.QtGui import QTextDocumentFragment
from pytestqt.qtbot import QtBot

from crystal_manager.gui.dialogs.welcome import activation_in_words, check_count
from crystal_manager.gui.pages.privacy_page import PrivacyPage
from crystal_manager.privacy.catalog import default_catalog
from crystal_manager.services.privacy_words import license_check_items, sends_items


def plain(html: str) -> str:
    """Rich text as a person reads it."""
    return QTextDocumentFragment.fromHtml(html).toPlainText()


def test_the_summary_counts_and_names_the_core_list_each_thing_once(qtbot: QtBot) -> None:
    page = PrivacyPage()
    qtbot.addWidget(page)
    text = plain(page.summary.text())
    items = license_check_items(default_catalog())
    assert f"it sends {len(items)} things: " + "; ".join(items) + "." in text, text
    _lead, _, listed = text.partition("things: ")
    assert listed.split("\n")[0].count("operating system family") == 1, text


def test_the_welcome_lists_the_core_words_too(qtbot: QtBot) -> None:
    catalog = default_catalog()
    words = activation_in_words()
    assert words == sends_items(catalog, "license_activate")
    assert sum("operating system family" in word for word in words) == 1, words
    assert check_count() == len(license_check_items(catalog))
    assert set(license_check_items(catalog)) <= set(words)
