"""A non-blocking confirmation (``open()``, not ``exec()``): the event loop keeps running meanwhile."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox, QWidget


def confirm(parent: QWidget | None, *, title: str, text: str, action: str, on_yes: Callable[[], None]) -> QMessageBox:
    """Ask; call ``on_yes`` if the user confirms. Returns the box (tests click its buttons)."""
    box = QMessageBox(QMessageBox.Icon.Question, title, text, QMessageBox.StandardButton.Cancel, parent)
    box.setTextFormat(Qt.TextFormat.PlainText)  # the text may hold names typed by people (machine labels)
    yes = box.addButton(action, QMessageBox.ButtonRole.AcceptRole)
    box.setDefaultButton(QMessageBox.StandardButton.Cancel)
    box.setObjectName("confirm")

    def done() -> None:
        if box.clickedButton() is yes:
            on_yes()

    box.finished.connect(lambda _result: done())
    box.open()
    return box
