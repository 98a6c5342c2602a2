"""The licensing service as the GUI sees it (a Protocol, so a typed test double can stand in for
rendering tests), and the facts the License page shows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from crystal_manager.net.request import Trigger
from crystal_manager.services.context import AppContext
from crystal_manager.services.license_types import MachineList, PreviewField
from crystal_manager.services.status import LicenseStatus, check_key_store
from crystal_manager.storage.secrets import BackendInfo


class LicenseApi(Protocol):
    """The methods of :class:`crystal_manager.services.license_service.LicenseService` the GUI calls."""

    def status(self) -> LicenseStatus: ...
    def normalize_key(self, key: str) -> str: ...
    def preview_activation(self, key: str, *, label: str | None = None) -> list[PreviewField]: ...
    def activate(self, key: str, *, label: str | None = None, trigger: Trigger = "user") -> LicenseStatus: ...
    def default_label(self) -> str: ...
    def verify(self, *, trigger: Trigger = "user") -> LicenseStatus: ...
    def verify_if_due(self) -> LicenseStatus: ...
    def deactivate(self, machine_id: str | None = None) -> LicenseStatus: ...
    def machines(self) -> MachineList: ...
    def machines_for_key(self, key: str) -> MachineList: ...
    def deactivate_with_key(self, key: str, machine_id: str) -> MachineList: ...


@dataclass(frozen=True)
class LicenseFacts:
    """What the License page shows: the status and where the secrets are kept."""

    status: LicenseStatus
    secrets: BackendInfo | None


def read_facts(ctx: AppContext, api: LicenseApi, *, with_secrets: bool) -> LicenseFacts:
    """Local status, and where secrets are kept when asked (that opens the keyring; run it in the
    background)."""
    if not with_secrets:
        return LicenseFacts(status=api.status(), secrets=None)
    info = ctx.secrets.info  # opens the store, so a damaged key file is found now, not at the next verify
    return LicenseFacts(status=check_key_store(ctx, api.status()), secrets=info)
