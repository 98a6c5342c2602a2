"""The License page's warning area says when this computer's clock is off (the license still works)."""

from __future__ import annotations

import pytest
from pytestqt.qtbot import QtBot

from crystal_manager.gui.license_api import LicenseFacts
from crystal_manager.gui.pages.license_page import LicensePage
from crystal_manager.services.status import LicenseStatus


def facts(offset: int | None, wrong: bool) -> LicenseFacts:
    status = LicenseStatus(state="active", plan="pro", next_check_at="2026-12-01T10:00:00Z",
                           last_verified_at="2026-11-30T10:00:00Z", clock_offset_seconds=offset, clock_wrong=wrong)
    return LicenseFacts(status=status, secrets=None)


@pytest.mark.parametrize(("offset", "words"), [(600, "10 minutes ahead of"), (-600, "10 minutes behind"),
                                               (7200, "2 hours ahead of"), (86400, "1 day ahead of")])
def test_clock_warning_is_shown(qtbot: QtBot, offset: int, words: str) -> None:
    page = LicensePage()
    qtbot.addWidget(page)
    page.set_facts(facts(offset, True))
    assert page.clock_banner.isVisibleTo(page)
    text = page.clock_banner.text()
    assert "clock is wrong" in text and words in text and "not affected" in text
    assert page.rows.value("state") == "Active" and page.rows.value("next") is not None  # the next check shows


def test_no_warning_when_the_clock_is_right(qtbot: QtBot) -> None:
    page = LicensePage()
    qtbot.addWidget(page)
    page.set_facts(facts(600, True))
    page.set_facts(facts(20, False))
    assert not page.clock_banner.isVisibleTo(page)
