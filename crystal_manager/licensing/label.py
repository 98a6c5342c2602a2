"""The name a user gives this machine in the list of machines on the license: optional, never the host
name unless typed, checked here (by the rule the server applies) before anything is sent."""

from __future__ import annotations

from crystal_manager.licensing.errors import MachineLabelError
from crystal_protocol.labels import label_problem


def clean_label(text: str | None) -> str | None:
    """``text`` with surrounding spaces removed; None when empty (the default label is used). Raises
    MachineLabelError when the server would refuse it (too long, control characters)."""
    if text is None:
        return None
    label = text.strip()
    if not label:
        return None
    problem = label_problem(label)
    if problem:
        raise MachineLabelError(problem)
    return label
