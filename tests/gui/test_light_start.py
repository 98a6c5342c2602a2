"""Light start: when the tray (or the no-tray window) shows, httpx, keyring and tuf are not loaded yet;
they load only afterwards, off the path to the first picture."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.apps import run_gui_script

HEAVY = ("httpx", "keyring", "tuf", "cryptography")
# The start also reads the license. With nothing activated there is nothing to verify: no signature checks
# (cryptography), no secrets (keyring, which pulls ssl and http), no hashing (OpenSSL through hashlib).
NOT_NEEDED = (*HEAVY, "ssl", "http.client", "_hashlib")

# A real start of the app in a child process, noting what is loaded when the first picture shows (the tray
# icon, or the window without a tray) and, at the first view of the license read, what was loaded by then.
# It quits once it has started and shown that first view.
SCRIPT = f"HEAVY = {HEAVY!r}\nNOT_NEEDED = {NOT_NEEDED!r}\n" + """
import json, sys
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
from crystal_manager.gui.app import TrayApp
from crystal_manager.services.context import AppContext
app = QApplication(sys.argv[:1])
tray = sys.argv[1] == "tray"
t = TrayApp(AppContext.create(), tray_probe=lambda: tray)
seen = {}
def shown():
    seen.setdefault("at_show", sorted(m for m in HEAVY if m in sys.modules))
def first_view(_view):
    if "state" not in seen:
        seen["state"] = t.license.facts.status.state if t.license.facts else None
        seen["loaded"] = sorted(m for m in NOT_NEEDED if m in sys.modules)
        done()
def started():
    seen["started"] = True
    done()
def done():
    if "state" in seen and "started" in seen:
        QTimer.singleShot(0, app.quit)
t.tray_shown.connect(shown)
t.window_shown.connect(shown)
t.view_changed.connect(first_view)
t.started.connect(started)
t.start()
app.exec()
print(json.dumps(seen))
"""


@pytest.fixture(scope="module")
def starts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """What each start saw (``tray``, ``window``), each in an empty app folder of its own."""
    return {mode: run_gui_script(SCRIPT, mode, home=tmp_path_factory.mktemp(f"{mode}-home"))
            for mode in ("tray", "window")}


@pytest.mark.parametrize("mode", ["tray", "window"])
def test_heavy_modules_load_after_the_first_picture(starts: dict[str, dict[str, Any]], mode: str) -> None:
    assert starts[mode]["at_show"] == []


def test_reading_a_license_that_is_not_there_loads_no_crypto_keyring_or_openssl(
        starts: dict[str, dict[str, Any]]) -> None:
    # With a tray (the window, once shown, loads its pages' needs before the first view arrives).
    assert starts["tray"]["state"] == "not_activated"
    assert starts["tray"]["loaded"] == []
