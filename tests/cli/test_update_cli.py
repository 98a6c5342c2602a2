"""The update verbs through the real CLI process against the real reference server: output for people and
for scripts, the progress bar on a terminal, Ctrl-C pausing, and one exit code per outcome."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from crystal_manager.cli.exit_codes import EXIT_BAD_INPUT, EXIT_DENIED, EXIT_OFFLINE, EXIT_OK
from crystal_manager.privacy.ledger import Ledger
from tests.support.cli_run import run_cli
from tests.support.licensing import issue
from tests.support.servers import ReferenceServer
from tests.support.update_repo import publish

ISO_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}")
SNAKE_CASE = re.compile(r"\b[a-z]+_[a-z_]+\b")


class Cli:
    def __init__(self, home: Path, server: ReferenceServer) -> None:
        self.home = home
        self.env = {**os.environ, "CRYSTAL_MANAGER_HOME": str(home), "PYTHONDONTWRITEBYTECODE": "1",
                    "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}
        self.env.pop("CRYSTAL_MANAGER_PROFILE", None)
        self.env.pop("CRYSTAL_MANAGER_SERVER", None)
        self.global_args = ["--profile", str(server.profile_file), "--server", server.url]

    def argv(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "crystal_manager", *self.global_args, *args]

    def __call__(self, *args: str) -> subprocess.CompletedProcess[str]:
        return run_cli([*self.global_args, *args], env=self.env, timeout=90)

    def json(self, *args: str) -> dict[str, object]:
        proc = self(*args, "--json")
        assert proc.returncode == EXIT_OK, proc.stderr
        value: dict[str, object] = json.loads(proc.stdout)
        return value

    def ledger(self) -> list[dict[str, Any]]:  # JSON entries, as Ledger.entries() gives them
        path = self.home / "data" / "ledger.jsonl"
        return Ledger(path).entries()


@pytest.fixture
def cli(tmp_path: Path, reference_server: ReferenceServer) -> Cli:
    home = tmp_path / "cli-home"
    home.mkdir()
    return Cli(home, reference_server)


def activate(cli: Cli, server: ReferenceServer, *, max_version: str | None = "9.9") -> None:
    lic = issue(server.data_dir, max_version=max_version)
    proc = cli("activate", lic.key)
    assert proc.returncode == EXIT_OK, proc.stderr


def one_line_error(proc: subprocess.CompletedProcess[str]) -> str:
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("crystal-manager: "), proc.stderr
    return lines[0]


def plain_words(text: str) -> None:
    assert not ISO_TIMESTAMP.search(text), text
    assert not SNAKE_CASE.search(text), text


def test_help_lists_the_update_actions(cli: Cli) -> None:
    proc = cli("update", "--help")
    assert proc.returncode == EXIT_OK
    for action in ("check", "download", "install", "rollback", "skip", "channel", "status"):
        assert re.search(rf"^\s+{action}\s", proc.stdout, re.MULTILINE), action
    assert "update" in cli("--help").stdout


def test_check_download_install_rollback(cli: Cli, reference_server: ReferenceServer) -> None:
    activate(cli, reference_server)
    publish(reference_server, "1.0.0")
    assert cli("update", "download").returncode == EXIT_OK
    assert cli("update", "install").returncode == EXIT_OK
    publish(reference_server, "1.1.0", notes="Faster slicing.\nNew *export* dialog.")

    check = cli.json("update", "check")
    assert check["available"] is True and check["version"] == "1.1.0" and check["critical"] is False
    assert check["notes"] == "Faster slicing.\nNew *export* dialog." and isinstance(check["size"], int)
    assert check["channel"] == "stable" and check["installed_version"] == "1.0.0"
    assert check["entitled"] == {"allowed": True, "code": "ok", "reason": ""} and check["reason"] == "offered"
    assert isinstance(check["signed_by"], list) and len(check["signed_by"]) == 1
    text = cli("update", "check")
    assert text.returncode == EXIT_OK and "Version 1.1.0 is available." in text.stdout
    assert "Faster slicing." in text.stdout and "Genuine: the list of versions is signed by the vendor" in text.stdout
    plain_words(text.stdout)

    download = cli("update", "download", "--json")
    assert download.returncode == EXIT_OK, download.stderr
    assert download.stderr == ""  # not a terminal: no progress bar
    assert json.loads(download.stdout)["progress"] == {"received": check["size"], "total": check["size"],
                                                       "complete": True}
    status = cli.json("update", "status")
    assert status["pending"] == {"version": "1.1.0", "target_name": json.loads(download.stdout)["target_name"],
                                 "progress": {"received": check["size"], "total": check["size"], "complete": True}}
    assert status["installed_version"] == "1.0.0" and status["previous_version"] is None
    assert isinstance(status["last_check_at"], str) and status["skipped"] == []

    install = cli("update", "install")
    assert install.returncode == EXIT_OK and "Installed CrystalMe3D Pro 1.1.0" in install.stdout
    status = cli.json("update", "status")
    assert (status["installed_version"], status["previous_version"], status["pending"]) == ("1.1.0", "1.0.0", None)
    rollback = cli("update", "rollback")
    assert rollback.returncode == EXIT_OK and "Switched to CrystalMe3D Pro 1.0.0" in rollback.stdout
    text_status = cli("update", "status")
    assert "CrystalMe3D Pro: 1.0.0 (version 1.1.0 is also on this computer)" in text_status.stdout
    # The newer version is not "available" to download again: it is one switch away.
    assert "version 1.1.0 is the newest, and it is on this computer." in text_status.stdout
    assert "is available" not in text_status.stdout
    check_again = cli("update", "check")
    assert ("Version 1.1.0 is already on this computer: switch to it with crystal-manager update rollback"
            in check_again.stdout)
    plain_words(text_status.stdout)

    update_requests = [e for e in cli.ledger() if str(e["kind"]).startswith("update_")]
    assert {e["kind"] for e in update_requests} == {"update_metadata", "update_target"}
    assert all(set(e["fields"]) == {"name"} for e in update_requests)


def test_skip_and_channel(cli: Cli, reference_server: ReferenceServer) -> None:
    activate(cli, reference_server)
    publish(reference_server, "1.1.0")
    publish(reference_server, "1.2.0-beta.1", channel="beta")
    assert cli.json("update", "check")["version"] == "1.1.0"
    skip = cli("update", "skip", "1.1.0")
    assert skip.returncode == EXIT_OK and "will not be offered again" in skip.stdout
    check = cli.json("update", "check")
    assert check["available"] is False and check["reason"] == "skipped"
    assert cli.json("update", "status")["skipped"] == ["1.1.0"]
    channel = cli("update", "channel", "beta")
    assert channel.returncode == EXIT_OK and "stable and beta" in channel.stdout
    check = cli.json("update", "check")
    assert check["version"] == "1.2.0-beta.1" and check["channel"] == "beta"
    assert cli.json("update", "status")["channel"] == "beta"


def test_exit_codes(cli: Cli, reference_server: ReferenceServer, tmp_path: Path) -> None:
    publish(reference_server, "1.1.0")
    check = cli.json("update", "check")  # no license: a check still answers
    assert check["available"] is False and check["entitled"]["code"] == "no_license"  # type: ignore[index]
    denied = cli("update", "download")
    assert denied.returncode == EXIT_DENIED and "activate" in one_line_error(denied)
    for args in (("update", "skip", "7.7.7"), ("update", "skip", "seven"), ("update", "channel", "nightly"),
                 ("update", "install"), ("update", "rollback")):
        proc = cli(*args)
        assert proc.returncode == EXIT_BAD_INPUT, (args, proc.stderr)
        one_line_error(proc)
    # Changed metadata on the server: an untrusted answer, refused in words.
    served = reference_server.data_dir / "repository" / "metadata" / "timestamp.json"
    data = json.loads(served.read_text())
    data["signed"]["version"] += 1
    served.write_text(json.dumps(data))
    tampered = cli("update", "check")
    assert tampered.returncode == EXIT_OFFLINE and "could not be trusted" in one_line_error(tampered)
    # No update root in the profile: updates fail closed before anything is sent.
    profile = json.loads(reference_server.profile_file.read_text())
    profile["tuf_root"] = None
    bare = tmp_path / "bare.json"
    bare.write_text(json.dumps(profile))
    cli.global_args[1] = str(bare)
    before = len(cli.ledger())
    unset = cli("update", "check")
    assert unset.returncode == EXIT_BAD_INPUT and "not set up" in one_line_error(unset)
    assert len(cli.ledger()) == before
    # Server down: a network problem.
    reference_server.running.stop()
    cli.global_args[1] = str(reference_server.profile_file)
    down = cli("update", "check")
    assert down.returncode == EXIT_OFFLINE and "Network problem" in one_line_error(down)


def _read_until(fd: int, needle: bytes, deadline: float) -> bytes:
    seen = b""
    while needle not in seen:
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            raise AssertionError(f"no {needle!r} on the terminal; got {seen!r}")
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        seen += chunk
    return seen


def test_progress_bar_on_a_terminal_and_ctrl_c_pauses(cli: Cli, reference_server: ReferenceServer) -> None:
    activate(cli, reference_server)
    publish(reference_server, "1.0.0", payload_bytes=64 << 20)
    parent, child = pty.openpty()
    process = subprocess.Popen(cli.argv("update", "download"), env=cli.env, stdout=subprocess.PIPE,
                               stderr=child, text=True)
    os.close(child)
    try:
        first = _read_until(parent, b" MB", time.monotonic() + 60)  # the first progress line: Ctrl-C at once
        process.send_signal(signal.SIGINT)
        rest = _read_until(parent, b"Resume with", time.monotonic() + 30)
        assert process.wait(timeout=30) == 130
    finally:
        if process.poll() is None:
            process.kill()
        os.close(parent)
    terminal = (first + rest).decode(errors="replace")
    assert "%" in terminal and " of 67.1 MB" in terminal
    assert "Download paused" in terminal and "crystal-manager update download" in terminal
    status = cli.json("update", "status")
    pending = status["pending"]
    assert isinstance(pending, dict) and pending["version"] == "1.0.0"
    assert pending["progress"]["complete"] is False
    assert "Download of version 1.0.0:" in cli("update", "status").stdout
    resumed = cli("update", "download")
    assert resumed.returncode == EXIT_OK and resumed.stderr == ""
    done = cli.json("update", "status")["pending"]
    assert isinstance(done, dict) and done["progress"]["complete"] is True


def test_progress_words_show_speed_and_time_left_once_measured() -> None:
    from crystal_manager.cli.commands.update import progress_words
    from crystal_manager.services.update_types import DownloadProgress

    start = progress_words(DownloadProgress("1.2.0", 0, 48_213_000, 0.0, None))
    assert start == "[                        ]   0%  0 bytes of 48.2 MB"  # no "0.0 MB/s" before a speed is known
    going = progress_words(DownloadProgress("1.2.0", 24_106_500, 48_213_000, 5_200_000.0, 4.6))
    assert going == "[############            ]  50%  24.1 MB of 48.2 MB  5.2 MB/s  about 5 s left"



def test_after_a_rollback_every_verb_names_the_one_switch_back(cli: Cli, reference_server: ReferenceServer) -> None:
    """Finding 5: with 1.1.0 kept after going back to 1.0.0, install, download and check all say the same
    one command (never "download it first" ↔ "install it" in a circle)."""
    activate(cli, reference_server)
    publish(reference_server, "1.0.0")
    assert cli("update", "download").returncode == EXIT_OK
    assert cli("update", "install").returncode == EXIT_OK
    publish(reference_server, "1.1.0")
    assert cli("update", "download").returncode == EXIT_OK
    assert cli("update", "install").returncode == EXIT_OK
    assert cli("update", "rollback").returncode == EXIT_OK
    switch = "Version 1.1.0 is already on this computer: switch to it with crystal-manager update rollback"
    for verb in ("install", "download", "check", "install"):
        proc = cli("update", verb)
        assert proc.returncode == EXIT_OK, (verb, proc.stderr)
        assert switch in proc.stdout, (verb, proc.stdout)
        assert "update install" not in proc.stdout and "download" not in proc.stdout.lower(), (verb, proc.stdout)
