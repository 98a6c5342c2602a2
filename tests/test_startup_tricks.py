"""The start-up tricks of docs/decisions/0012-start-up-tricks.md, guarded: at the moment the first tray icon
shows (the real start, ``crystal-manager`` with no arguments), none of the modules they avoid is loaded;
and each copy of a library's answer gives the library's answer."""

from __future__ import annotations

import getpass
from importlib.resources import files
from pathlib import Path

import pytest

from crystal_manager.gui.ipc import _user_name
from crystal_manager.resources import resources_dir
from tests.support.apps import run_gui_script

#: Module → the trick that keeps it off the path to the tray (see the decision record).
AVOIDED = {
    "getpass": "gui/ipc.py's own user name",
    "socket": "the C module _socket in gui/ipc.py",
    "dataclasses": "plain classes in config/, storage/paths.py, services/context.py",
    "platformdirs": "storage/paths.py reads the Linux folders itself",
    "locale": "gui/args.py builds no parser when there are no arguments",
    "importlib.resources": "resources/__init__.py uses the folder when it is one",
    "httpx": "the gateway is made on first use", "keyring": "secrets on first use",
    "tuf": "update checks only", "cryptography": "licensing when there is a license to check",
    "msgspec": "the licensing messages load only to send or read a request, the license record after the icon",
}

SCRIPT = """
import sys
from crystal_manager.gui import first_tray
real = first_tray.show_first_tray
seen = {}
def probed(probe=None):
    first = real(lambda: True)
    seen["shown"] = first is not None and first.icon.isVisible()
    seen["loaded"] = sorted(sys.modules)
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication
    QTimer.singleShot(0, QApplication.quit)
    return first
first_tray.show_first_tray = probed
sys.argv = ["crystal-manager"]
from crystal_manager.__main__ import main
code = main()
import json  # only now: the probe itself must load nothing before the icon
print(json.dumps({**seen, "code": code}))
"""


def test_nothing_a_trick_avoids_is_loaded_when_the_tray_shows(app_home: Path) -> None:
    seen = run_gui_script(SCRIPT)
    assert seen["shown"] is True and seen["code"] == 0
    loaded = set(seen["loaded"])
    assert "_socket" in loaded and "crystal_manager.gui.first_tray" in loaded  # the probe sees the start
    found = {m: why for m, why in AVOIDED.items() if m in loaded or any(n.startswith(m + ".") for n in loaded)}
    assert not found, found


@pytest.mark.parametrize("environment", [
    {"LOGNAME": "ada", "USER": "bob"}, {"USER": "bob", "LNAME": "cy"}, {"LNAME": "cy"}, {"USERNAME": "dee"}, {},
])
def test_the_user_name_is_getpass_answer(environment: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in ("LOGNAME", "USER", "LNAME", "USERNAME"):
        monkeypatch.delenv(variable, raising=False)
    for variable, value in environment.items():
        monkeypatch.setenv(variable, value)
    assert _user_name() == getpass.getuser()


def test_the_resources_folder_is_importlib_resources_answer() -> None:
    assert resources_dir() == Path(str(files("crystal_manager.resources")))
