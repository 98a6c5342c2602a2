"""The welcome says exactly what an activation sends, in plain words taken from the data catalog."""

from __future__ import annotations

from pytestqt.qtbot import QtBot

from crystal_manager.gui.dialogs.welcome import WelcomeDialog
from crystal_manager.privacy.catalog import default_catalog, sent_in_words
from crystal_manager.services.privacy_words import sends_items
from tests.gui.conftest import MakeApp
from tests.support.fake_license import STATES


def test_the_welcome_names_everything_an_activation_sends(qtbot: QtBot) -> None:
    dialog = WelcomeDialog(needs_activation=True)
    qtbot.addWidget(dialog)
    text = dialog.sends.text()
    catalog = default_catalog()
    activate = catalog.get("license_activate")
    assert activate is not None
    words = sends_items(catalog, "license_activate")  # the core's words: each thing once
    assert all(word[1:] in text for word in words)
    # Readable: one item per datum under a lead-in line, not one run-on sentence.
    assert text.count("<li>") == len(words) and "; and" not in text
    # Every datum an activation carries (beyond HTTP's own machinery) is in the list.
    assert {spec.name for spec in activate.fields if not spec.plain} == set()
    assert "your license key" in words and "a random one-time number" in words
    assert "host" not in text.lower() and "cpu" not in text.lower()


def test_the_welcome_and_the_privacy_page_give_the_same_count_for_a_check(qtbot: QtBot) -> None:
    """The welcome lists what an ACTIVATION sends and says so; the daily check's count is the Privacy
    page's number (both from sent_in_words over the same catalog)."""
    from crystal_manager.gui.pages.privacy_rows import summary_html

    dialog = WelcomeDialog(needs_activation=True)
    qtbot.addWidget(dialog)
    catalog = default_catalog()
    activate, validate = catalog.get("license_activate"), catalog.get("license_validate")
    assert activate is not None and validate is not None
    n_activate, n_check = len(sent_in_words(activate, catalog)), len(sent_in_words(validate, catalog))
    text = dialog.sends.text()
    assert f"To activate, it sends the CrystalMe3D Pro server these {n_activate} things:" in text
    assert f"the license check (about once a day) sends {n_check} of them" in text
    assert f"it sends {n_check} things:" in summary_html(catalog, [])  # the Privacy page's words
    assert "To check the license it sends" not in text  # the old lead-in put the activation list under it


def test_an_open_welcome_follows_the_license(make_app: MakeApp, qtbot: QtBot) -> None:
    """A not-activated computer's welcome offers "Activate now…"; if the license becomes active while it
    is open (a terminal activation), only Close is left — and back again."""
    app, fake, _probe = make_app("not_activated", welcome_done=False)
    qtbot.waitUntil(lambda: isinstance(app.welcome, WelcomeDialog) and app.welcome.isVisible())
    welcome = app.welcome
    assert isinstance(welcome, WelcomeDialog)
    assert welcome.activate_button.isVisibleTo(welcome) and not welcome.close_button.isVisibleTo(welcome)
    fake.current = STATES["active"]
    app.license.refresh()
    qtbot.waitUntil(lambda: welcome.close_button.isVisibleTo(welcome))
    assert not welcome.activate_button.isVisibleTo(welcome) and not welcome.later_button.isVisibleTo(welcome)
    fake.current = STATES["not_activated"]
    app.license.refresh()
    qtbot.waitUntil(lambda: welcome.activate_button.isVisibleTo(welcome))
