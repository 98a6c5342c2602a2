"""The name a user gives this machine in the list of machines on the license: optional, never the host
name unless typed, checked here before anything is sent."""

from __future__ import annotations

from crystal_manager.licensing.errors import MachineLabelError
from crystal_protocol.wire import MAX_MACHINE_LABEL


def clean_label(text: str | None) -> str | None:
    """``text`` with surrounding spaces removed; None when empty (the default label is used). Raises
    MachineLabelError when it is longer than the server accepts or holds control characters."""
    if text is None:
        return None
    label = text.strip()
    if not label:
        return None
    if len(label) > MAX_MACHINE_LABEL:
        raise MachineLabelError(f"a machine name has at most {MAX_MACHINE_LABEL} characters "
                                f"(this one has {len(label)})")
    if not label.isprintable():
        raise MachineLabelError("a machine name cannot hold control characters such as tabs or line breaks")
    return label
