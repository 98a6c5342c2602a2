"""The GUI ticker of the Updates tests (tests/gui/updates_support.py) sees the GUI thread held by its own
work or by a blocking call, so that test_updates_e2e's responsiveness check can fail."""

from __future__ import annotations

import time

from PySide6.QtCore import QTimer
from pytestqt.qtbot import QtBot

from tests.gui.updates_support import GuiTicker


def _spin(seconds: float) -> None:
    """Work on this thread for ``seconds`` of its own CPU time, however loaded the machine is."""
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        pass


def test_a_blocking_call_on_the_gui_thread_is_a_stall(qtbot: QtBot) -> None:
    with GuiTicker() as ticker:
        QTimer.singleShot(50, lambda: time.sleep(0.6))
        qtbot.wait(800)
    assert max(ticker.stalls()) >= 0.55


def test_work_on_the_gui_thread_is_a_stall(qtbot: QtBot) -> None:
    done: list[float] = []

    def work() -> None:
        _spin(0.6)
        done.append(time.monotonic())

    with GuiTicker() as ticker:
        QTimer.singleShot(50, work)
        qtbot.waitUntil(lambda: bool(done) and ticker.ticks[-1][0] > done[0])
    assert max(ticker.stalls()) >= 0.55


def test_an_idle_gui_thread_ticks(qtbot: QtBot) -> None:
    with GuiTicker() as ticker:
        qtbot.wait(300)
    assert len(ticker.ticks) > 5
    queued = [q for _t, q in ticker.ticks]
    assert queued == sorted(queued) and queued[0] >= 0
    assert max(ticker.stalls()) < 0.3
