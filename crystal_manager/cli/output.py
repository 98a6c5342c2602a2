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
