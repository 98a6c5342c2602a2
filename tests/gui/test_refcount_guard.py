"""shiboken6 6.12.0 on Python 3.11 loses a reference to None on every Qt call answering None (a
``void`` method); after enough calls Python stops with "Fatal Python error: none_dealloc" (the GUI died
while the Privacy page refreshed its tables). crystal_manager.gui makes None, True and False immortal as
Python 3.12 does (gui/refcount_guard.py). Each case runs in a child process, since a crash ends it."""

from __future__ import annotations

import subprocess
import sys

from crystal_manager.gui import refcount_guard
from crystal_manager.gui.refcount_guard import RESERVE
from tests.support.apps import gui_child_env

# The Privacy page's refresh pattern (PlainTable.set_rows: setRowCount, setItem, setToolTip, resize), repeated
# more often than None has references, in a child that prints how many references a call takes first and
# how many None has. Both children run the same number of rounds: those that use up None's own references
# (the reserve given in argv subtracted: the guard's, or none), each round taking at least four.
CHILD = r"""
import sys
if sys.argv[1] == "guarded":
    import crystal_manager.gui  # noqa: F401  (the guard runs on import)
elif sys.argv[1] == "small":  # the guard's own code (a copy, loaded alone) with the reserve given in argv
    import importlib.util
    spec = importlib.util.spec_from_file_location("guard_copy", sys.argv[3])
    guard = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(guard)
    guard.RESERVE = int(sys.argv[2])
    guard.make_singletons_immortal()
from PySide6.QtWidgets import QApplication, QTableWidget, QTableWidgetItem
app = QApplication([])
table = QTableWidget(0, 2)
before = sys.getrefcount(None)
for _ in range(100):
    table.setRowCount(2)  # a void method: answers None
print("lost", before - sys.getrefcount(None), flush=True)
print("count", sys.getrefcount(None), flush=True)
rounds = (sys.getrefcount(None) - int(sys.argv[2])) // 4 + 100  # enough to use up None's own references
for _ in range(rounds):  # as PlainTable.set_rows refreshes a Privacy table
    table.setRowCount(2)
    for r in range(2):
        for c in range(2):
            item = QTableWidgetItem("text")
            item.setToolTip("text")
            table.setItem(r, c, item)
    table.resizeColumnsToContents()
print("survived", flush=True)
"""


def run_child(mode: str, reserve: int = RESERVE) -> subprocess.CompletedProcess[str]:
    """The refresh loop in a child process, with or without crystal_manager.gui imported first (or, "small",
    the guard's own code run with ``reserve``)."""
    return subprocess.run([sys.executable, "-X", "faulthandler", "-c", CHILD, mode, str(reserve),
                           refcount_guard.__file__], env=gui_child_env(),
                          capture_output=True, text=True, timeout=120, check=False)


def test_the_table_refresh_loop_survives_with_the_guard() -> None:
    guarded = run_child("guarded")
    assert guarded.returncode == 0, guarded.stderr[-2000:]
    assert "survived" in guarded.stdout
    count = int(next(line.split()[1] for line in guarded.stdout.splitlines() if line.startswith("count")))
    assert count >= RESERVE  # the reserve is there: no number of lost references brings None to zero
    assert "none_dealloc" not in guarded.stderr and "bool_dealloc" not in guarded.stderr


def test_without_the_guard_the_binding_that_loses_references_crashes() -> None:
    """Shows the guard is what helps: where the binding loses references, the same loop crashes without it
    (a binding that does not lose any needs no guard, and the loop survives)."""
    bare = run_child("bare", reserve=0)  # None has only its own references
    lost = int(next(line.split()[1] for line in bare.stdout.splitlines() if line.startswith("lost")))
    if lost > 0:
        assert bare.returncode != 0 and "none_dealloc" in bare.stderr, (bare.returncode, bare.stderr[-2000:])
    else:
        assert bare.returncode == 0 and "survived" in bare.stdout, bare.stderr[-2000:]


def test_a_reserve_smaller_than_the_references_the_loop_loses_is_caught() -> None:
    """The guarded child's round count must not hide a reserve that is too small: the guard's own code with a
    reserve of 1,000 (far fewer than the loop takes from None) crashes where the binding loses references.
    Found by review R1: the rounds were worked out as ``count % RESERVE``, which with a small reserve gives
    a handful of rounds, and the test passed whatever the reserve."""
    small = run_child("small", 1000)
    lost = int(next(line.split()[1] for line in small.stdout.splitlines() if line.startswith("lost")))
    if lost > 0:
        assert small.returncode != 0 and "none_dealloc" in small.stderr, (small.returncode, small.stdout)
    else:
        assert small.returncode == 0 and "survived" in small.stdout, small.stderr[-2000:]
