"""First-run activation: key entry with a local format check, exactly what will be sent shown BEFORE
sending, and errors that say what really happened with the next step (retry, manage machines, renew)."""

from __future__ import annotations

from datetime import date

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from crystal_manager.desktop.tray_state import TrayInputs, decide
from crystal_manager.gui.dialogs.machines import MachinesDialog
from crystal_manager.gui.license_api import LicenseApi
from crystal_manager.gui.problems import Problem, problem_for
from crystal_manager.gui.texts import core_words, status_line, tr
from crystal_manager.gui.widgets import Banner, fit_to_screen
from crystal_manager.gui.worker import run_in_background
from crystal_manager.licensing.errors import KeyFormatError
from crystal_manager.services.key_words import TYPO_WORDS
from crystal_manager.services.license_rules import preview_words
from crystal_manager.services.license_types import PreviewField
from crystal_manager.services.privacy_view import short_value
from crystal_manager.services.problems import Cancelled
from crystal_manager.services.status import LicenseStatus
from crystal_protocol.labels import MAX_MACHINE_LABEL

VALUE_WIDTH = 150  # px: a fingerprint's start and end both show (the whole value is in the tooltip)
LABEL_SETTLE_MS = 300  # the preview follows the machine name once typing pauses


def key_note(reason: str) -> str:
    """What the local check says about a key that is not valid: a full-length key with a wrong character or
    check group has a typo (said once, in the core's words, the same as the CLI's); only a short one is "not
    complete yet" (the reasons: crystal_protocol.licensekey)."""
    if reason == "checksum":
        return core_words(TYPO_WORDS) + "."
    if reason == "character":
        return tr("This key has a character that never appears in a license key.")
    if reason == "not_a_key":
        return tr("This doesn't look like a license key: keys start with CM3D-.")
    return tr("Not a complete key yet.")


def uses_encryption(server_url: str) -> bool:
    """The licensing server is reached over TLS (https): only then may the dialog say "encrypted"."""
    return server_url.lower().startswith("https://")


class ActivationDialog(QDialog):
    """Enter a key, see what will be sent, activate. ``activated`` carries the new status."""

    activated = Signal(object)  # LicenseStatus
    failed = Signal(object)  # Problem
    preview_shown = Signal(list)  # list[PreviewField]
    privacy_requested = Signal()

    def __init__(self, api: LicenseApi, parent: QWidget | None = None, *, server_url: str | None = None) -> None:
        """``server_url``: where the activation goes (the preview says "encrypted" only for https)."""
        super().__init__(parent)
        self._api = api
        self._encrypted = server_url is None or uses_encryption(server_url)
        self._key: str | None = None  # the normalised key the preview belongs to
        self._shown_for: tuple[str, str | None] | None = None  # (key, label) of the preview on screen
        self._machines: MachinesDialog | None = None
        self._fields: list[PreviewField] = []  # the preview on screen
        self.setWindowTitle(tr("Activate CrystalMe3D Pro"))
        intro = QLabel(tr("Enter the license key from your purchase e-mail. It is checked here first; nothing "
                          "is sent until you press Activate."))
        intro.setWordWrap(True)
        self.key_edit = QLineEdit()
        self.key_edit.setPlaceholderText(tr("License key"))
        self.key_edit.setAccessibleName(tr("License key"))
        self.key_edit.setClearButtonEnabled(True)
        self.key_edit.textChanged.connect(self._on_key_changed)
        key_label = QLabel(tr("&License key:"))
        key_label.setBuddy(self.key_edit)
        self.format_note = QLabel()
        self.format_note.setAccessibleName(tr("Key check"))
        name_label = self._make_label_edit(api.default_label())
        self.preview_box = self._make_preview_box()
        self.banner = Banner("error")
        self.banner.body.setOpenExternalLinks(True)
        self.busy = QLabel()
        self.busy.hide()  # an empty line until something runs
        self._waiting: int | None = None  # the activation attempt the dialog waits for
        self._attempts = 0
        self._make_buttons()
        # Everything but the buttons scrolls as one (the buttons always show): the preview lists every row
        # at its full height, so at 200 % on a 1366x768 screen (683x384 points) no row is cut off or hidden
        # behind a second scrollbar inside a strip two rows high; the dialog scrolls instead.
        content = QWidget()
        layout = self._layout = QVBoxLayout(content)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(intro)
        # Labels beside their fields: on a 1366x768 screen at 200 % (384 logical pixels high) every line
        # saved is a line more of the preview.
        form = QFormLayout()
        form.addRow(key_label, self.key_edit)
        form.addRow("", self.format_note)
        form.addRow(name_label, self.label_edit)
        layout.addLayout(form)
        layout.addWidget(self.preview_box)
        layout.addWidget(self.banner)
        layout.addWidget(self.busy)
        layout.addStretch(1)  # any spare height goes below, not between the lines
        self._make_scroller(content)
        fit_to_screen(self, 880, 640)  # room for the whole preview on a 1366x768 screen at 100 %
        self._show_preview([])  # no empty table before there is a key
        self._on_key_changed("")

    def _make_scroller(self, content: QWidget) -> None:
        """The content scrolls up and down (never sideways); the buttons stay below it, always in view."""
        self.scroller = QScrollArea()
        self.scroller.setWidgetResizable(True)
        self.scroller.setFrameShape(QScrollArea.Shape.NoFrame)
        self.scroller.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.scroller.setWidget(content)
        outer = QVBoxLayout(self)
        outer.addWidget(self.scroller, 1)
        outer.addWidget(self.buttons)

    def _make_buttons(self) -> None:
        self.machines_button = QPushButton(tr("&Manage machines…"))
        self.machines_button.setAccessibleName(tr("Manage machines"))
        self.machines_button.clicked.connect(self.open_machines)
        self.machines_button.hide()
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.activate_button = self.buttons.addButton(tr("&Activate"), QDialogButtonBox.ButtonRole.AcceptRole)
        self.activate_button.setAccessibleName(tr("Activate"))
        self.activate_button.setDefault(True)
        self.buttons.addButton(self.machines_button, QDialogButtonBox.ButtonRole.ActionRole)
        self.activate_button.clicked.connect(self._activate)
        self.buttons.rejected.connect(self._cancel)
        self.cancel_button = self.buttons.button(QDialogButtonBox.StandardButton.Cancel)

    def _make_label_edit(self, default: str) -> QLabel:
        # The machine's name in the license's machine list; the preview follows it once typing pauses.
        self.label_edit = QLineEdit()
        self.label_edit.setMaxLength(MAX_MACHINE_LABEL)
        self.label_edit.setPlaceholderText(default)
        self.label_edit.setAccessibleName(tr("Name for this computer"))
        self.label_edit.setToolTip(tr("Shown in the list of machines on your license, so you can tell your "
                                      "computers apart. Leave it empty to use the one shown."))
        self._label_timer = QTimer(self)
        self._label_timer.setSingleShot(True)
        self._label_timer.setInterval(LABEL_SETTLE_MS)
        self._label_timer.timeout.connect(self._refresh_preview)
        self.label_edit.textChanged.connect(self._on_label_changed)
        name_label = QLabel(tr("&Name for this computer (optional):"))
        name_label.setBuddy(self.label_edit)
        return name_label

    def _make_preview_box(self) -> QGroupBox:
        self.preview = QTableWidget(0, 3)
        self.preview.setHorizontalHeaderLabels([tr("What"), tr("Value sent"), tr("Why")])
        self.preview.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.preview.verticalHeader().hide()
        self.preview.setWordWrap(True)
        # Names and values are short (long values are shortened in the middle, whole in the tooltip); the
        # reason takes the rest of the width and wraps, so every row reads without scrolling sideways.
        self.preview.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.preview.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.preview.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)  # as tall as its rows
        # The "what" and "why" columns share the width and wrap (plain words are longer than wire names);
        # the value keeps a fixed width, shortened in the middle. Never a sideways scrollbar, even at
        # 1366x768 and 200 % (683 logical pixels).
        header = self.preview.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Fixed)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        header.resizeSection(1, VALUE_WIDTH)
        self.preview.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        header.sectionResized.connect(lambda *_args: self._fit_preview())  # a new width wraps rows anew
        self.preview.setAccessibleName(tr("Data an activation sends"))
        privacy_link = QLabel(tr('<a href="privacy">Every request the app can send, and the log of what it '
                                 'sent</a>'))
        privacy_link.linkActivated.connect(lambda _link: self.privacy_requested.emit())
        box = QGroupBox(tr("What activation will send"))
        box_layout = QVBoxLayout(box)
        self.preview_intro = QLabel(tr("Type a valid key to see exactly what will be sent."))
        self.preview_intro.setWordWrap(True)
        box_layout.addWidget(self.preview_intro)
        box_layout.addWidget(self.preview)
        box_layout.addWidget(privacy_link)
        return box

    # -- key check and preview ------------------------------------------------------------------------
    def _on_key_changed(self, text: str) -> None:
        self.banner.hide()
        self.machines_button.hide()
        key: str | None = None
        reason = ""
        if text.strip():
            try:
                key = self._api.normalize_key(text)  # local check only, nothing is sent
            except KeyFormatError as exc:
                key, reason = None, exc.reason
            except Exception as exc:  # the check itself broke: say so instead of a silent dead dialog
                self._fail(exc)
                return
        if not text.strip():
            self.format_note.setText("")
        elif key is None:
            self.format_note.setText(key_note(reason))
        else:
            self.format_note.setText(tr("✓ The key is typed correctly."))  # checked here: letters and check digits
        if key != self._key:
            self._key = key
            self._shown_for = None
            self._show_preview([])
            if key is not None:
                self._load_preview(key)
        self._update_activate()

    def machine_label(self) -> str | None:
        """The name typed for this computer; None when left empty (the default is then used)."""
        return self.label_edit.text().strip() or None

    def _can_send(self) -> bool:
        # A valid key, and only once the preview on screen is exactly what would be sent (this key and this
        # name). A key the local check knows is wrong cannot be sent: the note under it says why, once.
        if not self.key_edit.text().strip() or self._key is None:
            return False
        return self._shown_for == (self._key, self.machine_label())

    def _update_activate(self) -> None:
        self.activate_button.setEnabled(self._can_send())

    def _on_label_changed(self, _text: str) -> None:
        self._update_activate()
        if self._key is not None and self._shown_for is not None:
            # The preview on screen is current again when the name went back to what it shows.
            self._show_intro(updating=not self._can_send())
        self._label_timer.start()

    def _refresh_preview(self) -> None:
        if self._key is not None and self._shown_for != (self._key, self.machine_label()):
            self._load_preview(self._key)

    def _load_preview(self, key: str) -> None:
        api = self._api
        label = self.machine_label()

        def ready(fields: list[PreviewField]) -> None:
            self._preview_ready((key, label), fields)

        run_in_background(self, lambda: api.preview_activation(key, label=label), on_success=ready,
                          on_failure=self._fail)

    def _preview_ready(self, shown_for: tuple[str, str | None], fields: list[PreviewField]) -> None:
        if shown_for == (self._key, self.machine_label()):  # still the key and name on screen
            self._shown_for = shown_for
            self._show_preview(fields)
            self._update_activate()
            self.preview_shown.emit(fields)

    def _show_preview(self, fields: list[PreviewField]) -> None:
        self._fields = list(fields)
        self.preview.setRowCount(len(fields))
        for row, field in enumerate(fields):
            words = preview_words(field.name, field.shown_value, field.purpose, field.policy)
            why = core_words(words.why) + (f" ({core_words(words.policy)})" if words.policy else "")
            value = short_value(field.name, words.value)  # like the key: short here, exact in the tooltip
            for col, text in enumerate((core_words(words.what), value, why)):
                item = QTableWidgetItem(text)
                item.setToolTip(tr("Exactly as sent: %1").replace("%1", words.value) if col == 1 and
                                value != words.value else text)
                item.setTextAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
                self.preview.setItem(row, col, item)
        self.preview.setVisible(bool(fields))
        self._fit_preview()
        self._show_intro(updating=False, shown=bool(fields))

    def _fit_preview(self) -> None:
        """The preview as tall as all its rows (wrapped at the current width): the whole list shows, and
        the dialog scrolls when the screen is smaller than that."""
        table = self.preview
        table.resizeRowsToContents()
        rows = sum(table.rowHeight(r) for r in range(table.rowCount()))
        height = rows + table.horizontalHeader().sizeHint().height() + 2 * table.frameWidth()
        if table.height() != height:
            table.setFixedHeight(height)

    def _show_intro(self, *, updating: bool, shown: bool = True) -> None:
        if updating:
            self.preview_intro.setText(tr("Updating what will be sent…"))
        elif shown:
            if self._encrypted:
                words = tr("Pressing Activate sends exactly this to the licensing server, over an encrypted "
                           "connection. Your key and long codes are shown shortened (point at a code to see "
                           "it whole).")
            else:  # a test or local server over plain http: never claim encryption that is not there
                words = tr("Pressing Activate sends exactly this to the licensing server. This server is "
                           "reached without encryption (a local or test server). Your key and long codes are "
                           "shown shortened (point at a code to see it whole).")
            self.preview_intro.setText(words)
        else:
            self.preview_intro.setText(tr("Type a valid key to see exactly what will be sent."))

    def preview_rows(self) -> list[tuple[str, str]]:
        """The preview as (catalog field name, shown value) pairs: what the table shows, by wire name (the
        table itself shows the catalog's plain words; see :meth:`preview_cells`)."""
        return [(field.name, field.shown_value) for field in self._fields]

    def preview_cells(self) -> list[list[str]]:
        """The preview table's text, row by row, as people see it."""
        return [[item.text() if (item := self.preview.item(r, c)) is not None else "" for c in range(3)]
                for r in range(self.preview.rowCount())]

    # -- activation -----------------------------------------------------------------------------------
    def _activate(self) -> None:
        text = self.key_edit.text()
        try:
            key = self._api.normalize_key(text)
        except Exception as exc:  # KeyFormatError above all: nothing is sent
            self._fail(exc)
            return
        self._set_busy(tr("Activating…"))
        api = self._api
        label = self.machine_label()
        self._attempts += 1
        attempt = self._waiting = self._attempts

        def failed(exc: BaseException) -> None:
            if self._waiting == attempt:  # after "Stop waiting" a late failure has nothing to add
                self._fail(exc)

        run_in_background(self, lambda: api.activate(key, label=label), on_success=self._done,
                          on_failure=failed)

    def _cancel(self) -> None:
        self.reject()

    def reject(self) -> None:
        """Cancel or Escape: while waiting it stops waiting (the dialog stays, usable again); else closes."""
        if self._waiting is None:
            super().reject()
            return
        self._waiting = None
        self._fail(Cancelled())

    def _set_busy(self, text: str | None) -> None:
        self.busy.setText(text or "")
        self.busy.setVisible(bool(text))
        self.key_edit.setEnabled(not text)
        self.label_edit.setEnabled(not text)
        self.cancel_button.setText(tr("&Stop waiting") if text else tr("Cancel"))
        if text:
            self.activate_button.setEnabled(False)
            self.banner.hide()
        else:
            self._update_activate()

    def _done(self, status: LicenseStatus) -> None:
        # Also after "Stop waiting": the server activated this computer after all, so that is what is shown.
        self._waiting = None
        self._set_busy(None)
        self.format_note.setText(tr("Activated: %1").replace("%1", status_line(
            decide(TrayInputs(status), today=date.today()))))
        self.activated.emit(status)
        self.accept()

    def _fail(self, exc: BaseException) -> None:
        self._waiting = None
        self._set_busy(None)
        problem = problem_for(exc)
        self.show_problem(problem)
        self.failed.emit(problem)

    def show_problem(self, problem: Problem) -> None:
        """Show a failure with its next step."""
        # The next step (from the core) already says when trying again helps; Activate stays enabled for it.
        self.banner.show_problem(problem, problem.account_link())
        self.machines_button.setVisible(problem.offers_machines)
        if problem.offers_machines:
            self.machines_button.setFocus()

    def open_machines(self) -> MachinesDialog:
        """The "seat limit reached" way out: list the license's machines for the key entered."""
        dialog = MachinesDialog(self._api, key=self._key, parent=self)
        dialog.seat_freed.connect(lambda _mid: self.banner.show_text(
            tr("A seat is free now"), tr("Press Activate to activate this machine."), "info"))
        dialog.seat_freed.connect(lambda _mid: self.machines_button.hide())
        self._machines = dialog
        dialog.open()
        return dialog

