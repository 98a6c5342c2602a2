"""``crystal-server batch``: several admin commands in one process (the demo's set-up, benchmarks).

Each admin command is a fresh interpreter importing cryptography and python-tuf (~0.25 s of CPU) for a few
milliseconds of work; setting up a server folder with a license and two releases took six of them. Here
the commands come as one JSON list of argument lists on standard input, run one after another through the
same ``main`` as ``crystal-server ARGS``, and their results go to standard output as one JSON list of
``{"args", "code", "stdout", "stderr"}``. The first command that fails ends the batch (its exit code is the
batch's); what it had done before stays done, as it would after separate commands. Ctrl-C ends it too (exit
130), still answering for the commands that ran. ``serve`` and ``batch``
are refused: they are not commands that end.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import traceback
from collections.abc import Callable
from contextlib import redirect_stderr, redirect_stdout
from typing import Any

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130  # what a shell reports for a command Ctrl-C stopped (128 + SIGINT)
_NOT_IN_A_BATCH = frozenset({"serve", "batch"})


def register(sub: Any, main: Callable[[list[str]], int]) -> None:
    """Add the ``batch`` verb; ``main`` is the CLI's own entry point, which runs each command (passed in, not
    imported: the CLI module imports this one)."""
    batch = sub.add_parser("batch", help="run several admin commands in one process (JSON on stdin and stdout)")
    batch.set_defaults(func=cmd_batch, main=main)


def _commands(text: str) -> list[list[str]]:
    try:
        data = json.loads(text)
    except RecursionError:  # nested deeper than the parser goes: no list of argument lists is
        raise BatchError("batch: standard input is nested too deeply to be a list of commands") from None
    except ValueError as exc:
        raise BatchError(f"batch: standard input is not JSON: {exc}") from None
    if not isinstance(data, list) or not all(
            isinstance(argv, list) and argv and all(isinstance(part, str) for part in argv) for argv in data):
        raise BatchError("batch: standard input must be a JSON list of argument lists (lists of strings)")
    for argv in data:
        if any("\0" in part for part in argv):  # a command line cannot carry one (C strings): nor does a batch
            raise BatchError("batch: an argument contains a NUL character, which no command line can hold")
        if argv[0] in _NOT_IN_A_BATCH:
            raise BatchError(f"batch: {argv[0]} cannot run in a batch")
    return data


class BatchError(Exception):
    """Standard input is not a list of commands a batch can run (nothing was run)."""


def run_one(main: Callable[[list[str]], int], argv: list[str]) -> dict[str, Any]:
    """One command as ``crystal-server ARGV`` would run it: its exit code, standard output and error."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as stop:  # argparse: usage errors exit 2
            code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
            if isinstance(stop.code, str):
                print(stop.code, file=sys.stderr)
        except Exception:  # as the interpreter reports an uncaught exception: a traceback and exit 1
            traceback.print_exc()
            code = 1
        except KeyboardInterrupt:  # Ctrl-C: this command stops; what the batch ran before is reported
            print("crystal-server: interrupted", file=sys.stderr)
            code = EXIT_INTERRUPTED
    return {"args": argv, "code": code, "stdout": out.getvalue(), "stderr": err.getvalue()}


def cmd_batch(args: argparse.Namespace) -> int:
    """Run the commands on standard input in order; stop at the first that fails."""
    try:
        # Bytes decoded here: under a strict standard input, bytes that are not UTF-8 are bad input too.
        if sys.stdin is None:  # started with standard input closed
            raise BatchError("batch: no standard input to read the commands from")
        raw = sys.stdin.buffer.read()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BatchError(f"batch: standard input is not UTF-8 text (byte {exc.start})") from None
        commands = _commands(text)
    except BatchError as exc:
        print(f"crystal-server: {exc}", file=sys.stderr)
        return EXIT_USAGE
    results: list[dict[str, Any]] = []
    code = 0
    try:
        for argv in commands:
            results.append(run_one(args.main, argv))
            code = results[-1]["code"]
            if code != 0:
                break
    except KeyboardInterrupt:  # between two commands: those that ran are still reported (their output, a
        code = EXIT_INTERRUPTED  # new license's key, is given nowhere else)
    json.dump(results, sys.stdout)
    print()
    return int(code)


__all__ = ["cmd_batch", "register", "run_one"]
