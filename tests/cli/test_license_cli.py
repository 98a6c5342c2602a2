"""The license verbs through the real CLI process: output, JSON, and one distinct exit code per outcome."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from crystal_manager.cli.demo_server import free_port
from crystal_manager.cli.exit_codes import EXIT_BAD_INPUT, EXIT_DENIED, EXIT_INTERNAL, EXIT_OFFLINE, EXIT_OK
from crystal_manager.privacy.ledger import Ledger
from tests.support.cli_run import run_cli
from tests.support.keyring_memory import MemoryKeyring
from tests.support.licensing import context_at, issue, server_cli, service
from tests.support.servers import ReferenceServer


class Cli:
    def __init__(self, home: Path, server: ReferenceServer) -> None:
        self.home = home
        self.env = {**os.environ, "CRYSTAL_MANAGER_HOME": str(home),
                    "CRYSTAL_MANAGER_PROFILE": str(server.profile_file), "CRYSTAL_MANAGER_SERVER": server.url,
                    # No keyring here: the user-only file fallback is used and must be reported.
                    "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}

    def __call__(self, *args: str, server: str | None = None,
                 input_text: str | None = None) -> subprocess.CompletedProcess[str]:
        env = dict(self.env)
        if server:
            env["CRYSTAL_MANAGER_SERVER"] = server
        return run_cli(args, env=env, input=input_text)

    def ledger_kinds(self) -> list[str]:
        path = self.home / "data" / "ledger.jsonl"
        return [entry["kind"] for entry in Ledger(path).entries()]


@pytest.fixture
def cli(tmp_path: Path, reference_server: ReferenceServer) -> Cli:
    home = tmp_path / "cli-home"
    home.mkdir()
    return Cli(home, reference_server)


def one_line_error(proc: subprocess.CompletedProcess[str]) -> str:
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("crystal-manager: ")
    return lines[0]


def test_activate_status_machines_verify_deactivate(cli: Cli, reference_server: ReferenceServer) -> None:
    lic = issue(reference_server.data_dir, seats=2, trial_days=7)
    done = cli("activate", lic.key)
    assert done.returncode == EXIT_OK, done.stderr
    assert "License: Trial (Pro)" in done.stdout and "Trial days left: 7" in done.stdout
    # No raw state names or ISO timestamps in text (they stay in --json).
    assert not re.search(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}", done.stdout) and "_" not in done.stdout.split("\n")[0]
    assert "no system keyring" in done.stdout
    status = cli("status", "--json")
    assert status.returncode == EXIT_OK
    report = json.loads(status.stdout)
    lic_json = report["license"]
    for name in ("state", "plan", "expires_at", "renews_at", "trial_days_left", "grace_days_left", "seats_used",
                 "seats_total", "last_verified_at", "next_check_at", "key_hint"):
        assert name in lic_json
    assert lic_json["state"] == "trial" and lic_json["key_hint"] == lic.key[-4:] and lic_json["seats_used"] == 1
    assert lic_json["secrets_fallback"] is True
    assert "manager_version" in report and "product_version" in report
    machines = cli("machines", "--json")
    listing = json.loads(machines.stdout)
    assert listing["seats_total"] == 2 and listing["machines"][0]["is_this_machine"] is True
    assert cli("verify").returncode == EXIT_OK
    gone = cli("deactivate")
    assert gone.returncode == EXIT_OK and "seat is free" in gone.stdout
    assert json.loads(cli("status", "--json").stdout)["license"]["state"] == "not_activated"
    assert cli.ledger_kinds() == ["license_activate", "license_machines", "license_validate", "license_deactivate"]


def test_typo_exits_2_and_sends_nothing(cli: Cli, reference_server: ReferenceServer) -> None:
    lic = issue(reference_server.data_dir)
    proc = cli("activate", lic.key[:-2])
    assert proc.returncode == EXIT_BAD_INPUT
    assert "nothing was sent" in one_line_error(proc)
    assert cli.ledger_kinds() == []


def test_unknown_key_exits_3(cli: Cli) -> None:
    from crystal_protocol.licensekey import generate_key

    proc = cli("activate", generate_key())
    assert proc.returncode == EXIT_DENIED
    assert "no license with this key" in one_line_error(proc)


def test_seat_limit_exits_3_and_can_be_solved(cli: Cli, reference_server: ReferenceServer, tmp_path: Path,
                                              memory_keyring: MemoryKeyring) -> None:
    lic = issue(reference_server.data_dir, seats=1)
    # The seat is taken by another machine (an old laptop), activated through the service layer.
    old = context_at(tmp_path / "old-laptop", reference_server.profile_file, reference_server.url)
    held = service(old, name="old-laptop").activate(lic.key)
    old.close()
    proc = cli("activate", lic.key)
    assert proc.returncode == EXIT_DENIED
    assert "Seat limit reached" in one_line_error(proc)
    listing = json.loads(cli("machines", "--key", lic.key, "--json").stdout)
    assert [m["machine_id"] for m in listing["machines"]] == [held.machine_id]
    freed = cli("deactivate", "--machine", str(held.machine_id), "--key", lic.key)
    assert freed.returncode == EXIT_OK, freed.stderr
    assert cli("activate", lic.key).returncode == EXIT_OK


def test_offline_exits_4_and_keeps_the_license(cli: Cli, reference_server: ReferenceServer) -> None:
    lic = issue(reference_server.data_dir)
    assert cli("activate", lic.key).returncode == EXIT_OK
    state = (cli.home / "state" / "license.json").read_text()
    proc = cli("verify", server=f"http://127.0.0.1:{free_port()}")
    assert proc.returncode == EXIT_OFFLINE
    assert "cannot be reached" in one_line_error(proc)
    assert json.loads((cli.home / "state" / "license.json").read_text())["lease"] == json.loads(state)["lease"]
    status = json.loads(cli("status", "--json").stdout)["license"]
    assert status["state"] == "offline_grace" and status["grace_days_left"] > 13


def test_signed_revocation_exits_3(cli: Cli, reference_server: ReferenceServer) -> None:
    lic = issue(reference_server.data_dir)
    assert cli("activate", lic.key).returncode == EXIT_OK
    server_cli("license", "revoke", str(reference_server.data_dir), lic.license_id)
    proc = cli("verify")
    assert proc.returncode == EXIT_DENIED and "revoked" in one_line_error(proc)
    assert "License: Revoked" in cli("status").stdout


def test_internal_error_exits_1(cli: Cli, reference_server: ReferenceServer) -> None:
    lic = issue(reference_server.data_dir)
    (cli.home / "state").mkdir(parents=True)
    (cli.home / "state" / "secrets.json").write_text("{broken")  # the keyring fallback is unreadable
    (cli.home / "state" / "secrets.json").chmod(0o600)
    proc = cli("activate", lic.key)
    assert proc.returncode == EXIT_INTERNAL
    assert "Keyring problem" in one_line_error(proc)


def test_garbage_in_the_key_file_shows_at_status_time(cli: Cli, reference_server: ReferenceServer) -> None:
    lic = issue(reference_server.data_dir)
    assert cli("activate", lic.key).returncode == EXIT_OK
    secrets = cli.home / "state" / "secrets.json"
    secrets.write_bytes(b"\x00garbage{{")
    status = cli("status")
    assert status.returncode == EXIT_OK
    assert "License: Active" not in status.stdout and "License: Not activated" in status.stdout
    assert "damaged" in status.stdout and "Activate again with your key" in status.stdout
    copies = list(secrets.parent.glob("secrets.json.damaged-*"))
    assert len(copies) == 1 and copies[0].read_bytes() == b"\x00garbage{{"  # kept, byte for byte
    assert str(copies[0]) in status.stdout and copies[0].stat().st_mode & 0o777 == 0o600
    again = cli("status")  # still said, not "active" again once the file is out of the way
    assert "License: Not activated" in again.stdout and str(copies[0]) in again.stdout
    verify = cli("verify")  # no JSON parse error and exit 1: the key is gone, activate again
    assert verify.returncode == EXIT_BAD_INPUT and "Activate" in one_line_error(verify)
    assert cli("activate", lic.key).returncode == EXIT_OK  # the same seat: one machine on the license
    assert "Seats used: 1 of" in cli("machines").stdout


def test_not_activated_and_bad_usage_exit_2(cli: Cli) -> None:
    assert cli("verify").returncode == EXIT_BAD_INPUT
    assert cli("deactivate").returncode == EXIT_BAD_INPUT
    assert cli("activate").returncode == EXIT_BAD_INPUT
    missing = cli("activate", "--response-file", "/nonexistent/response.json")
    assert missing.returncode == EXIT_BAD_INPUT and "Offline file" in one_line_error(missing)


def test_offline_files_through_the_cli(cli: Cli, reference_server: ReferenceServer, tmp_path: Path) -> None:
    lic = issue(reference_server.data_dir)
    request, response = tmp_path / "req.json", tmp_path / "resp.json"
    wrote = cli("activate", lic.key, "--request-file", str(request))
    assert wrote.returncode == EXIT_OK
    assert "A one-way code made from this computer's ID (never the ID itself): v1:" in wrote.stdout
    assert "Key digest" in wrote.stdout and lic.key not in wrote.stdout and "§" not in wrote.stdout
    assert server_cli("license", "answer", str(reference_server.data_dir), str(request), str(response)).returncode == 0
    installed = cli("activate", "--response-file", str(response))
    assert installed.returncode == EXIT_OK and "Activated offline" in installed.stdout
    proof = tmp_path / "proof.json"
    assert cli("deactivate", "--proof-file", str(proof)).returncode == EXIT_OK and proof.exists()


def test_key_can_come_from_stdin_instead_of_argv(cli: Cli, reference_server: ReferenceServer) -> None:
    """`activate -` reads the key from standard input, so it never shows in the process list or shell history."""
    lic = issue(reference_server.data_dir)
    env = dict(cli.env)
    proc = run_cli(["activate", "-", "--json"], env=env, input=lic.key + "\n")
    assert proc.returncode == EXIT_OK, proc.stderr
    assert json.loads(proc.stdout)["state"] == "active"
    proc = run_cli(["machines", "--key", "-", "--json"], env=env, input=lic.key + "\n")
    assert proc.returncode == EXIT_OK, proc.stderr
    assert len(json.loads(proc.stdout)["machines"]) == 1
    empty = run_cli(["activate", "-"], env=env, input="")
    assert empty.returncode == EXIT_BAD_INPUT and one_line_error(empty)


def test_seat_limit_says_what_to_type_next(cli: Cli, reference_server: ReferenceServer, tmp_path: Path,
                                           memory_keyring: MemoryKeyring) -> None:
    lic = issue(reference_server.data_dir, seats=1)
    other = context_at(tmp_path / "other-machine", reference_server.profile_file, reference_server.url)
    service(other, name="other").activate(lic.key)
    proc = cli("activate", "-", input_text=lic.key)
    assert proc.returncode == EXIT_DENIED
    line = one_line_error(proc)
    assert "the only seat of this license is in use" in line
    assert "crystal-manager machines --key -" in line and "crystal-manager deactivate --machine ID" in line
    assert lic.key not in proc.stderr + proc.stdout


def test_machine_name_shows_in_the_machine_list_and_a_bad_one_sends_nothing(
        cli: Cli, reference_server: ReferenceServer) -> None:
    lic = issue(reference_server.data_dir, seats=2)
    too_long = cli("activate", lic.key, "--label", "x" * 65)
    assert too_long.returncode == EXIT_BAD_INPUT
    assert "name for this computer" in one_line_error(too_long) and "at most 64" in too_long.stderr
    assert cli.ledger_kinds() == []  # refused before anything was sent
    done = cli("activate", lic.key, "--label", "  Studio workstation ")
    assert done.returncode == EXIT_OK, done.stderr
    listing = json.loads(cli("machines", "--json").stdout)
    assert [m["label"] for m in listing["machines"]] == ["Studio workstation"]


def test_this_computer_freed_elsewhere_says_so(cli: Cli, reference_server: ReferenceServer, tmp_path: Path) -> None:
    """Finding 8: a seat freed from another computer is "this computer was deactivated", not "that machine"."""
    lic = issue(reference_server.data_dir)
    assert cli("activate", lic.key).returncode == EXIT_OK
    this_id = json.loads(cli("status", "--json").stdout)["license"]["machine_id"]
    other = service(context_at(tmp_path / "other", reference_server.profile_file, reference_server.url),
                    name="beta")
    other.deactivate_with_key(lic.key, this_id)
    proc = cli("verify")
    line = one_line_error(proc)
    assert proc.returncode == EXIT_DENIED
    assert "This computer was deactivated (from another computer or by support): activate it again" in line, line
    assert "That machine" not in line
    from crystal_manager.services.privacy_words import outcome_words

    last = Ledger(cli.home / "data" / "ledger.jsonl").entries()[-1]
    assert last["kind"] == "license_validate" and "no such file" not in outcome_words(last)
