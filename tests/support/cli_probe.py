"""``python -m tests.support.cli_probe``: what a process was started with, as JSON (tests/cli/test_cli_zygote.py).

Run through the CLI zygote and as a real process with the same request, the two reports must agree.
Arguments: ``report`` (print the report), ``exit N``, ``raise``, ``interrupt``, ``signal N``, ``sleep``,
``leave FILE`` (exit 5 with work left for the exit: a thread, atexit handlers, a finalizer, a file left open,
unflushed output), ``unflushable`` (output that cannot be flushed at exit), ``interrupted-join`` (exit 3, ctrl-C
while the exit waits for a thread).
"""

from __future__ import annotations

import atexit
import json
import os
import signal
import sys
import threading
import time
import weakref

#: What ``leave`` keeps alive until the exit.
_KEPT: list[object] = []


def report() -> dict[str, object]:
    """Environment, folder, argv, path, streams, signals, descriptors and keyring backend of this process."""
    import keyring

    stdin = sys.stdin.read()
    return {
        "env": dict(os.environ),
        "cwd": os.getcwd(),
        "argv": sys.argv,
        "orig_argv": sys.orig_argv,
        "path0": sys.path[:2],
        "dont_write_bytecode": sys.dont_write_bytecode,
        "stdin": stdin,
        "isatty": [os.isatty(fd) for fd in (0, 1, 2)],
        "stream_encoding": [sys.stdin.encoding, sys.stdout.encoding, sys.stderr.encoding],
        "line_buffering": [sys.stdout.line_buffering, sys.stderr.line_buffering],
        "fds": sorted(int(fd) for fd in os.listdir("/proc/self/fd"))[:3],
        "fd_count": len(os.listdir("/proc/self/fd")),
        "sigint": signal.getsignal(signal.SIGINT) is signal.default_int_handler,
        "sigpipe": signal.getsignal(signal.SIGPIPE) == signal.SIG_IGN,
        "threads": threading.active_count(),
        "main_file": getattr(sys.modules["__main__"], "__file__", None),
        "keyring": type(keyring.get_keyring()).__module__,
    }


class _Resource:
    """Something with a finalizer that runs at exit if nothing ran it before."""


def _buffered_stdout() -> None:
    """Standard output buffered whatever PYTHONUNBUFFERED says (this machine sets it), as the exit must flush."""
    sys.stdout = open(1, "w", encoding="utf-8", closefd=False)  # noqa: SIM115 - the exit flushes it


class _Cycle:
    """Garbage in a reference cycle: only a collection finalizes it (a fresh exit's runs after the atexit
    handlers)."""

    def __init__(self) -> None:
        self.me = self

    def __del__(self) -> None:
        print("collected at exit")


def _drop_a_cycle() -> None:
    _Cycle()


def leave(path: str) -> int:
    """Exit 5 with the exit's work to do: each step prints (or writes) what it did, in its order."""
    _buffered_stdout()
    def late() -> None:
        time.sleep(0.2)
        print("thread done", flush=True)

    threading.Thread(target=late).start()  # not a daemon: the exit waits for it
    atexit.register(_drop_a_cycle)  # the last handler to run: its garbage waits for the exit's collection
    atexit.register(print, "atexit first registered, runs last")
    atexit.register(print, "atexit last registered, runs first")
    resource = _Resource()
    _KEPT.append(resource)
    weakref.finalize(resource, print, "finalized at exit")
    stream = open(path, "w", encoding="utf-8")  # noqa: SIM115 - left open on purpose: the exit flushes it
    stream.write("written, never flushed nor closed")
    _KEPT.append(stream)
    sys.stdout.write("no newline, not flushed")
    return 5


def unflushable() -> int:
    """Output waiting in the buffer of a standard output that can no longer be written: exit 120."""
    _buffered_stdout()
    sys.stdout.write("lost")
    read_only = os.open(os.devnull, os.O_RDONLY)
    os.dup2(read_only, 1)
    os.close(read_only)
    return 0


def interrupted_join() -> int:
    """Exit 3 while a thread (not a daemon) is running; ctrl-C comes while the exit waits for it."""
    main = threading.get_ident()  # called on the main thread
    def late() -> None:
        while sys._current_frames()[main].f_code.co_name != "_shutdown":  # the exit waits for this thread
            time.sleep(0.01)
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.5)
        print("thread done", flush=True)  # never: the exit went on without it

    threading.Thread(target=late).start()
    return 3


def main(args: list[str]) -> int:
    """Act out one ending (or print the report)."""
    what = args[0] if args else "report"
    if what == "report":
        print(json.dumps(report()))
        print("to stderr", file=sys.stderr)
        return 0
    if what == "exit":
        return int(args[1])
    if what == "raise":
        raise RuntimeError("uncaught")
    if what == "interrupt":
        raise KeyboardInterrupt
    if what == "leave":
        return leave(args[1])
    if what == "unflushable":
        return unflushable()
    if what == "interrupted-join":
        return interrupted_join()
    if what == "signal":
        os.kill(os.getpid(), int(args[1]))
        time.sleep(5)
        return 0
    print(os.getpid(), flush=True)  # "sleep": until the caller's timeout kills it
    time.sleep(120)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
