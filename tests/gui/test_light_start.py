"""Light start: when the tray (or the no-tray window) shows, httpx, keyring and tuf are not loaded yet;
they load only afterwards, off the path to the first picture."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.apps import run_gui_script

HEAVY = ("httpx", "keyring", "tuf", "cryptography")

SCRIPT = f"HEAVY = {HEAVY!r}\n" + """
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
    seen["at_show"] = sorted(m for m in HEAVY if m in sys.modules)
t.tray_shown.connect(shown)
t.window_shown.connect(shown)
t.started.connect(lambda: QTimer.singleShot(0, app.quit))
t.start()
app.exec()
print(json.dumps(seen))
"""


@pytest.mark.parametrize("mode", ["tray", "window"])
def test_heavy_modules_load_after_the_first_picture(app_home: Path, mode: str) -> None:
    seen = run_gui_script(SCRIPT, mode)
    assert seen["at_show"] == []


# The start also reads the license. With nothing activated there is nothing to verify: no signature checks
# (cryptography), no secrets (keyring, which pulls ssl and http), no hashing (OpenSSL through hashlib).
NOT_NEEDED = (*HEAVY, "ssl", "http.client", "_hashlib")

READ_SCRIPT = f"NOT_NEEDED = {NOT_NEEDED!r}\n" + """
import json, sys
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
from crystal_manager.gui.app import TrayApp
from crystal_manager.services.context import AppContext
app = QApplication(sys.argv[:1])
t = TrayApp(AppContext.create(), tray_probe=lambda: True)
seen = {}
def first_view(_view):
    if "state" not in seen:
        seen["state"] = t.license.facts.status.state if t.license.facts else None
        seen["loaded"] = sorted(m for m in NOT_NEEDED if m in sys.modules)
        QTimer.singleShot(0, app.quit)
t.view_changed.connect(first_view)
t.start()
app.exec()
print(json.dumps(seen))
"""


def test_reading_a_license_that_is_not_there_loads_no_crypto_keyring_or_openssl(app_home: Path) -> None:
    seen = run_gui_script(READ_SCRIPT)
    assert seen["state"] == "not_activated"
    assert seen["loaded"] == []
