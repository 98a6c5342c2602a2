"""The data catalog: every request the app can send and every field and header it may carry.

This is the single source of facts for three things: the gateway's check (a request carrying anything
not declared here is refused before a byte leaves), the Privacy page, and ``docs/protocol.md`` (generated
from this module by :mod:`crystal_manager.privacy.protocol_doc`). Add a field here or it cannot be sent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from crystal_protocol.wire import API_PREFIX, NONCE_HEADER

Location = Literal["body", "query", "path", "header"]

#: The sections of ../shared/privacy-policy.txt that requests may rely on.
POLICY_SECTIONS: dict[str, str] = {
    "§2C": "License & Software Data: license key, activation data (machine ID), subscription status, "
    "software version — used only to validate the license and provide updates.",
    "§4": "Software License Verification: periodic connections to verify the license, check the "
    "subscription and retrieve update information; never personal files, images or projects.",
    "§5": "Data Storage: only what is needed to maintain the account, subscriptions and licenses.",
    "§8": "Data Security: secure connections, encrypted communication, signature verification.",
    "§9": "Your Rights: access, correction and deletion of your data.",
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
              "§8", retention="not stored"),
    FieldSpec("User-Agent", "header", "CrystalMe3DProManager/0.1.0 (Linux)",
              "Manager version and OS family (Linux, Windows or macOS), so the server can answer in a "
              "format this version understands.", "§2C", retention="server access log, 30 days"),
    FieldSpec("Accept", "header", "application/json", "The answer format the app reads.", "§8"),
    FieldSpec("Accept-Encoding", "header", "identity", "Asks for uncompressed answers.", "§8"),
    FieldSpec("Connection", "header", "keep-alive", "Reuses the connection (HTTP).", "§8"),
    FieldSpec("Content-Length", "header", "182", "Size of the body (HTTP).", "§8", required=False),
    FieldSpec("Content-Type", "header", "application/json", "Format of the body.", "§8", required=False),
)

NONCE_FIELD = FieldSpec(
    NONCE_HEADER, "header", "q3b1Zp0m9yS6JxkQ2c1vYw",
    "A random one-time value the server must echo inside its signed answer, so an old or forged "
    "answer cannot be replayed.", "§8", retention="not stored")

RANGE_FIELD = FieldSpec(
    "Range", "header", "bytes=1048576-", "Resumes an interrupted download where it stopped.", "§4",
    required=False)

_NAME_PARAM = FieldSpec(
    "name", "path", "crystalme3d-pro-2.4.0.tar.gz", "Which public file to fetch.", "§4")

REQUEST_TYPES: tuple[RequestType, ...] = (
    RequestType(
        kind="health",
        method="GET",
        path=f"{API_PREFIX}/health",
        title="Server health check",
        purpose="Checks that the licensing server is reachable, e.g. from the diagnostics in About.",
        when="Only when you press “Test connection” or run `crystal-manager status --check-server`.",
        policy=("§4",),
        response=(ResponseField("status", "\"ok\" when the server is up."),
                  ResponseField("protocol", "Protocol version the server speaks."),
                  ResponseField("time", "The server's clock (ISO 8601, UTC).")),
    ),
    RequestType(
        kind="update_metadata",
        method="GET",
        path=f"{API_PREFIX}/updates/metadata/{{name}}",
        title="Update information (signed metadata)",
        purpose="Fetches the signed list of available versions; nothing about you is sent.",
        when="When checking for updates: daily if enabled, or when you press “Check for updates”.",
        policy=("§4",),
        fields=(FieldSpec("name", "path", "timestamp.json", "Which signed metadata file to fetch.", "§4"),),
        response=(ResponseField("(file)", "TUF metadata, verified against the built-in root keys."),),
    ),
    RequestType(
        kind="update_target",
        method="GET",
        path=f"{API_PREFIX}/updates/targets/{{name}}",
        title="Update download",
        purpose="Downloads an update or patch file; its hash and size are checked against signed metadata.",
        when="When you choose to download an update.",
        policy=("§4",),
        fields=(_NAME_PARAM, RANGE_FIELD),
        response=(ResponseField("(file)", "The update archive or patch, possibly from a byte offset."),),
    ),
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


def default_catalog() -> Catalog:
    """The catalog the app ships with."""
    return Catalog()
