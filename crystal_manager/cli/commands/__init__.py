"""CLI verbs. Each module has ``register(subparsers)``; list new modules in COMMAND_MODULES."""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable
from typing import Any

from crystal_manager.services.context import AppContext

#: Verb modules, in the order ``--help`` lists them.
COMMAND_MODULES = ("status", "license", "update", "privacy", "demo")

Handler = Callable[[AppContext, argparse.Namespace], int]


def register_all(subparsers: Any) -> None:
    """Let every verb module add its parsers."""
    for name in COMMAND_MODULES:
        module = importlib.import_module(f"crystal_manager.cli.commands.{name}")
        module.register(subparsers)
