"""The licensing use cases both faces call. CONTRACT for the GUI; bodies are filled by the licensing work.

Every method is synchronous and may block on the network: the GUI must call it through its background
helper, never on the GUI thread. Errors come from :mod:`crystal_manager.licensing.errors` and
:mod:`crystal_manager.net.errors`; turn them into words with :func:`crystal_manager.services.usertext.explain`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from crystal_manager.net.request import Trigger
from crystal_manager.services.context import AppContext
from crystal_manager.services.status import LicenseStatus


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


@dataclass(frozen=True)
class MachineList:
    """The machines on this license and the seat count."""

    machines: tuple[MachineInfo, ...]
    seats_used: int
    seats_total: int


class LicenseService:
    """Activate, verify, deactivate, list machines, offline files; status from local state."""

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx

    def status(self) -> LicenseStatus:
        """License facts from local state only (fast, no network)."""
        raise NotImplementedError

    def normalize_key(self, key: str) -> str:
        """Check the key's format and checksum locally; raise KeyFormatError on a typo."""
        raise NotImplementedError

    def preview_activation(self, key: str) -> list[PreviewField]:
        """Exactly what an activation would send (from the data catalog), before sending."""
        raise NotImplementedError

    def activate(self, key: str, *, trigger: Trigger = "user") -> LicenseStatus:
        """Activate this machine with ``key``."""
        raise NotImplementedError

    def verify(self, *, trigger: Trigger = "user") -> LicenseStatus:
        """Re-validate with the server now."""
        raise NotImplementedError

    def verify_if_due(self) -> LicenseStatus:
        """Re-validate if the next check is due (scheduled trigger); else return local status."""
        raise NotImplementedError

    def deactivate(self, machine_id: str | None = None) -> LicenseStatus:
        """Deactivate this machine (None) or another machine on the license."""
        raise NotImplementedError

    def machines(self) -> MachineList:
        """The machines on this license (needs the key of an activated machine, or one just entered)."""
        raise NotImplementedError

    def machines_for_key(self, key: str) -> MachineList:
        """Machines on the license of ``key`` — for the "seat limit reached" case before activation."""
        raise NotImplementedError

    def write_offline_request(self, key: str, path: Path) -> list[PreviewField]:
        """Write an offline activation request file; return what it contains."""
        raise NotImplementedError

    def install_offline_response(self, path: Path) -> LicenseStatus:
        """Install a signed offline response file."""
        raise NotImplementedError
