"""What this computer would send, value by value, before anything is sent — for the Privacy page's "what
may be sent" and "show exactly what the next license check sends". Local only (no network): the values
come from the same code that builds the requests, secrets masked as the ledger masks them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from crystal_manager.privacy.catalog import NONCE_FIELD, FieldSpec, RequestType
from crystal_manager.privacy.ledger import mask_secret
from crystal_manager.services.context import AppContext
from crystal_manager.services.key_storage import key_storage
from crystal_manager.services.license_service import LicenseService
from crystal_manager.services.privacy_view import stored_files

#: Shown where a value exists only at the moment of sending.
AT_SENDING = {NONCE_FIELD.name: "(a new random value each time)", "Content-Length": "(the size of the data)",
              "Connection": "keep-alive", "Content-Type": "application/json", "Accept": "application/json",
              "Accept-Encoding": "identity", "Range": "(only when resuming a download)",
              "If-Range": "(only when resuming a download)"}


@dataclass(frozen=True)
class PrivacyFacts:
    """Everything local the Privacy page shows besides the catalog and the log."""

    #: kind -> field or header name -> the value this computer would send now (secrets masked).
    values: dict[str, dict[str, str]] = field(default_factory=dict)
    next_check_at: str | None = None
    #: Until when the license works without another successful check (the lease's end).
    lease_expires_at: str | None = None
    activated: bool = False
    files: list[dict[str, Any]] = field(default_factory=list)
    keyring: list[dict[str, str]] = field(default_factory=list)


def _shown(spec: FieldSpec, value: object) -> str:
    return mask_secret(str(value)) if spec.secret else str(value)


def _values_for(request_type: RequestType, body: dict[str, Any], common: dict[str, str]) -> dict[str, str]:
    values: dict[str, str] = {}
    for spec in request_type.fields:
        if spec.name in body:
            values[spec.name] = _shown(spec, body[spec.name])
        elif spec.name in AT_SENDING:
            values[spec.name] = AT_SENDING[spec.name]
    if request_type.signed_response:
        values[NONCE_FIELD.name] = AT_SENDING[NONCE_FIELD.name]
    return {**values, **common}


def privacy_facts(ctx: AppContext, service: LicenseService | None = None) -> PrivacyFacts:
    """This computer's values per request type, the next license check, the files and keyring names.

    Blocks on the disk and the keyring (reading the key to mask it): call it off the GUI thread."""
    from crystal_manager.net.gateway import user_agent
    service = service or LicenseService(ctx, secrets_in_status=False)
    engine = service.engine
    record = engine.load()
    activated = record.machine_id is not None
    try:
        key = engine.stored_key() if activated else ""
    except Exception:  # no key readable: show what is sent in words instead
        key = ""
    typed = "(the license key you enter)"
    host = urlsplit(ctx.profile.server_url).netloc
    common = {"Host": host, "User-Agent": user_agent()}
    values: dict[str, dict[str, str]] = {}
    for request_type in ctx.catalog.types:
        kind = request_type.kind
        # The same code that builds each request builds its preview.
        body: dict[str, Any] = engine.claim(key or typed, record, kind=kind)
        if kind == "license_deletion":
            body = {"key": key or typed, "scope": "this_machine",
                    "machine_id": record.machine_id or "(none: this computer is not activated)"}
        elif kind in ("update_metadata", "update_target"):
            body = {"name": "(the name of the file fetched)"}
        elif kind == "license_access":
            body = {"key": key or typed}
        elif kind == "license_machines":
            body = {"key": key or typed, "fingerprint": body["fingerprint"]}
        values[kind] = _values_for(request_type, body, common)
        if not key and "key" in values[kind]:
            values[kind]["key"] = typed
    status = service.status()
    paths = ctx.paths
    files = stored_files({"settings": paths.config_dir, "data": paths.data_dir, "state": paths.state_dir,
                          "cache": paths.cache_dir, "logs": paths.log_dir, "product": paths.install_root})
    return PrivacyFacts(values=values, next_check_at=status.next_check_at,
                        lease_expires_at=status.lease_expires_at if activated else None, activated=activated,
                        files=files, keyring=key_storage(ctx, activated=activated).keyring)
