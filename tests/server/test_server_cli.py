"""The reference server's admin CLI: init and serve, with clear errors and distinct exit codes."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.support.servers import admin_cli


def server_cli(*args: str) -> subprocess.CompletedProcess[str]:
    """``crystal-server ARGS`` (tests/support/servers.admin_cli): ``serve`` is a child process, as run by
    people (``python -m crystal_server``); ``init`` runs the same ``main`` in this process."""
    return admin_cli(*args)


def test_init_writes_profile_keys_and_database(tmp_path: Path) -> None:
    proc = server_cli("init", str(tmp_path / "s"), "--url", "http://127.0.0.1:9999")
    assert proc.returncode == 0, proc.stderr
    profile = json.loads((tmp_path / "s" / "profile.json").read_text())
    assert profile["server_url"] == "http://127.0.0.1:9999" and profile["production"] is False
    [kid] = profile["license_keys"]
    key_file = tmp_path / "s" / "keys" / f"license-{kid}.pem"
    assert key_file.stat().st_mode & 0o077 == 0
    assert (tmp_path / "s" / "server.sqlite3").exists()
    assert "PRIVATE" not in (tmp_path / "s" / "profile.json").read_text()


def test_init_twice_refuses_and_keeps_keys(tmp_path: Path) -> None:
    server_cli("init", str(tmp_path / "s"))
    before = (tmp_path / "s" / "profile.json").read_bytes()
    proc = server_cli("init", str(tmp_path / "s"))
    assert proc.returncode == 3 and "already initialised" in proc.stderr
    assert (tmp_path / "s" / "profile.json").read_bytes() == before


def test_serve_refuses_a_non_server_folder(tmp_path: Path) -> None:
    proc = server_cli("serve", str(tmp_path))
    assert proc.returncode == 2 and "not a server folder" in proc.stderr


def test_serve_tls_flags_go_together(tmp_path: Path) -> None:
    server_cli("init", str(tmp_path / "s"))
    proc = server_cli("serve", str(tmp_path / "s"), "--tls-cert", "x.pem")
    assert proc.returncode == 2 and "go together" in proc.stderr


def test_serve_on_a_port_in_use_fails_clearly(tmp_path: Path) -> None:
    import socket

    server_cli("init", str(tmp_path / "s"))
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        proc = server_cli("serve", str(tmp_path / "s"), "--port", str(port))
    assert proc.returncode == 3 and f"cannot listen on 127.0.0.1:{port}" in proc.stderr


def test_the_parser_built_once_parses_each_command_line_afresh() -> None:
    """main() keeps one parser per process (batch and in-process admin calls parse many lines): nothing one
    command line sets may show in the next, appended lists included."""
    from crystal_server.cli import _parser

    assert _parser() is _parser()
    first = _parser().parse_args(["serve", "d", "--trusted-proxy", "10.0.0.1", "--port", "9"])
    second = _parser().parse_args(["serve", "e"])
    assert first.trusted_proxy == ["10.0.0.1"] and first.port == 9
    assert second.trusted_proxy == [] and second.port != 9 and str(second.dir) == "e"
    assert vars(_parser().parse_args(["serve", "e"])) == vars(second)
