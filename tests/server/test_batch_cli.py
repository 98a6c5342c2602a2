"""``crystal-server batch``: several admin commands in one process, as the demo sets up its server."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.support.servers import admin_cli


def batch(commands: Any) -> tuple[int, str, str]:
    proc = subprocess.run([sys.executable, "-m", "crystal_server", "batch"], input=json.dumps(commands),
                          capture_output=True, text=True, timeout=120, check=False)
    return proc.returncode, proc.stdout, proc.stderr


def test_batch_runs_each_command_as_the_cli_would_and_stops_at_the_first_failure(tmp_path: Path) -> None:
    server = str(tmp_path / "server")
    create = ["license", "create", server, "--plan", "pro", "--seats", "1", "--expires", "2099-12-31"]
    code, out, err = batch([["init", server], create, ["init", server], create])
    assert code == 3, err  # the second init: "already initialised" (EXIT_STATE), as on its own
    results = json.loads(out)
    assert [r["code"] for r in results] == [0, 0, 3]  # the fourth never ran
    assert "initialised" in results[0]["stdout"] and "key: CM3D-" in results[1]["stdout"]
    assert "already initialised" in results[2]["stderr"]
    assert (tmp_path / "server" / "profile.json").exists()  # what ran before the failure stays done


@contextmanager
def standard_input(data: bytes) -> Iterator[None]:
    """``data`` on this process's standard input for the block (what ``batch`` reads)."""
    saved = sys.stdin
    sys.stdin = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8")
    try:
        yield
    finally:
        sys.stdin = saved


def test_batch_refuses_bad_input_and_commands_that_do_not_end(tmp_path: Path) -> None:
    # The real CLI's main in this process (tests/support/servers.admin_cli), six inputs without six fresh
    # interpreters; the test above and tests/server/test_attacks_batch.py run ``batch`` as a child process.
    bad: list[Any] = ["not json", [["serve", str(tmp_path)]], [["batch"]], [[]], {"init": 1}, [[1, 2]]]
    for commands in bad:
        with standard_input((commands if isinstance(commands, str) else json.dumps(commands)).encode()):
            proc = admin_cli("batch")
        assert proc.returncode == 2 and proc.stdout == "", commands
        assert proc.stderr.startswith("crystal-server: batch:") and proc.stderr.count("\n") == 1, proc.stderr
    assert list(tmp_path.iterdir()) == []  # nothing ran
