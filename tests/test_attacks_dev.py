"""``./dev test`` runs a cache warm-up in the background beside mypy: it must end with the run, whatever ends it."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: Stand-ins for the venv's tools (not the project's code): ruff passes, mypy fails once the warm-up has
#: started (so the failure falls while it runs), and the warm-up's python records its pid and stays.
STUBS = {
    "ruff": "exit 0\n",
    "mypy": 'while [ ! -s "$PIDFILE" ]; do sleep 0.01; done\nexit 1\n',
    "python": 'echo $$ > "$PIDFILE"\nexec sleep 60\n',
}


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def test_a_failing_mypy_leaves_no_warm_up_running(tmp_path: Path) -> None:
    """mypy fails, ``set -e`` ends ./dev: the background compileall/collection must not go on writing into
    the tree (and using a core) after ./dev has returned."""
    bin_dir = tmp_path / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    for name, body in STUBS.items():
        (bin_dir / name).write_text("#!/bin/sh\n" + body, encoding="utf-8")
        (bin_dir / name).chmod(0o755)
    pidfile = tmp_path / "warm.pid"
    script = f'set -euo pipefail; source <(sed -n "/^run_tests() {{/,/^}}/p" {ROOT / "dev"}); run_tests'
    proc = subprocess.run(["bash", "-c", script], cwd=tmp_path, env={**os.environ, "PIDFILE": str(pidfile)},
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode != 0 and "== mypy" in proc.stdout, proc.stderr  # mypy's failure ends the run
    pid = int(pidfile.read_text())
    try:
        deadline = time.monotonic() + 10  # a signal is delivered, not waited for: give it time to land
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not _alive(pid), "the warm-up outlived ./dev"
    finally:
        if _alive(pid):
            os.kill(pid, 9)
