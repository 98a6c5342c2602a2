"""The background helper: results and errors come back on the GUI thread; progress is queued too."""

from __future__ import annotations

import threading

import pytest
from PySide6.QtCore import QThread
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from crystal_manager.gui.worker import MIN_THREADS, BackgroundOp, run_in_background, wait_for_all


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


def test_operations_stuck_on_the_network_do_not_hold_back_a_local_read(qtbot: QtBot) -> None:
    """Requests hanging on a silent server (Qt's default pool has one thread per core: two here) must not
    keep a quick local read waiting: the window would show old facts until they time out."""
    release = threading.Event()
    for _ in range(MIN_THREADS - 1):
        run_in_background(None, lambda: release.wait(30))
    try:
        quick = run_in_background(None, lambda: "read")
        with qtbot.waitSignal(quick.finished, timeout=5000):
            pass
        assert quick.result == "read"
    finally:
        release.set()
        assert wait_for_all(5000)
