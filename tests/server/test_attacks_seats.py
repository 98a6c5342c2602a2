"""Attacks on seats and on the license admin CLI, tried as a malicious license holder against the real
reference server (a child process over real sockets) and as a script author feeding the CLI bad input.

A defence that holds is a passing test; a hole is ``xfail(strict=True)`` naming it.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from crystal_manager.cli.exit_codes import EXIT_OK
from crystal_manager.licensing.fingerprint import MachineFacts, identify
from crystal_protocol.wire import LICENSE_PATHS, NONCE_HEADER
from tests.licensing.computers import Computer, need_namespaces
from tests.support.licensing import issue, server_cli
from tests.support.plain_http import no_tls
from tests.support.servers import ReferenceServer, admin_cli

IDS = ("4" * 32, "5" * 32, "6" * 32)


def _claim(machine_id: str, key: str, **extra: str) -> dict[str, Any]:
    ident = identify(MachineFacts(machine_id=machine_id, environment="vm", os_family="Linux"))
    return {"key": key, "fingerprint": ident.fingerprint, "fingerprint_version": ident.version,
            "environment": ident.environment, "os": ident.os_family, **extra}


def _post(server: ReferenceServer, path: str, body: dict[str, Any], nonce: str = "nonce-a1-attack") -> httpx.Response:
    return httpx.post(server.url + path, json=body, headers={NONCE_HEADER: nonce}, timeout=10,
                      verify=no_tls())


def _show(server: ReferenceServer, license_id: str) -> dict[str, Any]:
    proc = server_cli("license", "show", str(server.data_dir), license_id, "--json")
    assert proc.returncode == 0, proc.stderr
    info: dict[str, Any] = json.loads(proc.stdout)
    return info


def _as_version(claim: dict[str, Any], version: str, previous: str) -> dict[str, Any]:
    """The claim re-labelled with a made-up fingerprint version, declaring ``previous`` as its old one."""
    digest = claim["fingerprint"].split(":", 1)[1]
    return {**claim, "fingerprint": f"{version}:{digest}", "fingerprint_version": version,
            "previous_fingerprint": previous}


def test_made_up_fingerprint_versions_do_not_share_one_seat(reference_server: ReferenceServer) -> None:
    """Fixed: previous_fingerprint is honoured only from an older to a newer known fingerprint version
    (crystal_protocol.lease.FINGERPRINT_VERSIONS); a made-up "v9" or a downgrade moves nothing."""
    lic = issue(reference_server.data_dir, seats=1)
    a, b = _claim(IDS[0], lic.key), _claim(IDS[1], lic.key)
    assert _post(reference_server, LICENSE_PATHS["activate"], a).status_code == 200
    leases = 0
    for _round in range(3):
        b_turn = _post(reference_server, LICENSE_PATHS["validate"], _as_version(b, "v9", a["fingerprint"]))
        a_turn = _post(reference_server, LICENSE_PATHS["validate"],
                       {**a, "previous_fingerprint": _as_version(b, "v9", "")["fingerprint"]})
        leases += (b_turn.status_code == 200) + (a_turn.status_code == 200)
    info = _show(reference_server, lic.license_id)
    assert info["seats_used"] == 1
    assert leases <= 3, f"{leases} leases handed out to two machines on one seat"


def test_a_seat_moves_to_a_newer_version_once_and_never_back(reference_server: ReferenceServer) -> None:
    """Fixed: the one legitimate move (v1 -> v2, a known newer method) happens once; a downgrade back to v1
    declaring the v2 fingerprint as its previous one moves nothing, and a version label that is not the
    fingerprint's own prefix is refused as malformed."""
    lic = issue(reference_server.data_dir, seats=1)
    a, b = _claim(IDS[0], lic.key), _claim(IDS[1], lic.key)
    assert _post(reference_server, LICENSE_PATHS["activate"], a).status_code == 200
    b2 = _as_version(b, "v2", a["fingerprint"])
    assert _post(reference_server, LICENSE_PATHS["validate"], b2).status_code == 200
    back = _post(reference_server, LICENSE_PATHS["validate"], {**a, "previous_fingerprint": b2["fingerprint"]})
    assert back.status_code != 200
    lying = _post(reference_server, LICENSE_PATHS["validate"], {**b2, "fingerprint_version": "v1"})
    assert lying.status_code == 400 and lying.json()["error"]["code"] == "bad_request"
    assert len(_show(reference_server, lic.license_id)["seat_moves"]) == 1


def test_seat_ping_pong_by_version_is_at_least_listed(reference_server: ReferenceServer) -> None:
    """Holds: whatever the server lets through is recorded where the vendor sees it, and since the fix
    nothing gets through."""
    lic = issue(reference_server.data_dir, seats=1)
    a, b = _claim(IDS[0], lic.key), _claim(IDS[1], lic.key)
    assert _post(reference_server, LICENSE_PATHS["activate"], a).status_code == 200
    moved = _post(reference_server, LICENSE_PATHS["validate"], _as_version(b, "v9", a["fingerprint"]))
    back = _post(reference_server, LICENSE_PATHS["validate"],
                 {**a, "previous_fingerprint": _as_version(b, "v9", "")["fingerprint"]})
    # Since the fix a made-up version moves nothing: b is refused, a keeps its own seat, no move is listed.
    assert moved.status_code != 200 and back.status_code == 200
    assert _show(reference_server, lic.license_id)["seat_moves"] == []


def test_racing_activations_of_different_machines_take_one_seat(reference_server: ReferenceServer) -> None:
    """Holds: eight machines activating at the same moment on a 1-seat license: one wins, seven get the
    seat-limit answer, one seat is used."""
    lic = issue(reference_server.data_dir, seats=1)
    claims = [_claim(f"{n:032x}", lic.key) for n in range(1, 9)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda c: _post(reference_server, LICENSE_PATHS["activate"], c), claims))
    codes = sorted(a.status_code for a in answers)
    assert codes == [200] + [409] * 7
    assert all(a.json()["error"]["code"] == "seat_limit" for a in answers if a.status_code == 409)
    assert _show(reference_server, lic.license_id)["seats_used"] == 1


def test_a_copied_fingerprint_field_with_another_version_label_moves_nothing(
        reference_server: ReferenceServer) -> None:
    """Holds: the version label must match the fingerprint; a real v1 fingerprint sent as 'v2' with the
    holder's fingerprint declared as previous is still refused, or at least never yields a second seat."""
    lic = issue(reference_server.data_dir, seats=1)
    a, b = _claim(IDS[0], lic.key), _claim(IDS[1], lic.key)
    assert _post(reference_server, LICENSE_PATHS["activate"], a).status_code == 200
    thief = {**b, "fingerprint_version": "v2", "previous_fingerprint": a["fingerprint"]}
    answer = _post(reference_server, LICENSE_PATHS["activate"], thief)
    # Refused before any seat is looked at: the version label is not the fingerprint's own prefix.
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "bad_request"
    assert _post(reference_server, LICENSE_PATHS["validate"], a).status_code == 200


# -- the admin CLI with bad input: one line, a distinct exit code, one JSON object with --json ----------------

def _create(server: ReferenceServer, *extra: str, child: bool = False) -> Any:
    args = ("license", "create", str(server.data_dir), "--plan", "pro", "--seats", "1", "--expires", "never",
            "--json", *extra)
    return admin_cli(*args, env={} if child else None)


@pytest.mark.parametrize("days", ["0", "-1", "0.01", "3650.001"])
def test_lease_days_out_of_range_is_one_json_error(days: str, reference_server: ReferenceServer) -> None:
    proc = _create(reference_server, f"--lease-days={days}")
    assert proc.returncode == 2
    assert json.loads(proc.stdout) == {"error": proc.stderr.strip().removeprefix("crystal-server: "),
                                       "exit_code": 2}
    assert len(proc.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("days", ["0.0417", "3650"])
def test_lease_days_at_the_bounds_reach_the_lease(days: str, reference_server: ReferenceServer) -> None:
    proc = _create(reference_server, f"--lease-days={days}")
    assert proc.returncode == 0, proc.stderr
    made = json.loads(proc.stdout)
    assert made["lease_seconds"] == round(float(days) * 86400)
    answer = _post(reference_server, LICENSE_PATHS["activate"], _claim(IDS[2], made["key"]))
    lease = json.loads(answer.json()["lease"]["payload"])
    assert lease["ttl_seconds"] == made["lease_seconds"]


@pytest.mark.parametrize("days", ["nan", "inf", "-inf", "1e308"])
def test_non_finite_lease_days_is_one_json_error(days: str, reference_server: ReferenceServer) -> None:
    """Fixed: nan / inf / -inf / 1e308 are refused by _lease_seconds (math.isfinite) as one JSON error."""
    proc = _create(reference_server, f"--lease-days={days}", child=True)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert json.loads(proc.stdout)["exit_code"] == 2


def test_huge_seat_count_is_one_json_error(reference_server: ReferenceServer) -> None:
    """Fixed: --seats is bounded (1..100000 on create) before it reaches SQLite."""
    proc = _create(reference_server, "--seats", "99999999999999999999", child=True)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert json.loads(proc.stdout)["exit_code"] == 2


@pytest.mark.parametrize("extra", [("--lease-days=abc",), ("--seats", "x"), ("--plan",)])
def test_usage_errors_with_json_still_print_one_json_object(extra: tuple[str, ...],
                                                            reference_server: ReferenceServer) -> None:
    """Fixed: argparse refusals (a non-number, an option without its value) also print one JSON object
    with --json (license_cli.JsonUsageParser), exit code 2."""
    proc = _create(reference_server, *extra)
    assert proc.returncode == 2
    error = json.loads(proc.stdout)
    assert error["exit_code"] == 2 and isinstance(error["error"], str) and error["error"]


def test_unknown_license_and_bad_folder_are_json_errors_with_distinct_codes(
        reference_server: ReferenceServer) -> None:
    missing = server_cli("license", "show", str(reference_server.data_dir), "lic_0000000000000000", "--json")
    assert missing.returncode == 3 and json.loads(missing.stdout)["exit_code"] == 3
    folder = server_cli("license", "revoke", str(reference_server.data_dir / "nope"), "lic_x", "--json")
    assert folder.returncode == 2 and json.loads(folder.stdout)["exit_code"] == 2
    for proc in (missing, folder):
        assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr


def test_a_clone_declaring_the_holders_fingerprint_under_another_version_gets_nothing(
        tmp_path: Path, reference_server: ReferenceServer) -> None:
    """Holds with the real client: a cloned VM (its own machine ID) whose license.json is edited so that the
    holder's fingerprint looks like another version gets nothing: the app's data catalog refuses to send a
    previous fingerprint of a version it does not have, and the holder keeps its seat."""
    need_namespaces()
    lic = issue(reference_server.data_dir, seats=1)
    holder, clone = (Computer(tmp_path / f"pc{n}", machine_id, reference_server) for n, machine_id in
                     enumerate(IDS[:2]))
    assert holder.run("activate", lic.key).returncode == EXIT_OK
    holder.clone_into(clone)
    record = json.loads(clone.license_file.read_text())
    record["fingerprint"] = "v2:" + record["fingerprint"].split(":", 1)[1]
    clone.license_file.write_text(json.dumps(record))
    refused = clone.run("verify")  # the gateway will not even send a previous fingerprint of another form
    assert refused.returncode != EXIT_OK and "not sent" in refused.stderr
    assert clone.status()["state"] != "active"
    assert holder.run("verify").returncode == EXIT_OK
    info = _show(reference_server, lic.license_id)
    assert info["seats_used"] == 1 and info["seat_moves"] == []
