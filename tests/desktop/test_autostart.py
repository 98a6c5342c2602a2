"""Autostart entries: real files written and removed under a temporary XDG_CONFIG_HOME / HOME."""

from __future__ import annotations

import configparser
import plistlib
import shlex
from pathlib import Path

import pytest

from crystal_manager.desktop import autostart
from crystal_manager.desktop.autostart import (
    DESKTOP_FILE,
    AutostartError,
    LaunchAgent,
    XdgAutostart,
    apply,
    desktop_entry,
    for_platform,
    windows_command_line,
)

ARGV = ("/opt/crystal me3d/bin/python", "-m", "crystal_manager")


def test_linux_entry_is_written_and_removed(tmp_path: Path) -> None:
    entry = for_platform("linux", {"XDG_CONFIG_HOME": str(tmp_path / "cfg"), "HOME": str(tmp_path)})
    assert isinstance(entry, XdgAutostart)
    path = tmp_path / "cfg" / "autostart" / DESKTOP_FILE
    assert entry.location == str(path) and not entry.is_enabled()
    apply(True, entry, ARGV)
    assert entry.is_enabled()
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(path.read_text())
    section = parser["Desktop Entry"]
    assert section["Type"] == "Application" and section["Terminal"] == "false"
    assert shlex.split(section["Exec"]) == list(ARGV)
    assert path.stat().st_mode & 0o777 == 0o644
    apply(False, entry)
    assert not path.exists() and not entry.is_enabled()
    apply(False, entry)  # removing twice is fine


def test_linux_default_is_home_config(tmp_path: Path) -> None:
    entry = for_platform("linux", {"HOME": str(tmp_path)})
    assert entry.location == str(tmp_path / ".config" / "autostart" / DESKTOP_FILE)


def test_desktop_exec_escapes_reserved_characters() -> None:
    text = desktop_entry(["/a b/py", "--x=100%", 'say "$hi"'])
    exec_line = next(line for line in text.splitlines() if line.startswith("Exec="))
    assert exec_line == 'Exec="/a b/py" --x=100%% "say \\"\\$hi\\""'


def test_macos_launch_agent(tmp_path: Path) -> None:
    entry = for_platform("darwin", {"HOME": str(tmp_path)})
    assert isinstance(entry, LaunchAgent)
    entry.enable(ARGV)
    path = tmp_path / "Library" / "LaunchAgents" / "com.crystalme3dpro.manager.plist"
    data = plistlib.loads(path.read_bytes())
    assert data["ProgramArguments"] == list(ARGV) and data["RunAtLoad"] is True and data["KeepAlive"] is False
    entry.disable()
    assert not path.exists()


def test_windows_run_value_quotes_paths() -> None:
    assert windows_command_line(["C:\\Program Files\\CM\\cm.exe", "--x"]) == '"C:\\Program Files\\CM\\cm.exe" --x'
    assert for_platform("win32").location.endswith("CurrentVersion\\Run\\CrystalMe3DProManager")


def test_unwritable_folder_gives_autostart_error(tmp_path: Path) -> None:
    blocker = tmp_path / "cfg"
    blocker.write_text("a file where a folder should be")
    entry = for_platform("linux", {"XDG_CONFIG_HOME": str(blocker), "HOME": str(tmp_path)})
    with pytest.raises(AutostartError):
        entry.enable(ARGV)


def test_launch_argv_runs_this_python() -> None:
    argv = autostart.launch_argv()
    assert argv[1:] == ("-m", "crystal_manager.gui") and Path(argv[0]).exists()


def test_with_crystal_manager_home_the_entry_stays_under_it(tmp_path: Path) -> None:
    env = {"CRYSTAL_MANAGER_HOME": str(tmp_path / "app"), "HOME": str(tmp_path / "user"),
           "XDG_CONFIG_HOME": str(tmp_path / "user" / ".config")}
    entry = for_platform("linux", env)
    apply(True, entry, ARGV)
    assert entry.is_enabled() and Path(entry.location).is_relative_to(tmp_path / "app")
    assert not (tmp_path / "user").exists()  # nothing outside the app's home
    words = autostart.in_words(entry)
    assert "will not start it at login" in words
    assert "CRYSTAL_MANAGER_HOME" not in words  # an environment variable's name is no word for people
    apply(False, entry)
    assert not entry.is_enabled()


def test_where_in_words_never_shows_a_path(tmp_path: Path) -> None:
    for platform in ("linux", "darwin"):
        entry = for_platform(platform, {"HOME": str(tmp_path)})
        words = autostart.in_words(entry)
        assert "log in" in words and str(tmp_path) not in words and "/" not in words
