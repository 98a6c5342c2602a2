"""The licensing client: activate, verify, deactivate, list machines, over any sender (the gateway).

Fails closed without failing users: anything that is not a correctly signed answer for this very
request is "offline" (the record keeps its lease and the grace countdown runs); only a correctly signed
denial changes the license to revoked/expired. Secrets go to the secret store, never to the record.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

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
from crystal_manager.licensing.guard import copy_clock, lease_terms_unverified
from crystal_manager.licensing.keeper import DEACTIVATED_NOTICE, GuardKeeper, strip
from crystal_manager.licensing.keyformat import hint, normalize_key
from crystal_manager.licensing.label import clean_label
from crystal_manager.licensing.lease import verify_lease
from crystal_manager.licensing.record import LicenseRecord, load_record, save_record
from crystal_manager.licensing.signatures import VerifiedAnswer, new_nonce, verify_answer
from crystal_manager.net.errors import TransportError
from crystal_manager.net.request import GatewayResponse, OutboundRequest, Trigger
from crystal_protocol.wire import DENIAL_CODES, NONCE_HEADER

if TYPE_CHECKING:
    from crystal_protocol.messages import Message, MessageT

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
    #: The secret store only if it is already open (None: always open it); the start of the GUI must not
    #: load the keyring just to read the guard copy.
    opened_secrets: Callable[[], machinekey.Secrets | None] | None = None


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
        self._lock = threading.RLock()
        self.guard = GuardKeeper(config.secrets, config.opened_secrets)

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

    def evaluate(self, record: LicenseRecord | None = None, *, open_keyring: bool = False) -> Evaluation:
        """The current state; also notes a set-back clock and moves the time mark (saved when it matters).

        The keyring copy (guard) is consulted when ``open_keyring`` or when the keyring is already open;
        the stricter of it and the file wins, and both are brought up to date.
        """
        with self._lock:  # one reader-writer of the record at a time (the GUI thread and its worker)
            return self._evaluate(record, open_keyring)

    def _evaluate(self, record: LicenseRecord | None, open_keyring: bool) -> Evaluation:
        record = record or self.load()
        now = self.cfg.now()
        store = self.guard.store(open_keyring)
        guard = self.guard.load(store)
        changed = guard_changed = False
        if guard is not None:
            changed = self.guard.merge(record, guard, now)
        mark, seen = record.time("high_water"), record.time("high_water_seen_at")
        clock = read_clock(now, mark, seen)
        if clock.set_back and record.clock_set_back_at is None:
            record.set_time("clock_set_back_at", now)
            changed = True
        # A step back is stored at once, so time passing after it still moves the mark on.
        went_back = mark is not None and seen is not None and now < seen
        if mark is None or went_back or clock.high_water - mark > HIGH_WATER_SAVE_STEP:
            record.set_time("high_water", clock.high_water)
            record.set_time("high_water_seen_at", now)
            changed = changed or record.lease is not None or record.denial is not None
        if guard is not None:
            guard_changed = copy_clock(record, guard)
        if changed:
            self.save(record)
        if guard_changed:
            self.guard.save(store, guard)
        # The identity (hashing, OpenSSL) only when a lease is there to check it against.
        return evaluate(record, keys=self.cfg.keys, fingerprint=lambda: self.identity().fingerprint, now=now)

    def trusted_now(self, record: LicenseRecord) -> datetime:
        """Trusted time for ``record`` (the server's last signed time plus local time passed since)."""
        return read_clock(self.cfg.now(), record.time("high_water"), record.time("high_water_seen_at")).trusted_now

    # -- the wire ---------------------------------------------------------------------------------
    def claim(self, key: str, record: LicenseRecord | None = None, label: str | None = None, *,
              kind: str = "license_activate", public_key: str | None = None) -> dict[str, Any]:
        """The machine facts sent with a key (all hashed), and — on activation only — this machine's name
        (``label``, else the configured default) and public key. A deactivation sends only what names the
        machine. The body is read back through its message (crystal_protocol.messages), so the app never
        sends what the server would refuse as malformed."""
        from crystal_protocol import messages  # msgspec: on the sending path only (decision 0018)

        ident = self.identity()
        body: dict[str, Any] = {"key": key, "fingerprint": ident.fingerprint}
        if kind != "license_deactivate":
            body.update(fingerprint_version=ident.version, environment=ident.environment, os=ident.os_family)
        if kind == "license_activate":
            body.update(label=label or self.cfg.label, machine_public_key=public_key)
        previous = record.fingerprint if record is not None else None
        if previous and previous.split(":", 1)[0] != ident.fingerprint.split(":", 1)[0]:
            # The fingerprint method changed: send the old one so the seat moves. The server honours it
            # only across a version change (a copy of this file on another machine moves nothing).
            body["previous_fingerprint"] = previous
        message_types: dict[str, type[messages.Message]] = {
            "license_activate": messages.ActivateRequest, "license_validate": messages.ValidateRequest,
            "license_deactivate": messages.DeactivateRequest}
        message_type = message_types.get(kind)
        if message_type is None:  # the machine facts for another request's preview (services/privacy_preview.py)
            return body
        try:
            return messages.as_json(messages.read(message_type, body))
        except messages.MessageProblem as exc:
            raise ProtocolMismatch(f"this computer's {kind} request does not fit the protocol: {exc}") from exc

    def call(self, kind: str, body: dict[str, Any], trigger: Trigger) -> VerifiedAnswer:
        """Send one request and return its verified answer; signed refusals become typed errors."""
        nonce = new_nonce()
        response = self.cfg.sender().send(OutboundRequest(kind=kind, body=body, headers={NONCE_HEADER: nonce},
                                                          trigger=trigger))
        answer = verify_answer(response, nonce=nonce, keys=self.cfg.keys, now=self.cfg.now())
        if answer.status == 200:
            return answer
        from crystal_protocol.messages import ErrorAnswer  # msgspec: on the sending path only (decision 0018)

        error = self.read_answer(ErrorAnswer, answer, f"signed HTTP {answer.status} without an error description").error
        code, message = error.code, error.message[:300]
        if code in DENIAL_CODES:
            denial = DENIALS[code](message, error.detail())
            denial.signed_at = answer.signed_at
            raise denial
        if code == "rate_limited":
            raise RateLimited(message, error.retry_after)
        if code == "invalid_key":
            raise KeyFormatError("the server says this license key is malformed", "format")
        if answer.status >= 500:
            raise ServerFailed(f"the server failed: {message}", answer.status)
        raise ProtocolMismatch(f"the server refused the request ({code}): {message}")

    def _accept(self, answer: VerifiedAnswer, record: LicenseRecord, key: str) -> LicenseRecord:
        """Install the lease from a verified answer into the record. Every date decided here is the server's
        signed time (the answer is fresh: it echoes this request's nonce), whatever the local clock says."""
        from crystal_protocol.messages import LeaseAnswer  # msgspec: on the sending path only (decision 0018)

        doc = self.read_answer(LeaseAnswer, answer, "the answer carries no lease").lease
        try:
            terms = verify_lease(doc, keys=self.cfg.keys, fingerprint=self.identity().fingerprint,
                                 now=answer.signed_at)
        except LeaseInvalid as exc:
            raise MalformedAnswer(f"the server's lease did not verify: {exc}") from exc
        ident = self.identity()
        record.lease = dict(doc)
        record.machine_id = terms.machine_id
        record.key_hint = hint(key)
        record.fingerprint, record.fingerprint_version = ident.fingerprint, ident.version
        record.set_time("last_verified_at", answer.signed_at)
        record.set_time("last_attempt_at", answer.signed_at)
        record.last_attempt_ok, record.last_problem = True, None
        record.denial = record.denial_message = record.denial_ended_at = record.notice = None
        record.denial_plan = None
        record.pending_offline = None
        record.offline_activation = False
        record.damaged_copy = None
        # The mark is the server's time, paired with the local clock's reading: a wrong local clock cancels out.
        record.set_time("high_water", answer.signed_at)
        record.set_time("high_water_seen_at", answer.received_at)
        record.clock_offset_seconds = round((answer.received_at - answer.signed_at).total_seconds())
        record.clock_set_back_at = None
        # Check again well before the lease runs out, however short the vendor made it.
        interval = min(self.cfg.check_interval, timedelta(seconds=terms.ttl_seconds) / 2)
        record.set_time("next_check_at", answer.signed_at + interval * random.uniform(0.9, 1.1))
        self.guard.after_answer(record, terms, answer.signed_at, answer.received_at, HIGH_WATER_SAVE_STEP)
        return record

    # -- use cases ----------------------------------------------------------------------------------
    def activate(self, key: str, trigger: Trigger = "user", label: str | None = None) -> Evaluation:
        """Activate this machine, named ``label`` in the machine list (re-activating a known machine always
        succeeds on the server)."""
        key = normalize_key(key)
        label = clean_label(label)
        record = self.load()
        secrets = self.cfg.secrets()
        body = self.claim(key, record, label,
                          public_key=machinekey.public_b64(machinekey.load_or_create(secrets)))
        answer = self.call("license_activate", body, trigger)
        with self._lock:
            record = self.load()
            previous_key = secrets.get(KEY_SECRET)
            if previous_key != key:
                record = LicenseRecord(high_water=record.high_water, high_water_seen_at=record.high_water_seen_at)
            record = self._accept(answer, record, key)
            record.set_time("activated_at", answer.signed_at)
            if previous_key != key:
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
        if record.lease is None and record.denial is None and record.damaged_copy is None:
            raise NotActivated("this machine is not activated")
        try:
            key = self.stored_key()
        except NotActivated:
            if record.damaged_copy:  # nothing to recover with: say so, and activation is the way on
                record.notice = (f"the license file was damaged (a copy was kept as {record.damaged_copy}) and "
                                 "no license key is stored on this computer: activate again")
                record.damaged_copy = None
                self.save(record)
            raise
        try:
            answer = self.call("license_validate", self.claim(key, record, kind="license_validate"), trigger)
        except LicenseDenied as exc:
            with self._lock:
                self._denied(self.load(), exc)
            raise
        except (LicensingOffline, TransportError) as exc:
            with self._lock:  # the record as it is now (the GUI thread may have saved it meanwhile)
                record = self.load()
                trusted = self.trusted_now(record)
                record.set_time("high_water", trusted)  # the mark moves with every save
                record.set_time("high_water_seen_at", self.cfg.now())
                record.set_time("last_attempt_at", trusted)
                record.last_attempt_ok = False
                record.last_problem = self.cfg.describe(exc)
                record.set_time("next_check_at", trusted + min(RETRY_AFTER_FAILURE, self.cfg.check_interval))
                self.save(record)
            raise
        with self._lock:
            record = self._accept(answer, self.load(), key)
            self.save(record)
        return self.evaluate(record)

    def _denied(self, record: LicenseRecord, exc: LicenseDenied) -> None:
        """A signed denial: the lease is deleted (not just marked) and the denial is also kept in the keyring,
        so no edit or restore of the file can bring the lease back."""
        signed_at = exc.signed_at or self.trusted_now(record)
        record.set_time("last_attempt_at", signed_at)
        record.last_attempt_ok = True
        if isinstance(exc, MachineNotFound):
            self.wipe(notice=DEACTIVATED_NOTICE, at=signed_at)
            return
        code = "expired" if exc.code == "expired" else "revoked"
        denied = record.lease
        terms = lease_terms_unverified(denied)
        record.denial_plan = terms.plan if terms is not None else record.denial_plan
        strip(record)
        record.damaged_copy = None
        record.denial = code
        record.denial_message = self.cfg.describe(exc)
        record.set_time("denial_ended_at", _moment(exc.detail.get("expires_at")) if exc.code == "expired" else None)
        self.save(record)
        self.guard.remember(code, denied, signed_at)

    def verify_if_due(self) -> Evaluation:
        """Verify if the next check is due (or the lease needs it); offline and denials are not raised."""
        record = self.load()
        ev = self.evaluate(record, open_keyring=True)
        if ev.state == "not_activated":
            return ev
        due_at = record.time("next_check_at")
        if due_at is None or ev.trusted_now >= due_at or ev.lease_problem or ev.state == "locked":
            try:
                return self.verify(trigger="scheduled")
            except (LicensingOffline, TransportError, LicenseDenied, NotActivated):
                return self.evaluate()
        return ev


    def wipe(self, notice: str | None = None, at: datetime | None = None) -> None:
        """Forget the license here: record, key and machine key. The machine's lease is remembered as
        deactivated in the keyring copy, so a restored file cannot bring it back."""
        with self._lock:
            record = self.load()
            self.guard.remember("deactivated", record.lease, at or self.trusted_now(record))
            secrets = self.cfg.secrets()
            secrets.delete(KEY_SECRET)
            secrets.delete(machinekey.SECRET_NAME)
            self.save(LicenseRecord(high_water=record.high_water, high_water_seen_at=record.high_water_seen_at,
                                    clock_set_back_at=record.clock_set_back_at, notice=notice,
                                    last_machine_id=record.machine_id or record.last_machine_id))

    def deactivate(self, machine_id: str | None = None, trigger: Trigger = "user") -> dict[str, Any]:
        """Deactivate this machine (frees the seat, removes lease and secrets) or another one by id."""
        record = self.load()
        key = self.stored_key()
        from crystal_protocol import messages  # msgspec: on the sending path only (decision 0018)

        if machine_id is None or machine_id == record.machine_id:
            try:
                answer = self.call("license_deactivate", self.claim(key, record, kind="license_deactivate"),
                                   trigger)
                data = self.checked(messages.DeactivateAnswer, answer, "the deactivation answer is incomplete")
            except MachineNotFound:
                data = {"deactivated": record.machine_id}
            self.wipe(notice="this machine was deactivated; its seat is free")
            return data
        return self.deactivate_with_key(key, machine_id, trigger)

    def deactivate_with_key(self, key: str, machine_id: str, trigger: Trigger = "user") -> dict[str, Any]:
        """Deactivate another machine using a key typed in (the "seat limit reached" case)."""
        from crystal_protocol import messages  # msgspec: on the sending path only (decision 0018)

        request = messages.DeactivateRequest(key=normalize_key(key), machine_id=machine_id)
        answer = self.call("license_deactivate", messages.as_json(request), trigger)
        return self.checked(messages.DeactivateAnswer, answer, "the deactivation answer is incomplete")

    def vendor_report(self, key: str | None = None, trigger: Trigger = "user") -> dict[str, Any]:
        """Everything the vendor's server stores about the license of ``key`` (default: the stored key)."""
        from crystal_protocol import messages  # msgspec: on the sending path only (decision 0018)

        key = normalize_key(key) if key is not None else self.stored_key()
        answer = self.call("license_access", messages.as_json(messages.AccessRequest(key=key)), trigger)
        return self.checked(messages.AccessAnswer, answer, "the vendor's report is missing its parts")

    def machines(self, key: str | None = None, trigger: Trigger = "user") -> dict[str, Any]:
        """The machines on the license of ``key`` (default: the stored key)."""
        from crystal_protocol import messages  # msgspec: on the sending path only (decision 0018)

        key = normalize_key(key) if key is not None else self.stored_key()
        request = messages.MachinesRequest(key=key, fingerprint=self.identity().fingerprint)
        answer = self.call("license_machines", messages.as_json(request), trigger)
        return self.checked(messages.MachinesAnswer, answer, "the machine list is missing")

    @staticmethod
    def read_answer(message_type: type[MessageT], answer: VerifiedAnswer, problem: str) -> MessageT:
        """A verified answer's body as its message; MalformedAnswer(``problem``: what is wrong) otherwise."""
        from crystal_protocol.messages import MessageProblem, read

        try:
            return read(message_type, answer.data)
        except MessageProblem as exc:
            raise MalformedAnswer(f"{problem} ({exc})") from exc

    def checked(self, message_type: type[Message], answer: VerifiedAnswer, problem: str) -> dict[str, Any]:
        """A verified answer's body, once it is known to fit its message (callers read it as JSON)."""
        self.read_answer(message_type, answer, problem)
        return answer.data
