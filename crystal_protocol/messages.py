"""The licensing messages of protocol v1, each defined once as a typed struct (msgspec).

The client builds its request bodies from these structs, the reference server parses request bodies into
them, and the client reads the server's answers through them; the data catalog's field lists are held to
them by tests/protocol/test_messages.py. Decision 0018 says why msgspec and what it costs.

Import cost: msgspec loads with this module, so nothing on the path to the tray may import it (the sending
path and the server do; tests/test_startup_tricks.py guards it).

Unknown members are accepted and ignored (an older client sends members a newer server no longer reads);
absent optional members are left out of a body, never sent as ``null``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeVar

import msgspec

from crystal_protocol.labels import MAX_MACHINE_LABEL
from crystal_protocol.licensekey import MAX_INPUT
from crystal_protocol.wire import LICENSE_PATHS

#: Formats shared with the catalog's value shapes (crystal_manager/privacy/catalog.py).
FINGERPRINT_PATTERN = "^v[0-9]{1,3}:[0-9a-f]{64}$"
FINGERPRINT_VERSION_PATTERN = "^v[0-9]{1,3}$"
MACHINE_ID_PATTERN = "^m_[0-9a-f]{1,32}$"
DIGEST_PATTERN = "^[0-9a-f]{64}$"
NONCE_PATTERN = "^[A-Za-z0-9_-]{8,64}$"

#: The key as typed or stored; the server parses it (a malformed key is ``invalid_key``, not ``bad_request``).
LicenseKeyText = Annotated[str, msgspec.Meta(max_length=MAX_INPUT)]
Fingerprint = Annotated[str, msgspec.Meta(pattern=FINGERPRINT_PATTERN)]
FingerprintVersion = Annotated[str, msgspec.Meta(pattern=FINGERPRINT_VERSION_PATTERN)]
Environment = Literal["physical", "vm", "container"]
OsFamily = Annotated[str, msgspec.Meta(max_length=20)]
#: A machine's name in the machine list; printable characters only (crystal_protocol.labels.label_problem).
MachineLabel = Annotated[str, msgspec.Meta(max_length=MAX_MACHINE_LABEL)]
#: A raw Ed25519 public key in base64 (the server checks it decodes to 32 bytes).
PublicKeyText = Annotated[str, msgspec.Meta(max_length=64)]
MachineId = Annotated[str, msgspec.Meta(pattern=MACHINE_ID_PATTERN)]
DeletionScope = Literal["this_machine", "all_machines"]
Count = Annotated[int, msgspec.Meta(ge=0)]
UtcTime = Annotated[str, msgspec.Meta(max_length=40)]


class Message(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """Base of every message: immutable, built by keyword, optional members left out when absent."""


# -- requests ---------------------------------------------------------------------------------------------
class ActivateRequest(Message, frozen=True, kw_only=True):
    """POST activate: take (or keep) a seat for this machine. All machine facts are hashed or coarse."""

    key: LicenseKeyText
    fingerprint: Fingerprint
    fingerprint_version: FingerprintVersion
    environment: Environment
    os: OsFamily
    label: MachineLabel | None = None
    machine_public_key: PublicKeyText | None = None
    #: Sent only after a change of the fingerprint's version, so the seat moves instead of a new one.
    previous_fingerprint: Fingerprint | None = None


class ValidateRequest(Message, frozen=True, kw_only=True):
    """POST validate: is the license still good for this machine (renews the lease)."""

    key: LicenseKeyText
    fingerprint: Fingerprint
    fingerprint_version: FingerprintVersion
    environment: Environment
    os: OsFamily
    previous_fingerprint: Fingerprint | None = None


class DeactivateRequest(Message, frozen=True, kw_only=True):
    """POST deactivate: free the seat of the machine named by ``machine_id``, else of the one whose
    ``fingerprint`` (or previous fingerprint) this is. One of the two is needed."""

    key: LicenseKeyText
    machine_id: MachineId | None = None
    fingerprint: Fingerprint | None = None
    previous_fingerprint: Fingerprint | None = None


class MachinesRequest(Message, frozen=True, kw_only=True):
    """POST machines: the machines on the license (``fingerprint`` marks which one is this)."""

    key: LicenseKeyText
    fingerprint: Fingerprint | None = None


class AccessRequest(Message, frozen=True, kw_only=True):
    """POST access: everything the server keeps about the license of this key."""

    key: LicenseKeyText


class DeletionRequest(Message, frozen=True, kw_only=True):
    """POST delete: delete what the server keeps about this machine (or every machine) of the license."""

    key: LicenseKeyText
    scope: DeletionScope
    machine_id: MachineId | None = None
    fingerprint: Fingerprint | None = None


class OfflineRequest(Message, frozen=True, kw_only=True):
    """The offline activation request file (``activate --request-file``): the key only as its digest."""

    format: Literal["crystal-offline-request-v1"]  # crystal_protocol.lease.OFFLINE_REQUEST_FORMAT
    key_digest: Annotated[str, msgspec.Meta(pattern=DIGEST_PATTERN)]
    key_hint: Annotated[str, msgspec.Meta(max_length=8)]
    fingerprint: Fingerprint
    fingerprint_version: FingerprintVersion
    environment: Environment
    os: OsFamily
    label: MachineLabel | None = None
    machine_public_key: PublicKeyText | None = None
    request_nonce: Annotated[str, msgspec.Meta(pattern=NONCE_PATTERN)]
    created_at: UtcTime


class OfflineAnswerRequest(Message, frozen=True, kw_only=True):
    """POST offline/answer: a portal sends an uploaded request file with the key typed in."""

    key: LicenseKeyText
    request: OfflineRequest


# -- answers ----------------------------------------------------------------------------------------------
class LeaseAnswer(Message, frozen=True, kw_only=True):
    """The answer to activate and validate: this machine's id and its signed lease document."""

    machine_id: str
    lease: dict[str, str]


class DeactivateAnswer(Message, frozen=True, kw_only=True):
    """The answer to deactivate."""

    deactivated: str
    seats_used: Count
    seats_total: Count


class MachineRow(Message, frozen=True, kw_only=True):
    """One machine in the machine list."""

    machine_id: str
    label: str
    os: str
    environment: str
    activated_at: str
    last_seen_at: str
    this_machine: bool = False


class MachinesAnswer(Message, frozen=True, kw_only=True):
    """The answer to machines."""

    machines: list[MachineRow]
    seats_used: Count
    seats_total: Count


class AccessAnswer(Message, frozen=True, kw_only=True):
    """The answer to access: the stored rows as they are (documented in the catalog, not re-typed here)."""

    license: dict[str, Any]
    machines: list[dict[str, Any]]
    events: list[dict[str, Any]] = msgspec.field(default_factory=list)
    recent_requests: list[dict[str, Any]] = msgspec.field(default_factory=list)
    #: What is kept but not by license (failed attempts), in words.
    not_linked_to_the_license: str = ""


class OfflineAnswer(Message, frozen=True, kw_only=True):
    """The answer to offline/answer: the signed response document for the file's machine."""

    response: dict[str, str]


class DeletionAnswer(Message, frozen=True, kw_only=True):
    """The answer to delete: what went, and what the server still keeps (in words)."""

    scope: DeletionScope
    deleted_machines: list[str]
    deleted_events: Count
    still_kept: list[str]


class ErrorBody(Message, frozen=True, kw_only=True):
    """A signed refusal: ``code`` from crystal_protocol.wire.ERROR_CODES, and the details some codes carry."""

    code: str
    message: str = ""
    retry_after: Count | None = None  # rate_limited
    seats_used: Count | None = None  # seat_limit
    seats_total: Count | None = None  # seat_limit
    expires_at: str | None = None  # expired

    def detail(self) -> dict[str, Any]:
        """The details present, by name (what a denial carries besides its code and message)."""
        return {name: value for name, value in msgspec.structs.asdict(self).items()
                if name not in ("code", "message") and value is not None}


class ErrorAnswer(Message, frozen=True, kw_only=True):
    """The body of every refusal: ``{"error": {...}}``."""

    error: ErrorBody


#: Each licensing endpoint (by its key in wire.LICENSE_PATHS): the request body and the answer it gets.
EXCHANGES: dict[str, tuple[type[Message], type[Message]]] = {
    "activate": (ActivateRequest, LeaseAnswer),
    "validate": (ValidateRequest, LeaseAnswer),
    "deactivate": (DeactivateRequest, DeactivateAnswer),
    "machines": (MachinesRequest, MachinesAnswer),
    "access": (AccessRequest, AccessAnswer),
    "delete": (DeletionRequest, DeletionAnswer),
    "offline_answer": (OfflineAnswerRequest, OfflineAnswer),
}
assert set(EXCHANGES) == set(LICENSE_PATHS), "every licensing path has its messages"


# -- the two conversions ----------------------------------------------------------------------------------
class MessageProblem(ValueError):
    """A JSON value does not fit its message; the text names the member (never repeats its value)."""


MessageT = TypeVar("MessageT", bound=Message)


def read(message_type: type[MessageT], data: object) -> MessageT:
    """``data`` (decoded JSON) as a ``message_type``; MessageProblem says which member is wrong."""
    try:
        return msgspec.convert(data, message_type)
    except msgspec.ValidationError as exc:
        raise MessageProblem(_without_value(str(exc))) from exc


def _without_value(text: str) -> str:
    """msgspec's words, less the one value it repeats (a wrong choice): a refusal never echoes a value."""
    what, at, where = text.rpartition(" - at `")
    if not at:
        what, where = text, ""
    if what.startswith("Invalid enum value"):
        what = "Not one of the allowed values"
    return f"{what}{at}{where}"


def as_json(message: Message) -> dict[str, Any]:
    """The JSON object for ``message`` (absent optional members left out)."""
    built = msgspec.to_builtins(message)
    assert isinstance(built, dict)
    return built


def member_names(message_type: type[Message]) -> tuple[str, ...]:
    """The members of ``message_type``, in order."""
    return message_type.__struct_fields__


def required_names(message_type: type[Message]) -> frozenset[str]:
    """The members ``message_type`` cannot do without."""
    info = msgspec.structs.fields(message_type)
    return frozenset(f.name for f in info if f.required)
