"""What crosses the wire is what the catalog declares and what the ledger says: a recording proxy sits
between the app and the reference server through every licensing and update flow (activate, check,
machine list, access, update check and download, server check, deletion, deactivation). Each request's
header, field and nested value is declared for its request type with a matching shape; the ledger entry
equals the bytes the proxy saw; the license key is never unmasked in the ledger, the app's files or a URL;
the raw machine ID never crosses the wire."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from crystal_manager.privacy.catalog import Catalog, RequestType
from crystal_manager.privacy.ledger import mask_secret
from crystal_manager.privacy.shapes import problem
from crystal_manager.services.deletion import request_deletion
from crystal_manager.services.health import check_server
from crystal_manager.services.update_service import UpdateService
from tests.privacy.recording_proxy import WireRequest, recording
from tests.support.keyring_memory import MemoryKeyring
from tests.support.licensing import context, issue, machine, service
from tests.support.servers import ReferenceServer
from tests.support.update_repo import publish


def _path_pattern(request_type: RequestType) -> re.Pattern[str]:
    return re.compile("^" + re.sub(r"\\\{[a-z_]+\\\}", "(?P<name>[^/?]+)", re.escape(request_type.path)) + "$")


def check_request(catalog: Catalog, entry: dict[str, Any], wire: WireRequest) -> None:
    """One recorded request against its declaration and its ledger entry."""
    request_type = catalog.get(str(entry["kind"]))
    assert request_type is not None
    where = f"{request_type.kind} {wire.target}"
    assert wire.method == request_type.method == entry["method"], where
    found = _path_pattern(request_type).match(wire.target)
    assert found is not None and entry["path"] == wire.target, where  # no query string, nothing undeclared
    fields: dict[str, Any] = {}
    for name, value in found.groupdict().items():
        spec = request_type.field_named(name, "path")
        assert spec is not None and problem(spec.shape, value, name) is None, where
        fields[name] = value
    for name, value in wire.headers.items():
        spec = catalog.header_spec(request_type, name)
        assert spec is not None, f"{where}: header {name} is not declared"
        assert problem(spec.shape, value, name) is None, f"{where}: header {name}: {value!r}"
    shown = {k.lower(): v for k, v in entry["headers"].items()}
    assert shown == {k.lower(): v for k, v in wire.headers.items()}, where
    if wire.body:
        body = json.loads(wire.body)
        for name, value in body.items():
            spec = request_type.field_named(name, "body")
            assert spec is not None, f"{where}: field {name} is not declared"
            assert problem(spec.shape, value, name) is None, f"{where}: field {name}"
            fields[name] = mask_secret(value) if spec.secret else value
        missing = [s.name for s in request_type.fields if s.required and s.location == "body" and s.name not in body]
        assert missing == [], where
    assert entry["fields"] == fields, where
    assert entry["bytes_sent"] == len(wire.raw), where  # request line, headers, blank line, body


def test_every_request_of_every_flow_is_declared_and_recorded_as_sent(
        app_home: Path, reference_server: ReferenceServer, memory_keyring: MemoryKeyring) -> None:
    port = urlsplit(reference_server.url).port
    assert port is not None
    lic = issue(reference_server.data_dir)
    publish(reference_server, "1.1.0")
    with recording(port) as proxy:
        ctx = context(app_home, reference_server.profile_file, proxy.url)
        try:
            alpha = service(ctx, name="alpha")
            alpha.activate(lic.key, label="Studio PC")
            alpha.verify()
            alpha.machines()
            alpha.vendor_report()
            updates = UpdateService(ctx, license_status=alpha.status)
            assert updates.check().offer is not None
            assert updates.download().complete
            check_server(ctx)
            request_deletion(ctx, service=alpha)
            alpha.activate(lic.key)
            alpha.deactivate()
            entries = ctx.ledger.entries()
        finally:
            ctx.close()
        wire = list(proxy.requests)
    kinds = {e["kind"] for e in entries}
    assert kinds == {t.kind for t in ctx.catalog.types}  # every request type the app has, exercised
    assert len(wire) == len(entries) and all(e["state"] == "done" for e in entries)
    for entry, request in zip(entries, wire, strict=True):
        check_request(ctx.catalog, entry, request)
    # The key: only ever in a request body, never in a URL, the ledger, or any file the app wrote.
    assert not any(lic.key in r.target for r in wire)
    for path in app_home.rglob("*"):
        if path.is_file():
            assert lic.key.encode() not in path.read_bytes(), path
    # The raw machine ID never crosses the wire (only its one-way code does).
    raw_id = machine("alpha")().machine_id.encode()
    assert not any(raw_id in r.raw for r in wire)
