"""Machines on the license: seats used / total, and deactivating another machine to free its seat."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from crystal_manager.gui.dialogs.confirm import confirm
from crystal_manager.gui.license_api import LicenseApi
from crystal_manager.gui.problems import problem_for
from crystal_manager.gui.texts import fmt_when, tr
from crystal_manager.gui.widgets import Banner, fit_to_screen
from crystal_manager.gui.worker import run_in_background
from crystal_manager.services.license_types import MachineInfo, MachineList
from crystal_manager.services.problems import Action
from crystal_manager.services.status import LicenseStatus


class MachinesDialog(QDialog):
    """Lists the machines (for the activated license, or for a key just entered) and frees seats."""

    loaded = Signal(object)  # MachineList
    seat_freed = Signal(str)  # machine_id
    failed = Signal(object)  # Problem

    def __init__(self, api: LicenseApi, *, key: str | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._api = api
        self._key = key
        self._machines: tuple[MachineInfo, ...] = ()
        self.setWindowTitle(tr("Machines on this license"))
        self.seats = QLabel(tr("Loading…"))
        self.seats.setAccessibleName(tr("Seats"))
        # No "ID" column: an internal number means nothing to people; support may ask for it, so it is in
        # each row's tooltip under "Technical details".
        self.table = QTableWidget(0, 3)
        self.table.setHorizontalHeaderLabels([tr("Machine"), tr("Activated"), tr("Last seen")])
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        # Narrow screens (1366x768 at 200 % is 683 logical pixels wide): the name takes what is left and is
        # shortened with "…" (whole in its tooltip); the dates keep their width; never a sideways
        # scrollbar hiding the last columns.
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setMinimumSectionSize(60)
        self.table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.table.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.table.setAccessibleName(tr("Machines using this license"))
        self.table.verticalHeader().hide()
        self.table.itemSelectionChanged.connect(self._update_buttons)
        self.banner = Banner("error")
        self.deactivate_button = QPushButton(tr("&Deactivate selected machine…"))
        self.deactivate_button.setAccessibleName(tr("Deactivate selected machine"))
        self.deactivate_button.clicked.connect(self._ask_deactivate)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.addButton(self.deactivate_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(tr("Each machine where CrystalMe3D Pro is activated takes one seat. Deactivate a "
                                   "machine you no longer use to free its seat.")))
        layout.addWidget(self.seats)
        layout.addWidget(self.table)
        layout.addWidget(self.banner)
        layout.addWidget(buttons)
        fit_to_screen(self, 640, 340)
        self._update_buttons()
        self.reload()

    def reload(self) -> None:
        """Fetch the list from the server (in the background)."""
        self.seats.setText(tr("Loading…"))
        api, key = self._api, self._key
        run_in_background(self, (lambda: api.machines_for_key(key)) if key else api.machines,
                          on_success=self._show, on_failure=self._fail)

    def _show(self, machines: MachineList) -> None:
        self._machines = machines.machines
        self.seats.setText(tr("%1 of %2 seats in use").replace("%1", str(machines.seats_used))
                           .replace("%2", str(machines.seats_total)))
        self.table.setRowCount(len(machines.machines))
        for row, machine in enumerate(machines.machines):
            label = machine.label + (tr(" (this machine)") if machine.is_this_machine else "")
            details = tr("Technical details: computer ID %1").replace("%1", machine.machine_id)
            for col, text in enumerate((label, fmt_when(machine.activated_at), fmt_when(machine.last_seen_at))):
                item = QTableWidgetItem(text)
                item.setToolTip(text + "\n\n" + details)
                item.setData(Qt.ItemDataRole.UserRole, machine.machine_id)
                self.table.setItem(row, col, item)
        self.banner.hide()
        self._update_buttons()
        self.loaded.emit(machines)

    def _fail(self, exc: BaseException, action: Action = "machines") -> None:
        problem = problem_for(exc, action)
        self.seats.setText("")
        self.banner.show_problem(problem)
        self._update_buttons()
        self.failed.emit(problem)

    def selected(self) -> MachineInfo | None:
        """The selected machine."""
        rows = {index.row() for index in self.table.selectedIndexes()}
        return self._machines[rows.pop()] if len(rows) == 1 else None

    def _update_buttons(self) -> None:
        machine = self.selected()
        self.deactivate_button.setEnabled(machine is not None)

    def _ask_deactivate(self) -> None:
        machine = self.selected()
        if machine is None:
            return
        text = (tr("Deactivate this machine? CrystalMe3D Pro will stop working here until it is activated again.")
                if machine.is_this_machine else
                tr("Deactivate “%1”? CrystalMe3D Pro will stop working there until it is activated again.")
                .replace("%1", machine.label))
        confirm(self, title=tr("Deactivate machine"), text=text, action=tr("Deactivate"),
                on_yes=lambda: self._deactivate(machine.machine_id))

    def _deactivate(self, machine_id: str) -> None:
        self.deactivate_button.setEnabled(False)
        self.seats.setText(tr("Deactivating…"))
        api, key = self._api, self._key

        def done(_result: LicenseStatus | MachineList) -> None:
            self.seat_freed.emit(machine_id)
            self.reload()

        # Before activation there is no stored key: free the seat with the key just typed in.
        operation: Callable[[], LicenseStatus | MachineList] = (
            (lambda: api.deactivate_with_key(key, machine_id)) if key else (lambda: api.deactivate(machine_id)))
        run_in_background(self, operation, on_success=done, on_failure=lambda exc: self._fail(exc, "deactivate"))
