"""The reference server keeps its word: it never stores the host or CPU hashes older clients still send;
deactivation deletes the machine's data but what the catalog declares kept; events expire as declared."""

from __future__ import annotations

import http.client
import json
from urllib.parse import urlsplit

import pytest

from crystal_manager.licensing.errors import KeyNotFound
from crystal_manager.privacy.catalog import SERVER_KEEPS
from crystal_manager.services.context import AppContext
from crystal_protocol.licensekey import generate_key
from crystal_protocol.wire import LICENSE_PATHS
from crystal_server import store
from tests.support.licensing import issue, service
from tests.support.servers import ReferenceServer

HASH = "ef" * 32


def post(url: str, path: str, body: object) -> int:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
    try:
        conn.request("POST", path, body=json.dumps(body), headers={"Content-Type": "application/json",
                                                                   "X-Crystal-Nonce": "old-client-nonce-1"})
        return conn.getresponse().status
    finally:
        conn.close()


def test_an_older_client_is_served_but_its_hardware_hashes_are_not_kept(
        reference_server: ReferenceServer) -> None:
    lic = issue(reference_server.data_dir)
    old_body = {"key": lic.key, "fingerprint": "v1:" + HASH, "fingerprint_version": "v1",
                "components": {"machine": HASH, "host": "12" * 32, "cpu": "34" * 32, "platform": HASH},
                "environment": "physical", "os": "Linux", "label": "Old client"}
    assert post(reference_server.url, LICENSE_PATHS["activate"], old_body) == 200
    assert post(reference_server.url, LICENSE_PATHS["validate"], old_body) == 200
    conn = store.connect(reference_server.data_dir)
    try:
        rows = conn.execute("SELECT * FROM machines").fetchall()
    finally:
        conn.close()
    [row] = rows
    assert row["components"] == "{}"
    dumped = json.dumps([dict(r) for r in rows])
    assert "12" * 32 not in dumped and "34" * 32 not in dumped


def test_deactivation_deletes_the_machine_but_what_the_catalog_keeps(
        reference_server: ReferenceServer, lic_ctx: AppContext) -> None:
    lic = issue(reference_server.data_dir)
    first = service(lic_ctx, name="alpha").activate(lic.key, label="Alice's studio")
    service(lic_ctx, name="alpha").deactivate()
    conn = store.connect(reference_server.data_dir)
    try:
        row = dict(conn.execute("SELECT * FROM machines WHERE id = ?", (first.machine_id,)).fetchone())
    finally:
        conn.close()
    kept = {k for k, v in row.items() if v not in (None, "", "{}")}
    # The catalog: "only its id and when it was activated, last seen and deactivated" (and its license).
    assert kept == {"id", "license_id", "activated_at", "last_seen_at", "deactivated_at"}
    assert any("only its id" in k.what for k in SERVER_KEEPS)


def test_events_older_than_the_declared_period_are_deleted(
        reference_server: ReferenceServer, lic_ctx: AppContext) -> None:
    lic = issue(reference_server.data_dir)
    service(lic_ctx, name="alpha").activate(lic.key)
    conn = store.connect(reference_server.data_dir)
    try:
        conn.execute("UPDATE events SET at = '2000-01-01T00:00:00Z'")
    finally:
        conn.close()
    service(lic_ctx, name="alpha").verify()
    conn = store.connect(reference_server.data_dir)
    try:
        ats = [r[0] for r in conn.execute("SELECT at FROM events")]
    finally:
        conn.close()
    assert ats and "2000-01-01T00:00:00Z" not in ats
    assert any(k.how_long == "90 days" for k in SERVER_KEEPS)


def test_the_access_request_returns_exactly_what_is_stored_and_only_to_the_key_holder(
        reference_server: ReferenceServer, lic_ctx: AppContext) -> None:
    lic = issue(reference_server.data_dir)
    alpha = service(lic_ctx, name="alpha")
    alpha.activate(lic.key, label="Studio PC")
    alpha.verify()
    report = alpha.vendor_report()
    conn = store.connect(reference_server.data_dir)
    try:
        stored_license = dict(conn.execute("SELECT * FROM licenses WHERE id = ?", (lic.license_id,)).fetchone())
        stored_machines = [dict(r) for r in conn.execute("SELECT * FROM machines WHERE license_id = ?",
                                                         (lic.license_id,))]
        stored_events = [dict(r) for r in conn.execute("SELECT * FROM events WHERE license_id = ? ORDER BY id",
                                                       (lic.license_id,))]
    finally:
        conn.close()
    assert report["license"] == stored_license and report["machines"] == stored_machines
    assert report["events"] == stored_events and "IP address" in report["not_linked_to_the_license"]
    # A well-formed key of no license gets a signed refusal, not someone else's data.
    with pytest.raises(KeyNotFound):
        alpha.vendor_report(generate_key())
    assert [e["kind"] for e in lic_ctx.ledger.entries()][-2:] == ["license_access", "license_access"]
