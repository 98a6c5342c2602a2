"""The background helper: results and errors come back on the GUI thread; progress is queued too."""

from __future__ import annotations

import threading

import pytest
from PySide6.QtCore import QThread
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from crystal_manager.gui.worker import BackgroundOp, run_in_background


def test_result_arrives_on_the_gui_thread(qtbot: QtBot) -> None:
    seen: dict[str, object] = {}

    def op() -> int:
        seen["worker"] = threading.get_ident()
        return 42

    def done(value: int) -> None:
        seen["value"] = value
        seen["gui"] = QThread.currentThread() is QApplication.instance().thread()  # type: ignore[union-attr]

    handle = run_in_background(None, op, on_success=done)
    with qtbot.waitSignal(handle.finished):
        pass
    assert seen["value"] == 42 and seen["gui"] is True
    assert seen["worker"] != threading.get_ident()


def test_error_is_delivered_not_swallowed(qtbot: QtBot) -> None:
    errors: list[BaseException] = []

    def op() -> None:
        raise ValueError("boom")

    handle = run_in_background(None, op, on_failure=errors.append)
    with qtbot.waitSignal(handle.finished):
        pass
    assert isinstance(errors[0], ValueError) and handle.error is errors[0]


def test_progress_reports_in_order(qtbot: QtBot) -> None:
    values: list[object] = []

    def body(handle: BackgroundOp[str]) -> str:
        for i in range(5):
            handle.report(i)
        return "done"

    handle = run_in_background(None, lambda: "unused", with_handle=body, on_progress=values.append)
    with qtbot.waitSignal(handle.finished):
        pass
    qtbot.waitUntil(lambda: len(values) == 5)
    assert values == [0, 1, 2, 3, 4] and handle.result == "done"


@pytest.mark.parametrize("exc", [KeyboardInterrupt(), SystemExit(3)])
def test_base_exceptions_are_reported_too(qtbot: QtBot, exc: BaseException) -> None:
    def op() -> None:
        raise exc

    handle = run_in_background(None, op, on_failure=lambda _e: None)
    with qtbot.waitSignal(handle.failed) as blocker:
        pass
    assert blocker.args == [exc]
