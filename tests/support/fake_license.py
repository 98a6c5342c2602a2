"""A typed test double of the licensing SERVICE boundary (:class:`crystal_manager.gui.license_api.LicenseApi`),
for GUI rendering tests; end-to-end GUI tests use the real service against the reference server.

Built from the real definitions so it cannot drift: keys are checked by the real parser (crystal_protocol's
format and check group), and the activation preview lists exactly the fields the real catalog declares for
an activation, with the catalog's own example values (secrets masked as the real service masks them). It
keeps a small in-memory license and returns each LicenseStatus state or raises each documented error on
request.
"""

from __future__ import annotations

import threading
from dataclasses import replace

from crystal_manager.gui.license_api import LicenseApi
from crystal_manager.licensing.keyformat import normalize_key
from crystal_manager.net.request import Trigger
from crystal_manager.privacy.catalog import NONCE_FIELD, default_catalog
from crystal_manager.privacy.ledger import mask_secret
from crystal_manager.services.license_types import MachineInfo, MachineList, PreviewField
from crystal_manager.services.status import LicenseStatus

KEY = "CM3D-7QK2M-X9RTA-4HV0C-AHGJ3"  # passes the real check group (tests/gui/test_fake_license.py)
#: What a first activation sends beyond the required fields (previous_fingerprint only after a change).
_FIRST_ACTIVATION_OPTIONAL = frozenset({"label", "machine_public_key"})

ACTIVE = LicenseStatus(state="active", plan="Pro", renews_at="2027-03-20T00:00:00Z", seats_used=2, seats_total=3,
                       last_verified_at="2026-03-09T10:15:00Z", next_check_at="2026-03-10T09:40:00Z",
                       key_hint=KEY[-4:])  # the real service: last 4 characters, no ellipsis

STATES: dict[str, LicenseStatus] = {
    "not_activated": LicenseStatus(),
    "active": ACTIVE,
    "expiring": replace(ACTIVE, renews_at=None, expires_at="2099-01-01T00:00:00Z"),
    "trial": replace(ACTIVE, state="trial", plan="Pro", renews_at=None, expires_at="2026-03-19T00:00:00Z",
                     trial_days_left=9, seats_used=1, seats_total=1),
    "offline_grace": replace(ACTIVE, state="offline_grace", grace_days_left=4.6,
                             message="The licensing server has not answered since 9 Mar 2026."),
    "locked": replace(ACTIVE, state="locked", grace_days_left=0.0,
                      message="The license could not be verified for 14 days."),
    "expired": replace(ACTIVE, state="expired", renews_at=None, expires_at="2026-02-28T00:00:00Z",
                       message="The subscription ended."),
    "revoked": replace(ACTIVE, state="revoked", renews_at=None, message="The license was revoked."),
}

MACHINES = (
    MachineInfo("m-1a2b3c", "Studio desktop", "2025-11-02T09:00:00Z", "2026-03-09T10:15:00Z", False),
    MachineInfo("m-4d5e6f", "Old laptop", "2024-05-12T16:30:00Z", "2025-01-20T08:00:00Z", False),
)


class FakeLicenseService:
    """Same methods as LicenseService. ``fail[method] = exc`` makes that method raise ``exc`` once."""

    def __init__(self, state: str = "not_activated", *, seats_total: int = 2) -> None:
        self.current = STATES[state]
        self.fail: dict[str, BaseException] = {}
        self.calls: list[str] = []
        self.labels: list[str | None] = []  # the label of each preview and activation
        self.machines_on_license = list(MACHINES)
        self.seats_total = seats_total
        self._lock = threading.Lock()
        self.gate: threading.Event | None = None  # when set, activate waits for it (to see "busy")
        self.gates: dict[str, threading.Event] = {}  # method name -> wait for this event first

    def _enter(self, name: str) -> None:
        held = self.gates.get(name)
        if held is not None:
            held.wait(10)  # a server that does not answer until the test lets it
        with self._lock:
            self.calls.append(name)
            exc = self.fail.pop(name, None)
        if exc is not None:
            raise exc

    def status(self) -> LicenseStatus:
        self._enter("status")
        return self.current

    def normalize_key(self, key: str) -> str:
        return normalize_key(key)  # the real local check: KeyFormatError with the real reasons

    def preview_activation(self, key: str, *, label: str | None = None) -> list[PreviewField]:
        self._enter("preview_activation")
        self.labels.append(label)
        request = default_catalog().get("license_activate")
        assert request is not None
        values = {"key": normalize_key(key), "label": label or self.default_label()}
        fields = [PreviewField(spec.name, mask_secret(values.get(spec.name, spec.example)) if spec.secret
                               else values.get(spec.name, spec.example), spec.purpose, spec.policy)
                  for spec in request.fields if spec.required or spec.name in _FIRST_ACTIVATION_OPTIONAL]
        fields.append(PreviewField(NONCE_FIELD.name, "(random, one-time)", NONCE_FIELD.purpose, NONCE_FIELD.policy))
        return fields

    def activate(self, key: str, *, label: str | None = None, trigger: Trigger = "user") -> LicenseStatus:
        if self.gate is not None:
            self.gate.wait(10)
        self._enter("activate")
        self.labels.append(label)
        self.current = replace(ACTIVE, key_hint=normalize_key(key)[-4:])
        return self.current

    def default_label(self) -> str:
        return "Linux computer"

    def verify(self, *, trigger: Trigger = "user") -> LicenseStatus:
        self._enter("verify")
        return self.current

    def verify_if_due(self) -> LicenseStatus:
        self._enter("verify_if_due")
        return self.current

    def deactivate(self, machine_id: str | None = None) -> LicenseStatus:
        self._enter("deactivate")
        if machine_id is None:
            self.current = LicenseStatus()
        else:
            self.machines_on_license = [m for m in self.machines_on_license if m.machine_id != machine_id]
        return self.current

    def machines(self) -> MachineList:
        self._enter("machines")
        this = MachineInfo("m-this", "This computer", "2026-03-01T12:00:00Z", "2026-03-09T10:15:00Z", True)
        listed = (this, *self.machines_on_license)
        return MachineList(listed, len(listed), max(self.seats_total, len(listed)))

    def deactivate_with_key(self, key: str, machine_id: str) -> MachineList:
        self._enter("deactivate_with_key")
        self.machines_on_license = [m for m in self.machines_on_license if m.machine_id != machine_id]
        return self.machines_for_key(key)

    def machines_for_key(self, key: str) -> MachineList:
        self._enter("machines_for_key")
        listed = tuple(self.machines_on_license)
        return MachineList(listed, len(listed), self.seats_total)


def _conforms(service: FakeLicenseService) -> LicenseApi:
    return service  # mypy checks here that the double still implements the Protocol the GUI calls
