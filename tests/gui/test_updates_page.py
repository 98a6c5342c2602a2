"""The Updates page rendered from the real result types (UpdateStatus, CheckResult, DownloadProgress …) in
every state: what it says, which buttons show and which are enabled; each state is also saved as a PNG
(test-output/gui-updates/) for people to look at. And the release-notes view: no HTML, no images, no
remote or local resources, links open only on click and only for the web."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, Qt, QUrl
from PySide6.QtGui import QColor, QImage, QTextCursor
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QPushButton, QWidget
from pytestqt.qtbot import QtBot

from crystal_manager.gui.notes_view import NotesView
from crystal_manager.gui.pages.updates_page import UpdatesPage
from crystal_manager.gui.update_api import Activity, Outcome, UpdatesFacts
from crystal_manager.gui.update_words import update_problem
from crystal_manager.net import errors as net
from crystal_manager.services.update_types import (
    CheckResult,
    DownloadProgress,
    Entitlement,
    PendingDownload,
    Release,
    UpdateStatus,
)
from crystal_manager.updates import errors as up
from tests.support.render import OUTPUT, themed
from tests.support.render import save as save_png

OUT = OUTPUT / "gui-updates"
NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
KEYS = ("1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f809",
        "9f8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a39281706f5e4d3c2b1a0")
NOTES = """## What's new

- Faster **crystal growth** preview (up to 3 times faster on large scenes)
- Fixed a crash when opening projects from network drives

See the [full list of changes](https://crystalme3dpro.com/changes/1.3.0).
"""
OK = Entitlement(allowed=True, code="ok", reason="")


def release(version: str = "1.3.0", *, critical: bool = False, channel: str = "stable", notes: str = NOTES,
            size: int = 48_213_000, min_manager: str | None = None) -> Release:
    return Release(version=version, channel=channel, size=size, critical=critical, notes=notes,
                   released_at="2026-03-02T09:30:00Z", min_manager=min_manager,
                   target_name=f"crystalme3d-pro-{version}-linux-x86_64.tar.gz")


def checked(reason: str, *, offer: Release | None = None, newest: Release | None = None,
            entitlement: Entitlement = OK, channel: str = "stable") -> CheckResult:
    return CheckResult(checked_at="2026-03-10T11:55:00Z", installed_version="1.2.0", channel=channel,
                       offer=offer, newest=newest or offer, entitlement=entitlement, reason=reason,
                       signed_by=KEYS, metadata_version=7)


def status(*, installed: str | None = "1.2.0", previous: str | None = None, last: CheckResult | None = None,
           pending: PendingDownload | None = None, skipped: tuple[str, ...] = (), channel: str = "stable",
           at_next_start: str | None = None, failed: str | None = None) -> UpdateStatus:
    return UpdateStatus(installed_version=installed, previous_version=previous, install_root="/tmp/products",
                        channel=channel, auto_check=True, skipped=skipped,
                        last_check_at=last.checked_at if last else None, last_check=last, pending=pending,
                        install_at_next_start=at_next_start, failed_install=failed)


def facts(st: UpdateStatus, **more: object) -> UpdatesFacts:
    return UpdatesFacts(status=st, check=st.last_check, activity=Activity.IDLE, **more)  # type: ignore[arg-type]


OFFERED = checked("offered", offer=release())
PARTIAL = PendingDownload(version="1.3.0", target_name=release().target_name, received=17_300_000,
                          total=48_213_000, complete=False)
COMPLETE = replace(PARTIAL, received=48_213_000, complete=True)
PROGRESS = DownloadProgress(version="1.3.0", received=21_700_000, total=48_213_000, bytes_per_second=5_200_000,
                            eta_seconds=5.1)


@pytest.fixture
def page(qtbot: QtBot) -> Iterator[UpdatesPage]:
    opened: list[QUrl] = []
    widget = UpdatesPage(opener=opened.append)
    widget.opened = opened  # type: ignore[attr-defined]
    qtbot.addWidget(widget)
    widget.resize(760, 560)
    widget.show()
    yield widget


def shown(button: QPushButton) -> bool:
    return button.isVisibleTo(button.window())


def buttons(page: UpdatesPage) -> dict[str, bool]:
    """Visible buttons → enabled."""
    named = {"check": page.check_button, "download": page.download_button, "install": page.install_button,
             "later": page.install_later_button, "skip": page.skip_button, "rollback": page.rollback_button,
             "pause": page.pause_button, "resume": page.resume_button, "cancel": page.cancel_button}
    return {name: b.isEnabled() for name, b in named.items() if shown(b)}


def visible(widget: QWidget) -> bool:
    return widget.isVisibleTo(widget.window())


def save(widget: QWidget, name: str) -> Path:
    for theme in ("light", "dark"):
        with themed(theme):
            path = save_png(widget, f"{name}-{theme}", OUT)
    return path


def test_never_checked(page: UpdatesPage) -> None:
    page.set_facts(facts(status()), now=NOW)
    assert page.headline.text() == "Not checked for updates yet"
    assert "nothing about you or this computer is sent" in page.detail.text()
    assert page.rows.value("installed") == "1.2.0"
    assert page.rows.value("previous") is None and page.rows.value("signature") is None
    assert page.last_checked.text() == "Last checked: never"
    assert buttons(page) == {"check": True}
    assert not visible(page.notes) and not visible(page.progress_box) and not visible(page.badge)
    assert page.channel.currentText() == "Stable" and page.auto_check.isChecked()
    save(page, "never-checked")


def test_an_install_banner_goes_when_the_files_say_another_version_is_in_use(page: UpdatesPage) -> None:
    """Installed 1.3.0 in the app, then a terminal went back to 1.2.0: no "1.3.0 is installed" banner
    above "You are using 1.2.0; 1.3.0 stays on this computer"."""
    from crystal_manager.gui.update_api import Outcome

    page.set_facts(facts(status(installed="1.3.0", previous="1.2.0"),
                         outcome=Outcome("installed", "1.3.0", "1.2.0")), now=NOW)
    assert visible(page.outcome_banner)
    page.set_facts(facts(status(installed="1.2.0", previous="1.3.0", last=checked("kept")),
                         outcome=Outcome("installed", "1.3.0", "1.2.0")), now=NOW)
    assert not visible(page.outcome_banner)
    save(page, "installed-then-rolled-back-elsewhere")


def test_checked_before_but_no_answer_at_hand_is_not_never_checked(page: UpdatesPage) -> None:
    """After a restart (or a channel change) the last check's time is known but no answer is shown: the
    headline must not say "Not checked for updates yet" beside "Last checked: …"."""
    st = replace(status(last=checked("latest")), last_check=None)
    page.set_facts(facts(st), now=NOW)
    assert page.last_checked.text().startswith("Last checked: ") and "never" not in page.last_checked.text()
    assert page.headline.text() == "Check again to see what is offered"
    assert "Not checked" not in page.headline.text() + page.detail.text()
    save(page, "checked-no-answer")


def test_up_to_date(page: UpdatesPage) -> None:
    last = checked("up_to_date")  # the service names a newest release only when it is newer than installed
    page.set_facts(facts(status(last=last)), now=NOW)
    assert page.headline.text() == "You have the latest version"
    assert page.detail.text() == "CrystalMe3D Pro 1.2.0 is the newest version on the Stable channel."
    assert page.last_checked.text() == "Last checked: 5 minutes ago"
    assert page.rows.value("signature") == "✓ Verified: signed by the vendor's keys"
    assert page.rows.details("signature") == "Technical details: key id 1a2b3c4d…, 9f8e7d6c…"
    assert not visible(page.notes) and not visible(page.notes_title)
    assert buttons(page) == {"check": True}


def test_offered(page: UpdatesPage) -> None:
    page.set_facts(facts(status(last=OFFERED)), now=NOW)
    assert page.headline.text() == "CrystalMe3D Pro 1.3.0 is available"
    assert page.rows.value("available") == "1.3.0"
    assert page.rows.value("size") == "48.2 MB — full download"
    assert page.rows.value("released") == "2 Mar 2026"
    assert not visible(page.badge)
    assert buttons(page) == {"check": True, "download": True, "skip": True}
    assert page.download_button.text().replace("&", "") == "Download 1.3.0"
    assert "Faster crystal growth preview" in page.notes.toPlainText()
    save(page, "offered")


def test_critical_cannot_be_skipped(page: UpdatesPage) -> None:
    crit = checked("offered", offer=release(critical=True))
    page.set_facts(facts(status(last=crit)), now=NOW)
    assert visible(page.badge) and page.badge.text() == "Important update"
    assert "Install it soon" in page.detail.text()
    assert "skip" not in buttons(page)
    save(page, "critical")


@pytest.mark.parametrize(("code", "reason", "expected"), [
    ("max_version", "Your license covers CrystalMe3D Pro up to 1.2.x; 1.3.0 needs an upgrade.",
     "Your license covers CrystalMe3D Pro up to 1.2.x; 1.3.0 needs an upgrade."),
    ("released_after_end", "", "It was released after your subscription ended. Renew the subscription to get it."),
])
def test_not_entitled_says_why(page: UpdatesPage, code: str, reason: str, expected: str) -> None:
    last = checked("not_entitled", newest=release(), entitlement=Entitlement(False, code, reason))
    page.set_facts(facts(status(last=last)), now=NOW)
    assert page.headline.text() == "Version 1.3.0 is not included in your license"
    assert page.detail.text() == expected
    assert buttons(page) == {"check": True}
    assert page.rows.value("available") is None
    save(page, f"not-entitled-{code}")


def test_no_license_says_activate_not_upgrade(page: UpdatesPage) -> None:
    last = checked("not_entitled", newest=release(), entitlement=Entitlement(False, "no_license", ""))
    page.set_facts(facts(status(last=last)), now=NOW)
    assert page.headline.text() == "Version 1.3.0 is available: activate to get it"
    assert page.detail.text() == "Activate CrystalMe3D Pro to receive updates."


def test_a_version_that_did_not_start_is_not_shown_as_ready(page: UpdatesPage) -> None:
    page.set_facts(facts(status(last=OFFERED, pending=COMPLETE, failed="1.3.0")), now=NOW)
    assert page.headline.text() == "CrystalMe3D Pro 1.3.0 could not be installed"
    assert page.detail.text() == ("It did not start on this computer, so 1.2.0 was put back. You can try again "
                                  "later, or skip this version.")
    assert buttons(page) == {"check": True, "install": True, "skip": True}
    assert page.install_button.text() == "&Try again"
    save(page, "failed-install")


def test_needs_newer_manager_and_skipped(page: UpdatesPage) -> None:
    last = checked("needs_newer_manager", newest=release(min_manager="0.9.0"))
    page.set_facts(facts(status(last=last)), now=NOW)
    assert page.headline.text() == "Version 1.3.0 needs a newer Manager"
    assert "0.9.0 or later" in page.detail.text()
    page.set_facts(facts(status(last=OFFERED, skipped=("1.3.0",))), now=NOW)  # skipped after the check
    assert page.headline.text() == "You skipped version 1.3.0"
    assert "download" not in buttons(page) and "skip" not in buttons(page)


def test_skip_emits_the_version(page: UpdatesPage, qtbot: QtBot) -> None:
    page.set_facts(facts(status(last=OFFERED)), now=NOW)
    with qtbot.waitSignal(page.skip_requested) as asked:
        page.skip_button.click()
    assert asked.args == ["1.3.0"]


def test_downloading_with_progress(page: UpdatesPage) -> None:
    page.set_facts(replace(facts(status(last=OFFERED)), activity=Activity.DOWNLOADING, progress=PROGRESS), now=NOW)
    assert visible(page.progress_box)
    assert page.progress.value() == 450
    assert page.progress_text.text() == "Downloading 1.3.0: 21.7 MB of 48.2 MB · 5.2 MB/s · a few seconds left"
    assert page.headline.text() == "Downloading CrystalMe3D Pro 1.3.0…"
    assert buttons(page) == {"check": False, "pause": True, "cancel": True}
    save(page, "downloading")
    page.set_facts(replace(page.facts, activity=Activity.PAUSING), now=NOW)
    assert page.progress_text.text() == "Pausing at 21.7 MB of 48.2 MB…"
    assert buttons(page) == {"check": False, "pause": False, "cancel": False}


def test_paused(page: UpdatesPage) -> None:
    page.set_facts(facts(status(last=OFFERED, pending=PARTIAL)), now=NOW)
    assert page.progress_text.text() == ("Download of 1.3.0 paused at 17.3 MB of 48.2 MB (35%). Resume to "
                                         "continue from there.")
    assert buttons(page) == {"check": True, "resume": True, "cancel": True, "skip": True}
    save(page, "paused")


def test_downloaded(page: UpdatesPage) -> None:
    page.set_facts(facts(status(last=OFFERED, pending=COMPLETE)), now=NOW)
    assert page.headline.text() == "CrystalMe3D Pro 1.3.0 is ready to install"
    assert buttons(page) == {"check": True, "install": True, "later": True}
    save(page, "downloaded")
    page.set_facts(facts(status(last=OFFERED, pending=COMPLETE, at_next_start="1.3.0")), now=NOW)
    assert page.headline.text() == "CrystalMe3D Pro 1.3.0 will be installed when the Manager next starts"
    assert buttons(page) == {"check": True, "install": True}


def test_installing_disables_everything(page: UpdatesPage) -> None:
    page.set_facts(replace(facts(status(last=OFFERED, pending=COMPLETE)), activity=Activity.INSTALLING), now=NOW)
    assert page.busy.text() == "Installing… (this can take a minute)"
    assert not any(buttons(page).values())
    assert not page.channel.isEnabled()


def test_installed_with_previous(page: UpdatesPage) -> None:
    st = status(installed="1.3.0", previous="1.2.0", last=OFFERED)  # the stored check still names 1.3.0
    page.set_facts(facts(st, outcome=Outcome("installed", "1.3.0", "1.2.0")), now=NOW)
    assert page.headline.text() == "You have the latest version"  # not "1.3.0 is available" (stale)
    assert page.outcome_banner.text().startswith("CrystalMe3D Pro 1.3.0 is installed\n")
    assert "Version 1.2.0 is kept, so you can go back to it." in page.outcome_banner.text()
    assert page.rows.value("installed") == "1.3.0"
    assert page.rows.value("previous") == "1.2.0, kept so you can go back to it"
    assert buttons(page) == {"check": True, "rollback": True}
    assert page.rollback_button.text().replace("&", "") == "Go back to 1.2.0…"
    save(page, "installed")


def test_after_rollback(page: UpdatesPage) -> None:
    st = status(installed="1.2.0", previous="1.3.0", last=OFFERED)
    page.set_facts(facts(st, outcome=Outcome("rolled_back", "1.2.0", "1.3.0")), now=NOW)
    assert page.outcome_banner.text().startswith("Back to CrystalMe3D Pro 1.2.0\n")
    # 1.3.0 is newer, but it is on this computer: one switch away, not a download.
    assert page.headline.text() == "You are using 1.2.0; 1.3.0 stays on this computer"
    assert page.detail.text() == "To use 1.3.0 again, choose Return to 1.3.0. Newer versions are offered as usual."
    assert page.rows.value("previous") == "1.3.0, kept on this computer"
    assert page.rollback_button.text().replace("&", "") == "Return to 1.3.0…"
    assert buttons(page) == {"check": True, "rollback": True}
    save(page, "rolled-back")


@pytest.mark.parametrize(("name", "exc", "headline"), [
    ("offline", net.ConnectFailed("cannot reach updates.crystalme3dpro.com: connection refused"),
     "The update server cannot be reached"),
    ("bad-signature", up.MetadataRejected("timestamp: signature threshold not met"),
     "The update information could not be verified"),
    ("bad-download", up.TargetRejected("the downloaded file does not match its signed hash; it was deleted"),
     "The download did not match its signature"),
    ("health", up.HealthCheckFailed("1.3.0 failed its start check; 1.2.0 is current again"),
     "The new version did not start"),
])
def test_failures_show_a_headline_and_a_next_step(page: UpdatesPage, name: str, exc: Exception,
                                                  headline: str) -> None:
    unverified = isinstance(exc, up.MetadataRejected | up.TargetRejected)
    page.set_facts(facts(status(last=OFFERED), problem=update_problem(exc), unverified=unverified), now=NOW)
    text = page.problem_banner.text()
    assert visible(page.problem_banner) and text.startswith(headline + "\n")
    assert page.problem_banner.toolTip() == update_problem(exc).detail  # the exact facts, for support
    if unverified:
        assert page.rows.value("signature") == "⚠ Not verified — nothing from this check is offered or installed"
        assert page.headline.text() == "No update is offered for now"
        assert buttons(page) == {"check": True}  # nothing to download from unverified information
    else:
        assert (page.rows.value("signature") or "").startswith("✓ Verified")
    for word in ("TUF", "target", "snake_case", "Internal error", "Error:"):
        assert word not in text.split("\n", 2)[0] + text.split("\n", 2)[1]
    save(page, f"failure-{name}")


def test_choices_emit_once_and_not_when_shown(page: UpdatesPage, qtbot: QtBot) -> None:
    with qtbot.assertNotEmitted(page.channel_changed), qtbot.assertNotEmitted(page.auto_check_changed):
        page.set_facts(facts(status(channel="beta", last=OFFERED)), now=NOW)
    assert page.channel.currentText() == "Beta — early versions"
    assert page.rows.value("available") == "1.3.0 (Stable)"
    with qtbot.waitSignal(page.channel_changed) as picked:
        page.channel.setCurrentIndex(page.channel.findData("stable"))
    assert picked.args == ["stable"]
    with qtbot.waitSignal(page.auto_check_changed) as toggled:
        page.auto_check.click()
    assert toggled.args == [False]


def test_no_engineer_words_in_any_state(page: UpdatesPage) -> None:
    states = [facts(status()), facts(status(last=OFFERED)), facts(status(last=OFFERED, pending=PARTIAL)),
              facts(status(last=OFFERED, pending=COMPLETE)),
              replace(facts(status(last=OFFERED)), activity=Activity.DOWNLOADING, progress=PROGRESS),
              facts(status(installed="1.3.0", previous="1.2.0", last=OFFERED),
                    outcome=Outcome("installed", "1.3.0", "1.2.0"))]
    for state in states:
        page.set_facts(state, now=NOW)
        words = " ".join(label.text() for label in page.findChildren(type(page.headline)) if visible(label))
        for bad in ("TUF", "target", "2026-03", "T11:55", "_", "None"):
            assert bad not in words, (bad, words)


# -- the release notes view ---------------------------------------------------------------------------------
HOSTILE = """# Release 1.3.0

<script>alert('x')</script> <img src="http://127.0.0.1:9/track.png"> <b>raw html</b>

![tracking pixel](http://127.0.0.1:9/pixel.png) ![local]({picture})

[run me](javascript:alert(1)) · [a file](file:///etc/passwd) · [the site](https://crystalme3dpro.com/notes)
"""


@pytest.fixture
def red_picture(tmp_path: Path) -> Path:
    image = QImage(200, 200, QImage.Format.Format_RGB32)
    image.fill(QColor("red"))
    path = tmp_path / "red.png"
    image.save(str(path))
    return path


def link_point(view: NotesView, text: str) -> QPoint:
    found = view.document().find(text)
    assert not found.isNull(), text
    cursor = QTextCursor(view.document())
    cursor.setPosition(found.selectionStart() + 1)
    return view.cursorRect(cursor).center()


def test_notes_refuse_html_images_and_local_or_remote_files(qtbot: QtBot, red_picture: Path) -> None:
    opened: list[QUrl] = []
    view = NotesView(opener=opened.append)
    qtbot.addWidget(view)
    view.resize(600, 400)
    view.set_notes(HOSTILE.format(picture=red_picture.as_uri()))
    view.show()
    text = view.toPlainText()
    assert "<script>alert('x')</script>" in text  # shown as text, never run or interpreted
    assert "[picture: tracking pixel]" in text and "[picture: local]" in text
    html = view.toHtml()
    assert "<img" not in html and "javascript:" not in html and "file:" not in html
    assert view.loadResource(2, QUrl(red_picture.as_uri())) is None  # 2: QTextDocument.ImageResource
    image = view.viewport().grab().toImage()
    reds = sum(1 for x in range(0, image.width(), 5) for y in range(0, image.height(), 5)
               if image.pixelColor(x, y) == QColor("red"))
    assert reds == 0  # the local picture was not drawn
    assert opened == []


@pytest.mark.qt_log_ignore("Mouse event .* not accepted")  # a click on plain text: nobody takes it, as meant
def test_notes_open_only_web_links_and_only_on_click(qtbot: QtBot) -> None:
    opened: list[QUrl] = []
    view = NotesView(opener=opened.append)
    qtbot.addWidget(view)
    view.resize(700, 300)
    view.set_notes(HOSTILE.format(picture="http://127.0.0.1:9/x.png"))
    view.show()
    qtbot.waitExposed(view)
    before = view.toPlainText()
    for label in ("run me", "a file"):
        QTest.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=link_point(view, label))
    assert opened == []
    QTest.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=link_point(view, "the site"))
    assert [u.toString() for u in opened] == ["https://crystalme3dpro.com/notes"]
    assert view.toPlainText() == before and view.source().isEmpty()  # it never navigated itself
    view.anchorClicked.emit(QUrl("file:///etc/passwd"))
    view.anchorClicked.emit(QUrl("javascript:alert(1)"))
    assert len(opened) == 1


def test_plain_notes_stay_plain(qtbot: QtBot) -> None:
    view = NotesView()
    qtbot.addWidget(view)
    view.set_notes("Fixes a crash <on> start.\nSaving is faster.")
    assert view.toPlainText() == "Fixes a crash <on> start.\nSaving is faster."  # line breaks kept, no HTML
    view.set_notes("")
    assert view.toPlainText() == "This release has no notes."
