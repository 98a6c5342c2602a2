"""The licensing client: activate, verify, deactivate, list machines, over any sender (the gateway).

Fails closed without failing users: anything that is not a correctly signed answer for this very
request is "offline" (the record keeps its lease and the grace countdown runs); only a correctly signed
denial changes the license to revoked/expired. Secrets go to the secret store, never to the record.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from crystal_manager.licensing import machinekey
from crystal_manager.licensing.clock import read_clock
from crystal_manager.licensing.errors import (
    DENIALS,
    KeyFormatError,
    LeaseInvalid,
    LicenseDenied,
    LicensingOffline,
    MachineNotFound,
    MalformedAnswer,
    NotActivated,
    ProtocolMismatch,
    RateLimited,
    ServerFailed,
)
from crystal_manager.licensing.evaluate import Evaluation, evaluate
from crystal_manager.licensing.fingerprint import MachineIdentity
from crystal_manager.licensing.keyformat import hint, normalize_key
from crystal_manager.licensing.label import clean_label
from crystal_manager.licensing.lease import verify_lease
from crystal_manager.licensing.record import LicenseRecord, load_record, save_record
from crystal_manager.licensing.signatures import VerifiedAnswer, new_nonce, verify_answer
from crystal_manager.net.errors import TransportError
from crystal_manager.net.request import GatewayResponse, OutboundRequest, Trigger
from crystal_protocol.wire import NONCE_HEADER

KEY_SECRET = "license_key"  # noqa: S105 (the keyring entry name, not a secret)
RETRY_AFTER_FAILURE = timedelta(hours=1)
HIGH_WATER_SAVE_STEP = timedelta(minutes=10)


class Sender(Protocol):
    """What the engine needs from the gateway."""

    def send(self, request: OutboundRequest) -> GatewayResponse: ...


@dataclass
class EngineConfig:
    """Where and how the engine works; every callable is a seam (tests pass their own clock)."""

    sender: Callable[[], Sender]
    secrets: Callable[[], machinekey.Secrets]
    state_file: Path
    keys: Mapping[str, bytes]
    identity: Callable[[], MachineIdentity]
    now: Callable[[], datetime]
    check_interval: timedelta
    describe: Callable[[BaseException], str]
    label: str = "Computer"


def _moment(value: object) -> datetime | None:
    """An ISO date or UTC timestamp from a signed answer's details; None when absent or unreadable."""
    if not isinstance(value, str) or len(value) > 40:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


class LicensingEngine:
    """One machine's license, kept in the record file and the secret store."""

    def __init__(self, config: EngineConfig) -> None:
        self.cfg = config
        self._identity: MachineIdentity | None = None

    # -- local state ------------------------------------------------------------------------------
    def identity(self) -> MachineIdentity:
        """This machine's identity (computed once)."""
        if self._identity is None:
            self._identity = self.cfg.identity()
        return self._identity

    def load(self) -> LicenseRecord:
        """The stored record."""
        return load_record(self.cfg.state_file)

    def save(self, record: LicenseRecord) -> None:
        """Store the record."""
        save_record(self.cfg.state_file, record)

    def evaluate(self, record: LicenseRecord | None = None) -> Evaluation:
        """The current state; also notes a set-back clock and moves the time mark (saved when it matters)."""
        record = record or self.load()
        now = self.cfg.now()
        mark, seen = record.time("high_water"), record.time("high_water_seen_at")
        clock = read_clock(now, mark, seen)
        changed = False
        if clock.set_back and record.clock_set_back_at is None:
            record.set_time("clock_set_back_at", now)
            changed = True
        # A step back is stored at once, so time passing after it still moves the mark on.
        went_back = mark is not None and now < (seen or mark)
        if mark is None or went_back or clock.high_water - mark > HIGH_WATER_SAVE_STEP:
            record.set_time("high_water", clock.high_water)
            record.set_time("high_water_seen_at", now)
            changed = changed or record.lease is not None
        if changed:
            self.save(record)
        # The identity (hashing, OpenSSL) only when a lease is there to check it against.
        return evaluate(record, keys=self.cfg.keys, fingerprint=lambda: self.identity().fingerprint, now=now)

    # -- the wire ---------------------------------------------------------------------------------
    def claim(self, key: str, record: LicenseRecord | None = None, label: str | None = None) -> dict[str, Any]:
        """The machine facts sent with a key (all hashed), and this machine's name (``label``, else the
        configured default)."""
        ident = self.identity()
        body: dict[str, Any] = {"key": key, "fingerprint": ident.fingerprint,
                                "fingerprint_version": ident.version, "environment": ident.environment,
                                "os": ident.os_family,
                                "label": label or self.cfg.label}
        if record is not None and record.fingerprint and record.fingerprint != ident.fingerprint:
            # The fingerprint changed (new version or new machine id): send the old one once to move the seat.
            body["previous_fingerprint"] = record.fingerprint
        return body

    def call(self, kind: str, body: dict[str, Any], trigger: Trigger) -> VerifiedAnswer:
        """Send one request and return its verified answer; signed refusals become typed errors."""
        nonce = new_nonce()
        response = self.cfg.sender().send(OutboundRequest(kind=kind, body=body, headers={NONCE_HEADER: nonce},
                                                          trigger=trigger))
        answer = verify_answer(response, nonce=nonce, keys=self.cfg.keys, now=self.cfg.now())
        if answer.status == 200:
            return answer
        error = answer.data.get("error")
        if not isinstance(error, dict):
            raise MalformedAnswer(f"signed HTTP {answer.status} without an error description")
        code, message = str(error.get("code")), str(error.get("message", ""))[:300]
        if code in DENIALS:
            raise DENIALS[code](message, {k: v for k, v in error.items() if k not in ("code", "message")})
        if code == "rate_limited":
            retry = error.get("retry_after")
            raise RateLimited(message, retry if isinstance(retry, int) else None)
        if code == "invalid_key":
            raise KeyFormatError("the server says this license key is malformed", "format")
        if answer.status >= 500:
            raise ServerFailed(f"the server failed: {message}", answer.status)
        raise ProtocolMismatch(f"the server refused the request ({code}): {message}")

    def _accept(self, answer: VerifiedAnswer, record: LicenseRecord, key: str) -> LicenseRecord:
        """Install the lease from a verified answer into the record (verified against the server's time)."""
        doc = answer.data.get("lease")
        try:
            terms = verify_lease(doc, keys=self.cfg.keys, fingerprint=self.identity().fingerprint,
                                 now=answer.signed_at)
        except LeaseInvalid as exc:
            raise MalformedAnswer(f"the server's lease did not verify: {exc}") from exc
        assert isinstance(doc, dict)
        ident = self.identity()
        record.lease = {str(k): str(v) for k, v in doc.items()}
        record.machine_id = terms.machine_id
        record.key_hint = hint(key)
        record.fingerprint, record.fingerprint_version = ident.fingerprint, ident.version
        record.set_time("last_verified_at", answer.signed_at)
        record.set_time("last_attempt_at", self.cfg.now())
        record.last_attempt_ok, record.last_problem = True, None
        record.denial = record.denial_message = record.denial_ended_at = record.notice = None
        record.pending_offline = None
        record.offline_activation = False
        record.set_time("high_water", max(answer.signed_at, self.cfg.now()))
        record.set_time("high_water_seen_at", self.cfg.now())
        record.clock_set_back_at = None
        jitter = random.uniform(0.9, 1.1)
        record.set_time("next_check_at", answer.signed_at + self.cfg.check_interval * jitter)
        return record

    # -- use cases ----------------------------------------------------------------------------------
    def activate(self, key: str, trigger: Trigger = "user", label: str | None = None) -> Evaluation:
        """Activate this machine, named ``label`` in the machine list (re-activating a known machine always
        succeeds on the server)."""
        key = normalize_key(key)
        label = clean_label(label)
        record = self.load()
        secrets = self.cfg.secrets()
        body = self.claim(key, record, label)
        body["machine_public_key"] = machinekey.public_b64(machinekey.load_or_create(secrets))
        answer = self.call("license_activate", body, trigger)
        previous_key = secrets.get(KEY_SECRET)
        if previous_key != key:
            record = LicenseRecord(high_water=record.high_water, high_water_seen_at=record.high_water_seen_at)
        record = self._accept(answer, record, key)
        record.set_time("activated_at", answer.signed_at)
        secrets.set(KEY_SECRET, key)
        self.save(record)
        return self.evaluate(record)

    def stored_key(self) -> str:
        """The license key from the secret store; NotActivated if there is none."""
        key = self.cfg.secrets().get(KEY_SECRET)
        if not key:
            raise NotActivated("this machine is not activated")
        return key

    def verify(self, trigger: Trigger = "user") -> Evaluation:
        """Re-validate now. Offline problems are recorded (grace runs) and raised; signed denials lock."""
        record = self.load()
        if record.lease is None and record.denial is None:
            raise NotActivated("this machine is not activated")
        key = self.stored_key()
        try:
            answer = self.call("license_validate", self.claim(key, record), trigger)
            record = self._accept(answer, record, key)
        except LicenseDenied as exc:
            self._denied(record, exc)
            raise
        except (LicensingOffline, TransportError) as exc:
            record.set_time("last_attempt_at", self.cfg.now())
            record.last_attempt_ok = False
            record.last_problem = self.cfg.describe(exc)
            record.set_time("next_check_at", self.cfg.now() + min(RETRY_AFTER_FAILURE, self.cfg.check_interval))
            self.save(record)
            raise
        self.save(record)
        return self.evaluate(record)

    def _denied(self, record: LicenseRecord, exc: LicenseDenied) -> None:
        record.set_time("last_attempt_at", self.cfg.now())
        record.last_attempt_ok = True
        if isinstance(exc, MachineNotFound):
            self.wipe(notice="this machine was deactivated on the license (from another machine or by "
                             "support); activate it again to use it here")
            return
        record.denial = "expired" if exc.code == "expired" else "revoked"
        record.denial_message = self.cfg.describe(exc)
        record.set_time("denial_ended_at", _moment(exc.detail.get("expires_at")) if exc.code == "expired" else None)
        self.save(record)

    def verify_if_due(self) -> Evaluation:
        """Verify if the next check is due (or the lease needs it); offline and denials are not raised."""
        record = self.load()
        ev = self.evaluate(record)
        if ev.state == "not_activated":
            return ev
        due_at = record.time("next_check_at")
        if due_at is None or ev.trusted_now >= due_at or ev.lease_problem or ev.state == "locked":
            try:
                return self.verify(trigger="scheduled")
            except (LicensingOffline, TransportError, LicenseDenied, NotActivated):
                return self.evaluate()
        return ev

    def wipe(self, notice: str | None = None) -> None:
        """Forget the license here: record, key and machine key."""
        record = self.load()
        secrets = self.cfg.secrets()
        secrets.delete(KEY_SECRET)
        secrets.delete(machinekey.SECRET_NAME)
        self.save(LicenseRecord(high_water=record.high_water, high_water_seen_at=record.high_water_seen_at,
                                clock_set_back_at=record.clock_set_back_at,
                                notice=notice))

    def deactivate(self, machine_id: str | None = None, trigger: Trigger = "user") -> dict[str, Any]:
        """Deactivate this machine (frees the seat, removes lease and secrets) or another one by id."""
        record = self.load()
        key = self.stored_key()
        if machine_id is None or machine_id == record.machine_id:
            try:
                data = self.call("license_deactivate", self.claim(key, record), trigger).data
            except MachineNotFound:
                data = {"deactivated": record.machine_id}
            self.wipe(notice="this machine was deactivated; its seat is free")
            return data
        return self.call("license_deactivate", {"key": key, "machine_id": machine_id}, trigger).data

    def deactivate_with_key(self, key: str, machine_id: str, trigger: Trigger = "user") -> dict[str, Any]:
        """Deactivate another machine using a key typed in (the "seat limit reached" case)."""
        key = normalize_key(key)
        return self.call("license_deactivate", {"key": key, "machine_id": machine_id}, trigger).data

    def vendor_report(self, key: str | None = None, trigger: Trigger = "user") -> dict[str, Any]:
        """Everything the vendor's server stores about the license of ``key`` (default: the stored key)."""
        key = normalize_key(key) if key is not None else self.stored_key()
        data = self.call("license_access", {"key": key}, trigger).data
        if not isinstance(data.get("license"), dict) or not isinstance(data.get("machines"), list):
            raise MalformedAnswer("the vendor's report is missing its parts")
        return data

    def machines(self, key: str | None = None, trigger: Trigger = "user") -> dict[str, Any]:
        """The machines on the license of ``key`` (default: the stored key)."""
        key = normalize_key(key) if key is not None else self.stored_key()
        data = self.call("license_machines", {"key": key, "fingerprint": self.identity().fingerprint},
                         trigger).data
        if not isinstance(data.get("machines"), list):
            raise MalformedAnswer("the machine list is missing")
        return data
