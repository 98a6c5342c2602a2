"""One seat per machine: machines with different machine IDs never share a seat, whatever else they share.

Three child processes run the real ``crystal-manager`` CLI, each with its own machine ID bind-mounted over
/etc/machine-id in a user+mount namespace of its own (what ``unshare -rm`` makes; tests/licensing/computers.py)
and identical other facts (same OS, same environment, even the same files:
a cloned virtual machine). On a 1-seat license exactly one is active after any order of activations,
re-validations and clonings; the others get the seat-limit answer.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crystal_manager.cli.exit_codes import EXIT_DENIED, EXIT_OK
from crystal_manager.licensing.fingerprint import MachineFacts, identify
from crystal_protocol.wire import LICENSE_PATHS, NONCE_HEADER
from tests.licensing.computers import Computer, need_namespaces
from tests.support.licensing import issue, server_cli
from tests.support.plain_http import no_tls
from tests.support.servers import ReferenceServer

IDS = ("1" * 32, "2" * 32, "3" * 32)


def show(server: ReferenceServer, license_id: str) -> dict[str, Any]:
    proc = server_cli("license", "show", str(server.data_dir), license_id, "--json")
    assert proc.returncode == 0, proc.stderr
    info: dict[str, Any] = json.loads(proc.stdout)
    return info


def computers(root: Path, server: ReferenceServer) -> list[Computer]:
    return [Computer(root / f"pc{n}", machine_id, server) for n, machine_id in enumerate(IDS)]


def check_one_seat(pcs: list[Computer], server: ReferenceServer, license_id: str) -> None:
    """Every computer re-validates; exactly one is active, and it is the one the server lists."""
    info = show(server, license_id)
    assert info["seats_used"] == 1
    active = []
    for pc in pcs:
        pc.run("verify")
        status = pc.status()
        if status["state"] == "active":
            active.append(status["machine_id"])
    assert active == [info["machines"][0]["machine_id"]]
    assert show(server, license_id)["seats_used"] == 1


def test_three_machines_one_seat_fixed_order(tmp_path: Path, reference_server: ReferenceServer) -> None:
    need_namespaces()
    lic = issue(reference_server.data_dir, seats=1)
    pcs = computers(tmp_path, reference_server)
    first = pcs[0].run("activate", lic.key)
    assert first.returncode == EXIT_OK, first.stderr
    for pc in pcs[1:]:
        denied = pc.run("activate", lic.key)
        assert denied.returncode == EXIT_DENIED
        assert "seat" in denied.stderr
    pcs[0].clone_into(pcs[1])  # a cloned VM: the same license file and key, another machine ID
    assert pcs[1].run("verify").returncode == EXIT_DENIED
    assert pcs[1].status()["state"] != "active"
    assert pcs[1].run("activate", lic.key).returncode == EXIT_DENIED
    check_one_seat(pcs, reference_server, lic.license_id)


Step = tuple[int, str]


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(st.tuples(st.integers(0, 2), st.sampled_from(["activate", "verify", "clone"])),
                      min_size=3, max_size=6))
def test_three_machines_one_seat_any_order(tmp_path_factory: pytest.TempPathFactory,
                                           reference_server: ReferenceServer, steps: list[Step]) -> None:
    need_namespaces()
    lic = issue(reference_server.data_dir, seats=1)
    pcs = computers(tmp_path_factory.mktemp("pcs"), reference_server)
    holder: int | None = None
    for index, op in [(0, "activate"), *steps]:
        pc = pcs[index]
        if op == "clone":
            if holder is not None and holder != index:
                pcs[holder].clone_into(pc)
            continue
        proc = pc.run(op, lic.key) if op == "activate" else pc.run(op)
        if holder is None and op == "activate":
            holder = index
        if index == holder:
            assert proc.returncode == EXIT_OK, proc.stderr
        else:
            assert proc.returncode != EXIT_OK
            if op == "activate":
                assert proc.returncode == EXIT_DENIED and "seat" in proc.stderr
        assert show(reference_server, lic.license_id)["seats_used"] == 1
    check_one_seat(pcs, reference_server, lic.license_id)


def _claim(machine_id: str, key: str, **extra: str) -> dict[str, Any]:
    ident = identify(MachineFacts(machine_id=machine_id, environment="vm", os_family="Linux"))
    return {"key": key, "fingerprint": ident.fingerprint, "fingerprint_version": ident.version,
            "environment": ident.environment, "os": ident.os_family, **extra}


def _post(server: ReferenceServer, path: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(server.url + path, json=body, headers={NONCE_HEADER: "nonce-for-the-test"}, timeout=10,
                      verify=no_tls())


def test_a_declared_previous_fingerprint_of_the_same_version_moves_nothing(
        reference_server: ReferenceServer) -> None:
    lic = issue(reference_server.data_dir, seats=1)
    holder = _claim(IDS[0], lic.key)
    assert _post(reference_server, LICENSE_PATHS["activate"], holder).status_code == 200
    # Another machine claims to be the holder's successor without a change of method: refused, no move.
    thief = _claim(IDS[1], lic.key, previous_fingerprint=holder["fingerprint"])
    answer = _post(reference_server, LICENSE_PATHS["activate"], thief)
    assert answer.status_code == 409 and answer.json()["error"]["code"] == "seat_limit"
    assert _post(reference_server, LICENSE_PATHS["validate"], thief).json()["error"]["code"] == "machine_not_found"
    assert _post(reference_server, LICENSE_PATHS["validate"], holder).status_code == 200
    assert show(reference_server, lic.license_id)["seat_moves"] == []


def test_a_version_change_moves_the_seat_and_is_listed(reference_server: ReferenceServer) -> None:
    lic = issue(reference_server.data_dir, seats=1)
    old = _claim(IDS[0], lic.key)
    assert _post(reference_server, LICENSE_PATHS["activate"], old).status_code == 200
    new_fp = "v2:" + old["fingerprint"].split(":", 1)[1][::-1]
    moved = {**old, "fingerprint": new_fp, "fingerprint_version": "v2", "previous_fingerprint": old["fingerprint"]}
    assert _post(reference_server, LICENSE_PATHS["validate"], moved).status_code == 200
    moves = show(reference_server, lic.license_id)["seat_moves"]
    assert [m["how"] for m in moves] == ["fingerprint_version"]


def test_seat_passed_back_and_forth_is_listed(reference_server: ReferenceServer) -> None:
    lic = issue(reference_server.data_dir, seats=1)
    a, b = _claim(IDS[0], lic.key), _claim(IDS[1], lic.key)
    for _ in range(2):
        for claim in (a, b):
            got = _post(reference_server, LICENSE_PATHS["activate"], claim)
            if got.status_code == 409:  # the usual way out: free the other machine's seat, then activate
                listed = _post(reference_server, LICENSE_PATHS["machines"], {"key": lic.key}).json()
                other = listed["machines"][0]["machine_id"]
                assert _post(reference_server, LICENSE_PATHS["deactivate"],
                             {"key": lic.key, "machine_id": other}).status_code == 200
                assert _post(reference_server, LICENSE_PATHS["activate"], claim).status_code == 200
    info = show(reference_server, lic.license_id)
    assert info["seats_used"] == 1 and len(info["seat_moves"]) == 3
    assert all(m["how"] == "deactivated" for m in info["seat_moves"])
    text = server_cli("license", "show", str(reference_server.data_dir), lic.license_id).stdout
    assert "seat moves: 3" in text and text.count("after deactivating m_") == 3
