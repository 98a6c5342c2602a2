"""What callers hand the gateway, what they get back, and the catalog check (no httpx here)."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import quote, urlsplit

from crystal_manager.net.errors import (
    InsecureTransportError,
    MissingFieldError,
    UndeclaredFieldError,
    UnknownRequestTypeError,
    ValueShapeError,
)
from crystal_manager.privacy.catalog import Catalog, FieldSpec, RequestType
from crystal_manager.privacy.ledger import mask_secret
from crystal_manager.privacy.shapes import problem

Trigger = Literal["user", "scheduled"]


@dataclass(frozen=True)
class OutboundRequest:
    """A request by catalog kind. Every body key, query key, path parameter and header is checked."""

    kind: str
    body: Mapping[str, Any] | None = None
    query: Mapping[str, str] = field(default_factory=dict)
    path_params: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    trigger: Trigger = "user"


@dataclass(frozen=True)
class GatewayResponse:
    """An HTTP answer, whatever its status. ``method`` and ``path`` are those of the request."""

    status: int
    headers: Mapping[str, str]
    body: bytes
    method: str
    path: str

    def header(self, name: str) -> str | None:
        """A response header, case-insensitively."""
        return self.headers.get(name.lower())


def is_loopback_host(host: str) -> bool:
    """True for localhost, 127.0.0.0/8 and ::1."""
    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_base_url(url: str) -> None:
    """https everywhere; plain http only to loopback (the local reference server)."""
    parts = urlsplit(url)
    if parts.username is not None or parts.password is not None:
        # httpx would turn user:pass@ into an Authorization header the catalog never declared.
        raise InsecureTransportError("refusing a server URL with credentials in it (user:password@host)")
    if parts.query or parts.fragment:
        raise InsecureTransportError(f"refusing server URL {url!r}: it must not carry a query or fragment")
    if parts.scheme == "https" and parts.hostname:
        return
    if parts.scheme == "http" and parts.hostname and is_loopback_host(parts.hostname):
        return
    raise InsecureTransportError(f"refusing to send to {url!r}: https is required except to loopback")


def resolve(catalog: Catalog, request: OutboundRequest) -> tuple[RequestType, str]:
    """Check the request against the catalog; return its type and the concrete path."""
    request_type = catalog.get(request.kind)
    if request_type is None:
        raise UnknownRequestTypeError(f"request type {request.kind!r} is not in the data catalog")
    groups: tuple[tuple[Literal["body", "query", "path"], Mapping[str, Any]], ...] = (
        ("body", request.body or {}), ("query", request.query), ("path", request.path_params))
    for location, values in groups:
        for name, value in values.items():
            spec = request_type.field_named(name, location)
            if spec is None:
                raise UndeclaredFieldError(
                    f"{request.kind}: {location} field {name!r} is not declared in the data catalog; not sent")
            check_value(request.kind, spec, value, f"{location} field {name!r}")
    check_headers(catalog, request_type, request.headers)
    for spec in request_type.fields:
        present = {"body": request.body or {}, "query": request.query, "path": request.path_params,
                   "header": request.headers}[spec.location]
        if spec.required and not any(k.lower() == spec.name.lower() for k in present):
            raise MissingFieldError(f"{request.kind}: required {spec.location} field {spec.name!r} missing")
    path = request_type.path
    for name, value in request.path_params.items():
        path = path.replace("{" + name + "}", quote(str(value), safe=""))
    return request_type, path


def check_value(kind: str, spec: FieldSpec, value: Any, where: str) -> None:
    """Refuse ``value`` unless it fits ``spec``'s declared shape (the message never repeats the value)."""
    found = problem(spec.shape, value, where)
    if found is not None:
        raise ValueShapeError(f"{kind}: {found}; not sent")


def check_headers(catalog: Catalog, request_type: RequestType, headers: Mapping[str, str]) -> None:
    """Refuse any header that is not declared for ``request_type`` or whose value does not fit its shape."""
    for name, value in headers.items():
        spec = catalog.header_spec(request_type, name)
        if spec is None:
            raise UndeclaredFieldError(
                f"{request_type.kind}: header {name!r} is not declared in the data catalog; not sent")
        check_value(request_type.kind, spec, value, f"header {name!r}")


def masked_fields(request_type: RequestType, request: OutboundRequest) -> dict[str, Any]:
    """The request's data as the ledger shows it: secrets reduced to their last four characters."""
    shown: dict[str, Any] = {}
    groups: tuple[tuple[Literal["body", "query", "path"], Mapping[str, Any]], ...] = (
        ("path", request.path_params), ("query", request.query), ("body", request.body or {}))
    for location, values in groups:
        for name, value in values.items():
            spec = request_type.field_named(name, location)
            shown[name] = mask_secret(str(value)) if spec is not None and spec.secret else value
    return shown


def masked_headers(catalog: Catalog, request_type: RequestType, headers: Mapping[str, str]) -> dict[str, str]:
    """Headers as sent, secrets masked."""
    shown: dict[str, str] = {}
    for name, value in headers.items():
        spec = catalog.header_spec(request_type, name)
        secret = spec.secret if spec is not None else name.lower() == "authorization"
        shown[name] = mask_secret(value) if secret else value
    return shown
