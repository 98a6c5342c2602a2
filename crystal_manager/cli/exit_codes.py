"""Distinct exit codes, one per outcome."""

from __future__ import annotations

from crystal_manager.services.usertext import Outcome

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_BAD_INPUT = 2
EXIT_DENIED = 3
EXIT_OFFLINE = 4
EXIT_INTERRUPTED = 130  # ctrl-C (128 + SIGINT, as shells report it)
#: The reader of stdout went away (``crystal-manager privacy log | head``): the command stops quietly, no
#: message, with the code a shell reports for a tool killed by SIGPIPE (128 + 13) — what `cat` or `yes` give
#: under ``set -o pipefail``; 0 would claim the whole output was delivered.
EXIT_BROKEN_PIPE = 141
#: The user did not confirm something that deletes data (no --yes, and "no" or no terminal to ask on).
EXIT_NOT_CONFIRMED = 5

BY_OUTCOME: dict[Outcome, int] = {
    Outcome.OK: EXIT_OK,
    Outcome.BAD_INPUT: EXIT_BAD_INPUT,
    Outcome.DENIED: EXIT_DENIED,
    Outcome.OFFLINE: EXIT_OFFLINE,
    Outcome.INTERNAL: EXIT_INTERNAL,
}
