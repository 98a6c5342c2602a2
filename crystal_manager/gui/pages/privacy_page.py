"""The Privacy page: every request the app can send (the data catalog) and every request it did send
(the ledger), as plain tables from the same sources the gateway uses."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QTabWidget, QVBoxLayout, QWidget

from crystal_manager.gui.pages.tables import PlainTable
from crystal_manager.gui.texts import fmt_when, tr
from crystal_manager.gui.widgets import page_title
from crystal_manager.privacy.catalog import POLICY_SECTIONS, Catalog


def catalog_rows(catalog: Catalog) -> list[list[str]]:
    """One row per datum a request may carry (common headers listed once)."""
    rows: list[list[str]] = []
    for rt in catalog.types:
        for spec in rt.fields:
            rows.append([rt.title, f"{rt.method} {rt.path}", f"{spec.name} ({spec.location})",
                         "…" + spec.example[-4:] if spec.secret else spec.example, spec.purpose,
                         spec.policy, spec.retention])
        if not rt.fields:
            rows.append([rt.title, f"{rt.method} {rt.path}", tr("(nothing about you)"), "", rt.purpose,
                         ", ".join(rt.policy), ""])
    for spec in catalog.common_headers:
        rows.append([tr("Every request"), "", f"{spec.name} (header)", spec.example, spec.purpose, spec.policy,
                     spec.retention])
    return rows


def ledger_rows(entries: Sequence[dict[str, Any]]) -> list[list[str]]:
    """Newest first: when, what, where, why, result, exactly which data (secrets already masked)."""
    rows: list[list[str]] = []
    for entry in reversed(entries):
        result = str(entry.get("status") or "") or str(entry.get("error") or "")
        rows.append([fmt_when(str(entry.get("ts") or "")), str(entry.get("kind", "")),
                     f"{entry.get('method', '')} {entry.get('host', '')}{entry.get('path', '')}",
                     str(entry.get("trigger", "")), result,
                     json.dumps(entry.get("fields", {}), ensure_ascii=False, sort_keys=True),
                     f"{entry.get('bytes_sent', 0)} / {entry.get('bytes_received', 0)}"])
    return rows


class PrivacyPage(QWidget):
    """Two tables; ``refresh_requested`` asks for the ledger to be read again (in the background)."""

    refresh_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        intro = QLabel(tr("The app talks only to the CrystalMe3D Pro server, and only to check the license and "
                          "to offer updates. It cannot send anything that is not listed below: every request is "
                          "checked against this list before it leaves, and recorded in the log."))
        intro.setWordWrap(True)
        self.catalog_table = PlainTable([tr("Request"), tr("Where"), tr("Data"), tr("Example"), tr("Why"),
                                         tr("Policy"), tr("Kept")], name=tr("What the app may send"))
        self.ledger_table = PlainTable([tr("When"), tr("Request"), tr("Where"), tr("Trigger"), tr("Result"),
                                        tr("Data sent"), tr("Bytes sent / received")],
                                       name=tr("What the app has sent"))
        self.ledger_note = QLabel()
        self.tabs = QTabWidget()
        self.tabs.addTab(self.catalog_table, tr("What may be sent"))
        ledger = QWidget()
        ledger_layout = QVBoxLayout(ledger)
        ledger_layout.setContentsMargins(0, 0, 0, 0)
        ledger_layout.addWidget(self.ledger_note)
        ledger_layout.addWidget(self.ledger_table)
        self.tabs.addTab(ledger, tr("What was sent"))
        refresh = QPushButton(tr("&Refresh the log"))
        refresh.setAccessibleName(tr("Refresh the log"))
        refresh.clicked.connect(self.refresh_requested.emit)
        policy = QLabel(" · ".join(f"{k}: {v.split(':')[0]}" for k, v in POLICY_SECTIONS.items()))
        policy.setWordWrap(True)
        policy.setToolTip("\n".join(f"{k} {v}" for k, v in POLICY_SECTIONS.items()))
        bottom = QHBoxLayout()
        bottom.addWidget(policy, 1)
        bottom.addWidget(refresh)
        layout = QVBoxLayout(self)
        layout.addWidget(page_title(tr("Privacy")))
        layout.addWidget(intro)
        layout.addWidget(self.tabs, 1)
        layout.addLayout(bottom)

    def set_catalog(self, catalog: Catalog) -> None:
        """Show the catalog."""
        self.catalog_table.set_rows(catalog_rows(catalog))

    def set_ledger(self, entries: Sequence[dict[str, Any]]) -> None:
        """Show the ledger entries (oldest first as read; shown newest first)."""
        self.ledger_table.set_rows(ledger_rows(entries))
        self.ledger_note.setText(tr("Nothing has been sent yet.") if not entries else
                                 tr("%1 requests recorded, newest first. Secrets appear shortened, as …7F3A.")
                                 .replace("%1", str(len(entries))))
