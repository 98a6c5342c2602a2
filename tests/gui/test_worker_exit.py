"""Quitting while background work still runs: the process ends cleanly (exit code 0), never with a crash.

Before the exit hook in gui/worker.py, a worker could emit its result while PySide's exit clean-up deleted
the op (and its parent) on the main thread: SIGSEGV in QMetaObject::metacall at exit, in about one run in
twelve of this child on a loaded machine (14 of 150), and 2 of 400 runs of test_light_start's tray child."""

from __future__ import annotations

from pathlib import Path

from tests.support.apps import fork_gui_scripts

# Forty operations of 0-19 ms each, parented to a Python-owned object; the loop quits at once, so the ops
# finish during the quit and the interpreter's exit, while their parent is being torn down.
SCRIPT = """
import json, sys, time
from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QApplication
from crystal_manager.gui.worker import run_in_background
app = QApplication(sys.argv[:1])
owner = QObject()
got = []
def work(i):
    end = time.perf_counter() + 0.001 * (i % 20)
    while time.perf_counter() < end:
        pass
    return i
def go():
    for i in range(40):
        run_in_background(owner, lambda i=i: work(i), on_success=got.append)
    QTimer.singleShot(0, app.quit)
QTimer.singleShot(0, go)
app.exec()
print(json.dumps({"delivered": len(got)}))
"""

# The crash is a race: one child in about twelve showed it. Sixteen children, four at a time (the load
# widens the race), failed 4 of 7 runs against the old worker.py as fresh interpreters. Each child is now
# forked from one process that imported Qt and the worker module (tests/support/apps.py: ~0.2 s of CPU less
# per child; the interpreter's start is not what this tests); the script, its quit and the interpreter's exit
# are the child's own. Forked children meet the race more often, so twelve keep the old power. Against the old
# worker.py (83a3979^) on 2026-11-30, runs of the whole test interleaved on the shared 2-core machine: sixteen
# fresh children failed 28 of 35 runs (5 of 10 in an earlier batch), twelve forked 28 of 35 (sixteen forked 27
# of 30, eight forked 12 of 20); each failure a SIGSEGV with faulthandler's stacks in the message.
CHILDREN = 12
AT_ONCE = 4
PRELOAD = ("PySide6.QtCore", "PySide6.QtGui", "PySide6.QtWidgets", "crystal_manager.gui.worker")


def test_quitting_during_background_work_exits_cleanly(app_home: Path) -> None:
    for code, err in fork_gui_scripts(SCRIPT, CHILDREN, AT_ONCE, PRELOAD):
        assert code == 0, f"exit {code}:\n{err}"  # -11: SIGSEGV, with every thread's Python stack
