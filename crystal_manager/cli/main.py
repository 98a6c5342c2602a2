"""``crystal-manager``: parse arguments, run one verb, turn errors into one line and an exit code.

No arguments (or only GUI options) launches the GUI.
"""

from __future__ import annotations

import argparse
import os
import sys

from crystal_manager import __version__
from crystal_manager.cli.commands import register_all
from crystal_manager.cli.exit_codes import BY_OUTCOME, EXIT_BAD_INPUT, EXIT_BROKEN_PIPE, EXIT_INTERRUPTED
from crystal_manager.cli.output import fail, notify
from crystal_manager.gui.args import add_gui_options


def build_parser() -> argparse.ArgumentParser:
    """The full parser: global options and every verb."""
    parser = argparse.ArgumentParser(
        prog="crystal-manager",
        description="CrystalMe3D Pro Manager: license, subscription, updates and what data is sent.")
    parser.add_argument("--version", action="version", version=f"crystal-manager {__version__}")
    add_gui_options(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    register_all(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``crystal-manager``. A reader that goes away (``crystal-manager privacy log | head``)
    ends the command quietly with :data:`EXIT_BROKEN_PIPE`, as Unix tools killed by SIGPIPE do."""
    try:
        code = _run(argv)
        sys.stdout.flush()  # a pipe closed early shows here, not at interpreter exit
    except BrokenPipeError:
        # Python's documented recipe: point stdout at /dev/null so the flush at exit cannot fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    return code


def _run(argv: list[str] | None) -> int:
    """Parse, run one verb, turn its error into one line and an exit code."""
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    if args.command is None:
        from crystal_manager.gui.entry import launch

        return launch(args)
    from crystal_manager.services.context import AppContext
    from crystal_manager.services.usertext import explain

    try:
        ctx = AppContext.create(profile_file=args.profile, server_url=args.server) \
            if getattr(args, "needs_context", True) else None
        if ctx is not None:
            from crystal_manager.config.settings import damage_notice

            if (notice := damage_notice(ctx.settings)) is not None:
                notify(notice)
        try:
            code: int = args.handler(ctx, args)
        finally:
            if ctx is not None:
                ctx.close()
    except KeyboardInterrupt as stop:  # a StoppedWaiting says what was stopped and what it means
        fail(str(stop) or "interrupted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        raise  # the reader went away: not an error to explain (main() ends quietly)
    except Exception as exc:
        from crystal_manager.cli.hints import hint_for

        text, outcome = explain(exc)
        hint = hint_for(exc)
        fail(f"{text} {hint}" if hint else text)
        return BY_OUTCOME.get(outcome, EXIT_BAD_INPUT)
    return code
