"""Plain facts the licensing use cases return. Light on purpose (no cryptography, no keyring): the GUI
imports these to render before the licensing service itself is loaded."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PreviewField:
    """One datum that a request would send, as the activation dialog shows it before sending."""

    name: str
    shown_value: str  # secrets masked, e.g. "…7F3A"
    purpose: str
    policy: str


@dataclass(frozen=True)
class MachineInfo:
    """One machine activated on the license."""

    machine_id: str
    label: str
    activated_at: str
    last_seen_at: str | None
    is_this_machine: bool
    os: str | None = None
    environment: str | None = None


@dataclass(frozen=True)
class MachineList:
    """The machines on this license and the seat count."""

    machines: tuple[MachineInfo, ...]
    seats_used: int
    seats_total: int
