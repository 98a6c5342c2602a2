"""Printing for the CLI: the only place the CLI writes to stdout/stderr."""

from __future__ import annotations

import json
import sys
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
