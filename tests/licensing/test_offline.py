"""Offline activation and deactivation with real files and the real ``crystal-server license`` commands."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from crystal_manager.licensing.errors import OfflineFileError
from crystal_manager.services.context import AppContext
from crystal_protocol.lease import OFFLINE_RESPONSE_KIND
from crystal_protocol.signing import make_document
from tests.support.keyring_memory import MemoryKeyring
from tests.support.licensing import Clock, issue, server_cli, service
from tests.support.servers import ReferenceServer


def answer(server: ReferenceServer, request: Path, response: Path) -> None:
    proc = server_cli("license", "answer", str(server.data_dir), str(request), str(response))
    assert proc.returncode == 0, proc.stderr


def test_request_answer_install(lic_ctx: AppContext, reference_server: ReferenceServer, tmp_path: Path) -> None:
    lic = issue(reference_server.data_dir)
    svc = service(lic_ctx)
    request, response = tmp_path / "request.json", tmp_path / "response.json"
    shown = svc.write_offline_request(lic.key, request)
    content = json.loads(request.read_text())
    assert {f.name for f in shown} == set(content)  # the user is shown exactly what the file holds
    assert lic.key not in request.read_text() and content["key_hint"] == lic.key[-4:]
    assert svc.status().state == "not_activated"
    answer(reference_server, request, response)
    status = svc.install_offline_response(response)
    assert status.state == "active" and status.offline_activation and status.plan == "pro"
    assert status.lease_expires_at and status.lease_expires_at > (status.last_verified_at or "")


def test_edited_response_is_rejected(lic_ctx: AppContext, reference_server: ReferenceServer,
                                     tmp_path: Path) -> None:
    lic = issue(reference_server.data_dir)
    svc = service(lic_ctx)
    request, response = tmp_path / "request.json", tmp_path / "response.json"
    svc.write_offline_request(lic.key, request)
    answer(reference_server, request, response)
    doc = json.loads(response.read_text())
    doc["payload"] = doc["payload"].replace('\\"seats_total\\":2', '\\"seats_total\\":50')
    assert "50" in doc["payload"]
    response.write_text(json.dumps(doc))
    with pytest.raises(OfflineFileError, match="edited"):
        svc.install_offline_response(response)
    assert svc.status().state == "not_activated"


def test_response_for_another_machine_or_request(lic_ctx: AppContext, reference_server: ReferenceServer,
                                                 tmp_path: Path) -> None:
    lic = issue(reference_server.data_dir)
    svc = service(lic_ctx, name="alpha")
    first_req, first_resp = tmp_path / "r1.json", tmp_path / "a1.json"
    svc.write_offline_request(lic.key, first_req)
    answer(reference_server, first_req, first_resp)
    with pytest.raises(OfflineFileError, match="another machine"):
        service(lic_ctx, name="beta").install_offline_response(first_resp)
    svc.write_offline_request(lic.key, tmp_path / "r2.json")  # a newer request: the old answer is a replay
    with pytest.raises(OfflineFileError, match="different request"):
        svc.install_offline_response(first_resp)
    assert svc.status().state == "not_activated"


def test_response_signed_by_unknown_key_or_expired(lic_ctx: AppContext, reference_server: ReferenceServer,
                                                   tmp_path: Path) -> None:
    lic = issue(reference_server.data_dir)
    clock = Clock()
    svc = service(lic_ctx, clock=clock)
    request, response = tmp_path / "request.json", tmp_path / "response.json"
    svc.write_offline_request(lic.key, request)
    answer(reference_server, request, response)
    doc = json.loads(response.read_text())
    forged = make_document(OFFLINE_RESPONSE_KIND, json.loads(doc["payload"]), doc["kid"],
                           Ed25519PrivateKey.generate().sign)
    (tmp_path / "forged.json").write_text(json.dumps(forged))
    with pytest.raises(OfflineFileError):
        svc.install_offline_response(tmp_path / "forged.json")
    clock.advance(days=91)  # the 90-day offline lease has run out
    with pytest.raises(OfflineFileError, match="expired"):
        svc.install_offline_response(response)
    assert svc.status().state == "not_activated"


def test_offline_deactivation_proof_frees_the_seat(lic_ctx: AppContext, reference_server: ReferenceServer,
                                                    tmp_path: Path, memory_keyring: MemoryKeyring) -> None:
    lic = issue(reference_server.data_dir, seats=1)
    svc = service(lic_ctx)
    svc.activate(lic.key)
    proof = tmp_path / "proof.json"
    assert svc.deactivate_offline(proof).state == "not_activated"
    # No secret is left; only the guard (the deactivated lease may never come back) stays in the keyring.
    assert [name for _service, name in memory_keyring.store] == ["license_guard"]
    assert lic.key not in proof.read_text()
    shown = server_cli("license", "show", str(reference_server.data_dir), lic.license_id, "--json")
    assert json.loads(shown.stdout)["seats_used"] == 1
    edited = json.loads(proof.read_text())
    edited["payload"] = edited["payload"].replace("Z", "Z ")
    (tmp_path / "edited.json").write_text(json.dumps(edited))
    refused = server_cli("license", "import-proof", str(reference_server.data_dir), str(tmp_path / "edited.json"))
    assert refused.returncode == 3 and "signature" in refused.stderr
    done = server_cli("license", "import-proof", str(reference_server.data_dir), str(proof))
    assert done.returncode == 0, done.stderr
    shown = server_cli("license", "show", str(reference_server.data_dir), lic.license_id, "--json")
    assert json.loads(shown.stdout)["seats_used"] == 0


def test_offline_activation_is_not_offline_grace(lic_ctx: AppContext, reference_server: ReferenceServer,
                                                 tmp_path: Path) -> None:
    lic = issue(reference_server.data_dir)
    clock = Clock()
    svc = service(lic_ctx, clock=clock)
    svc.write_offline_request(lic.key, tmp_path / "q.json")
    answer(reference_server, tmp_path / "q.json", tmp_path / "a.json")
    svc.install_offline_response(tmp_path / "a.json")
    clock.advance(days=60)
    assert svc.status().state == "active"
    clock.value += timedelta(days=31)
    assert svc.status().state == "locked"


def test_deeply_nested_response_file_is_refused(lic_ctx: AppContext, reference_server: ReferenceServer,
                                                tmp_path: Path) -> None:
    lic = issue(reference_server.data_dir)
    svc = service(lic_ctx)
    svc.write_offline_request(lic.key, tmp_path / "request.json")
    response = tmp_path / "response.json"
    response.write_text("[" * 200_000)
    with pytest.raises(OfflineFileError, match="not JSON"):
        svc.install_offline_response(response)
    assert svc.status().state == "not_activated"


def test_endless_response_file_is_not_read_to_the_end(lic_ctx: AppContext, reference_server: ReferenceServer,
                                                      tmp_path: Path) -> None:
    """A named pipe (or /dev/zero) as the response file: refused after the size limit, not read whole."""
    import os
    import threading

    lic = issue(reference_server.data_dir)
    svc = service(lic_ctx)
    svc.write_offline_request(lic.key, tmp_path / "request.json")
    fifo = tmp_path / "response.json"
    os.mkfifo(fifo)
    written = 0

    def feed() -> None:
        nonlocal written
        chunk = b" " * 65536
        try:
            with open(fifo, "wb") as pipe:
                while written < 64 * 1024 * 1024:
                    pipe.write(chunk)
                    written += len(chunk)
        except BrokenPipeError:
            pass

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    with pytest.raises(OfflineFileError, match="too large"):
        svc.install_offline_response(fifo)
    writer.join(timeout=30)
    assert written < 4 * 1024 * 1024
    assert svc.status().state == "not_activated"


def test_offline_activation_with_a_clock_behind_the_servers(lic_ctx: AppContext, reference_server: ReferenceServer,
                                                            tmp_path: Path) -> None:
    """A clock 10 minutes behind: the response's lease is not "from the future" (it answers this request)."""
    lic = issue(reference_server.data_dir)
    clock = Clock()
    clock.advance(minutes=-10)
    svc = service(lic_ctx, clock=clock)
    request, response = tmp_path / "request.json", tmp_path / "response.json"
    svc.write_offline_request(lic.key, request)
    answer(reference_server, request, response)
    status = svc.install_offline_response(response)
    assert status.state == "active" and status.offline_activation
    # Trusted time starts at the server's signed issue time, not the slow local clock: the 90-day lease
    # ends 90 days after the server issued it.
    clock.advance(days=90, minutes=-5)
    assert svc.status().state == "active"
    clock.advance(minutes=10)
    assert svc.status().state == "locked"
