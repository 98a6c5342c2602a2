"""The Privacy page, for people who are not engineers: first a summary in plain words (what this app
sends, and when it last did), then the evidence — what was sent, what may be sent, and what else leaves
or is kept by the vendor — all generated from the same catalog and ledger the gateway uses."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QTabWidget, QVBoxLayout, QWidget

from crystal_manager.gui.pages.tables import PlainTable
from crystal_manager.gui.texts import fmt_when, tr
from crystal_manager.gui.widgets import page_title
from crystal_manager.privacy.catalog import (
    DISCLOSURES,
    POLICY_SECTIONS,
    SERVER_KEEPS,
    Catalog,
    FieldSpec,
    sent_in_words,
)


def _error_words(error: str) -> str:
    """A transport error in words (the ledger keeps the class name)."""
    words = {"ConnectFailed": tr("no answer: server not reachable"), "TimedOut": tr("no answer: it took too long"),
             "TLSFailed": tr("no answer: the secure connection failed"),
             "ProxyFailed": tr("no answer: the proxy failed"),
             "ResponseTooLarge": tr("stopped: the answer was too large"),
             "ProtocolFailed": tr("no answer: broken connection"), "KeyboardInterrupt": tr("interrupted"),
             "_Stop": tr("paused or cancelled by you")}
    return words.get(error, error)


def _short(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 16 else text[:12] + "…"


def _policy_words(section: str) -> str:
    return f"{section} {POLICY_SECTIONS.get(section, '').split(':')[0]}".strip()


def _title(catalog: Catalog, kind: str) -> str:
    request_type = catalog.get(kind)
    return request_type.title if request_type is not None else kind


def result_words(entry: dict[str, Any]) -> str:
    """How a request ended, in words."""
    if entry.get("state") == "pending":
        return tr("sent; no answer recorded (interrupted?)")
    error, status = entry.get("error"), entry.get("status")
    if error:
        return _error_words(str(error))
    if isinstance(status, int) and status < 300:
        return tr("answered")
    return tr("refused by the server (%1)").replace("%1", str(status)) if status else tr("no answer")


def catalog_rows(catalog: Catalog) -> list[list[str]]:
    """One row per datum a request may carry (what every request carries is listed once, at the end)."""
    rows: list[list[str]] = []

    def row(title: str, spec: FieldSpec) -> list[str]:
        example = "…" + spec.example[-4:] if spec.secret else spec.example
        return [title, spec.plain or spec.name, example, spec.purpose, _policy_words(spec.policy), spec.retention]

    for request_type in catalog.types:
        rows += [row(request_type.title, spec) for spec in request_type.fields]
        if not request_type.fields:
            rows.append([request_type.title, tr("nothing about you"), "", request_type.purpose,
                         ", ".join(_policy_words(p) for p in request_type.policy), ""])
    rows += [row(tr("Every request"), spec) for spec in catalog.common_headers]
    return rows


def ledger_rows(entries: Sequence[dict[str, Any]], catalog: Catalog | None = None) -> list[list[str]]:
    """Newest first: when, what, who asked, how it ended, exactly which data (secrets already masked), size."""
    from crystal_manager.privacy.catalog import default_catalog

    cat = catalog or default_catalog()
    rows: list[list[str]] = []
    for entry in reversed(entries):
        request_type = cat.get(str(entry.get("kind", "")))
        fields = dict(entry.get("fields") or {})
        # In the catalog's order (the ledger stores them sorted), values shortened: the full entry is in
        # `crystal-manager privacy log`.
        order = [spec.name for spec in request_type.fields] if request_type is not None else []
        names = [n for n in order if n in fields] + sorted(n for n in fields if n not in order)
        shown = [f"{name.replace('_', ' ')}: {_short(fields[name])}" for name in names]
        rows.append([fmt_when(str(entry.get("ts") or "")), _title(cat, str(entry.get("kind", ""))),
                     str(entry.get("host", "")),
                     tr("you asked") if entry.get("trigger") == "user" else tr("automatic"),
                     result_words(entry), "; ".join(shown) or tr("nothing about you"),
                     tr("%1 bytes sent, %2 received").replace("%1", str(entry.get("bytes_sent", 0)))
                     .replace("%2", str(entry.get("bytes_received", 0)))])
    return rows


def summary_text(catalog: Catalog, entries: Sequence[dict[str, Any]]) -> str:
    """The summary in plain words (rich text): what is sent for the license, for updates, and the last
    request."""
    from html import escape

    validate = catalog.get("license_validate")
    license_words = sent_in_words(validate, catalog) if validate is not None else []
    items = "".join(f"<li>{escape(word)}</li>" for word in license_words)
    done = [e for e in entries if e.get("kind")]
    if done:
        last = done[-1]
        request_type = catalog.get(str(last.get("kind")))
        purpose = request_type.title if request_type is not None else str(last.get("kind"))
        last_words = tr("Last sent: %1 — %2 (%3).").replace("%1", fmt_when(str(last.get("ts") or ""))) \
            .replace("%2", purpose).replace("%3", result_words(last))
    else:
        last_words = tr("Nothing has been sent from this computer yet.")
    return ("<p><b>" + tr("This app sends only what it needs to check your license and to offer updates, and "
                          "only to the CrystalMe3D Pro server. It never sends your files, images or projects.")
            + "</b></p><p>" + tr("To check your license (about once a day) it sends:") + f"</p><ul>{items}</ul>"
            + "<p>" + tr("To look for updates it sends only the names of the files it fetches, and the "
                         "Manager's version.") + "</p><p><b>" + escape(last_words) + "</b></p>")


class PrivacyPage(QWidget):
    """Summary, then tabs; ``refresh_requested`` asks for the ledger to be read again (in the background)."""

    refresh_requested = Signal()
    export_requested = Signal(str)
    clear_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._catalog: Catalog | None = None
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        self.summary.setAccessibleName(tr("What this app sends, in short"))
        self.ledger_table = PlainTable([tr("When"), tr("What"), tr("Sent to"), tr("Why"), tr("Result"),
                                        tr("Data sent"), tr("Size")], name=tr("What the app has sent"))
        self.catalog_table = PlainTable([tr("Request"), tr("Data"), tr("Example"), tr("What it is for"),
                                         tr("Privacy policy"), tr("Kept by the vendor")],
                                        name=tr("What the app may send"))
        self.others_table = PlainTable([tr("What"), tr("In short"), tr("Who sees or keeps it")],
                                       name=tr("What else leaves, and what the vendor keeps"))
        self.others_table.set_rows([[d.title, d.what, d.who_sees] for d in DISCLOSURES]
                                   + [[tr("Kept by the vendor: ") + k.what, tr("For %1, %2.").replace(
                                       "%1", k.how_long).replace("%2", k.why), tr("The CrystalMe3D Pro server")]
                                      for k in SERVER_KEEPS])
        self.ledger_note = QLabel()
        self.detail = QLabel()
        self.detail.setWordWrap(True)
        self.detail.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.detail.setAccessibleName(tr("Exactly what the selected request sent"))
        self._entries: list[dict[str, Any]] = []
        self.ledger_table.currentCellChanged.connect(lambda row, *_: self._show_detail(row))
        # Seams (tests answer them; people get the usual dialogs).
        self.ask_file: Callable[[], str | None] = self._ask_file
        self.confirm: Callable[[str], bool] = self._confirm
        self.tabs = QTabWidget()
        ledger = self._ledger_tab()
        self.tabs.addTab(ledger, tr("What was sent"))
        self.tabs.addTab(self.catalog_table, tr("What may be sent"))
        self.tabs.addTab(self.others_table, tr("Everything else"))
        refresh = QPushButton(tr("&Refresh the log"))
        refresh.setAccessibleName(tr("Refresh the log"))
        refresh.clicked.connect(self.refresh_requested.emit)
        policy = QLabel(tr("Privacy policy sections: ") + " · ".join(
            _policy_words(k) for k in POLICY_SECTIONS))
        policy.setWordWrap(True)
        policy.setToolTip("\n".join(f"{k} {v}" for k, v in POLICY_SECTIONS.items()))
        bottom = QHBoxLayout()
        bottom.addWidget(policy, 1)
        bottom.addWidget(refresh)
        layout = QVBoxLayout(self)
        layout.addWidget(page_title(tr("Privacy")))
        layout.addWidget(self.summary)
        layout.addWidget(self.tabs, 1)
        layout.addLayout(bottom)

    def _ledger_tab(self) -> QWidget:
        """The log, the selected request's exact data, and the controls beside them."""
        ledger = QWidget()
        ledger_layout = QVBoxLayout(ledger)
        ledger_layout.setContentsMargins(0, 0, 0, 0)
        ledger_layout.addWidget(self.ledger_note)
        ledger_layout.addWidget(self.ledger_table)
        ledger_layout.addWidget(self.detail)
        controls = QHBoxLayout()
        self.export_button = QPushButton(tr("&Export the log and the list…"))
        self.export_button.clicked.connect(self._export)
        self.clear_button = QPushButton(tr("&Clear the history…"))
        self.clear_button.clicked.connect(self._clear)
        controls.addWidget(self.export_button)
        controls.addWidget(self.clear_button)
        controls.addStretch(1)
        ledger_layout.addLayout(controls)
        return ledger

    def set_catalog(self, catalog: Catalog) -> None:
        """Show the catalog."""
        self._catalog = catalog
        self.catalog_table.set_rows(catalog_rows(catalog))
        self.summary.setText(summary_text(catalog, []))

    def set_ledger(self, entries: Sequence[dict[str, Any]]) -> None:
        """Show the ledger entries (oldest first as read; shown newest first)."""
        from crystal_manager.privacy.catalog import default_catalog

        catalog = self._catalog or default_catalog()
        self._entries = list(reversed(entries))  # as shown: newest first
        self.ledger_table.set_rows(ledger_rows(entries, catalog))
        self.detail.setText(tr("Select a request to see exactly what it sent.") if entries else "")
        self.summary.setText(summary_text(catalog, entries))
        self.ledger_note.setText(tr("Nothing has been sent yet.") if not entries else
                                 (tr("1 request recorded.") if len(entries) == 1 else
                                  tr("%1 requests recorded, newest first.").replace("%1", str(len(entries))))
                                 + " " + tr("Only the last four characters of your license key are kept here."))

    def _show_detail(self, row: int) -> None:
        if not 0 <= row < len(self._entries):
            return
        entry = self._entries[row]
        fields = entry.get("fields") or {}
        headers = entry.get("headers") or {}
        self.detail.setText(tr("Data: %1\nHeaders: %2").replace(
            "%1", json.dumps(fields, ensure_ascii=False, sort_keys=True) if fields else tr("none"))
            .replace("%2", "; ".join(f"{k}: {v}" for k, v in headers.items())))

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
