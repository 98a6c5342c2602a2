"""A guard against a reference-count bug in shiboken6 6.12.0 on Python 3.11.

shiboken6 6.12.0 (the abi3 build) returns ``None`` from every C++ ``void`` method without taking a
reference for it: each ``label.setText(...)``, ``table.setItem(...)`` or ``widget.parent()`` that answers
``None`` takes one reference from ``None``. From Python 3.12 on ``None``, ``True`` and ``False`` are
immortal (their count is never used), which is presumably why this went unnoticed; on 3.11 the count
falls with every call and, after some thousands of calls (a Privacy page refreshing its tables), Python
stops with "Fatal Python error: none_dealloc" (and "bool_dealloc" for the booleans at exit).

The guard does what Python 3.12 does: it gives these singletons a count so large that no number of lost
references can bring it to zero. It changes nothing else, and nothing at all on 3.12 and later.
tests/gui/test_refcount_guard.py shows the crash without it (a child process) and its absence with it.
"""

from __future__ import annotations

import ctypes
import sys

#: References added to each singleton: ~10^12, more than any run can lose (one per Qt call answering None).
RESERVE = 1 << 40

_done: list[bool] = []  # set once the guard ran (a list: no module-level rebinding)


def make_singletons_immortal() -> None:
    """Once per process on Python < 3.12: add RESERVE references to None, True and False."""
    if _done or sys.version_info >= (3, 12) or sys.implementation.name != "cpython":
        return
    _done.append(True)
    for singleton in (None, True, False):
        # In CPython the first field of every object is its reference count (Py_ssize_t ob_refcnt).
        ctypes.c_ssize_t.from_address(id(singleton)).value += RESERVE
