"""The Privacy page's other views: what may be sent (with this computer's values and the next check),
what is stored on this computer, what the vendor holds, and the choices (pause, delete, request deletion)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from html import escape
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QResizeEvent, QShowEvent
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QPushButton, QStyle, QVBoxLayout, QWidget

from crystal_manager.gui.pages.privacy_rows import (
    catalog_rows,
    core_tr,
    datum_words,
    declaration_html,
    declared_fields,
    kept_rows,
    next_check_words,
    storage_rows,
    vendor_rows,
)
from crystal_manager.gui.pages.tables import PlainTable
from crystal_manager.gui.texts import fmt_when, tr
from crystal_manager.privacy.catalog import Catalog
from crystal_manager.services.privacy_view import LONG_CODES, short_value


class FullTable(PlainTable):
    """A plain table that fits the page's width: columns as wide as their text while they fit; when the
    text is wider than the page the widest column takes what is left and its text wraps (paths wrap at
    their slashes), so nothing is cut off and nothing needs a sideways scroll."""

    MIN_COLUMN = 90  # px: a squeezed column still reads as words

    def __init__(self, headers: Sequence[str], *, name: str, parent: QWidget | None = None,
                 as_tall_as_rows: bool = False) -> None:
        super().__init__(headers, name=name, parent=parent)
        # A short list shown whole: its height follows its rows each time they are measured (they wrap to
        # more lines on a narrow page than when the table was built, hidden).
        self._as_tall_as_rows = as_tall_as_rows
        # Measure every row, not only those on screen (a hidden tab has none on screen).
        self.verticalHeader().setResizeContentsPrecision(-1)
        self.horizontalHeader().setResizeContentsPrecision(-1)
        self.horizontalHeader().setStretchLastSection(False)
        self.setWordWrap(True)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)

    def _fill(self, rows: Sequence[Sequence[str]]) -> None:
        """Put ``rows`` in the cells (paths and codes may wrap; each tooltip keeps the text exactly)."""
        super()._fill([[breakable(text) for text in row] for row in rows])
        for r, row in enumerate(rows):  # the tooltip keeps the text exactly (a path to copy)
            for c, text in enumerate(row):
                item = self.item(r, c)
                if item is not None:
                    item.setToolTip(text)

    def _size_columns(self) -> None:
        # Measuring every cell is most of a refresh's cost, and showEvent fits the table anyway: a hidden
        # table (another tab, another page, the window closed to the tray) waits until it is shown.
        if self.isVisible():
            self.fit()

    def fit(self) -> None:
        """Columns as wide as their text (and header) while they fit the visible width; else the widest are
        cut down to a common width and wrap; the last column fills any room left."""
        header = self.horizontalHeader()
        count = self.columnCount()
        if count == 0:
            return
        wanted = [max(self.sizeHintForColumn(c), header.sectionSizeHint(c)) for c in range(count)]
        room = self.viewport().width()
        if not self.verticalScrollBar().isVisible():
            # Leave room for the scroll bar that wrapped rows may bring: its coming narrows the view without
            # resizing the table (no resizeEvent), and the last column would then be cut off.
            room -= self.style().pixelMetric(QStyle.PixelMetric.PM_ScrollBarExtent)
        if not self.isVisible():
            room = max(room, sum(wanted))
        widths = capped(wanted, room, self.MIN_COLUMN)
        if sum(widths) < room:
            widths[-1] += room - sum(widths)
        for c, width in enumerate(widths):
            self.setColumnWidth(c, width)
        self.resizeRowsToContents()
        if self._as_tall_as_rows:
            height = self.horizontalHeader().sizeHint().height() + 2 * self.frameWidth()
            self.setFixedHeight(height + sum(self.rowHeight(r) for r in range(self.rowCount())) + 4)

    def showEvent(self, event: QShowEvent) -> None:
        """Fit again when shown: fonts, styles and the width are final only then."""
        super().showEvent(event)
        self.fit()

    def resizeEvent(self, event: QResizeEvent) -> None:
        """The page's width changed: fit again."""
        super().resizeEvent(event)
        self.fit()

    def cut_off_columns(self) -> list[int]:
        """Columns whose text does not fit even wrapped (tests: none may be)."""
        cut = []
        for c in range(self.columnCount()):
            if self.columnWidth(c) >= self.sizeHintForColumn(c):
                continue
            for r in range(self.rowCount()):
                item = self.item(r, c)
                if item is None:
                    continue
                needed = self.fontMetrics().boundingRect(0, 0, self.columnWidth(c) - 8, 10_000,
                                                         int(Qt.TextFlag.TextWordWrap), item.text()).height()
                if needed > self.rowHeight(r):
                    cut.append(c)
                    break
        return cut


def breakable(text: str) -> str:
    """Text that may wrap where it has no spaces: a path after each slash, a long code (a fingerprint)
    every 16 characters — a zero-width space there; the tooltip and ``rows()`` keep the text exactly."""
    if ("/" in text or "\\" in text) and " " not in text:
        parts = text.replace("\\", "/").split("/") if "/" not in text else text.split("/")
        sep = "/" if "/" in text else "\\"
        return (sep + "\u200b").join(_chunked(part) if len(part) > 16 else part for part in parts)
    return " ".join(_chunked(word) if len(word) > 24 else word for word in text.split(" "))


def capped(wanted: Sequence[int], room: int, least: int) -> list[int]:
    """Column widths that fit ``room``: the widest columns are cut down to one common cap (never below
    ``least``), the narrow ones keep what they want."""
    if sum(wanted) <= room:
        return list(wanted)
    order = sorted(wanted)
    cap = least
    for i, width in enumerate(order):  # the largest cap with sum(min(w, cap)) <= room
        rest = len(order) - i
        candidate = (room - sum(order[:i])) // rest
        if candidate < width:
            cap = max(least, candidate)
            break
    return [min(width, cap) for width in wanted]


def _chunked(word: str) -> str:
    return "\u200b".join(word[i:i + 16] for i in range(0, len(word), 16))


def wrapped(text: str = "", *, rich: bool = False) -> QLabel:
    """A label that wraps (long words never widen the page) and can be selected."""
    label = QLabel(text)
    label.setWordWrap(True)
    label.setTextFormat(Qt.TextFormat.RichText if rich else Qt.TextFormat.PlainText)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


class MaySendTab(QWidget):
    """Per request type, each datum with this computer's value; the selected one's purpose, the policy's
    words and what the vendor keeps; the next license check and what it will send."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._catalog: Catalog | None = None
        self._keys: list[tuple[str, str]] = []
        self._values: dict[str, dict[str, str]] = {}
        # What the table shows: rows, their keys, the exact values' tooltips (None: nothing yet).
        self._shown: tuple[list[list[str]], list[tuple[str, str]], dict[int, str]] | None = None
        self.next_check = wrapped()
        self.preview_button = QPushButton(tr("&Show exactly what will be sent"))
        self.preview_button.clicked.connect(self.show_next_check)
        self.table = FullTable([tr("What may be sent"), tr("This computer sends")],
                               name=tr("What the app may send"))
        self.table.currentCellChanged.connect(lambda row, *_: self._show(row))
        self.detail = wrapped(rich=True)
        self.detail.setAccessibleName(tr("Why this is sent"))
        self._previewing = False
        self.exact_box = QCheckBox(tr("Show long codes in full, exactly as sent"))
        self.exact_box.toggled.connect(lambda _on: self.show_next_check() if self._previewing else None)
        self.exact_box.hide()  # only beside the preview of the next check (the list's tooltips are exact)
        top = QHBoxLayout()
        top.addWidget(self.next_check, 1)
        top.addWidget(self.preview_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.detail)
        layout.addWidget(self.exact_box)

    def set_catalog(self, catalog: Catalog, values: dict[str, dict[str, str]] | None = None) -> None:
        """Show the catalog, with this computer's values once known."""
        self._catalog = catalog
        self._values = values or {}
        rows, self._keys = catalog_rows(catalog, values)
        tips = {row: tr("Exactly as sent: %1").replace("%1", exact) for row, (kind, name) in enumerate(self._keys)
                if name in LONG_CODES and (exact := self._values.get(kind, {}).get(name)) is not None}
        # Nothing changed (a refresh of the same values): the table stays as it is, widths included.
        if (rows, self._keys, tips) != self._shown:
            self._shown = (rows, list(self._keys), tips)
            self._fill_table(rows, tips)
        self._previewing = False
        self.exact_box.hide()
        self.detail.setText(tr("Select a line to see what it is for and what the privacy policy says."))

    def _fill_table(self, rows: list[list[str]], tips: dict[int, str]) -> None:
        self.table.clearSpans()
        self.table.set_rows(rows)
        for row, (_kind, name) in enumerate(self._keys):
            if not name and rows[row][1] == "" and rows[row][0] != tr("nothing about you"):
                # A request's heading: bold, across both columns.
                self.table.setSpan(row, 0, 1, 2)
                item = self.table.item(row, 0)
                if item is not None:
                    font = item.font()
                    font.setBold(True)
                    item.setFont(font)
        for row, text in enumerate(rows):
            item = self.table.item(row, 1)
            if item is not None:  # a long code's cell shows it short; its tooltip holds it exactly
                item.setToolTip(tips.get(row, text[1]))
        # Fitted again now that the headings are bold and span both columns (resizeColumnsToContents here
        # undid the fit: columns past the visible width, cut off with no sideways scroll bar); a hidden table
        # is fitted when shown.
        if self.table.isVisible():
            self.table.fit()

    def set_next_check(self, when: str | None, activated: bool) -> None:
        """"Next license check: …" (or why there is none)."""
        if not activated:
            self.next_check.setText(tr("This computer is not activated: no license check is scheduled."))
        elif when:
            self.next_check.setText(tr("Next license check: %1.").replace("%1", next_check_words(when)))
        else:
            self.next_check.setText(tr("The next license check is due now."))

    def select(self, kind: str, name: str) -> bool:
        """Select the declaration of ``name`` in request ``kind`` (or of what every request carries)."""
        for row, key in enumerate(self._keys):
            if key == (kind, name) or (kind == "*" and key == ("*", name)):
                self.table.setCurrentCell(row, 0)
                return True
        return False

    def show_next_check(self) -> None:
        """Select the license check's lines and list exactly what it will send, with this computer's values."""
        from html import escape

        values = self._values.get("license_validate", {})
        request_type = self._catalog.get("license_validate") if self._catalog is not None else None
        if request_type is None or self._catalog is None:
            return
        self.select("license_validate", "key")
        exact = self.exact_box.isChecked()

        def value(name: str) -> str:
            return values[name] if exact else short_value(name, values[name])

        lines = "".join(f"<li>{escape(datum_words(spec))}: <code>{escape(value(spec.name))}</code></li>"
                        for spec in declared_fields(self._catalog, request_type) if spec.name in values)
        lead = tr("The next license check sends exactly this:") if exact else \
            tr("The next license check sends this (long codes shortened):")
        self.detail.setText("<b>" + lead + f"</b><ul>{lines}</ul>" if lines else tr("Not known yet."))
        self._previewing = True
        self.exact_box.show()

    def _show(self, row: int) -> None:
        if self._catalog is not None and 0 <= row < len(self._keys):
            self._previewing = False
            self.exact_box.hide()
            kind, name = self._keys[row]
            self.detail.setText(declaration_html(self._catalog, kind, name))


class StoredTab(QWidget):
    """Every file the Manager keeps, where and its size; the keyring entries, named, never shown."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.table = FullTable([tr("What"), tr("Size"), tr("Where")], name=tr("Stored on this computer"))
        self.keyring = wrapped()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.keyring)

    def set_storage(self, files: list[dict[str, Any]], keyring: list[dict[str, str]]) -> None:
        """Show the files and name the keyring entries."""
        self.table.set_rows(storage_rows(files))
        self.keyring.setText(tr("In your system's keyring (named here, never shown): %1.").replace(
            "%1", "; ".join(core_tr(k["what"]) for k in keyring)))


class VendorTab(QWidget):
    """What the vendor's server holds: asked on demand (it sends the license key), beside what it declares
    it keeps."""

    vendor_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ask_button = QPushButton(tr("&Ask the vendor what it holds"))
        self.ask_button.clicked.connect(self.vendor_requested.emit)
        self.note = wrapped(tr("Asking sends your license key (nothing else) and is recorded in the log."))
        self.table = FullTable([tr("What the vendor holds"), tr("Details")], name=tr("What the vendor holds"))
        # Long sentences: a wrapped list reads at any width (a table would cut them or scroll sideways).
        self.kept = wrapped("<b>" + tr("What the vendor says it keeps, and for how long:") + "</b><ul>" + "".join(
            f"<li>{escape(what)} — {escape(how_long)}</li>" for what, how_long in kept_rows()) + "</ul>", rich=True)
        self.kept.setAccessibleName(tr("What the vendor keeps"))
        top = QHBoxLayout()
        top.addWidget(self.ask_button)
        top.addWidget(self.note, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.kept)

    def set_report(self, report: dict[str, Any]) -> None:
        """Show the vendor's answer."""
        self.table.set_rows(vendor_rows(report))
        self.note.setText(tr("This is what the vendor's server answered, as it stores it."))

    def show_problem(self, words: str) -> None:
        """Why the vendor could not be asked."""
        self.note.setText(words)


class ChoicesTab(QWidget):
    """Pause background checks, delete all local data, ask the vendor to delete its data."""

    pause_changed = Signal(bool)
    delete_local_requested = Signal()
    deletion_requested = Signal(bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.confirm: Callable[[str, str], bool] = _ask
        self.pause = QCheckBox(tr("&Pause background checks"))
        self.pause.toggled.connect(self.pause_changed.emit)
        self.pause_note = wrapped()
        self.set_grace(None)
        self.delete_local = QPushButton(tr("&Delete all data on this computer…"))
        self.delete_local.clicked.connect(self._delete_local)
        self.request = QPushButton(tr("Ask the &vendor to delete your data…"))
        self.request.clicked.connect(lambda: self._request(False))
        self.all_machines = QCheckBox(tr("Every computer on my license, not only this one"))
        self.result = wrapped()
        self.result.setAccessibleName(tr("What happened"))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.pause)
        layout.addWidget(self.pause_note)
        layout.addWidget(wrapped(tr("Deleting the data on this computer frees its seat first (if activated), "
                                    "then deletes settings, the log, the license record, downloads, logs and "
                                    "the keyring entries, and the Manager closes. CrystalMe3D Pro's installed "
                                    "versions stay.")))
        layout.addWidget(self.delete_local, 0, Qt.AlignmentFlag.AlignLeft)
        layout.addWidget(wrapped(tr("Asking the vendor to delete your data removes this computer's entry on "
                                    "your license and its history at the vendor; the license itself is kept.")))
        row = QHBoxLayout()
        row.addWidget(self.request)
        row.addWidget(self.all_machines, 1)
        layout.addLayout(row)
        layout.addWidget(self.result)
        layout.addStretch(1)

    def set_grace(self, lease_until: str | None) -> None:
        """Say until when the license works without a check (the lease's end), when activated."""
        general = tr("While paused, the Manager makes no license check and no update check on its own; it sends "
                     "only what you ask for. Your license keeps working offline for its grace period, counted "
                     "from the last successful check; after that CrystalMe3D Pro stops until a check succeeds.")
        if lease_until:
            general += " " + tr("Without another check, your license works until %1.").replace(
                "%1", fmt_when(lease_until))
        self.pause_note.setText(general)

    def set_paused(self, paused: bool) -> None:
        """Show the saved choice (without announcing it as a change)."""
        self.pause.blockSignals(True)
        self.pause.setChecked(paused)
        self.pause.blockSignals(False)

    def _delete_local(self) -> None:
        if self.confirm(tr("Delete all data on this computer"),
                        tr("If this computer is activated it is deactivated first, and CrystalMe3D Pro will "
                           "need the license key again. Then every file the Manager keeps and its keyring "
                           "entries are deleted. This cannot be undone.")):
            self.delete_local_requested.emit()

    def _request(self, _checked: bool) -> None:
        every = self.all_machines.isChecked()
        text = (tr("The vendor deletes the data of EVERY computer on your license: each one stops working until "
                   "it is activated again with the license key. The license itself is kept.") if every else
                tr("The vendor deletes this computer's entry on your license and its history. This computer is "
                   "then no longer activated; activate again to use it. The license itself is kept."))
        if self.confirm(tr("Ask the vendor to delete your data"), text):
            self.deletion_requested.emit(every)


def _ask(title: str, text: str) -> bool:
    from PySide6.QtWidgets import QMessageBox

    box = QMessageBox(QMessageBox.Icon.Warning, title, text, QMessageBox.StandardButton.Cancel)
    box.setTextFormat(Qt.TextFormat.PlainText)
    yes = box.addButton(tr("Delete"), QMessageBox.ButtonRole.DestructiveRole)
    box.setDefaultButton(QMessageBox.StandardButton.Cancel)
    box.exec()
    return box.clickedButton() is yes
