"""Attacks on the right to deletion and the right of access (issue 14 part 5, decision 0016): the real
reference server as a child process over real sockets, its real SQLite database, the real app services and
the real CLI in child processes.

A passing test is a defence that holds; a test marked ``xfail(strict=True, reason="HOLE: …")`` shows a hole
(and the fix suggested), and starts failing the day the hole is closed."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from crystal_manager.services.context import AppContext
from crystal_manager.services.deletion import SeatNotFreed, delete_local, request_deletion
from crystal_manager.services.status import LicenseStatus
from crystal_protocol.licensekey import generate_key
from crystal_protocol.wire import LICENSE_PATHS
from crystal_server import store
from tests.support.cli_run import run_cli
from tests.support.keyring_memory import MemoryKeyring
from tests.support.licensing import issue, service
from tests.support.mitm import Exchange, Mitm, Tamper, mitm
from tests.support.servers import ReferenceServer

DELETE = LICENSE_PATHS["delete"]
ACCESS = LICENSE_PATHS["access"]


def _post(url: str, path: str, raw: bytes, nonce: str = "attack-nonce-000001") -> tuple[int, bytes]:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=20)
    try:
        conn.request("POST", path, body=raw, headers={"Content-Type": "application/json", "X-Crystal-Nonce": nonce})
        answer = conn.getresponse()
        return answer.status, answer.read()
    finally:
        conn.close()


def _post_json(url: str, path: str, body: object, nonce: str = "attack-nonce-000001") -> tuple[int, bytes]:
    return _post(url, path, json.dumps(body).encode(), nonce)


def _id(status: LicenseStatus) -> str:
    assert status.machine_id is not None
    return status.machine_id


def _rows(server: ReferenceServer, sql: str, *params: object) -> list[dict[str, object]]:
    conn = store.connect(server.data_dir)
    try:
        return [dict(r) for r in conn.execute(sql, params)]
    finally:
        conn.close()


def _dump(server: ReferenceServer) -> str:
    return json.dumps([_rows(server, f"SELECT * FROM {t}")
                       for t in ("licenses", "machines", "events", "throttle_events")])


# --- the server: who may delete or read what --------------------------------------------------------------


def test_a_stranger_who_knows_the_machine_id_and_code_but_not_the_key_gets_nothing(
        reference_server: ReferenceServer, lic_ctx: AppContext) -> None:
    lic = issue(reference_server.data_dir)
    alpha_service = service(lic_ctx, name="alpha")
    alpha = alpha_service.activate(lic.key, label="Alice's studio")
    fingerprint = alpha_service.engine.identity().fingerprint
    before = _dump(reference_server)
    # The key's last four characters and the machine's id and one-way code are all the stranger has.
    hint_only = lic.key[:-4] + ("AAAA" if not lic.key.endswith("AAAA") else "BBBB")
    for key in (generate_key(), hint_only, "", None, lic.key.lower() + "x"):
        for path in (DELETE, ACCESS):
            body = {"key": key, "scope": "this_machine", "machine_id": _id(alpha), "fingerprint": fingerprint}
            status, raw = _post_json(reference_server.url, path, body)
            assert status in (400, 404, 429), (path, key, status)
            assert _id(alpha).encode() not in raw and fingerprint.encode() not in raw
            assert b"Alice" not in raw
    assert [r["id"] for r in _rows(reference_server, "SELECT id FROM machines")] == [_id(alpha)]
    assert json.loads(before)[1] == json.loads(_dump(reference_server))[1]  # machines untouched


def test_the_holder_of_another_license_can_neither_delete_nor_read_this_licenses_data(
        reference_server: ReferenceServer, lic_ctx: AppContext) -> None:
    victim = issue(reference_server.data_dir)
    alpha_service = service(lic_ctx, name="alpha")
    alpha = alpha_service.activate(victim.key, label="Victim PC")
    alpha_service.engine.wipe()
    attacker = issue(reference_server.data_dir)
    # The same computer (same one-way code) also holds a seat of the attacker's license.
    mallory_service = service(lic_ctx, name="alpha")
    mallory = mallory_service.activate(attacker.key, label="Mallory")
    fingerprint = mallory_service.engine.identity().fingerprint
    for body in ({"key": attacker.key, "scope": "this_machine", "machine_id": _id(alpha)},
                 {"key": attacker.key, "scope": "this_machine", "fingerprint": fingerprint},
                 {"key": attacker.key, "scope": "all_machines", "machine_id": _id(alpha)}):
        status, raw = _post_json(reference_server.url, DELETE, body)
        assert status == 200
        assert _id(alpha).encode() not in raw
    status, raw = _post_json(reference_server.url, ACCESS, {"key": attacker.key, "machine_id": _id(alpha)})
    assert status == 200
    assert _id(alpha).encode() not in raw and b"Victim" not in raw and victim.license_id.encode() not in raw
    [left] = _rows(reference_server, "SELECT id, label FROM machines")
    assert left == {"id": _id(alpha), "label": "Victim PC"}
    assert _id(mallory) not in _dump(reference_server)
    assert _rows(reference_server, "SELECT * FROM events WHERE machine_id = ?", _id(alpha))


@pytest.mark.parametrize("raw", [
    b"", b"null", b"[]", b"\"key\"", b"{", b"[" * 100_000, b"{\"key\": " * 50_000,
    json.dumps({"key": 12345, "scope": "all_machines"}).encode(),
    json.dumps({"key": ["A"], "scope": "all_machines"}).encode(),
    json.dumps({"key": {"$ne": None}, "scope": "all_machines"}).encode(),
], ids=["empty", "null", "array", "string", "truncated", "deep-array", "deep-object", "int-key", "list-key",
        "object-key"])
def test_malformed_deletion_bodies_are_refused_and_delete_nothing(
        reference_server: ReferenceServer, lic_ctx: AppContext, raw: bytes) -> None:
    lic = issue(reference_server.data_dir)
    service(lic_ctx, name="alpha").activate(lic.key)
    before = _rows(reference_server, "SELECT * FROM machines")
    status, _ = _post(reference_server.url, DELETE, raw)
    assert status in (400, 404, 413)
    assert _rows(reference_server, "SELECT * FROM machines") == before


@pytest.mark.parametrize("extra", [
    {"scope": ["all_machines"]}, {"scope": {"all_machines": 1}}, {"scope": None}, {"scope": "ALL_MACHINES"},
    {"machine_id": ["m_x"], "fingerprint": 5}, {"machine_id": None, "fingerprint": ""},
    {"machine_id": 7}, {"fingerprint": {"x": 1}},
], ids=["scope-list", "scope-object", "scope-null", "scope-case", "id-list", "id-null", "id-int", "fp-object"])
def test_the_right_key_with_malformed_fields_is_a_clear_refusal_never_a_crash(
        reference_server: ReferenceServer, lic_ctx: AppContext, extra: dict[str, object]) -> None:
    lic = issue(reference_server.data_dir)
    service(lic_ctx, name="alpha").activate(lic.key)
    before = _rows(reference_server, "SELECT * FROM machines")
    status, raw = _post_json(reference_server.url, DELETE, {"key": lic.key, "scope": "this_machine"} | extra)
    assert status == 400, raw
    assert _rows(reference_server, "SELECT * FROM machines") == before


def test_an_oversized_deletion_body_is_refused_and_the_server_keeps_serving(
        reference_server: ReferenceServer, lic_ctx: AppContext) -> None:
    lic = issue(reference_server.data_dir)
    service(lic_ctx, name="alpha").activate(lic.key)
    big = json.dumps({"key": lic.key, "scope": "all_machines", "pad": "x" * 8_000_000}).encode()
    status, _ = _post(reference_server.url, DELETE, big)
    assert status == 413
    assert len(_rows(reference_server, "SELECT * FROM machines")) == 1
    # Still serving, and the right request still works.
    status, _ = _post_json(reference_server.url, ACCESS, {"key": lic.key})
    assert status == 200


def test_guessing_keys_against_deletion_is_throttled_per_address(reference_server: ReferenceServer) -> None:
    statuses = [_post_json(reference_server.url, DELETE, {"key": generate_key(), "scope": "all_machines"},
                           nonce=f"guess-nonce-{i:08d}")[0] for i in range(40)]
    assert 429 in statuses
    # Another nonce does not reset the count.
    assert _post_json(reference_server.url, DELETE, {"key": generate_key(), "scope": "all_machines"},
                      nonce="guess-nonce-y")[0] == 429


def test_failures_on_one_licensing_endpoint_count_on_the_deletion_endpoint(
        reference_server: ReferenceServer) -> None:
    statuses = [_post_json(reference_server.url, ACCESS, {"key": generate_key()}, nonce=f"guess-nonce-{i:08d}")[0]
                for i in range(40)]
    assert 429 in statuses
    # The same address, still inside the window, now tries the deletion endpoint.
    assert _post_json(reference_server.url, DELETE, {"key": generate_key(), "scope": "all_machines"},
                      nonce="guess-nonce-z")[0] == 429


def test_replaying_a_deletion_request_of_the_key_holder_is_counted_and_throttled(
        reference_server: ReferenceServer, lic_ctx: AppContext) -> None:
    lic = issue(reference_server.data_dir)
    service(lic_ctx, name="alpha").activate(lic.key)
    body = {"key": lic.key, "scope": "all_machines"}
    statuses = [_post_json(reference_server.url, DELETE, body)[0] for _ in range(40)]  # the same nonce each time
    assert statuses[0] == 200 and 429 in statuses
    # A replay deletes nothing that was not already asked to be deleted: the license row is intact.
    [kept] = _rows(reference_server, "SELECT id FROM licenses")
    assert kept["id"] == lic.license_id


def test_deleting_this_machine_after_it_was_deactivated_leaves_nothing_of_it(
        reference_server: ReferenceServer, lic_ctx: AppContext) -> None:
    lic = issue(reference_server.data_dir)
    alpha_service = service(lic_ctx, name="alpha")
    alpha = alpha_service.activate(lic.key)
    alpha_service.deactivate()
    try:  # the key is no longer stored here after a deactivation: the holder types it in again
        answer = request_deletion(lic_ctx, service=alpha_service, key=lic.key)
    except Exception:
        answer = {"deleted_machines": []}
    assert _id(alpha) in answer["deleted_machines"]
    assert _id(alpha) not in _dump(reference_server)


def test_deleting_a_machine_whose_seat_moved_leaves_no_trace_of_its_id(
        reference_server: ReferenceServer, lic_ctx: AppContext) -> None:
    lic = issue(reference_server.data_dir)
    alpha_service = service(lic_ctx, name="alpha")
    alpha = alpha_service.activate(lic.key)
    alpha_service.deactivate()  # alpha's seat is freed…
    beta_service = service(lic_ctx, name="beta")
    beta = beta_service.activate(lic.key)  # …and taken by beta within the move window: a seat_moved event
    beta_service.engine.wipe()
    assert any(json.loads(str(e["detail"])).get("from_machine") == _id(alpha)
               for e in _rows(reference_server, "SELECT * FROM events WHERE machine_id = ?", _id(beta)))
    status, raw = _post_json(reference_server.url, DELETE,
                             {"key": lic.key, "scope": "this_machine", "machine_id": _id(alpha)})
    assert status == 200 and _id(alpha).encode() in raw
    assert _id(alpha) not in _dump(reference_server)


def test_after_deletion_of_all_machines_the_database_holds_only_the_license(
        reference_server: ReferenceServer, lic_ctx: AppContext) -> None:
    lic = issue(reference_server.data_dir)
    alpha_service = service(lic_ctx, name="alpha")
    alpha_service.activate(lic.key, label="Alice")
    alpha_service.verify()
    alpha_service.vendor_report()
    # A few failed attempts from the same address (kept by IP, declared, not linked to the license).
    _post_json(reference_server.url, DELETE, {"key": generate_key(), "scope": "all_machines"})
    request_deletion(lic_ctx, all_machines=True, service=alpha_service)
    assert _rows(reference_server, "SELECT * FROM machines") == []
    assert all(r["license_id"] is None and r["machine_id"] is None
               for r in _rows(reference_server, "SELECT * FROM events"))
    throttle = _rows(reference_server, "SELECT * FROM throttle_events")
    # What remains in the throttle is the failed attempt (by address, and the digest of the unknown key it
    # carried: both declared), never this license's key digest.
    [license_row] = _rows(reference_server, "SELECT * FROM licenses")
    assert throttle and all(r["name"] != license_row["key_digest"] for r in throttle)
    assert "Alice" not in _dump(reference_server) and lic.key not in _dump(reference_server)


# --- the app: delete-local -----------------------------------------------------------------------------


def _app_files(ctx: AppContext) -> list[Path]:
    return sorted(p for folder in (ctx.paths.config_dir, ctx.paths.data_dir, ctx.paths.state_dir,
                                   ctx.paths.cache_dir, ctx.paths.log_dir)
                  if folder.is_dir() for p in folder.rglob("*") if p.is_file())


def test_delete_local_never_follows_symlinks_planted_in_the_apps_folders(
        reference_server: ReferenceServer, lic_ctx: AppContext, tmp_path: Path) -> None:
    lic = issue(reference_server.data_dir)
    service(lic_ctx, name="alpha").activate(lic.key)
    outside = tmp_path / "precious"
    (outside / "folder").mkdir(parents=True)
    (outside / "thesis.txt").write_text("years of work")
    (outside / "folder" / "photo.jpg").write_bytes(b"\xff\xd8")
    data = lic_ctx.paths.data_dir
    (data / "sub").mkdir(parents=True, exist_ok=True)
    (data / "link-to-folder").symlink_to(outside / "folder", target_is_directory=True)
    (data / "link-to-file").symlink_to(outside / "thesis.txt")
    (data / "sub" / "deeper").symlink_to(outside, target_is_directory=True)
    (lic_ctx.paths.cache_dir).mkdir(parents=True, exist_ok=True)
    (lic_ctx.paths.cache_dir / "up").symlink_to(tmp_path, target_is_directory=True)
    done = delete_local(lic_ctx, service(lic_ctx, name="alpha"))
    assert done.deactivated
    assert (outside / "thesis.txt").read_text() == "years of work"
    assert (outside / "folder" / "photo.jpg").read_bytes() == b"\xff\xd8"
    assert not (data / "link-to-folder").is_symlink() and not (data / "sub").exists()
    assert _app_files(lic_ctx) == []


def test_delete_local_does_not_empty_a_folder_an_app_folder_links_to(
        reference_server: ReferenceServer, lic_ctx: AppContext, tmp_path: Path) -> None:
    lic = issue(reference_server.data_dir)
    service(lic_ctx, name="alpha").activate(lic.key)
    outside = tmp_path / "photos"
    outside.mkdir()
    (outside / "holiday.jpg").write_bytes(b"\xff\xd8")
    cache = lic_ctx.paths.cache_dir
    if cache.exists():
        import shutil

        shutil.rmtree(cache)
    cache.symlink_to(outside, target_is_directory=True)
    delete_local(lic_ctx, service(lic_ctx, name="alpha"))
    assert (outside / "holiday.jpg").exists()


def test_delete_local_with_the_home_set_to_the_users_home_keeps_the_users_files(
        reference_server: ReferenceServer, tmp_path: Path) -> None:
    home = tmp_path / "alice"
    (home / "data").mkdir(parents=True)
    (home / "data" / "thesis.docx").write_text("years of work")
    (home / "logs").mkdir()
    (home / "logs" / "diary.txt").write_text("dear diary")
    env = dict(os.environ, CRYSTAL_MANAGER_HOME=str(home), PYTHON_KEYRING_BACKEND="keyring.backends.null.Keyring")
    proc = run_cli(["--profile", str(reference_server.profile_file), "--server", reference_server.url, "privacy",
                    "delete-local", "--yes"], env=env)
    assert proc.returncode == 0, proc.stderr
    assert (home / "data" / "thesis.docx").exists() and (home / "logs" / "diary.txt").exists()


def test_delete_local_leaves_no_keyring_entry(reference_server: ReferenceServer, lic_ctx: AppContext,
                                              memory_keyring: MemoryKeyring) -> None:
    lic = issue(reference_server.data_dir)
    alpha_service = service(lic_ctx, name="alpha")
    alpha_service.activate(lic.key)
    alpha_service.verify()
    lic_ctx.secrets
    assert memory_keyring.store  # the key is there
    delete_local(lic_ctx, service(lic_ctx, name="alpha"))
    assert sorted(name for _service, name in memory_keyring.store) == []


def test_nothing_is_deleted_when_the_seat_cannot_be_freed(
        reference_server: ReferenceServer, lic_ctx: AppContext, memory_keyring: MemoryKeyring) -> None:
    lic = issue(reference_server.data_dir)
    service(lic_ctx, name="alpha").activate(lic.key)
    files = {p: p.read_bytes() for p in _app_files(lic_ctx) if p.name != "ledger.jsonl"}
    keyring_before = dict(memory_keyring.store)
    with pytest.raises(SeatNotFreed):
        delete_local(lic_ctx, service(lic_ctx, name="alpha", url="http://127.0.0.1:9"))
    assert {p: p.read_bytes() for p in _app_files(lic_ctx) if p.name != "ledger.jsonl"} == files
    assert memory_keyring.store == keyring_before
    assert len(_rows(reference_server, "SELECT * FROM machines WHERE deactivated_at IS NULL")) == 1


def test_a_damaged_license_file_does_not_let_delete_local_skip_freeing_the_seat(
        reference_server: ReferenceServer, lic_ctx: AppContext, memory_keyring: MemoryKeyring) -> None:
    lic = issue(reference_server.data_dir)
    alpha_service = service(lic_ctx, name="alpha")
    alpha_service.activate(lic.key)
    state = alpha_service.engine.cfg.state_file
    state.write_bytes(b"\x00garbage{")
    with contextlib.suppress(SeatNotFreed):  # the honest answer: nothing deleted
        delete_local(lic_ctx, service(lic_ctx, name="alpha", url="http://127.0.0.1:9"))
    active = _rows(reference_server, "SELECT * FROM machines WHERE deactivated_at IS NULL")
    # Either the seat was freed, or the key needed to free it is still here.
    assert active == [] or any(name == "license_key" for _s, name in memory_keyring.store)


def test_delete_local_keeps_the_managers_own_installed_versions(
        reference_server: ReferenceServer, lic_ctx: AppContext, tmp_path: Path) -> None:
    from crystal_manager.updates.install import install_archive
    from crystal_manager.updates.self_update import manager_root, write_launcher
    from tests.support.manager_bundles import bundle_archive

    root = manager_root(lic_ctx.paths)
    install_archive(root, bundle_archive(tmp_path / "b", "1.0.0"), expect=None, product="crystal-manager",
                    run_health=False)
    launcher = write_launcher(root)
    assert launcher is not None
    delete_local(lic_ctx, service(lic_ctx, name="alpha"))
    assert launcher.exists() and (root / "versions" / "1.0.0" / "crystal-manager").exists()


# --- the app's side of the deletion request: forged answers, no network, spoofed addresses ---------------


def _forge_deletion(mode: str) -> Tamper:
    def tamper(proxy: Mitm, exchange: Exchange) -> Exchange:
        if not exchange.path.endswith("/delete"):
            return exchange
        if mode == "edited":  # one byte of the signed answer changed
            return exchange.with_answer(body=exchange.body.replace(b"still_kept", b"still_kepT"))
        # The signed answer to an earlier request (another nonce) replayed in its place.
        earlier = next(e for e in proxy.history if e.path.endswith("/access"))
        return exchange.with_answer(status=earlier.status, headers=earlier.headers, body=earlier.body)
    return tamper


@pytest.mark.parametrize("mode", ["edited", "replayed"])
def test_a_forged_deletion_answer_never_makes_the_app_forget_the_license(
        reference_server: ReferenceServer, lic_ctx: AppContext, mode: str) -> None:
    lic = issue(reference_server.data_dir)
    service(lic_ctx, name="alpha").activate(lic.key)
    with mitm(reference_server.url, _forge_deletion(mode)) as proxy:
        through = service(lic_ctx, name="alpha", url=proxy.url)
        through.vendor_report()
        with pytest.raises(Exception, match=r".") as refused:
            request_deletion(lic_ctx, service=through)
    assert not isinstance(refused.value, AssertionError)
    assert service(lic_ctx, name="alpha").engine.load().machine_id is not None  # still held here


def test_a_spoofed_forwarded_address_does_not_reset_the_throttle(reference_server: ReferenceServer) -> None:
    parts = urlsplit(reference_server.url)
    statuses: list[int] = []
    for i in range(40):
        conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=20)
        try:
            conn.request("POST", DELETE, body=json.dumps({"key": generate_key(), "scope": "all_machines"}),
                         headers={"Content-Type": "application/json", "X-Crystal-Nonce": f"spoof-nonce-{i:08d}",
                                  "X-Forwarded-For": f"203.0.113.{i}", "X-Real-IP": f"198.51.100.{i}"})
            statuses.append(conn.getresponse().status)
        finally:
            conn.close()
    assert 429 in statuses and statuses[-1] == 429


def test_request_deletion_offline_forgets_nothing(reference_server: ReferenceServer, tmp_path: Path) -> None:
    from tests.cli.test_license_cli import Cli

    home = tmp_path / "cli-home"
    home.mkdir()
    cli = Cli(home, reference_server)
    lic = issue(reference_server.data_dir)
    assert cli("activate", lic.key).returncode == 0
    files = {p: p.read_bytes() for p in home.rglob("*") if p.is_file() and p.name != "ledger.jsonl"}
    offline = cli("privacy", "request-deletion", "--yes", server="http://127.0.0.1:9")
    assert offline.returncode != 0 and len(offline.stderr.strip().splitlines()) == 1
    assert {p: p.read_bytes() for p in home.rglob("*") if p.is_file() and p.name != "ledger.jsonl"} == files
    assert len(_rows(reference_server, "SELECT * FROM machines")) == 1


def test_deleted_data_is_not_left_in_the_database_files(
        reference_server: ReferenceServer, lic_ctx: AppContext) -> None:
    lic = issue(reference_server.data_dir)
    alpha_service = service(lic_ctx, name="alpha")
    label = "Studio of Alice Quimby-Zanzibar"
    alpha_service.activate(lic.key, label=label)
    alpha_service.verify()
    request_deletion(lic_ctx, service=alpha_service)
    assert label not in _dump(reference_server)  # gone from every table, as the server sees it
    raw = b"".join(p.read_bytes() for p in reference_server.data_dir.glob(f"{store.db_path(Path()).name}*"))
    assert label.encode() not in raw
