"""The reference server keeps its word: it never stores the host or CPU hashes older clients still send;
deactivation deletes the machine's data but what the catalog declares kept; events expire as declared."""

from __future__ import annotations

import http.client
import json
from pathlib import Path
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
    # The per-key throttle rows carry the key's digest: linked to the license, so shown (the access request
    # itself counts: the report is made after its own row is written).
    assert report["recent_requests"] and all(r["name"] == stored_license["key_digest"]
                                             for r in report["recent_requests"])
    # A well-formed key of no license gets a signed refusal, not someone else's data.
    with pytest.raises(KeyNotFound):
        alpha.vendor_report(generate_key())
    assert [e["kind"] for e in lic_ctx.ledger.entries()][-2:] == ["license_access", "license_access"]


def _rows(server: ReferenceServer, sql: str, *params: object) -> list[dict[str, object]]:
    conn = store.connect(server.data_dir)
    try:
        return [dict(r) for r in conn.execute(sql, params)]
    finally:
        conn.close()


def test_deleting_this_machine_leaves_nothing_of_it_and_the_other_machine_untouched(
        reference_server: ReferenceServer, lic_ctx: AppContext) -> None:
    from crystal_manager.services.deletion import request_deletion

    lic = issue(reference_server.data_dir)
    beta_service = service(lic_ctx, name="beta")
    beta = beta_service.activate(lic.key, label="Beta laptop")
    beta_service.engine.wipe()  # beta is another computer: this one's record must not move its seat
    alpha_service = service(lic_ctx, name="alpha")
    alpha = alpha_service.activate(lic.key, label="Alice's studio")
    alpha_service.verify()
    before = _rows(reference_server, "SELECT * FROM licenses WHERE id = ?", lic.license_id)
    answer = request_deletion(lic_ctx, service=alpha_service)
    assert answer["deleted_machines"] == [alpha.machine_id] and answer["deleted_events"] >= 2
    # Nothing of alpha is left, in any table, under any column.
    dump = json.dumps([_rows(reference_server, f"SELECT * FROM {t}")
                       for t in ("licenses", "machines", "events", "throttle_events")])
    assert alpha.machine_id and alpha.machine_id not in dump and "Alice" not in dump
    assert alpha_service.engine.identity().fingerprint not in dump
    # What the catalog says is kept is kept: the license as it was, the other machine and its events.
    assert _rows(reference_server, "SELECT * FROM licenses WHERE id = ?", lic.license_id) == before
    [other] = _rows(reference_server, "SELECT * FROM machines")
    assert other["id"] == beta.machine_id and other["label"] == "Beta laptop"
    assert _rows(reference_server, "SELECT * FROM events WHERE machine_id = ?", beta.machine_id)
    # The vendor no longer knows this computer: the license is forgotten here too.
    assert alpha_service.engine.load().machine_id is None
    assert any("deleted as soon as you ask" in k.how_long for k in SERVER_KEEPS)


def test_deleting_all_machines_keeps_only_the_license(
        reference_server: ReferenceServer, lic_ctx: AppContext) -> None:
    from crystal_manager.services.deletion import request_deletion

    lic = issue(reference_server.data_dir)
    beta_service = service(lic_ctx, name="beta")
    beta_service.activate(lic.key)
    beta_service.engine.wipe()  # another computer
    alpha_service = service(lic_ctx, name="alpha")
    alpha_service.activate(lic.key)
    alpha_service.deactivate()
    alpha_service.activate(lic.key)
    answer = request_deletion(lic_ctx, all_machines=True, service=alpha_service)
    assert len(answer["deleted_machines"]) == 3  # beta, alpha deactivated (seat history), alpha again
    assert _rows(reference_server, "SELECT * FROM machines") == []
    assert _rows(reference_server, "SELECT * FROM events WHERE license_id = ?", lic.license_id) == []
    assert _rows(reference_server, "SELECT * FROM throttle_events WHERE bucket = 'key'") == []
    [kept] = _rows(reference_server, "SELECT * FROM licenses")
    assert kept["id"] == lic.license_id and lic.key not in json.dumps(kept)
    assert any("license itself" in line for line in answer["still_kept"])


def test_deletion_is_refused_without_the_key_and_deletes_nothing(
        reference_server: ReferenceServer, lic_ctx: AppContext) -> None:
    lic = issue(reference_server.data_dir)
    alpha = service(lic_ctx, name="alpha").activate(lic.key)
    stranger = generate_key()
    for body in ({"key": stranger, "scope": "all_machines"},
                 {"key": stranger, "scope": "this_machine", "machine_id": alpha.machine_id},
                 {"key": "CM3D-NOT-A-KEY", "scope": "all_machines"},
                 {"scope": "all_machines", "machine_id": alpha.machine_id}):
        assert post(reference_server.url, LICENSE_PATHS["delete"], body) in (400, 404)
    # The right key but a machine not named, or a scope not declared: refused, nothing deleted.
    assert post(reference_server.url, LICENSE_PATHS["delete"], {"key": lic.key, "scope": "this_machine"}) == 400
    assert post(reference_server.url, LICENSE_PATHS["delete"], {"key": lic.key, "scope": "everything"}) == 400
    assert [r["id"] for r in _rows(reference_server, "SELECT id FROM machines")] == [alpha.machine_id]
    assert _rows(reference_server, "SELECT * FROM events WHERE machine_id = ?", alpha.machine_id)
    # Another license's key names alpha (by id, or by its code): nothing of alpha is deleted.
    other = issue(reference_server.data_dir)
    fingerprint = service(lic_ctx, name="alpha").engine.identity().fingerprint
    for body in ({"key": other.key, "scope": "this_machine", "machine_id": alpha.machine_id},
                 {"key": other.key, "scope": "this_machine", "fingerprint": fingerprint}):
        assert post(reference_server.url, LICENSE_PATHS["delete"], body) == 200
    assert [r["id"] for r in _rows(reference_server, "SELECT id FROM machines")] == [alpha.machine_id]
    assert _rows(reference_server, "SELECT * FROM events WHERE machine_id = ?", alpha.machine_id)


def test_a_quiet_server_still_deletes_what_is_past_its_declared_period(
        reference_server: ReferenceServer, lic_ctx: AppContext) -> None:
    lic = issue(reference_server.data_dir)
    alpha = service(lic_ctx, name="alpha")
    alpha.activate(lic.key)
    conn = store.connect(reference_server.data_dir)
    try:
        conn.execute("UPDATE events SET at = '2000-01-01T00:00:00Z'")
        conn.execute("INSERT INTO throttle_events (bucket, name, at) VALUES ('address', '203.0.113.9', 1.0)")
    finally:
        conn.close()
    # No new event is written by the access request: old ones must not be shown, nor kept.
    assert alpha.vendor_report()["events"] == []
    assert _rows(reference_server, "SELECT * FROM events WHERE at = '2000-01-01T00:00:00Z'") == []
    assert post(reference_server.url, LICENSE_PATHS["delete"], {"key": lic.key, "scope": "this_machine",
                                                                "machine_id": "m_00"}) == 200
    assert _rows(reference_server, "SELECT * FROM throttle_events WHERE name = '203.0.113.9'") == []


def test_a_named_trusted_proxy_s_forwarded_address_is_the_one_throttled(server_dir: Path) -> None:
    """`serve --trusted-proxy ADDR`: behind the vendor's own proxy each client's forwarded address counts
    on its own (without the option the header is ignored: tests/server/test_attacks_deletion.py)."""
    from tests.support.servers import run_reference_server

    with run_reference_server(server_dir, serve_args=["--trusted-proxy", "127.0.0.1"]) as server:
        parts = urlsplit(server.url)

        def attempt(i: int, forwarded: str) -> int:
            conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=20)
            try:
                conn.request("POST", LICENSE_PATHS["access"], body=json.dumps({"key": generate_key()}),
                             headers={"Content-Type": "application/json", "X-Crystal-Nonce": f"proxy-nonce-{i:08d}",
                                      "X-Forwarded-For": forwarded})
                return conn.getresponse().status
            finally:
                conn.close()

        one_client = [attempt(i, "203.0.113.7") for i in range(40)]
        assert 429 in one_client  # the forwarded address is throttled…
        assert attempt(99, "203.0.113.8") == 404  # …and another client behind the proxy is not
