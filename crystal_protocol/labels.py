"""Machine labels: the name a user gives a machine in the list of machines on a license. One rule for the
client (checked before sending) and the server (checked on arrival): at most 64 characters, printable
only — no control, formatting or bidirectional-override characters that could disguise a name."""

from __future__ import annotations

MAX_MACHINE_LABEL = 64


def label_problem(text: str) -> str | None:
    """Why ``text`` cannot be a machine label, in words; None when it can."""
    if len(text) > MAX_MACHINE_LABEL:
        return f"a machine name has at most {MAX_MACHINE_LABEL} characters (this one has {len(text)})"
    if not text.isprintable():
        return "a machine name cannot hold control characters such as tabs or line breaks"
    return None


def printable(text: str) -> str:
    """``text`` with anything unprintable dropped: for showing names stored before the rule existed."""
    return "".join(c for c in text if c.isprintable())
