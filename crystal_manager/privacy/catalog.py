"""The data catalog: every request the app can send and every field and header it may carry.

This is the single source of facts for three things: the gateway's check (a request carrying anything
not declared here is refused before a byte leaves), the Privacy page, and ``docs/protocol.md`` (generated
from this module by :mod:`crystal_manager.privacy.protocol_doc`). Add a field here or it cannot be sent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

# Re-exported: the catalog is where the rest of the app (and tests/test_import_borders.py) looks for them.
from crystal_manager.privacy.disclosures import DISCLOSURES as DISCLOSURES  # noqa: PLC0414
from crystal_manager.privacy.disclosures import SERVER_KEEPS as SERVER_KEEPS  # noqa: PLC0414
from crystal_manager.privacy.disclosures import Disclosure as Disclosure  # noqa: PLC0414
from crystal_manager.privacy.disclosures import Kept as Kept  # noqa: PLC0414
from crystal_manager.privacy.shapes import Shape, one_of, text
from crystal_protocol.labels import MAX_MACHINE_LABEL
from crystal_protocol.wire import API_PREFIX, LICENSE_PATHS, NONCE_HEADER

Location = Literal["body", "query", "path", "header"]

_HEX64 = "[0-9a-f]{64}"
_HASH_SHAPE = text(64, _HEX64, note="64 hex digits (a one-way hash)")
_FINGERPRINT_SHAPE = text(67, "v1:" + _HEX64, note="`v1:` and 64 hex digits")
_KEY_SHAPE = text(29, "CM3D(-[0-9A-HJKMNP-TV-Z]{5}){4}", note="a license key: `CM3D-` and four groups of five")
_NONCE = text(22, "[A-Za-z0-9_-]{22}", note="22 random characters")
_FILE_NAME = text(265, "[A-Za-z0-9][A-Za-z0-9._-]{0,264}", note="a plain file name (no folders)")
_METADATA_NAME = text(40, "([1-9][0-9]{0,9}[.])?(root|timestamp|snapshot|targets)[.]json",
                      note="`root`, `timestamp`, `snapshot` or `targets` `.json`, maybe numbered")
_HOST = text(255, r"[A-Za-z0-9.:\[\]-]{1,255}", note="the server's name and port")
_USER_AGENT = text(80, "CrystalMe3DProManager/[0-9A-Za-z.+-]{1,30} [(](Linux|Windows|macOS|Other)[)]",
                   note="`CrystalMe3DProManager/` version and OS family")
_LABEL_SHAPE = text(MAX_MACHINE_LABEL, r"[^\x00-\x1f\x7f-\x9f]+",
                    note=f"text, at most {MAX_MACHINE_LABEL} printable characters")
_TAG = text(256, r"[\x21-\x7e][\x20-\x7e]{0,255}", note="the server's tag, printable ASCII")
_KEY_HINT = text(4, "[0-9A-HJKMNP-TV-Z]{4}", note="four characters of a license key")
_UTC_TIME = text(20, "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z", note="a UTC time")
_BYTE_COUNT = text(7, "[0-9]{1,7}", note="a whole number of bytes")
_JSON = one_of("application/json")
#: The sections of the vendor's privacy policy that requests may rely on, in short (the policy's own words
#: ship with the app: crystal_manager/resources/policy/privacy-policy.txt, read by privacy/policy.py).
POLICY_SECTIONS: dict[str, str] = {
    "§2C": "License & Software Data: license key, activation data (machine ID), subscription status, "
    "software version — used only to validate the license and provide updates.",
    "§4": "Software License Verification: periodic connections to verify the license, check the "
    "subscription and retrieve update information; never personal files, images or projects.",
    "§5": "Data Storage: only what is needed to maintain the account, subscriptions and licenses.",
    "§8": "Data Security: secure connections, encrypted communication, signature verification.",
    "§9": "Your Rights: access, correction and deletion of your data.",
    "§2D": "Website Usage Data: IP address, browser type, pages visited — for basic analytics and site "
    "functionality.",
}


@dataclass(frozen=True)
class FieldSpec:
    """One datum a request may carry."""

    name: str
    location: Location
    example: str
    purpose: str
    policy: str
    required: bool = True
    retention: str = "not stored"
    secret: bool = False
    #: What the value may look like; the gateway refuses any value that does not fit (nothing is sent).
    shape: Shape = field(kw_only=True)
    #: The datum in plain words for people ("your license key"); empty for HTTP's own machinery.
    plain: str = field(default="", kw_only=True)
    #: What it is for, in plain words (no protocol or cryptography names); ``purpose`` is for engineers.
    plain_purpose: str = field(default="", kw_only=True)

    @property
    def why(self) -> str:
        """What it is for, in the plainest words the catalog has."""
        return self.plain_purpose or self.purpose


@dataclass(frozen=True)
class ResponseField:
    """One datum the server answers with (documentation for the protocol and the panel)."""

    name: str
    description: str


@dataclass(frozen=True)
class RequestType:
    """One kind of request: where it goes, when and why it is sent, and what it may carry."""

    kind: str
    method: Literal["GET", "POST"]
    path: str
    title: str
    purpose: str
    when: str
    policy: tuple[str, ...]
    fields: tuple[FieldSpec, ...] = ()
    response: tuple[ResponseField, ...] = ()
    errors: tuple[str, ...] = ()
    idempotent: bool = True
    signed_response: bool = False

    def field_named(self, name: str, location: Location) -> FieldSpec | None:
        """The declared field ``name`` at ``location``, or None."""
        for spec in self.fields:
            if spec.name.lower() == name.lower() and spec.location == location:
                return spec
        return None


#: Headers every request carries. Host, Connection, Content-Length are set by HTTP itself.
COMMON_HEADERS: tuple[FieldSpec, ...] = (
    FieldSpec("Host", "header", "licensing.crystalme3dpro.com", "Names the server (required by HTTP).",
              "§8", retention="not stored", shape=_HOST, plain_purpose="Names the server being contacted."),
    FieldSpec("User-Agent", "header", "CrystalMe3DProManager/0.1.0 (Linux)",
              "Manager version and OS family (Linux, Windows or macOS), so the server can answer in a "
              "format this version understands.", "§2C", retention="not stored (the server keeps no access log)",
              shape=_USER_AGENT,
              plain="the Manager's version and your operating system family",
              plain_purpose='So the server answers in a form this version understands.'),
    FieldSpec("Accept", "header", "application/json", "The answer format the app reads.", "§8", shape=_JSON),
    FieldSpec("Accept-Encoding", "header", "identity", "Asks for uncompressed answers.", "§8",
              shape=one_of("identity")),
    FieldSpec("Connection", "header", "keep-alive", "Reuses the connection (HTTP).", "§8",
              shape=one_of("keep-alive", "close")),
    FieldSpec("Content-Length", "header", "182", "Size of the body (HTTP).", "§8", required=False, shape=_BYTE_COUNT),
    FieldSpec("Content-Type", "header", "application/json", "Format of the body.", "§8", required=False, shape=_JSON),
)

NONCE_FIELD = FieldSpec(
    NONCE_HEADER, "header", "q3b1Zp0m9yS6JxkQ2c1vYw",
    "A random one-time value the server must echo inside its signed answer, so an old or forged "
    "answer cannot be replayed.", "§8", retention="not stored", shape=_NONCE,
              plain='a random one-time number',
              plain_purpose='Makes sure the answer was made for this very request (an old or forged answer is '
                            'refused).')

RANGE_FIELD = FieldSpec(
    "Range", "header", "bytes=1048576-", "Resumes an interrupted download where it stopped.", "§4",
    required=False, shape=text(40, "bytes=[0-9]{1,15}-", note="`bytes=` and an offset"),
              plain='where to resume a download')

IF_RANGE_FIELD = FieldSpec(
    "If-Range", "header", '"5d41402abc4b2a76b9719d911017c592"',
    "Resumes only if the file did not change since the first part was fetched (the server's own tag "
    "for the file, echoed back); otherwise the server sends the whole file again.", "§4", required=False, shape=_TAG,
              plain="the server's tag for a file being resumed",
              plain_purpose='Resumes a download only if the file did not change meanwhile.')

_NAME_PARAM = FieldSpec(
    "name", "path", "crystalme3d-pro-2.4.0.tar.gz", "Which public file to fetch.", "§4", shape=_FILE_NAME,
              plain='the name of the file to download')


_KEEP_WITH_LICENSE = "kept while this machine is activated; deleted when it is deactivated"
_KEY = FieldSpec(
    "key", "body", "CM3D-7QK2M-X9RTA-4HV0C-Q7F3A", "Your license key: identifies the license being used. "
    "Never put in a URL.", "§2C", retention="server keeps only a one-way digest of it", secret=True, shape=_KEY_SHAPE,
              plain='your license key',
              plain_purpose='Says which license is being used.')
_FINGERPRINT = FieldSpec(
    "fingerprint", "body", "v1:3f9ac0…e41b (64 hex digits)",
    "Machine identifier: a one-way code made from the operating system's machine ID and a key of this "
    "product. The raw machine ID never leaves the computer, and this code cannot be linked with other "
    "products' IDs.",
    "§2C", retention=_KEEP_WITH_LICENSE, shape=_FINGERPRINT_SHAPE,
              plain="a one-way code made from this computer's ID (never the ID itself)",
              plain_purpose='Recognises this computer on your license without revealing its ID: the code cannot be '
                            'turned back into the ID, nor matched with codes other products make.')
_FP_VERSION = FieldSpec("fingerprint_version", "body", "v1", "Which fingerprint method produced it.", "§2C",
                        retention=_KEEP_WITH_LICENSE, shape=one_of("v1"),
              plain='which method made that code',
              plain_purpose='Lets a later version change the method and still recognise this computer.')
_ENVIRONMENT = FieldSpec("environment", "body", "physical",
                         "Whether this is a physical machine, a virtual machine or a container.", "§2C",
                         retention=_KEEP_WITH_LICENSE, shape=one_of("physical", "vm", "container"),
              plain='whether this is a physical computer, a virtual machine or a container')
_OS = FieldSpec("os", "body", "Linux", "Operating system family only (Linux, Windows or macOS).", "§2C",
                retention=_KEEP_WITH_LICENSE, shape=one_of("Linux", "Windows", "macOS", "Other"),
              plain='the operating system family (Linux, Windows or macOS)')
_LABEL = FieldSpec("label", "body", "Linux computer",
                   "A name for this machine in the list of machines on your license (no host name unless "
                   "you type one).", "§2C", required=False, retention=_KEEP_WITH_LICENSE, shape=_LABEL_SHAPE,
              plain='the name this computer has in your list of machines')
_PUBLIC_KEY = FieldSpec(
    "machine_public_key", "body", "Qm9n…c2E=", "Public half of a key made on this machine; lets the vendor "
    "check an offline deactivation proof. The private half stays in your keyring.", "§8", required=False,
    retention=_KEEP_WITH_LICENSE, shape=text(44, "[A-Za-z0-9+/]{43}=", note="44 characters of base64"),
              plain='the public half of a key made on this computer',
              plain_purpose='Lets the vendor check a deactivation made without internet; the private half never '
                            'leaves this computer.')
_PREVIOUS = FieldSpec(
    "previous_fingerprint", "body", "v1:77aa…90cd", "Sent once, only when a new version of the Manager makes "
    "this machine's code by a new method, so the seat moves instead of a new one being taken.", "§2C",
    required=False, retention="not stored (replaced by the new fingerprint)", shape=_FINGERPRINT_SHAPE,
              plain="this computer's previous code, once, if the method changed",
              plain_purpose="Keeps this computer on the same seat when a new version changes how the code "
                            "is made.")
_MACHINE_ID = FieldSpec("machine_id", "body", "m_1a2b3c4d5e6f",
                        "Which machine on your license to deactivate (from the machine list).", "§2C",
                        required=False, shape=text(34, "m_[0-9a-f]{1,32}", note="`m_` and hex digits"),
              plain='which of your machines to deactivate')


def _optional(spec: FieldSpec) -> FieldSpec:
    return FieldSpec(spec.name, spec.location, spec.example, spec.purpose, spec.policy, False, spec.retention,
                     spec.secret, shape=spec.shape, plain=spec.plain)


_CLAIM = (_KEY, _FINGERPRINT, _FP_VERSION, _ENVIRONMENT, _OS, _LABEL)
_LEASE_ANSWER = (ResponseField("machine_id", "This machine's id on the license."),
                 ResponseField("lease", "The signed lease (see “Signed leases” below)."))
_DENIALS = ("license_not_found", "revoked", "expired", "invalid_key", "rate_limited", "bad_request")

#: What an offline activation request file holds (written by ``activate --request-file``, never sent by the app).
OFFLINE_REQUEST_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("format", "body", "crystal-offline-request-v1", "File format marker.", "§8",
              shape=one_of("crystal-offline-request-v1")),
    FieldSpec("key_digest", "body", "5be1…a09c (64 hex digits)", "SHA-256 of your license key: names the "
              "license without containing the key.", "§2C", retention="compared, not stored", shape=_HASH_SHAPE),
    FieldSpec("key_hint", "body", "Q7F3", "Last four characters of the key, for support.", "§2C", shape=_KEY_HINT),
    _FINGERPRINT, _FP_VERSION, _ENVIRONMENT, _OS, _LABEL, _PUBLIC_KEY,
    FieldSpec("request_nonce", "body", "q3b1Zp0m9yS6JxkQ2c1vYw", "Random one-time value; the response must "
              "answer this very request.", "§8", shape=_NONCE),
    FieldSpec("created_at", "body", "2025-03-01T10:00:00Z", "When the file was written.", "§8", shape=_UTC_TIME),
)

_ACCESS = RequestType(
    kind="license_access",
    method="POST",
    path=LICENSE_PATHS["access"],
    title="See what the vendor holds",
    purpose="Asks the server for everything it stores about your license and its machines (your right of "
            "access). Only the license key is sent; only its holder gets an answer.",
    when="Only when you ask for it (`crystal-manager privacy vendor`).",
    policy=("§9",),
    fields=(_KEY,),
    response=(ResponseField("license", "The license as stored (key digest, last four characters, plan, seats, "
                                       "status, dates)."),
              ResponseField("machines", "Every machine row as stored (deactivated ones keep only id and dates)."),
              ResponseField("events", "Every event kept (90 days)."),
              ResponseField("recent_requests", "The throttle's rows for this key (a digest and a time each; one "
                                               "minute)."),
              ResponseField("not_linked_to_the_license", "What is kept but not by license (failed attempts).")),
    errors=("license_not_found", "invalid_key", "rate_limited"),
    signed_response=True,
)

_SCOPE = FieldSpec("scope", "body", "this_machine", "What to delete: this machine's data (`this_machine`) or "
                   "every machine's data on the license (`all_machines`).", "§9",
                   shape=one_of("this_machine", "all_machines"), plain="whether to delete this computer's data "
                   "or every computer's on your license",
                   plain_purpose="Says how much you asked to delete.")
_DELETE_MACHINE_ID = FieldSpec("machine_id", "body", "m_1a2b3c4d5e6f",
                               "Which machine's data to delete: this one's id on the license, when it has one.",
                               "§9", required=False, shape=text(34, "m_[0-9a-f]{1,32}", note="`m_` and hex digits"),
                               plain="this computer's number on your license",
                               plain_purpose="Names this computer's data at the vendor.")

_DELETION = RequestType(
    kind="license_deletion",
    method="POST",
    path=LICENSE_PATHS["delete"],
    title="Delete your data at the vendor",
    purpose="Asks the server to delete what it stores about this computer (its entry on the license and its "
            "events), or with “all machines” about every computer on the license. The license itself is "
            "kept: it is the contract the key stands for. Only the holder of the key gets an answer.",
    when="Only when you ask for it (“Request deletion” on the Privacy page or "
         "`crystal-manager privacy request-deletion`).",
    policy=("§9",),
    fields=(_KEY, _SCOPE, _DELETE_MACHINE_ID, _optional(_FINGERPRINT)),
    response=(ResponseField("scope", "What was asked."),
              ResponseField("deleted_machines", "The ids of the machines deleted."),
              ResponseField("deleted_events", "How many events were deleted."),
              ResponseField("still_kept", "What the server still keeps, in words.")),
    errors=("license_not_found", "invalid_key", "rate_limited", "bad_request"),
    idempotent=True,
    signed_response=True,
)

REQUEST_TYPES: tuple[RequestType, ...] = (
    RequestType(
        kind="health",
        method="GET",
        path=f"{API_PREFIX}/health",
        title="Server health check",
        purpose="Checks that the licensing server is reachable.",
        when="Only when you run `crystal-manager status --check-server`; the app never sends it on its own.",
        policy=("§4",),
        response=(ResponseField("status", "\"ok\" when the server is up."),
                  ResponseField("protocol", "Protocol version the server speaks."),
                  ResponseField("time", "The server's clock (ISO 8601, UTC).")),
    ),
    RequestType(
        kind="update_metadata",
        method="GET",
        path=f"{API_PREFIX}/updates/metadata/{{name}}",
        title="Update information (the signed list of versions)",
        purpose="Fetches the signed list of available versions. Only the file name is sent: no license key, "
                "no machine ID, nothing about you or this computer.",
        when="When checking for updates: daily if enabled (not while you have paused background checks), or "
             "when you press “Check for updates”.",
        policy=("§4",),
        fields=(FieldSpec("name", "path", "timestamp.json", "Which signed metadata file to fetch.", "§4",
                          shape=_METADATA_NAME,
              plain='the name of the update information file'),),
        response=(ResponseField("(file)", "The signed list of versions, checked against the keys built into "
                                          "the app."),),
    ),
    RequestType(
        kind="update_target",
        method="GET",
        path=f"{API_PREFIX}/updates/targets/{{name}}",
        title="Update download",
        purpose="Downloads an update or patch file; its hash and size are checked against signed metadata. "
                "Only the file name (and where to resume) is sent: no license key, no machine ID.",
        when="When you choose to download an update.",
        policy=("§4",),
        fields=(_NAME_PARAM, RANGE_FIELD, IF_RANGE_FIELD),
        response=(ResponseField("(file)", "The update archive or patch, possibly from a byte offset."),),
    ),
    RequestType(
        kind="license_activate",
        method="POST",
        path=LICENSE_PATHS["activate"],
        title="Activate this machine",
        purpose="Activates the license on this computer and receives a signed lease. Activating a computer "
                "that is already on the license simply succeeds.",
        when="Only when you activate (first run, “Activate”, or `crystal-manager activate KEY`).",
        policy=("§2C", "§4", "§8"),
        fields=(*_CLAIM, _PUBLIC_KEY, _PREVIOUS),
        response=_LEASE_ANSWER,
        errors=(*_DENIALS, "seat_limit"),
        idempotent=False,
        signed_response=True,
    ),
    RequestType(
        kind="license_validate",
        method="POST",
        path=LICENSE_PATHS["validate"],
        title="Re-validate the license",
        purpose="Checks that the license is still valid and renews the signed lease.",
        when="About once a day (24 h with jitter) while the Manager runs, at start when a check is overdue "
             "(neither while you have paused background checks), and when you press “Verify now” or run "
             "`crystal-manager verify`.",
        policy=("§2C", "§4", "§8"),
        fields=(_KEY, _FINGERPRINT, _FP_VERSION, _ENVIRONMENT, _OS, _PREVIOUS),
        response=_LEASE_ANSWER,
        errors=(*_DENIALS, "machine_not_found"),
        signed_response=True,
    ),
    RequestType(
        kind="license_deactivate",
        method="POST",
        path=LICENSE_PATHS["deactivate"],
        title="Deactivate a machine",
        purpose="Frees a seat: this computer's, or another one's chosen from the machine list.",
        when="Only when you deactivate (`crystal-manager deactivate [--machine ID]` or “Deactivate”).",
        policy=("§2C", "§9"),
        fields=(_KEY, _MACHINE_ID, _optional(_FINGERPRINT), _PREVIOUS),
        response=(ResponseField("deactivated", "Id of the machine deactivated."),
                  ResponseField("seats_used", "Seats in use afterwards."),
                  ResponseField("seats_total", "Seats on the license.")),
        errors=("license_not_found", "machine_not_found", "rate_limited"),
        idempotent=False,
        signed_response=True,
    ),
    RequestType(
        kind="license_machines",
        method="POST",
        path=LICENSE_PATHS["machines"],
        title="List the machines on the license",
        purpose="Shows which computers use the license's seats, so you can free one.",
        when="Only when you open “Manage machines” or run `crystal-manager machines`.",
        policy=("§2C", "§9"),
        fields=(_KEY, _optional(_FINGERPRINT)),
        response=(ResponseField("machines", "Each machine: id, label, OS family, environment, activated and "
                                            "last seen, and whether it is this one."),
                  ResponseField("seats_used", "Seats in use."), ResponseField("seats_total", "Seats on the license.")),
        errors=("license_not_found", "rate_limited"),
        signed_response=True,
    ),
    _ACCESS,
    _DELETION,
)



@dataclass(frozen=True)
class Catalog:
    """Lookup over the request types."""

    types: tuple[RequestType, ...] = field(default=REQUEST_TYPES)
    common_headers: tuple[FieldSpec, ...] = field(default=COMMON_HEADERS)

    def get(self, kind: str) -> RequestType | None:
        """The request type ``kind``, or None."""
        for request_type in self.types:
            if request_type.kind == kind:
                return request_type
        return None

    def header_spec(self, request_type: RequestType, name: str) -> FieldSpec | None:
        """The declaration of header ``name`` for ``request_type`` (common or its own), or None."""
        for spec in self.common_headers:
            if spec.name.lower() == name.lower():
                return spec
        if name.lower() == NONCE_HEADER.lower() and request_type.signed_response:
            return NONCE_FIELD
        return request_type.field_named(name, "header")


def sent_in_words(request_type: RequestType, catalog: Catalog | None = None) -> list[str]:
    """What ``request_type`` sends, in plain words, in the catalog's order: its own fields, the one-time
    number of a signed request, then what every request carries (the Manager's version)."""
    cat = catalog or default_catalog()
    specs = [*request_type.fields, *((NONCE_FIELD,) if request_type.signed_response else ()),
             *cat.common_headers]
    words: list[str] = []
    for spec in specs:
        if spec.plain and spec.plain not in words:
            words.append(spec.plain)
    return words


def default_catalog() -> Catalog:
    """The catalog the app ships with."""
    return Catalog()
