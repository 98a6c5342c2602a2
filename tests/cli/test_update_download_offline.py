"""``update download`` when the update is already downloaded: it succeeds without the network and says so
(the CLI as a process, the real reference server for the first download, then a server that is gone)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crystal_manager.cli.exit_codes import EXIT_OFFLINE, EXIT_OK
from tests.cli.test_update_cli import Cli, activate
from tests.support.servers import ReferenceServer
from tests.support.update_repo import publish

GONE = "http://127.0.0.1:9"  # nothing listens on the discard port: connection refused at once


@pytest.fixture
def cli(tmp_path: Path, reference_server: ReferenceServer) -> Cli:
    home = tmp_path / "cli-home"
    home.mkdir()
    return Cli(home, reference_server)


def test_already_downloaded_succeeds_offline_and_says_so(cli: Cli, reference_server: ReferenceServer) -> None:
    activate(cli, reference_server)
    publish(reference_server, "1.1.0")
    first = cli("update", "download")
    assert first.returncode == EXIT_OK, first.stderr
    assert "Downloaded version 1.1.0" in first.stdout
    cli.global_args = ["--profile", str(reference_server.profile_file), "--server", GONE]
    again = cli("update", "download")
    assert again.returncode == EXIT_OK, again.stderr
    assert again.stdout.splitlines() == [
        "Version 1.1.0 is already downloaded, complete and signed by the vendor; nothing needed to be fetched.",
        "Install it with: crystal-manager update install"]
    as_json = cli("update", "download", "--json")
    assert as_json.returncode == EXIT_OK, as_json.stderr
    assert json.loads(as_json.stdout)["already_downloaded"] is True


def test_offline_with_nothing_downloaded_still_fails_as_offline(cli: Cli, reference_server: ReferenceServer) -> None:
    activate(cli, reference_server)
    publish(reference_server, "1.1.0")
    cli.global_args = ["--profile", str(reference_server.profile_file), "--server", GONE]
    proc = cli("update", "download")
    assert proc.returncode == EXIT_OFFLINE, proc.stderr
