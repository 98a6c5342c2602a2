"""The Settings page turns autostart on and off: a real .desktop file under a temporary XDG_CONFIG_HOME."""

from __future__ import annotations

import json
from pathlib import Path

from tests.gui.conftest import MakeApp


def test_autostart_off_by_default_then_written_and_removed(make_app: MakeApp, tmp_path: Path) -> None:
    app, _fake, _probe = make_app("active", tray=False)
    entry = tmp_path / "xdg" / "autostart" / "crystalme3dpro-manager.desktop"
    page = app.window().settings_page
    assert not page.autostart.isChecked() and not entry.exists()
    # Where the entry goes, in words; the path is only in the tooltip.
    assert page.autostart_note.text().startswith("When this is on, your desktop starts it when you log in")
    assert str(tmp_path) not in page.autostart_note.text() and page.autostart_note.toolTip() == str(entry)
    page.autostart.click()
    assert entry.is_file() and "Exec=" in entry.read_text()
    assert json.loads(app.ctx.paths.settings_file.read_text())["autostart"] is True
    page.autostart.click()
    assert not entry.exists()
    assert json.loads(app.ctx.paths.settings_file.read_text())["autostart"] is False


def test_autostart_failure_is_shown_and_box_shows_truth(make_app: MakeApp, tmp_path: Path) -> None:
    (tmp_path / "xdg").write_text("not a folder")
    app, _fake, _probe = make_app("active", tray=False)
    page = app.window().settings_page
    page.autostart.click()
    assert not page.autostart.isChecked()
    assert page.autostart_note.text().startswith("Storage problem: cannot write")
