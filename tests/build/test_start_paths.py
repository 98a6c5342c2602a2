"""``crystal-manager`` with no arguments is the GUI's fast path: the first tray icon is shown before any CLI
module loads (issue 13, deliver 2); with arguments it is the CLI."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

from crystal_manager import __version__
from tests.support.apps import ROOT, gui_child_env, run_gui_script

# crystal_manager.__main__.main() as the console script calls it, with the tray probe said yes (offscreen
# has no tray host): which modules are loaded when the first icon shows, and which once the app runs.
SCRIPT = """
import json, sys
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
from crystal_manager.gui import first_tray
real = first_tray.show_first_tray
seen = {}
def mine(names):
    return sorted(m for m in names if m.startswith(("crystal_manager", "argparse")))
def probed(probe=None):
    first = real(lambda: True)
    seen["shown"] = first is not None and first.icon.isVisible()
    seen["at_tray"] = mine(sys.modules)
    QTimer.singleShot(500, QApplication.quit)
    return first
first_tray.show_first_tray = probed
sys.argv = ["crystal-manager"]
from crystal_manager.__main__ import main
code = main()
print(json.dumps({**seen, "code": code, "at_end": mine(sys.modules)}))
"""


def test_no_arguments_reaches_the_tray_without_any_cli_module(app_home: Path) -> None:
    seen = run_gui_script(SCRIPT)
    assert seen["shown"] is True and seen["code"] == 0
    assert "crystal_manager.gui.entry" in seen["at_tray"]
    assert not [m for m in seen["at_tray"] if m.startswith("crystal_manager.cli")], seen["at_tray"]
    # Not even later: the running app never needs the CLI's parser or verbs.
    assert not [m for m in seen["at_end"] if m.startswith("crystal_manager.cli")], seen["at_end"]


def test_any_argument_goes_to_the_cli(app_home: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "crystal_manager", "--version"], env=gui_child_env(),
                         capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == f"crystal-manager {__version__}"
    bad = subprocess.run([sys.executable, "-m", "crystal_manager", "no-such-verb"], env=gui_child_env(),
                         capture_output=True, text=True, timeout=60, check=False)
    assert bad.returncode == 2 and "invalid choice: 'no-such-verb'" in bad.stderr


def test_the_console_script_is_the_fast_entry() -> None:
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["crystal-manager"] == "crystal_manager.__main__:main"
