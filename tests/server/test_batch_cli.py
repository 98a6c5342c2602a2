"""``crystal-server batch``: several admin commands in one process, as the demo sets up its server."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any


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


def test_batch_refuses_bad_input_and_commands_that_do_not_end(tmp_path: Path) -> None:
    bad: list[Any] = ["not json", [["serve", str(tmp_path)]], [["batch"]], [[]], {"init": 1}, [[1, 2]]]
    for commands in bad:
        proc = subprocess.run([sys.executable, "-m", "crystal_server", "batch"],
                              input=commands if isinstance(commands, str) else json.dumps(commands),
                              capture_output=True, text=True, timeout=60, check=False)
        assert proc.returncode == 2 and proc.stdout == "", commands
        assert proc.stderr.startswith("crystal-server: batch:") and proc.stderr.count("\n") == 1, proc.stderr
    assert list(tmp_path.iterdir()) == []  # nothing ran
