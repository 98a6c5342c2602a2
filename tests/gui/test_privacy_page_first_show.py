"""The Privacy page lays its content out when it is first shown, not when the window is built: a window
opened on another page (or kept in the tray) never measures it; shown, the page scrolls as before."""

from __future__ import annotations

from pytestqt.qtbot import QtBot

from crystal_manager.gui.pages.privacy_page import PrivacyPage
from crystal_manager.privacy.catalog import default_catalog
from tests.gui.conftest import MakeApp


def test_the_content_goes_into_the_scroll_area_when_first_shown(qtbot: QtBot) -> None:
    page = PrivacyPage()
    qtbot.addWidget(page)
    page.set_catalog(default_catalog())
    assert page.scroller.widget() is None  # nothing laid out yet
    assert page.isAncestorOf(page.tabs) and page.tabs.window() is page  # yet part of the page from the start
    page.resize(683, 384)  # a 1366x768 screen at 200 %: the page scrolls rather than squeezing its tables
    page.show()
    qtbot.waitExposed(page)
    content = page.scroller.widget()
    assert content is not None and content.isAncestorOf(page.tabs)
    assert page.tabs.isVisible() and page.summary.isVisible() and page.catalog_table.rowCount() > 0
    qtbot.waitUntil(lambda: page.scroller.verticalScrollBar().maximum() > 0)
    page.hide()
    page.show()  # shown again: the same content, not moved again
    assert page.scroller.widget() is content


def test_a_window_opened_on_another_page_leaves_it_for_later(make_app: MakeApp, qtbot: QtBot) -> None:
    app, _fake, _probe = make_app("active", tray=True)
    window = app.open_window("license")
    qtbot.waitExposed(window)
    page = window.privacy_page
    assert page.scroller.widget() is None
    window.show_page("privacy")
    qtbot.waitUntil(page.tabs.isVisible)
    assert page.scroller.widget() is not None
    qtbot.waitUntil(lambda: page.stored.table.rowCount() > 0)  # the files, read in the background
