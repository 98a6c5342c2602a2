"""The Updates page's size line says what will really be downloaded: a patch from the installed version
with its size, or the full download (and, after a fallback, why the full archive was taken)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from pytestqt.qtbot import QtBot

from crystal_manager.gui.pages.updates_page import UpdatesPage
from crystal_manager.gui.update_api import Activity, UpdatesFacts
from crystal_manager.services.update_types import CheckResult, Entitlement, PendingDownload, Release, UpdateStatus
from tests.support.render import OUTPUT
from tests.support.render import save as save_png

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
OFFER = Release(version="1.3.0", channel="stable", size=48_213_000, critical=False, notes="Faster.",
                released_at="2026-03-02T09:30:00Z", min_manager=None,
                target_name="crystalme3d-pro-1.3.0-linux-x86_64.tar.gz", download_size=8_412_000, delta_from="1.2.0")


def facts(offer: Release, *, pending: PendingDownload | None = None, note: str | None = None) -> UpdatesFacts:
    check = CheckResult(checked_at="2026-03-10T11:55:00Z", installed_version="1.2.0", channel="stable", offer=offer,
                        newest=offer, entitlement=Entitlement(allowed=True, code="ok", reason=""), reason="offered",
                        signed_by=(), metadata_version=3)
    status = UpdateStatus(installed_version="1.2.0", previous_version=None, install_root="/tmp/p", channel="stable",
                          auto_check=True, skipped=(), last_check_at=check.checked_at, last_check=check,
                          pending=pending, install_at_next_start=None, delta_note=note)
    return UpdatesFacts(status=status, check=check, activity=Activity.IDLE)


@pytest.fixture
def page(qtbot: QtBot) -> Iterator[UpdatesPage]:
    widget = UpdatesPage(opener=lambda _url: None)
    qtbot.addWidget(widget)
    widget.resize(760, 560)
    widget.show()
    yield widget


def test_a_patch_shows_its_own_size_and_its_base(page: UpdatesPage) -> None:
    page.set_facts(facts(OFFER), now=NOW)
    assert page.rows.value("size") == "8.4 MB — patch from 1.2.0"
    save_png(page, "patch-size", OUTPUT / "gui-updates")


def test_without_a_patch_the_full_size(page: UpdatesPage) -> None:
    full = Release(**{**OFFER.__dict__, "download_size": OFFER.size, "delta_from": None})
    page.set_facts(facts(full), now=NOW)
    assert page.rows.value("size") == "48.2 MB — full download"
    note = "Took the full download because the kept copy of 1.2.0 changed on disk."
    done = PendingDownload(version="1.3.0", target_name=full.target_name, received=full.size, total=full.size,
                           complete=True)
    page.set_facts(facts(full, pending=done, note=note), now=NOW)
    assert page.rows.value("size") == ("48.2 MB — full download\nNot a patch: the kept copy of 1.2.0 changed on "
                                       "disk. The installed version is not affected.")
    save_png(page, "full-size-with-reason", OUTPUT / "gui-updates")


def test_the_reason_for_a_full_download_does_not_contradict_the_installed_version(page: UpdatesPage) -> None:
    # The service's reason when the 1.1.0 download was deleted: read next to "Installed: 1.1.0" it seemed to
    # say the installed 1.1.0 was gone, and it ran off the page's edge.
    full = Release(**{**OFFER.__dict__, "download_size": OFFER.size, "delta_from": None})
    note = ("Took the full download because the 1.2.0 download the patch applies to is no longer kept on this "
            "computer.")
    done = PendingDownload(version="1.3.0", target_name=full.target_name, received=full.size, total=full.size,
                           complete=True)
    page.resize(900 - 160, 580)
    page.set_facts(facts(full, pending=done, note=note), now=NOW)
    words = page.rows.value("size") or ""
    assert "download file that the patch is made from is no longer kept" in words
    assert "The installed version is not affected." in words
    label = page.rows._values["size"]  # the label on screen: wrapped, never cut off
    assert label.wordWrap() and label.sizeHint().width() <= page.width()
    save_png(page, "full-size-base-deleted", OUTPUT / "gui-updates")
