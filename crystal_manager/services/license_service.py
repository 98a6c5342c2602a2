"""The licensing use cases both faces call. CONTRACT for the GUI.

Every method is synchronous and may block on the network: the GUI must call it through its background
helper, never on the GUI thread. Errors come from :mod:`crystal_manager.licensing.errors` and
:mod:`crystal_manager.net.errors`; turn them into words with :func:`crystal_manager.services.usertext.explain`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from crystal_manager.licensing import offline
from crystal_manager.licensing.clock import CLOCK_WARNING, BootReading, read_boot
from crystal_manager.licensing.engine import KEY_SECRET, EngineConfig, LicensingEngine, Sender
from crystal_manager.licensing.errors import MachineNotFound
from crystal_manager.licensing.evaluate import Evaluation
from crystal_manager.licensing.fingerprint import (
    MachineFacts,
    MachineIdentity,
    identify,
    os_family,
    read_machine_facts,
)
from crystal_manager.licensing.keyformat import normalize_key
from crystal_manager.licensing.label import clean_label
from crystal_manager.net.request import Trigger
from crystal_manager.privacy.catalog import NONCE_FIELD, OFFLINE_REQUEST_FIELDS, FieldSpec
from crystal_manager.privacy.ledger import mask_secret
from crystal_manager.services.context import AppContext
from crystal_manager.services.license_types import MachineInfo, MachineList, PreviewField
from crystal_manager.services.status import LicenseStatus
from crystal_protocol.labels import MAX_MACHINE_LABEL, printable
from crystal_protocol.signing import format_time

__all__ = ["LicenseService", "MachineInfo", "MachineList", "PreviewField"]


def _describe(exc: BaseException) -> str:
    from crystal_manager.services.usertext import explain

    return explain(exc)[0]


def _shown(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}: {str(v)[:8]}…" for k, v in value.items())
    return str(value)


#: A lease is worth nothing without the key it was issued for (state "locked" until activated again).
KEY_MISSING = "the license key is missing from this computer — activate again"
USABLE = ("active", "trial", "offline_grace")


def _no_boot() -> BootReading | None:
    return None


def _key_missing(store: Any) -> bool:
    """True if ``store`` (an open secret store) can be read and holds no license key. A stored lease
    without its key fails closed: the scheduled check cannot ask the server about it, so a restored
    license.json with the key deleted would otherwise run unchecked until its lease ends."""
    from crystal_manager.storage.secrets import SecretStoreError

    try:
        return store is not None and not store.get(KEY_SECRET)
    except SecretStoreError:
        return False  # a locked keyring: the file copy alone decides, as everywhere


def _preview(specs: tuple[FieldSpec, ...], values: dict[str, Any]) -> list[PreviewField]:
    return [PreviewField(spec.name, mask_secret(str(values[spec.name])) if spec.secret else _shown(values[spec.name]),
                         spec.purpose, spec.policy) for spec in specs if spec.name in values]


class LicenseService:
    """Activate, verify, deactivate, list machines, offline files; status from local state."""

    def __init__(self, ctx: AppContext, *, gateway: Sender | None = None,
                 now: Callable[[], datetime] | None = None,
                 machine: Callable[[], MachineFacts] | None = None, label: str | None = None,
                 secrets_in_status: bool = True,
                 boot: Callable[[], BootReading | None] | None = None) -> None:
        # secrets_in_status: a status opens the keyring to say where secrets are kept (the CLI's status
        # shows it). The GUI passes False: its start must not load keyring (~10 MiB with its imports) for
        # that; it reports the backend once the store is open, and its License page asks for it itself.
        self.ctx = ctx
        self._secrets_in_status = secrets_in_status
        read_facts = machine or read_machine_facts

        def identity() -> MachineIdentity:
            return identify(read_facts())

        self.engine = LicensingEngine(EngineConfig(
            sender=(lambda: gateway) if gateway is not None else (lambda: ctx.gateway),
            secrets=lambda: ctx.secrets, state_file=ctx.paths.license_state_file,
            keys=ctx.profile.license_keys, identity=identity, now=now or (lambda: datetime.now(UTC)),
            check_interval=timedelta(hours=ctx.settings.check_interval_hours), describe=_describe,
            label=clean_label(label) or f"{os_family()} computer",
            opened_secrets=None if secrets_in_status else (lambda: ctx.opened_secrets)))
        # The second time source goes with the clock (licensing/clock.py): a test that injects its own
        # ``now`` injects its boot readings too, or has none (boot time would disagree with its clock).
        self.engine.guard.boot = boot or (read_boot if now is None else _no_boot)

    def _status(self, ev: Evaluation) -> LicenseStatus:
        record = self.engine.load()
        terms = ev.terms
        store = self.ctx.secrets if self._secrets_in_status else self.ctx.opened_secrets
        info = store.info if store is not None else None
        show_terms = terms is not None and ev.state not in ("not_activated",)
        # After a signed denial the stored lease's dates are out of date (it may still say "renews 2099").
        dated = terms is not None and not record.denial
        state, message = ev.state, ev.message
        if state in USABLE and record.lease is not None and _key_missing(store):
            state, message = "locked", KEY_MISSING
        return LicenseStatus(
            state=state,
            plan=terms.plan if show_terms and terms else (record.denial_plan if record.denial else None),
            expires_at=terms.expires_at if dated and terms else record.denial_ended_at,
            renews_at=terms.renews_at if dated and terms else None,
            trial_days_left=ev.trial_days_left,
            grace_days_left=ev.grace_days_left,
            seats_used=terms.seats_used if terms else None,
            seats_total=terms.seats_total if terms else None,
            last_verified_at=record.last_verified_at,
            next_check_at=record.next_check_at if record.lease else None,
            key_hint=record.key_hint,
            message=message,
            machine_id=record.machine_id,
            lease_expires_at=format_time(terms.lease_expires) if terms else None,
            max_version=terms.entitlements.get("max_version") if terms else None,
            offline_activation=record.offline_activation,
            clock_set_back=ev.clock_set_back,
            clock_offset_seconds=record.clock_offset_seconds,
            clock_wrong=record.clock_offset_seconds is not None
            and abs(record.clock_offset_seconds) > CLOCK_WARNING.total_seconds(),
            secrets_backend=info.name if info else None,
            secrets_fallback=info.is_fallback if info else None,
        )

    def status(self) -> LicenseStatus:
        """License facts from local state only (fast, no network)."""
        return self._status(self.engine.evaluate())

    def normalize_key(self, key: str) -> str:
        """Check the key's format and checksum locally; raise KeyFormatError on a typo."""
        return normalize_key(key)

    def preview_activation(self, key: str, *, label: str | None = None) -> list[PreviewField]:
        """Exactly what an activation (naming this machine ``label``) would send, from the data catalog,
        before sending."""
        key = normalize_key(key)
        request_type = self.ctx.catalog.get("license_activate")
        assert request_type is not None
        body = self.engine.claim(key, self.engine.load(), clean_label(label))
        body["machine_public_key"] = "(made on this computer at activation; public half only)"
        fields = _preview(request_type.fields, body)
        fields.append(PreviewField(NONCE_FIELD.name, "(random, one-time)", NONCE_FIELD.purpose, NONCE_FIELD.policy))
        return fields

    def activate(self, key: str, *, label: str | None = None, trigger: Trigger = "user") -> LicenseStatus:
        """Activate this machine with ``key``; ``label`` names it in the machine list (default: the OS
        family, e.g. "Linux computer")."""
        self.ctx.paths.ensure()
        return self._status(self.engine.activate(key, trigger, label))

    def default_label(self) -> str:
        """The name this machine gets when none is typed."""
        return self.engine.cfg.label

    def verify(self, *, trigger: Trigger = "user") -> LicenseStatus:
        """Re-validate with the server now (offline problems and denials are raised after being recorded)."""
        try:
            return self._status(self.engine.verify(trigger))
        except MachineNotFound as exc:  # asked about this computer: it was freed elsewhere, not "that machine"
            raise _this_computer_gone(exc) from exc

    def verify_if_due(self) -> LicenseStatus:
        """Re-validate if the next check is due (scheduled trigger); else return local status. Nothing is
        sent while the user has paused background checks (Privacy page): the lease then runs its course."""
        if self.ctx.settings.background_checks_paused:
            return self.status()
        try:
            return self._status(self.engine.verify_if_due())
        except MachineNotFound as exc:
            raise _this_computer_gone(exc) from exc

    def deactivate(self, machine_id: str | None = None) -> LicenseStatus:
        """Deactivate this machine (None) or another machine on the license."""
        self.engine.deactivate(machine_id)
        return self.status()

    def deactivate_with_key(self, key: str, machine_id: str) -> MachineList:
        """Free another machine's seat with a key typed in (seat limit reached before activation)."""
        self.engine.deactivate_with_key(key, machine_id)
        return self.machines_for_key(key)

    def deactivate_offline(self, proof_file: Path) -> LicenseStatus:
        """Deactivate without a network: write a signed proof for the vendor, forget the license here."""
        offline.write_deactivation_proof(self.engine, proof_file)
        return self.status()

    def _machine_list(self, data: dict[str, Any]) -> MachineList:
        machines = tuple(
            MachineInfo(machine_id=str(m.get("machine_id")),
                        label=printable(str(m.get("label", "")))[:MAX_MACHINE_LABEL],  # shown in dialogs and CLI
                        activated_at=str(m.get("activated_at", "")),
                        last_seen_at=str(m["last_seen_at"]) if m.get("last_seen_at") else None,
                        is_this_machine=m.get("this_machine") is True,
                        os=str(m.get("os")) if m.get("os") else None,
                        environment=str(m.get("environment")) if m.get("environment") else None)
            for m in data["machines"] if isinstance(m, dict))
        return MachineList(machines=machines, seats_used=int(data.get("seats_used", len(machines))),
                           seats_total=int(data.get("seats_total", 0)))

    def machines(self) -> MachineList:
        """The machines on this license (needs the key of an activated machine, or one just entered)."""
        return self._machine_list(self.engine.machines())

    def vendor_report(self, key: str | None = None) -> dict[str, Any]:
        """What the vendor holds about this license and its machines (a signed answer, as stored there)."""
        return self.engine.vendor_report(key)

    def machines_for_key(self, key: str) -> MachineList:
        """Machines on the license of ``key`` — for the "seat limit reached" case before activation."""
        return self._machine_list(self.engine.machines(key))

    def write_offline_request(self, key: str, path: Path) -> list[PreviewField]:
        """Write an offline activation request file; return what it contains."""
        self.ctx.paths.ensure()
        content = offline.write_request(self.engine, key, path)
        return _preview(OFFLINE_REQUEST_FIELDS, content)

    def install_offline_response(self, path: Path) -> LicenseStatus:
        """Install a signed offline response file."""
        return self._status(offline.install_response(self.engine, path))


def _this_computer_gone(exc: MachineNotFound) -> MachineNotFound:
    """The same signed denial, as the kind that says "this computer" (words in services.usertext)."""
    from crystal_manager.services.usertext import ThisComputerDeactivated

    gone = ThisComputerDeactivated(str(exc), exc.detail)
    gone.signed_at = exc.signed_at
    return gone
