"""Plan identifiers as people read them (light: the tray draws its first icon with this)."""

from __future__ import annotations


def plan_name(plan: str | None) -> str | None:
    """The server's identifier ``studio_plus`` shown as ``Studio Plus``."""
    return plan.replace("_", " ").replace("-", " ").title() if plan else None
