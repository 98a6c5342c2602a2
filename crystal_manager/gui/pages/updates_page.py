"""The Updates page: what is installed and kept, what is offered and why (or why not), the release notes,
the download's progress, and the actions — each button only emits a request; the update flow runs it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from PySide6.QtCore import QUrl, Signal, SignalInstance
from PySide6.QtGui import QDesktopServices, QFont
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from crystal_manager.gui.notes_view import NotesView
from crystal_manager.gui.texts import channel_name, fmt_ago, fmt_release_day, tr
from crystal_manager.gui.update_api import Activity, Outcome, UpdatesFacts
from crystal_manager.gui.update_manager_box import ManagerUpdateBox
from crystal_manager.gui.update_words import (
    download_size_words,
    headline,
    outcome_words,
    progress_line,
    signature_details,
    signature_line,
)
from crystal_manager.gui.widgets import Banner, FactRows, page_title
from crystal_manager.services.update_types import Release

CHANNELS = ("stable", "beta")


def busy_words(activity: Activity) -> str | None:
    """What runs, next to the buttons (downloads show their own progress)."""
    match activity:
        case Activity.CHECKING:
            return tr("Checking…")
        case Activity.INSTALLING:
            return tr("Installing… (this can take a minute)")
        case Activity.ROLLING_BACK:
            return tr("Going back to the previous version…")
    return None


class UpdatesPage(QWidget):
    """Renders :class:`UpdatesFacts`; its buttons and choices only emit requests."""

    check_requested = Signal()
    download_requested = Signal()
    pause_requested = Signal()
    resume_requested = Signal()
    cancel_requested = Signal()
    install_requested = Signal()
    install_later_requested = Signal()
    rollback_requested = Signal()
    skip_requested = Signal(str)
    channel_changed = Signal(str)
    auto_check_changed = Signal(bool)

    def __init__(self, parent: QWidget | None = None, *,
                 opener: Callable[[QUrl], object] = QDesktopServices.openUrl, frozen: bool | None = None) -> None:
        """``opener``: opens a web link clicked in the release notes (the desktop's browser). ``frozen``:
        whether the Manager updates itself (default: it runs as the bundle); else its line is not shown."""
        super().__init__(parent)
        self._facts = UpdatesFacts(status=None)
        self.notes = NotesView(opener=opener)
        self.notes.setMinimumHeight(90)
        layout = self._layout = QVBoxLayout(self)
        layout.addWidget(page_title(tr("Updates")))
        layout.addLayout(self._build_header())
        layout.addWidget(self.detail)
        layout.addWidget(self.outcome_banner)
        layout.addWidget(self.problem_banner)
        layout.addWidget(self.rows)
        layout.addWidget(self._build_progress())
        layout.addLayout(self._build_actions())
        layout.addWidget(self.notes_title)
        layout.addWidget(self.notes, 1)
        layout.addLayout(self._build_checks())
        layout.addLayout(self._build_choices())
        self.manager_box = ManagerUpdateBox(frozen=frozen)
        layout.addWidget(self.manager_box)
        layout.addStretch(0)  # takes the spare height instead of the notes when there are none to show
        self.set_facts(self._facts)

    def _build_header(self) -> QHBoxLayout:
        self.headline = QLabel()
        font = QFont(self.headline.font())
        font.setPointSizeF(font.pointSizeF() * 1.15)
        font.setBold(True)
        self.headline.setFont(font)
        # One line (short by design): a wrapping label next to the badge would break after two words.
        self.headline.setWordWrap(False)
        self.badge = QLabel(tr("Important update"))
        self.badge.setAccessibleName(tr("Important update"))
        self.badge.setToolTip(tr("The vendor marked this update as important: it fixes a serious problem."))
        self.badge.setStyleSheet("QLabel { background: rgb(211, 47, 47); color: white; border-radius: 4px;"
                                 " padding: 2px 8px; font-weight: bold; }")
        self.badge.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        self.detail = QLabel()
        self.detail.setWordWrap(True)
        self.outcome_banner = Banner("info")
        self.problem_banner = Banner("error")
        self.rows = FactRows()
        for key, label in (("installed", tr("Installed")), ("previous", tr("Previous version")),
                           ("available", tr("Available")), ("size", tr("Download size")),
                           ("released", tr("Released on")), ("signature", tr("Signature"))):
            self.rows.add(key, label)
        self.notes_title = QLabel()
        bold = QFont(self.notes_title.font())
        bold.setBold(True)
        self.notes_title.setFont(bold)
        top = QHBoxLayout()
        top.addWidget(self.headline)
        top.addWidget(self.badge)  # next to the headline it qualifies, not at the far edge
        top.addStretch(1)
        return top

    def _build_progress(self) -> QWidget:
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)  # permille: sizes beyond 2 GiB do not fit the bar's int
        self.progress.setTextVisible(False)
        self.progress.setAccessibleName(tr("Download progress"))
        self.progress_text = QLabel()
        self.progress_text.setWordWrap(True)
        self.pause_button = self._button(tr("&Pause"), self.pause_requested, tr("Stop for now; resume later"))
        self.resume_button = self._button(tr("&Resume"), self.resume_requested,
                                          tr("Continue the download from where it stopped"))
        self.cancel_button = self._button(tr("&Cancel download"), self.cancel_requested,
                                          tr("Stop and delete what was downloaded"))
        row = QHBoxLayout()
        row.addWidget(self.progress, 1)
        for button in (self.pause_button, self.resume_button, self.cancel_button):
            row.addWidget(button)
        self.progress_box = QWidget()
        box = QVBoxLayout(self.progress_box)
        box.setContentsMargins(0, 0, 0, 0)
        box.addLayout(row)
        box.addWidget(self.progress_text)
        return self.progress_box

    def _build_actions(self) -> QHBoxLayout:
        self.download_button = self._button(tr("&Download"), self.download_requested,
                                            tr("Download the update; its signature is checked before anything "
                                               "is installed"))
        self.install_button = self._button(tr("&Install now"), self.install_requested,
                                           tr("Install the downloaded update now; you will see it the next time "
                                              "you start CrystalMe3D Pro"))
        self.install_later_button = self._button(
            tr("Install when the &Manager next starts"), self.install_later_requested,
            tr("Install the downloaded update the next time CrystalMe3D Pro Manager starts"))
        self.skip_button = self._button(tr("&Skip this version"), None, tr("Do not offer this version again"))
        self.skip_button.clicked.connect(self._skip)
        actions = QHBoxLayout()
        for button in (self.download_button, self.install_button, self.install_later_button, self.skip_button):
            actions.addWidget(button)
        actions.addStretch(1)
        return actions

    def _build_checks(self) -> QHBoxLayout:
        self.check_button = self._button(tr("Check for &updates"), self.check_requested,
                                         tr("Ask the update server whether a newer version is available"))
        self.rollback_button = self._button(tr("&Go back…"), self.rollback_requested,
                                            tr("Use the previous version again"))
        self.last_checked = QLabel()
        self.busy = QLabel()
        self.busy.setAccessibleName(tr("Progress"))
        checks = QHBoxLayout()
        checks.addWidget(self.check_button)
        checks.addWidget(self.last_checked)
        checks.addWidget(self.busy)
        checks.addStretch(1)
        checks.addWidget(self.rollback_button)
        return checks

    def _build_choices(self) -> QVBoxLayout:
        self.channel = QComboBox()
        self.channel.setAccessibleName(tr("Update channel"))
        for key in CHANNELS:
            self.channel.addItem(channel_name(key), key)
        self.channel.currentIndexChanged.connect(self._channel_picked)
        channel_label = QLabel(tr("C&hannel:"))
        channel_label.setBuddy(self.channel)
        # The switch says all it does: the daily check also downloads what it finds (so an update is ready
        # when you want it); installing always waits for you. Off: nothing is checked or downloaded unasked.
        self.auto_check = QCheckBox(tr("Check for updates and &download them automatically"))
        self.auto_check.setToolTip(tr("Once a day the Manager checks for a newer version and downloads it in the "
                                      "background. Nothing is installed until you choose to install it."))
        self.auto_check.toggled.connect(self.auto_check_changed.emit)
        channel_row = QHBoxLayout()
        channel_row.addWidget(channel_label)
        channel_row.addWidget(self.channel)
        channel_row.addStretch(1)
        choices = QVBoxLayout()  # one choice a line: longer translations widen nothing
        choices.addLayout(channel_row)
        choices.addWidget(self.auto_check)
        return choices

    def _button(self, text: str, signal: SignalInstance | None, description: str) -> QPushButton:
        button = QPushButton(text)
        button.setAccessibleName(text.replace("&", "").rstrip("…"))
        button.setAccessibleDescription(description)
        button.setToolTip(description)
        if signal is not None:
            button.clicked.connect(signal.emit)
        return button

    def _skip(self) -> None:
        if self._facts.offer:
            self.skip_requested.emit(self._facts.offer)

    def _channel_picked(self, index: int) -> None:
        status = self._facts.status
        key = self.channel.itemData(index)
        if status is not None and isinstance(key, str) and key != status.channel:
            self.channel_changed.emit(key)

    @property
    def facts(self) -> UpdatesFacts:
        """What is shown."""
        return self._facts

    def open_link(self, url: str) -> None:
        """For tests and accessibility: what clicking a link in the notes does."""
        self.notes.anchorClicked.emit(QUrl(url))

    # -- rendering ------------------------------------------------------------------------------------
    def set_facts(self, facts: UpdatesFacts, *, now: datetime | None = None) -> None:
        """Show ``facts``: every label, row, button and choice follows from them."""
        self._facts = facts
        status, check = facts.status, facts.check
        offer = facts.offer_release
        title, body = headline(facts)
        self.headline.setText(title)
        self.detail.setText(body)
        self.detail.setVisible(bool(body))
        self.badge.setVisible(offer is not None and offer.critical)
        self._render_outcome(facts.outcome, facts.status.installed_version if facts.status else None)
        if facts.problem is None:
            self.problem_banner.hide()
        else:
            # Headline and next step for people; the exact facts (host, file, reason) for support, on hover.
            self.problem_banner.show_text(facts.problem.headline, facts.problem.advice, "error")
            self.problem_banner.setToolTip(facts.problem.detail)
        rows = self.rows
        installed = status.installed_version if status else None
        rows.set("installed", (installed or tr("not installed yet")) if status else None)
        previous = status.previous_version if status else None
        kept = (tr("%1, kept on this computer") if facts.returning else tr("%1, kept so you can go back to it"))
        rows.set("previous", kept.replace("%1", previous) if previous else None)
        rows.set("available", _available(offer, status.channel if status else "stable") if offer else None)
        rows.set("size", download_size_words(offer, status) if offer else None)
        rows.set("released", fmt_release_day(offer.released_at) if offer else None)
        rows.set("signature", signature_line(facts), details=signature_details(facts))
        self._render_progress(facts)
        described = offer or (check.newest if check is not None and not facts.unverified else None)
        self.notes_title.setText(tr("What's new in %1").replace("%1", described.version) if described else "")
        self.notes_title.setVisible(described is not None)
        self.notes.setVisible(described is not None)
        # Without notes the buttons follow the facts, the spare height goes below them (no gaps).
        self._layout.setStretch(self._layout.count() - 1, 0 if described is not None else 1)
        if described is not None and self.notes.property("shown_notes") != described.target_name:
            self.notes.set_notes(described.notes)
            self.notes.setProperty("shown_notes", described.target_name)
        self._render_buttons(facts)
        self.last_checked.setText(tr("Last checked: %1").replace("%1", fmt_ago(status.last_check_at, now=now))
                                  if status else "")
        busy = busy_words(facts.activity)
        self.busy.setText(busy or "")
        self.busy.setVisible(busy is not None)
        self._render_choices(facts)

    def _render_outcome(self, outcome: Outcome | None, installed: str | None) -> None:
        # The banner confirms this session's last switch; once the files say another version is in use
        # (a rollback in a terminal, another Manager) it is old news beside the headline: gone.
        switched = outcome is not None and outcome.kind in ("installed", "rolled_back", "auto_rolled_back")
        if outcome is None or (switched and installed is not None and installed != outcome.version):
            self.outcome_banner.hide()
            return
        title, body, level = outcome_words(outcome)
        self.outcome_banner.show_text(title, body, level)

    def _render_progress(self, facts: UpdatesFacts) -> None:
        line = progress_line(facts)
        self.progress_box.setVisible(line is not None)
        if line is None:
            return
        text, done, total = line
        self.progress.setValue(int(1000 * done / total) if total > 0 else 0)
        self.progress_text.setText(text)
        running = facts.activity in (Activity.DOWNLOADING, Activity.PAUSING, Activity.CANCELLING)
        self.pause_button.setVisible(running)
        self.pause_button.setEnabled(facts.activity is Activity.DOWNLOADING)
        self.resume_button.setVisible(not running)
        self.resume_button.setEnabled(not facts.busy)
        self.cancel_button.setEnabled(facts.activity is Activity.DOWNLOADING or not facts.busy)

    def _render_buttons(self, facts: UpdatesFacts) -> None:
        idle = not facts.busy
        status = facts.status
        offer = facts.offer_release
        downloaded = facts.downloaded
        running = facts.activity in (Activity.DOWNLOADING, Activity.PAUSING, Activity.CANCELLING)
        partial = facts.paused is not None or running
        want_download = offer is not None and downloaded != offer.version and not partial
        self.download_button.setVisible(want_download)
        self.download_button.setEnabled(idle)
        if offer is not None:
            self.download_button.setText(tr("&Download %1").replace("%1", offer.version))
        ready = downloaded is not None and (status is None or status.installed_version != downloaded)
        failed = ready and status is not None and status.failed_install == downloaded
        self.install_button.setVisible(ready)
        self.install_button.setEnabled(idle)
        self.install_button.setText(tr("&Try again") if failed else tr("&Install now"))
        scheduled = status is not None and status.install_at_next_start == downloaded
        self.install_later_button.setVisible(ready and not scheduled and not failed)
        self.install_later_button.setEnabled(idle)
        can_skip = offer is not None and not offer.critical and not running and (downloaded != offer.version
                                                                                 or failed)
        self.skip_button.setVisible(can_skip)
        self.skip_button.setEnabled(idle)
        previous = status.previous_version if status else None
        self.rollback_button.setVisible(previous is not None)
        self.rollback_button.setEnabled(idle and previous is not None)
        if previous is not None:
            text = tr("&Return to %1…") if facts.returning else tr("&Go back to %1…")
            self.rollback_button.setText(text.replace("%1", previous))
            self.rollback_button.setAccessibleName(text.replace("&", "").rstrip("…").replace("%1", previous))
        self.check_button.setEnabled(idle)

    def _render_choices(self, facts: UpdatesFacts) -> None:
        status = facts.status
        self.channel.blockSignals(True)
        self.auto_check.blockSignals(True)
        if status is not None:
            index = self.channel.findData(status.channel)
            self.channel.setCurrentIndex(max(0, index))
            self.auto_check.setChecked(status.auto_check)
        self.channel.blockSignals(False)
        self.auto_check.blockSignals(False)
        self.channel.setEnabled(status is not None and not facts.busy)
        self.auto_check.setEnabled(status is not None)


def _available(offer: Release, channel: str) -> str:
    if offer.channel != "stable" or channel != "stable":
        return tr("%1 (%2)").replace("%1", offer.version).replace("%2", channel_name(offer.channel))
    return offer.version
