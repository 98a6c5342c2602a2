"""The newcomer's walk (issue 10 findings 6, 9 to 11, 13, 14, 16, 18) through the real CLI process: what the
words say must be what is really there."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from crystal_manager.cli.exit_codes import EXIT_BAD_INPUT, EXIT_BROKEN_PIPE, EXIT_OK
from tests.cli.test_license_cli import Cli, one_line_error
from tests.support.licensing import issue
from tests.support.servers import ReferenceServer


def _cli(tmp_path: Path, server: ReferenceServer) -> Cli:
    home = tmp_path / "cli-home"
    home.mkdir()
    return Cli(home, server)


def test_a_reader_that_goes_away_ends_the_command_quietly(tmp_path: Path, reference_server: ReferenceServer) -> None:
    cli = _cli(tmp_path, reference_server)
    process = subprocess.Popen([sys.executable, "-m", "crystal_manager", "privacy", "catalog"], env=cli.env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()  # `| head` that has read enough: every write now meets a closed pipe
    stderr = process.stderr.read()
    assert process.wait(timeout=60) == EXIT_BROKEN_PIPE
    assert stderr == b""


def test_storage_names_no_keyring_entry_without_a_keyring(tmp_path: Path, reference_server: ReferenceServer) -> None:
    cli = _cli(tmp_path, reference_server)  # no keyring: the user-only file holds the key
    assert cli("activate", issue(reference_server.data_dir).key).returncode == EXIT_OK
    report = json.loads(cli("privacy", "storage", "--json").stdout)
    assert report["keyring"] == [] and report["key_store"]["backend"] == "file"
    assert "license_key" in report["key_store"]["holds"]
    text = cli("privacy", "storage").stdout
    assert "In the keyring" not in text and "No keyring on this computer" in text and "secrets.json" in text
    status = cli("status").stdout
    assert "the license key is kept in " in status and "(mode 0600)" not in status
    secrets = next(cli.home.rglob("secrets.json"))
    secrets.write_text("{{{ damaged")
    status = cli("status").stdout  # sets the damaged file aside and says so
    assert "License: Not activated" in status or "not activated" in status.lower()
    assert "Seats:" not in status and "Key: …" not in status, status  # nothing shown as if still in use
    assert "Activate again with your key (the one ending in " in status
    text = cli("privacy", "storage").stdout
    assert "In the keyring" not in text and "no license key is stored here" in text
    assert "a damaged copy of the file holding the license key, kept for inspection" in text
    assert not any(line.endswith("— state") for line in text.splitlines())


def test_damaged_settings_are_said_once_and_named_in_storage(tmp_path: Path,
                                                            reference_server: ReferenceServer) -> None:
    cli = _cli(tmp_path, reference_server)
    settings = cli.home / "config" / "settings.json"
    settings.parent.mkdir(parents=True, exist_ok=True)
    settings.write_text('{"update_channel": "beta"')  # cut short
    first = cli("status", "--json")
    assert first.returncode == EXIT_OK and json.loads(first.stdout)  # stdout stays clean JSON
    note = one_line_error(first)
    assert "settings file was damaged" in note and "stable update channel" in note
    assert "settings.corrupt.json" in note
    again = cli("status")
    assert "damaged" not in again.stderr  # said once
    text = cli("privacy", "storage").stdout
    assert "a damaged copy of your settings, kept for inspection" in text
    assert os.path.exists(cli.home / "config" / "settings.corrupt.json")


def test_a_phrase_is_no_key_and_a_typo_has_one_wording(tmp_path: Path, reference_server: ReferenceServer) -> None:
    cli = _cli(tmp_path, reference_server)
    phrase = cli("activate", "hello world")
    assert phrase.returncode == EXIT_BAD_INPUT
    line = one_line_error(phrase)
    assert "this doesn't look like a license key (they start with CM3D-)" in line and "characters" not in line
    key = issue(reference_server.data_dir).key
    # Two neighbouring characters of the first group swapped: the first pair that differs (swapping equal
    # ones, ~1 key in 32, changes nothing, and that key activates).
    at = next(i for i in range(5, 9) if key[i] != key[i + 1])
    swapped = key[:at] + key[at + 1] + key[at] + key[at + 2:]
    assert swapped != key
    typo = cli("activate", swapped)
    assert typo.returncode == EXIT_BAD_INPUT
    assert one_line_error(typo) == ("crystal-manager: This key has a typo — check it against your purchase e-mail "
                                    "(nothing was sent).")
    assert cli.ledger_kinds() == []


def test_a_hanging_server_is_given_up_on_within_the_budget_with_one_line(
        tmp_path: Path, reference_server: ReferenceServer) -> None:
    import re
    from concurrent.futures import ThreadPoolExecutor

    from crystal_manager.cli.exit_codes import EXIT_OFFLINE
    from tests.support.misbehaving import hang, misbehaving

    cli = _cli(tmp_path, reference_server)
    assert cli("activate", issue(reference_server.data_dir).key).returncode == EXIT_OK
    with misbehaving(hang(120)) as server, ThreadPoolExecutor(2) as pool:
        # Both wait out the same 20 s budget: side by side (two processes, as two users' commands would).
        verifying = pool.submit(cli, "verify", server=server.url)
        checking = pool.submit(cli, "status", "--check-server", server=server.url)
        proc, checked = verifying.result(), checking.result()
    assert checked.returncode == EXIT_OFFLINE and "License: " in checked.stdout  # local facts, then the problem
    assert "did not answer in time" in one_line_error(checked)
    assert cli.ledger_kinds().count("health") == 1
    assert proc.returncode == EXIT_OFFLINE
    line = one_line_error(proc)  # not a terminal: no spinner, one line
    assert "did not answer in time" in line and "The license keeps working offline until " in line
    # One attempt within the user's 20 s budget; before, 3 attempts of a 20 s read timeout (~62 s of silence).
    assert cli.ledger_kinds().count("license_validate") == 1
    status = cli("status").stdout
    assert "Offline grace days left: " in status
    assert re.search(r"Offline grace days left: \d+$", status, re.MULTILINE), status  # whole days, no "14.0"
