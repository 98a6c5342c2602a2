"""The one helper for background work (like Anki's ``QueryOp``): run a call in a worker thread, get its
result or its error back on the GUI thread through a signal.

Rule: the operation runs in another thread, so it must not touch any widget, QObject of the GUI, or Qt
GUI class at all — no dialogs, no ``setText``, no ``QPixmap``. It calls services (network, hashing, disk)
and returns plain data; the ``on_success`` / ``on_failure`` callbacks, which run on the GUI thread, render
it. ``report`` may be called from inside the operation to send progress values (queued to the GUI thread).
"""

from __future__ import annotations

import atexit
import logging
import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from PySide6.QtCore import QCoreApplication, QObject, QRunnable, QThreadPool, Signal, Slot

T = TypeVar("T")
log = logging.getLogger(__name__)

_RUNNING: set[BackgroundOp[Any]] = set()

# Once the process ends, no worker may touch a Qt object: Python's teardown deletes the ops' parents (and
# their child ops) on the main thread, and an emit racing with that deletion crashed the process (SIGSEGV
# at exit, seen when the loop quit while the first license read still ran). Emits hold the gate; the exit
# hook waits for the pool, then closes the gate, so an op still running past the wait drops its result.
_GATE = threading.Lock()
_CLOSED = threading.Event()  # set once, at interpreter exit
#: How long leaving the event loop, and then the interpreter's exit, wait for running operations.
QUIT_WAIT_MS = 3000
_HOOKED = "crystal_manager_worker_quit_hook"  # a property on the application: its aboutToQuit is hooked


class BackgroundOp(QObject, Generic[T]):
    """One background call. Its public signals are emitted on the thread that created the op (the GUI
    thread): the worker emits private signals that Qt queues to this object's own slots."""

    succeeded = Signal(object)
    failed = Signal(object)
    progressed = Signal(object)
    finished = Signal()
    _done = Signal(object, object)
    _progress = Signal(object)

    def __init__(self, op: Callable[[BackgroundOp[T]], T], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._op = op
        self.result: T | None = None
        self.error: BaseException | None = None
        self._done.connect(self._deliver)
        self._progress.connect(self._deliver_progress)

    def report(self, value: object) -> None:
        """Send a progress value to the GUI thread (callable from inside the operation)."""
        self._emit(self._progress, value)

    @Slot(object)
    def _deliver_progress(self, value: object) -> None:
        self.progressed.emit(value)

    @Slot(object, object)
    def _deliver(self, value: object, error: object) -> None:
        if isinstance(error, BaseException):
            self.error = error
            self.failed.emit(error)
        else:
            self.result = value  # type: ignore[assignment]
            self.succeeded.emit(value)
        self.finished.emit()

    def _run(self) -> None:
        try:
            value = self._op(self)
        except BaseException as exc:  # the error is data for the GUI thread, never lost
            self._emit(self._done, None, exc)
        else:
            self._emit(self._done, value, None)

    def _emit(self, signal: Any, *args: object) -> None:
        with _GATE:
            if _CLOSED.is_set():  # the interpreter is ending: the receiver may be half torn down
                return
            try:
                signal.emit(*args)
            except RuntimeError:  # the parent widget was destroyed meanwhile: nobody is listening
                log.debug("background result dropped: receiver gone")


class _Task(QRunnable):
    def __init__(self, op: BackgroundOp[Any]) -> None:
        super().__init__()
        self._op = op

    def run(self) -> None:
        self._op._run()


def run_in_background(parent: QObject | None, op: Callable[[], T], *,
                      on_success: Callable[[T], None] | None = None,
                      on_failure: Callable[[BaseException], None] | None = None,
                      on_progress: Callable[[object], None] | None = None,
                      with_handle: Callable[[BackgroundOp[T]], T] | None = None) -> BackgroundOp[T]:
    """Start ``op`` (or ``with_handle(op_handle)``, for progress reports) in the thread pool.

    Must be called on the GUI thread. Callbacks run on the GUI thread. Failures without ``on_failure`` are
    logged, never swallowed silently.
    """
    body: Callable[[BackgroundOp[T]], T] = with_handle if with_handle is not None else (lambda _h: op())
    handle: BackgroundOp[T] = BackgroundOp(body, parent)
    if on_success is not None:
        handle.succeeded.connect(on_success)
    handle.failed.connect(on_failure if on_failure is not None else _log_failure)
    if on_progress is not None:
        handle.progressed.connect(on_progress)
    _RUNNING.add(handle)
    handle.finished.connect(lambda: _RUNNING.discard(handle))
    _pool().start(_Task(handle))
    return handle


# The operations wait on the network and the disk, not the CPU: Qt's default of one thread per core (two
# here) let two requests to a hanging server hold back every local read, and the window showed old facts.
MIN_THREADS = 8


def _pool() -> QThreadPool:
    pool = QThreadPool.globalInstance()
    if pool.maxThreadCount() < MIN_THREADS:
        pool.setMaxThreadCount(MIN_THREADS)
    _hook_quit()
    return pool


def _hook_quit() -> None:
    # However the loop ends (the Quit entry, app.quit(), the session closing), running operations end
    # while every object they report to still exists; their results are dropped (the loop is over).
    app = QCoreApplication.instance()
    if app is not None and not app.property(_HOOKED):
        app.setProperty(_HOOKED, True)
        app.aboutToQuit.connect(_wait_at_quit)


def _wait_at_quit() -> None:
    if not wait_for_all(QUIT_WAIT_MS):
        log.warning("background operations still running at quit; their results will be dropped")


@atexit.register
def _close_at_exit() -> None:
    # atexit runs before Python clears the modules (and with them the ops' Python-owned parents).
    wait_for_all(QUIT_WAIT_MS)
    with _GATE:
        _CLOSED.set()


def _log_failure(exc: BaseException) -> None:
    log.error("background operation failed: %s: %s", type(exc).__name__, exc)


def wait_for_all(msecs: int = 5000) -> bool:
    """At quit: let running operations end (their results are dropped). True when all ended."""
    return bool(QThreadPool.globalInstance().waitForDone(msecs))
