"""What to type next, for the CLI only (the GUI offers buttons instead): appended to the one-line error."""

from __future__ import annotations

from crystal_manager.licensing import errors as lic

_HINTS: tuple[tuple[type[BaseException], str], ...] = (
    (lic.SeatLimitReached, "See them with `crystal-manager machines --key -`, free one with "
                           "`crystal-manager deactivate --machine ID --key -` (the key is read from stdin)."),
    (lic.NotActivated, "Activate first: `crystal-manager activate -` (the key is read from stdin)."),
)


def hint_for(exc: BaseException) -> str | None:
    """The CLI's next step for ``exc``, if it has one."""
    for kind, hint in _HINTS:
        if isinstance(exc, kind):
            return hint
    return None
