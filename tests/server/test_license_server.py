"""The reference server's licensing side: admin CLI, storage, throttling, the offline portal endpoint."""

from __future__ import annotations

import http.client
import json
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from crystal_manager.licensing.errors import KeyNotFound, RateLimited
from crystal_manager.services.context import AppContext
from crystal_protocol.licensekey import generate_key
from crystal_server import store
from crystal_server.throttle import Window
from tests.support.licensing import issue, server_cli, service
from tests.support.servers import ReferenceServer, run_reference_server


def post(url: str, path: str, body: object) -> tuple[int, dict[str, str], bytes]:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
    try:
        conn.request("POST", path, body=json.dumps(body), headers={"Content-Type": "application/json",
                                                                   "X-Crystal-Nonce": "portal-nonce-1"})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def test_admin_cli_create_show_update(server_dir: Path) -> None:
    lic = issue(server_dir, plan="studio", seats=3, expires="2030-06-30")
    shown = json.loads(server_cli("license", "show", str(server_dir), lic.key, "--json").stdout)
    assert (shown["id"], shown["plan"], shown["seats"], shown["expires_at"]) == (
        lic.license_id, "studio", 3, "2030-06-30T00:00:00Z")
    assert server_cli("license", "update", str(server_dir), lic.license_id, "--plan", "pro", "--seats", "5",
                      "--status", "cancelled").returncode == 0
    shown = json.loads(server_cli("license", "show", str(server_dir), lic.license_id, "--json").stdout)
    assert (shown["plan"], shown["seats"], shown["status"], shown["effective_status"]) == (
        "pro", 5, "cancelled", "active")
    server_cli("license", "update", str(server_dir), lic.license_id, "--expires", "2001-01-01")
    shown = json.loads(server_cli("license", "show", str(server_dir), lic.license_id, "--json").stdout)
    assert shown["effective_status"] == "expired"


@pytest.mark.parametrize(("args", "code", "words"), [
    (["create", "--plan", "p", "--seats", "1", "--expires", "31/12/2030"], 2, "not a date"),
    (["create", "--plan", "p", "--seats", "0", "--expires", "never"], 2, "at least 1"),
    (["show", "lic_nope"], 3, "no license"),
    (["update", "lic_nope", "--plan", "x"], 3, "no license"),
])
def test_admin_cli_errors(server_dir: Path, args: list[str], code: int, words: str) -> None:
    proc = server_cli("license", args[0], str(server_dir), *args[1:])
    assert proc.returncode == code and words in proc.stderr


def test_database_never_holds_the_key(reference_server: ReferenceServer, lic_ctx: AppContext) -> None:
    lic = issue(reference_server.data_dir)
    service(lic_ctx).activate(lic.key)
    for path in reference_server.data_dir.rglob("*"):
        if path.is_file():
            assert lic.key.encode() not in path.read_bytes(), path


def test_unknown_keys_are_throttled_per_address(server_dir: Path, lic_ctx: AppContext) -> None:
    (server_dir / "server.json").write_text(json.dumps({"throttle": {"failures_per_address": 3}}))
    lic = issue(server_dir)
    with run_reference_server(server_dir) as server:
        svc = service(lic_ctx, url=server.url)
        for _ in range(3):
            with pytest.raises(KeyNotFound):
                svc.activate(generate_key())
        with pytest.raises(RateLimited) as caught:
            svc.activate(generate_key())
        assert caught.value.retry_after is not None and 1 <= caught.value.retry_after <= 60
        with pytest.raises(RateLimited):  # while throttled, even a real key waits: guessing stays slow
            svc.activate(lic.key)


def test_attempts_per_key_are_throttled(server_dir: Path, lic_ctx: AppContext) -> None:
    (server_dir / "server.json").write_text(json.dumps({"throttle": {"attempts_per_key": 2}}))
    lic = issue(server_dir, seats=5)
    with run_reference_server(server_dir) as server:
        svc = service(lic_ctx, url=server.url)
        svc.activate(lic.key)
        svc.activate(lic.key)
        with pytest.raises(RateLimited):
            svc.activate(lic.key)


def test_window_counts_and_forgets() -> None:
    now = [0.0]
    window = Window(2, 10.0, clock=lambda: now[0])
    window.add("a")
    window.add("a")
    assert window.retry_after("a") == 10 and window.retry_after("b") is None
    now[0] = 10.5
    assert window.retry_after("a") is None


def test_offline_portal_endpoint(reference_server: ReferenceServer, lic_ctx: AppContext, tmp_path: Path) -> None:
    lic = issue(reference_server.data_dir)
    svc = service(lic_ctx)
    request = tmp_path / "request.json"
    svc.write_offline_request(lic.key, request)
    status, headers, body = post(reference_server.url, "/v1/licenses/offline/answer",
                                 {"request": json.loads(request.read_text()), "key": lic.key})
    assert status == 200 and "x-crystal-signature" in {k.lower() for k in headers}
    (tmp_path / "response.json").write_text(json.dumps(json.loads(body)["response"]))
    assert svc.install_offline_response(tmp_path / "response.json").state == "active"
    status, _headers, body = post(reference_server.url, "/v1/licenses/offline/answer",
                                  {"request": {"x": 1}, "key": lic.key})
    assert status == 400 and json.loads(body)["error"]["code"] == "bad_document"


def test_labels_are_data_not_sql(reference_server: ReferenceServer, lic_ctx: AppContext) -> None:
    from crystal_manager.services.license_service import LicenseService
    from tests.support.licensing import machine

    lic = issue(reference_server.data_dir)
    label = "x'); DROP TABLE licenses; --"
    LicenseService(lic_ctx, machine=machine("alpha"), label=label).activate(lic.key)
    listing = service(lic_ctx).machines()
    assert listing.machines[0].label == label
    assert server_cli("license", "show", str(reference_server.data_dir), lic.license_id).returncode == 0


def test_deeply_nested_body_is_a_signed_bad_request(reference_server: ReferenceServer) -> None:
    parts = urlsplit(reference_server.url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
    try:
        conn.request("POST", "/v1/licenses/activate", body=b"[" * 50_000,
                     headers={"Content-Type": "application/json", "X-Crystal-Nonce": "portal-nonce-1"})
        response = conn.getresponse()
        status, headers, body = response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()
    assert status == 400 and "x-crystal-signature" in {name.lower() for name in headers}
    assert json.loads(body)["error"]["code"] == "bad_request"


def test_offline_portal_needs_the_key_not_just_its_digest(reference_server: ReferenceServer, lic_ctx: AppContext,
                                                          tmp_path: Path) -> None:
    """The request file is not secret; its key digest alone must not activate a machine on that license."""
    from crystal_manager.services.license_service import LicenseService
    from tests.support.licensing import machine

    lic = issue(reference_server.data_dir, seats=1)
    victim_file, thief_file = tmp_path / "victim.json", tmp_path / "thief.json"
    service(lic_ctx).write_offline_request(lic.key, victim_file)
    thief = LicenseService(lic_ctx, machine=machine("thief"))
    thief.write_offline_request(generate_key(), thief_file)
    forged = json.loads(thief_file.read_text())
    forged["key_digest"] = json.loads(victim_file.read_text())["key_digest"]
    for body in ({"request": forged}, {"request": forged, "key": generate_key()}):
        status, _headers, raw = post(reference_server.url, "/v1/licenses/offline/answer", body)
        assert status == 400 and json.loads(raw)["error"]["code"] in ("bad_request", "bad_document"), raw
    shown = json.loads(server_cli("license", "show", str(reference_server.data_dir), lic.license_id,
                                  "--json").stdout)
    assert shown["seats_used"] == 0, shown


@pytest.mark.parametrize("label", ["two\nlines", "gpj.\u202eexe", "bell\a", "x" * 65])
def test_a_label_the_client_would_refuse_is_refused_by_the_server_too(
        reference_server: ReferenceServer, lic_ctx: AppContext, label: str) -> None:
    # Another client (or a hand-made request) is held to the same rule as ours: crystal_protocol.labels.
    lic = issue(reference_server.data_dir)
    body = service(lic_ctx).engine.claim(lic.key)
    body["label"] = label
    status, _headers, raw = post(reference_server.url, "/v1/licenses/activate", body)
    assert status == 400 and json.loads(raw)["error"]["code"] == "bad_request", raw
    assert service(lic_ctx).machines_for_key(lic.key).machines == ()  # nothing was stored



def test_the_throttle_survives_a_restart_and_forgets_with_its_window(server_dir: Path, lic_ctx: AppContext) -> None:
    # Restarting the server (a deploy, a crash an attacker provoked) must not hand out a fresh allowance.
    (server_dir / "server.json").write_text(json.dumps({"throttle": {"failures_per_address": 3}}))
    with run_reference_server(server_dir) as server:
        svc = service(lic_ctx, url=server.url)
        for _ in range(3):
            with pytest.raises(KeyNotFound):
                svc.activate(generate_key())
    with run_reference_server(server_dir) as server, pytest.raises(RateLimited):
        service(lic_ctx, url=server.url).activate(generate_key())
    conn = store.connect(server_dir)
    try:
        rows = conn.execute("SELECT COUNT(*) FROM throttle_events WHERE bucket = 'address'").fetchone()[0]
        assert rows == 3  # the throttled attempt was not counted again
        conn.execute("UPDATE throttle_events SET at = at - 61")  # a minute later (window: 60 s)
    finally:
        conn.close()
    with run_reference_server(server_dir) as server, pytest.raises(KeyNotFound):
        service(lic_ctx, url=server.url).activate(generate_key())  # allowed again


def test_lease_days_per_license(reference_server: ReferenceServer, lic_ctx: AppContext) -> None:
    from datetime import timedelta

    from crystal_protocol.signing import parse_time

    made = server_cli("license", "create", str(reference_server.data_dir), "--plan", "pro", "--seats", "1",
                      "--expires", "never", "--lease-days", "0.5", "--json")
    assert made.returncode == 0, made.stderr
    created = json.loads(made.stdout)
    assert created["lease_days"] == 0.5
    svc = service(lic_ctx)
    status = svc.activate(created["key"])
    verified = parse_time(status.last_verified_at)
    assert parse_time(status.lease_expires_at) - verified == timedelta(hours=12)
    # The next check comes at half the lease at the latest, so a short lease never runs out between checks.
    assert timedelta(hours=5) <= parse_time(status.next_check_at) - verified <= timedelta(hours=7)
    changed = server_cli("license", "update", str(reference_server.data_dir), created["license_id"],
                         "--lease-days", "3", "--json")
    assert json.loads(changed.stdout)["lease_days"] == 3
    status = svc.verify()
    assert parse_time(status.lease_expires_at) - parse_time(status.last_verified_at) == timedelta(days=3)
    bad = server_cli("license", "update", str(reference_server.data_dir), created["license_id"], "--lease-days", "0")
    assert bad.returncode == 2 and "--lease-days" in bad.stderr


def test_every_license_verb_speaks_json(reference_server: ReferenceServer, lic_ctx: AppContext,
                                        tmp_path: Path) -> None:
    data = str(reference_server.data_dir)
    made = server_cli("license", "create", data, "--plan", "pro", "--seats", "2", "--expires", "2099-01-01",
                      "--json")
    created = json.loads(made.stdout)
    assert created["key"].startswith("CM3D-") and created["license_id"].startswith("lic_")
    assert created["seats_total"] == 2 and created["machines"] == [] and created["seat_moves"] == []
    key, lic_id = created["key"], created["license_id"]
    from tests.support.licensing import ISSUED_KEYS

    ISSUED_KEYS.add(key)
    assert json.loads(server_cli("license", "show", data, key, "--json").stdout)["id"] == lic_id
    updated = json.loads(server_cli("license", "update", data, lic_id, "--seats", "3", "--json").stdout)
    assert updated["changed"] == ["seats"] and updated["seats"] == 3
    svc = service(lic_ctx)
    request = tmp_path / "request.json"
    svc.write_offline_request(key, request)
    response = tmp_path / "response.json"
    answered = json.loads(server_cli("license", "answer", data, str(request), str(response), "--json").stdout)
    assert answered == {"response_file": str(response)}
    svc.install_offline_response(response)
    proof = tmp_path / "proof.json"
    svc.deactivate_offline(proof)
    gone = json.loads(server_cli("license", "import-proof", data, str(proof), "--json").stdout)
    assert gone["deactivated"].startswith("m_")
    revoked = json.loads(server_cli("license", "revoke", data, lic_id, "--json").stdout)
    assert revoked == {"license_id": lic_id, "status": "revoked"}
    missing = server_cli("license", "show", data, "lic_nope", "--json")
    assert missing.returncode == 3 and json.loads(missing.stdout) == {"error": missing.stderr.strip().split(": ", 1)[1],
                                                                      "exit_code": 3}
