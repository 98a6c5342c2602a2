"""The Privacy page, for people who are not engineers: first a summary in plain words (what this app
sends, when it last did, when it will next), then the evidence — what was sent (filtered by kind and
date, each datum linked to its declaration), what may be sent (with this computer's own values), what is
stored here, what the vendor holds — and the choices beside it. All generated from the same catalog and
ledger the gateway uses (rows: privacy_rows.py; the other views: privacy_tabs.py)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from html import escape
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QPushButton,
    QScrollArea,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from crystal_manager.gui.pages.privacy_rows import (
    ENTRY_PREFIX,
    LINK_PREFIX,
    core_tr,
    entry_html,
    filtered,
    ledger_rows,
    line_html,
    summary_html,
    title_of,
)
from crystal_manager.gui.pages.privacy_tabs import ChoicesTab, FullTable, MaySendTab, StoredTab, VendorTab, wrapped
from crystal_manager.gui.texts import tr
from crystal_manager.gui.widgets import page_title
from crystal_manager.privacy.catalog import DISCLOSURES, Catalog, default_catalog
from crystal_manager.services.privacy_view import LogLine, log_lines


class PrivacyPage(QWidget):
    """Summary, then tabs. Signals ask the app to act (in the background); ``set_*`` show the results."""

    refresh_requested = Signal()
    export_requested = Signal(str)
    clear_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._catalog: Catalog = default_catalog()
        self._all: list[dict[str, Any]] = []
        self._lines: list[LogLine] = []  # as shown: filtered, newest first (an update check is one line)
        self._opened: dict[str, Any] | None = None  # one request of an update check, opened from its line
        self._next_check: str | None = None
        self.summary = wrapped(rich=True)
        self.summary.setAccessibleName(tr("What this app sends, in short"))
        self.ledger_table = FullTable([tr("When"), tr("What"), tr("Why"), tr("Result"), tr("Size")],
                                       name=tr("What the app has sent"))
        self.ledger_table.currentCellChanged.connect(lambda row, *_: self._show_detail(row))
        self.ledger_note = wrapped()
        self.detail = wrapped(rich=True)
        self.detail.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
        self.detail.setAccessibleName(tr("Exactly what the selected request sent"))
        self.detail.linkActivated.connect(self._follow)
        # Long codes read short, like the key ("v1:d602…"); the exact value, the proof, is one tick away.
        self.exact_box = QCheckBox(tr("Show long codes in full, exactly as sent"))
        self.exact_box.toggled.connect(lambda _on: self._show_detail(self.ledger_table.currentRow(),
                                                                       keep_open=True))
        # Seams (tests answer them; people get the usual dialogs).
        self.ask_file: Callable[[], str | None] = self._ask_file
        self.confirm: Callable[[str], bool] = self._confirm
        self.may_send = MaySendTab()
        self.stored = StoredTab()
        self.vendor = VendorTab()
        self.choices = ChoicesTab()
        self.others_table = FullTable([tr("What"), tr("Who sees or keeps it")],
                                       name=tr("What else leaves this computer"), as_tall_as_rows=True)
        self.others_table.set_rows([[core_tr(d.title), core_tr(d.who_sees)] for d in DISCLOSURES])
        self.others_detail = wrapped()
        self.others_table.currentCellChanged.connect(
            lambda row, *_: self.others_detail.setText(core_tr(DISCLOSURES[row].what))
            if 0 <= row < len(DISCLOSURES) else None)
        self.catalog_table = self.may_send.table
        self.tabs = QTabWidget()
        # Short names, so all six tabs show at the window's default width (900 px) without scroll arrows;
        # the full name is each tab's tooltip.
        for tab, name, full in ((self._ledger_tab(), tr("Sent"), tr("What was sent")),
                                (self.may_send, tr("May be sent"), tr("What may be sent")),
                                (self.stored, tr("Stored here"), tr("Stored on this computer")),
                                (self.vendor, tr("At the vendor"), tr("What the vendor holds")),
                                (self._others_tab(), tr("Other"), tr("Everything else that leaves this computer")),
                                (self.choices, tr("Your choices"), tr("Your choices"))):
            self.tabs.setTabToolTip(self.tabs.addTab(tab, name), full)
        # In a scroll area: at 200 % on a 1366x768 screen the page has 683x384 points; it scrolls rather
        # than squeezing the tables to nothing.
        # The content goes into the scroll area when the page is first shown: setWidget measures all of it at
        # once (every wrapped paragraph at every width: ~7-15 ms), which a window opened on another page, or
        # kept in the tray, never needs. Until then it is a hidden child of the page.
        self._content: QWidget | None = QWidget(self)
        self._content.hide()
        self._content.setMinimumHeight(560)
        column = QVBoxLayout(self._content)
        column.addWidget(page_title(tr("Privacy")))
        column.addWidget(self.summary)
        column.addWidget(self.tabs, 1)
        self.scroller = QScrollArea()
        self.scroller.setWidgetResizable(True)
        self.scroller.setFrameShape(QScrollArea.Shape.NoFrame)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.scroller)
        self.set_catalog(self._catalog)

    def showEvent(self, event: QShowEvent) -> None:
        """First shown: the content goes into the scroll area (and is laid out, before it is painted)."""
        if self._content is not None:
            self.scroller.setWidget(self._content)
            self._content = None
        super().showEvent(event)

    def _ledger_tab(self) -> QWidget:
        """The log with its filters, the selected request's exact data, and the controls beside them."""
        self.kind_filter = QComboBox()
        self.kind_filter.setAccessibleName(tr("Show requests of this kind"))
        self.period_filter = QComboBox()
        self.period_filter.setAccessibleName(tr("Show requests from"))
        for label, days in ((tr("Any time"), None), (tr("Today"), 0), (tr("Last 7 days"), 7),
                            (tr("Last 30 days"), 30)):
            self.period_filter.addItem(label, days)
        self.kind_filter.currentIndexChanged.connect(lambda _i: self._show_entries())
        self.period_filter.currentIndexChanged.connect(lambda _i: self._show_entries())
        ledger = QWidget()
        box = QVBoxLayout(ledger)
        box.setContentsMargins(0, 0, 0, 0)
        filters = QHBoxLayout()
        filters.addWidget(self.ledger_note, 1)
        filters.addWidget(self.kind_filter)
        filters.addWidget(self.period_filter)
        box.addLayout(filters)
        box.addWidget(self.ledger_table, 1)
        box.addWidget(self.detail)
        box.addWidget(self.exact_box)
        controls = QHBoxLayout()
        self.export_button = QPushButton(tr("&Export the log and the list…"))
        self.export_button.clicked.connect(self._export)
        self.clear_button = QPushButton(tr("&Clear the history…"))
        self.clear_button.clicked.connect(self._clear)
        refresh = QPushButton(tr("&Refresh the log"))
        refresh.clicked.connect(self.refresh_requested.emit)
        for button in (self.export_button, self.clear_button, refresh):
            controls.addWidget(button)
        controls.addStretch(1)
        box.addLayout(controls)
        return ledger

    def _others_tab(self) -> QWidget:
        others = QWidget()
        box = QVBoxLayout(others)
        box.setContentsMargins(0, 0, 0, 0)
        box.addWidget(self.others_table)
        box.addWidget(self.others_detail)
        box.addStretch(1)
        # A few rows: the list is as tall as they are, and the first one's explanation shows at once.
        self.others_table.setCurrentCell(0, 0)
        self.others_table.fit()  # measured now, though hidden (as_tall_as_rows: fitted again when shown)
        return others

    # -- facts in -------------------------------------------------------------------------------------
    def set_catalog(self, catalog: Catalog, values: dict[str, dict[str, str]] | None = None) -> None:
        """Show the catalog (with this computer's values once known) and offer its kinds in the filter."""
        self._catalog = catalog
        self.may_send.set_catalog(catalog, values)
        current = self.kind_filter.currentData()
        self.kind_filter.blockSignals(True)
        self.kind_filter.clear()
        self.kind_filter.addItem(tr("All requests"), None)
        for request_type in catalog.types:
            self.kind_filter.addItem(title_of(catalog, request_type.kind), request_type.kind)
        self.kind_filter.setCurrentIndex(max(0, self.kind_filter.findData(current)))
        self.kind_filter.blockSignals(False)
        self._show_summary()

    def set_facts(self, values: dict[str, dict[str, str]], next_check: str | None, activated: bool,
                  files: list[dict[str, Any]], keyring: list[dict[str, str]], *,
                  lease_until: str | None = None) -> None:
        """This computer's values, the next license check, what is stored here, and until when the license
        works without a check (what pausing the checks means)."""
        self._next_check = next_check if activated else None
        self.choices.set_grace(lease_until)
        self.may_send.set_catalog(self._catalog, values)
        self.may_send.set_next_check(next_check, activated)
        self.stored.set_storage(files, keyring)
        self._show_summary()

    def set_ledger(self, entries: Sequence[dict[str, Any]]) -> None:
        """Show the ledger entries (oldest first as read; shown newest first, as filtered)."""
        self._all = list(entries)
        self._show_entries()
        self._show_summary()

    def _show_summary(self) -> None:
        self.summary.setText(summary_html(self._catalog, self._all, self._next_check))

    def _show_entries(self) -> None:
        shown = filtered(self._all, self.kind_filter.currentData(), self.period_filter.currentData())
        # The line the user is reading stays selected when new ones arrive (they come in at the top, so
        # the same row number would now be another line); a line is known by its first request.
        row = self.ledger_table.currentRow()
        picked = self._lines[row].first.get("id") if 0 <= row < len(self._lines) else None
        self._lines = list(reversed(log_lines(shown)))
        table = self.ledger_table
        table.blockSignals(True)
        table.set_rows(ledger_rows(list(reversed(self._lines)), self._catalog))
        again = next((i for i, ln in enumerate(self._lines) if picked is not None and ln.first.get("id") == picked),
                     -1)
        if again >= 0:
            table.setCurrentCell(again, 0)
        else:
            table.clearSelection()
        table.blockSignals(False)
        if again >= 0:
            self._show_detail(again, keep_open=True)
        else:
            self._opened = None
            self.detail.setText(tr("Select a request to see exactly what it sent.") if shown else "")
        total = len(self._all)
        if not total:
            note = tr("Nothing has been sent yet.")
        elif len(shown) != total:
            note = tr("%1 of %2 requests shown.").replace("%1", str(len(shown))).replace("%2", str(total))
        else:
            note = tr("1 request recorded.") if total == 1 else \
                tr("%1 requests recorded, newest first.").replace("%1", str(total))
        if len(self._lines) != len(shown):
            note += " " + tr("The files of one update check are on one line.")
        self.ledger_note.setText(note + (" " + tr("Only the last four characters of your license key are kept "
                                                  "here.") if total else ""))

    def _show_detail(self, row: int, *, keep_open: bool = False) -> None:
        """The selected line's details: one request's data, or an update check's files (each opens its own)."""
        if not 0 <= row < len(self._lines):
            return
        line = self._lines[row]
        # By id: a request still pending when it was opened is a new record once its answer is in.
        opened = self._opened.get("id") if keep_open and self._opened is not None else None
        now = next((e for e in line.entries if opened is not None and e.get("id") == opened), None)
        self._opened = now if now is not None else line.first if line.count == 1 else None
        exact = self.exact_box.isChecked()
        if self._opened is None:
            self.detail.setText(line_html(self._catalog, line))
            return
        back = f'<a href="{ENTRY_PREFIX}">' + escape(tr("Back to all files of this update check")) + "</a><br>" \
            if line.count > 1 else ""
        self.detail.setText(back + entry_html(self._catalog, self._opened, exact=exact))

    def _follow(self, link: str) -> None:
        """A datum in the log was selected: show its declaration; a file of an update check: its request."""
        if link.startswith(ENTRY_PREFIX):
            row = self.ledger_table.currentRow()
            if 0 <= row < len(self._lines):
                wanted = link[len(ENTRY_PREFIX):]  # empty: back to the line
                self._opened = next((e for e in self._lines[row].entries if wanted and str(e.get("id")) == wanted),
                                    None)
                self._show_detail(row, keep_open=True)
            return
        if not link.startswith(LINK_PREFIX):
            return
        kind, _, name = link[len(LINK_PREFIX):].partition(":")
        if self.may_send.select(kind, name) or self.may_send.select("*", name):
            self.tabs.setCurrentWidget(self.may_send)

    # -- controls -------------------------------------------------------------------------------------
    def _ask_file(self) -> str | None:
        from PySide6.QtWidgets import QFileDialog

        path, _ = QFileDialog.getSaveFileName(self, tr("Export the privacy log"), "privacy-log.json",
                                              tr("JSON (*.json)"))
        return path or None

    def _confirm(self, text: str) -> bool:
        from PySide6.QtWidgets import QMessageBox

        answer = QMessageBox.question(self, tr("Clear the history"), text)
        return answer == QMessageBox.StandardButton.Yes

    def _export(self) -> None:
        path = self.ask_file()
        if path:
            self.export_requested.emit(path)

    def _clear(self) -> None:
        if self.confirm(tr("Delete the record of every request this app has sent? This only clears the history "
                           "on this computer; it sends nothing and deletes nothing at the vendor.")):
            self.clear_requested.emit()
