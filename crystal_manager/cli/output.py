"""Printing for the CLI: the only place the CLI writes to stdout/stderr."""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


def emit_json(value: Any) -> None:
    """Print ``value`` as JSON on stdout."""
    json.dump(value, sys.stdout, indent=2, sort_keys=True, ensure_ascii=False)
    sys.stdout.write("\n")


def say(text: str) -> None:
    """A line for people on stdout."""
    print(text)


def fail(text: str) -> None:
    """A one-line error on stderr."""
    print(f"crystal-manager: {text}", file=sys.stderr)


def notify(text: str) -> None:
    """A one-line notice on stderr that is not an error (stdout stays clean for ``--json``)."""
    print(f"crystal-manager: note: {text}", file=sys.stderr)


def is_terminal() -> bool:
    """True when stderr is a terminal (progress bars are drawn only then)."""
    return sys.stderr.isatty()


def progress(text: str) -> None:
    """Redraw the one progress line on stderr (call only when :func:`is_terminal`)."""
    sys.stderr.write("\r\x1b[2K" + text)
    sys.stderr.flush()


def progress_done() -> None:
    """End the progress line."""
    sys.stderr.write("\n")
    sys.stderr.flush()


#: Seconds of silence before the CLI says it is waiting: a quick answer prints nothing extra.
WAIT_NOTICE_AFTER = 1.0
_SPINNER = "|/-\\"


class StoppedWaiting(KeyboardInterrupt):
    """ctrl-C while waiting for a server: ends the command with this one line and the interrupted exit code."""


@contextmanager
def waiting(what: str, *, stopped: str) -> Iterator[None]:
    """Around a call that waits for a server: on a terminal, after :data:`WAIT_NOTICE_AFTER` seconds, a
    spinner on stderr says so and how to stop (scripts reading a pipe keep their one-line errors); ctrl-C
    ends the command with ``stopped`` as its one line (raised as :class:`StoppedWaiting`)."""
    done = threading.Event()

    def notice() -> None:
        if done.wait(WAIT_NOTICE_AFTER):
            return
        turn = 0
        while not done.wait(0.1 if turn else 0):
            progress(f"{_SPINNER[turn % len(_SPINNER)]} {what} (ctrl-C to stop)")
            turn += 1
        sys.stderr.write("\r\x1b[2K")
        sys.stderr.flush()

    thread = threading.Thread(target=notice, name="waiting-notice", daemon=True)
    if is_terminal():
        thread.start()
    try:
        yield
    except KeyboardInterrupt:
        raise StoppedWaiting(stopped) from None
    finally:
        done.set()
        if thread.is_alive():
            thread.join(1.0)
