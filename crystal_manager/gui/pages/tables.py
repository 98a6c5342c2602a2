"""A read-only table filled from rows of strings (the Privacy and Updates pages' plain tables)."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem, QWidget


class PlainTable(QTableWidget):
    """Headers, rows of text, selectable, not editable, keyboard-navigable."""

    def __init__(self, headers: Sequence[str], *, name: str, parent: QWidget | None = None) -> None:
        super().__init__(0, len(headers), parent)
        self.setHorizontalHeaderLabels(list(headers))
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setAlternatingRowColors(True)
        self.setWordWrap(False)
        self.verticalHeader().hide()
        self.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.horizontalHeader().setStretchLastSection(True)
        self.setAccessibleName(name)
        self._given: list[list[str]] | None = None  # the rows last given to set_rows

    def set_rows(self, rows: Sequence[Sequence[str]]) -> None:
        """Replace the content. The same rows again leave the table as it is: a refresh where nothing changed
        keeps the column widths the user dragged, and skips re-measuring every cell (the Privacy page is
        refreshed often, mostly with what it already shows)."""
        given = [list(row) for row in rows]
        if given == self._given:
            return
        self._given = given
        self._fill(given)

    def _fill(self, rows: Sequence[Sequence[str]]) -> None:
        """Put ``rows`` in the cells, and size the columns to them."""
        self.setRowCount(len(rows))
        for r, row in enumerate(rows):
            for c, text in enumerate(row):
                item = QTableWidgetItem(text)
                item.setToolTip(text)
                self.setItem(r, c, item)
        self._size_columns()

    def _size_columns(self) -> None:
        """Columns as wide as their text, none but the last wider than 320 px."""
        self.resizeColumnsToContents()
        for c in range(self.columnCount() - 1):
            self.setColumnWidth(c, min(self.columnWidth(c), 320))

    def rows(self) -> list[list[str]]:
        """The content as text (tests, copy)."""
        out: list[list[str]] = []
        for r in range(self.rowCount()):
            items = [self.item(r, c) for c in range(self.columnCount())]
            # Without the zero-width spaces that let a path wrap (privacy_tabs.breakable): the text itself.
            out.append([item.text().replace("\u200b", "") if item is not None else "" for item in items])
        return out
