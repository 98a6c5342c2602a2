"""build/package.sh refuses a bad ARCHIVE_GZIP_LEVEL before building anything: one line, exit code 2, and the
value is never run as a command (issue 11 review). Runs the real script; it stops before PyInstaller."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.build.smoke import ROOT

SCRIPT = ROOT / "build" / "package.sh"


@pytest.mark.parametrize("level", ["0", "10", "fast", "06", " 6", "-9", "1;touch {planted}", "$(touch {planted})",
                                   "7\nsecond line", "1\x1b[2J"])
def test_a_bad_gzip_level_is_one_line_and_exit_code_2(level: str, tmp_path: Path) -> None:
    planted = tmp_path / "planted"
    env = {**os.environ, "ARCHIVE_GZIP_LEVEL": level.format(planted=planted), "DIST": str(tmp_path / "dist"),
           "WORK": str(tmp_path / "work"), "PYTHON": str(tmp_path / "no-python")}
    out = subprocess.run(["bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode == 2, out.stderr
    assert out.stdout == ""
    lines = out.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("package.sh: ARCHIVE_GZIP_LEVEL must be a digit from 1 to 9")
    assert lines[0].isprintable(), lines[0]  # no terminal control sequences from the value
    assert not planted.exists() and not (tmp_path / "dist").exists()
