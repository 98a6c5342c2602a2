"""Desktop integration recipes in build/ (issue 13, deliver 4): the Linux menu entry, icons and metainfo with
their per-user install and uninstall, the Windows icon and version resource, the macOS Info.plist."""

from __future__ import annotations

import ast
import configparser
import os
import plistlib
import shutil
import struct
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from crystal_manager import __version__
from crystal_manager.desktop.autostart import DESKTOP_FILE, desktop_entry
from crystal_manager.resources import resources_dir
from tests.build.smoke import ROOT

LINUX = ROOT / "build" / "linux"
SIZES = ("16", "22", "24", "32", "48", "64", "128", "256")


def read_desktop(path: Path) -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    parser.read_string(path.read_text())
    return parser["Desktop Entry"]


def test_the_menu_entry_matches_the_app_and_its_autostart_entry() -> None:
    entry = read_desktop(LINUX / DESKTOP_FILE)  # the name Qt is told (setDesktopFileName) and autostart uses
    autostart = configparser.ConfigParser(interpolation=None)
    autostart.read_string(desktop_entry(["x"]))
    assert entry["Type"] == "Application" and entry["Terminal"] == "false"
    assert entry["Exec"] == "crystal-manager"  # no arguments: the GUI's fast path
    assert entry["Icon"] == autostart["Desktop Entry"]["Icon"] == "crystalme3dpro-manager"
    assert entry["Name"] == autostart["Desktop Entry"]["Name"]
    assert entry["Categories"].endswith(";")


def test_the_metainfo_names_the_menu_entry_and_this_version() -> None:
    root = ET.parse(LINUX / "com.crystalme3dpro.manager.metainfo.xml").getroot()
    assert root.tag == "component" and root.get("type") == "desktop-application"
    assert root.findtext("id") == "com.crystalme3dpro.manager"
    assert root.findtext("launchable") == DESKTOP_FILE
    assert root.findtext("provides/binary") == "crystal-manager"
    assert next(r.get("version") for r in root.iter("release")) == __version__


def installed_files(data: Path) -> set[str]:
    return {str(p.relative_to(data)) for p in data.rglob("*") if p.is_file()}


def run_install(script: Path, data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "XDG_DATA_HOME": str(data), "PATH": "/usr/bin:/bin"}
    return subprocess.run(["sh", str(script), *args], env=env, capture_output=True, text=True, timeout=60,
                          check=False)


def test_install_from_the_source_tree_and_uninstall(tmp_path: Path) -> None:
    data = tmp_path / "share"
    out = run_install(LINUX / "install-desktop.sh", data)
    assert out.returncode == 0, out.stderr
    files = installed_files(data)
    assert {f"applications/{DESKTOP_FILE}", "metainfo/com.crystalme3dpro.manager.metainfo.xml",
            "icons/hicolor/scalable/apps/crystalme3dpro-manager.svg"} <= files
    for size in SIZES:
        icon = data / f"icons/hicolor/{size}x{size}/apps/crystalme3dpro-manager.png"
        assert icon.read_bytes() == (resources_dir() / "icons" / f"app-{size}.png").read_bytes()
    assert read_desktop(data / "applications" / DESKTOP_FILE)["Exec"] == "crystal-manager"
    out = run_install(LINUX / "install-desktop.sh", data, "--uninstall")
    assert out.returncode == 0, out.stderr
    # Only the desktop's own caches (refreshed by the script where the tools exist) may stay.
    assert installed_files(data) - {"applications/mimeinfo.cache", "icons/hicolor/icon-theme.cache"} == set()


def test_install_from_a_bundle_runs_its_executable(tmp_path: Path) -> None:
    bundle = tmp_path / "my apps" / "crystal-manager"  # a space in the path: Exec must quote it
    (bundle / "_internal" / "crystal_manager" / "resources").mkdir(parents=True)
    shutil.copytree(resources_dir() / "icons", bundle / "_internal" / "crystal_manager" / "resources" / "icons")
    (bundle / "desktop").mkdir()
    for name in (DESKTOP_FILE, "com.crystalme3dpro.manager.metainfo.xml"):
        shutil.copy(LINUX / name, bundle / "desktop")
    shutil.copy(LINUX / "install-desktop.sh", bundle)
    exe = bundle / "crystal-manager"
    exe.write_text("#!/bin/sh\n")
    exe.chmod(0o755)
    data = tmp_path / "share"
    out = run_install(bundle / "install-desktop.sh", data)
    assert out.returncode == 0, out.stderr
    assert read_desktop(data / "applications" / DESKTOP_FILE)["Exec"] == f'"{exe}"'
    assert run_install(bundle / "install-desktop.sh", data, "--bogus").returncode == 2


def test_the_windows_icon_holds_every_size_as_png() -> None:
    blob = (ROOT / "build" / "windows" / "crystal-manager.ico").read_bytes()
    reserved, kind, count = struct.unpack_from("<HHH", blob)
    assert (reserved, kind, count) == (0, 1, 7)
    seen = []
    for i in range(count):
        width, height, _c, _r, _planes, _bpp, size, offset = struct.unpack_from("<BBBBHHII", blob, 6 + 16 * i)
        png = blob[offset:offset + size]
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
        w, h = struct.unpack(">II", png[16:24])  # IHDR
        assert (w, h) == ((width or 256), (height or 256))
        seen.append(w)
    assert seen == [16, 24, 32, 48, 64, 128, 256]
    # The committed file is what build/make_ico.py makes from today's icons.
    sys.path.insert(0, str(ROOT / "build"))
    try:
        from make_ico import SIZES as ICO_SIZES
        from make_ico import ico_bytes
    finally:
        sys.path.remove(str(ROOT / "build"))
    icons = resources_dir() / "icons"
    assert ico_bytes({s: (icons / f"app-{s}.png").read_bytes() for s in ICO_SIZES}) == blob


def test_the_windows_version_resource_carries_this_version() -> None:
    sys.path.insert(0, str(ROOT / "build" / "windows"))
    try:
        from version_info import version_info_text
    finally:
        sys.path.remove(str(ROOT / "build" / "windows"))
    text = version_info_text(__version__)
    ast.parse(text, mode="eval")  # PyInstaller evaluates it as one expression on Windows
    quad = ", ".join([*__version__.split("."), "0"])
    assert f"filevers=({quad})" in text and f"prodvers=({quad})" in text
    assert f"StringStruct('FileVersion', '{__version__}')" in text
    assert "StringStruct('OriginalFilename', 'crystal-manager.exe')" in text
    assert version_info_text("2.10.3-rc.1").count("(2, 10, 3, 0)") == 2


def test_the_macos_plist_is_a_tray_only_app() -> None:
    plist = plistlib.loads((ROOT / "build" / "macos" / "Info.plist").read_bytes())
    assert plist["LSUIElement"] is True  # no Dock icon: the menu bar icon is the app
    assert plist["CFBundleIdentifier"] == "com.crystalme3dpro.manager"
    assert plist["CFBundleShortVersionString"] == plist["CFBundleVersion"] == __version__


def test_the_freedesktop_validators_accept_the_recipes() -> None:
    """desktop-file-validate and appstreamcli (both installed by ./dev): not even a hint."""
    for tool in ("desktop-file-validate", "appstreamcli"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed (./dev setup installs it)")
    desktop = subprocess.run(["desktop-file-validate", str(LINUX / DESKTOP_FILE)], capture_output=True,
                             text=True, timeout=60, check=False)
    assert (desktop.returncode, desktop.stdout + desktop.stderr) == (0, "")
    metainfo = subprocess.run(["appstreamcli", "validate", "--no-net", "--pedantic",
                               str(LINUX / "com.crystalme3dpro.manager.metainfo.xml")],
                              capture_output=True, text=True, timeout=60, check=False)
    assert metainfo.returncode == 0, metainfo.stdout + metainfo.stderr


def test_install_from_a_self_updated_version_runs_the_launcher(tmp_path: Path) -> None:
    """A version the Manager installed by updating itself: the entry runs ROOT/crystal-manager, the launcher
    that starts whichever version is current, so the next self-update needs no new entry."""
    from crystal_manager.updates.self_update import write_launcher

    root = tmp_path / "manager"
    bundle = root / "versions" / "1.0.1"
    (bundle / "_internal" / "crystal_manager" / "resources").mkdir(parents=True)
    shutil.copytree(resources_dir() / "icons", bundle / "_internal" / "crystal_manager" / "resources" / "icons")
    (bundle / "desktop").mkdir()
    for name in (DESKTOP_FILE, "com.crystalme3dpro.manager.metainfo.xml"):
        shutil.copy(LINUX / name, bundle / "desktop")
    shutil.copy(LINUX / "install-desktop.sh", bundle)
    exe = bundle / "crystal-manager"
    exe.write_text("#!/bin/sh\necho crystal-manager 1.0.1\n")
    exe.chmod(0o755)
    data = tmp_path / "share"
    launcher = write_launcher(root)
    assert launcher is not None
    out = run_install(bundle / "install-desktop.sh", data)
    assert out.returncode == 0, out.stderr
    assert read_desktop(data / "applications" / DESKTOP_FILE)["Exec"] == str(launcher)
    (root / "current").symlink_to("versions/1.0.1")
    ran = subprocess.run([str(launcher)], capture_output=True, text=True, check=True)
    assert ran.stdout.strip() == "crystal-manager 1.0.1"


def test_autostart_runs_the_launcher_of_a_self_updated_version(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from crystal_manager.desktop.autostart import launch_argv
    from crystal_manager.updates.self_update import write_launcher

    root = tmp_path / "manager"
    exe = root / "versions" / "1.0.1" / "crystal-manager"
    exe.parent.mkdir(parents=True)
    exe.write_text("#!/bin/sh\n")
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", str(exe))
    assert launch_argv() == (str(exe),)  # no launcher yet: the version itself
    write_launcher(root)
    assert launch_argv() == (str(root / "crystal-manager"),)
