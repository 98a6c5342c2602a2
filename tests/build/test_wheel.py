"""A plain install works: build the wheel from a copy of the source, install it with its dependencies into a
fresh venv outside the source tree, and run what a user runs (issue 13, deliver 1)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from crystal_manager import __version__
from tests.build.smoke import (
    COPY_IGNORE,
    ROOT,
    check_gui_starts_and_quits,
    check_no_display,
    check_privacy_catalog,
    check_status,
    check_version,
    user_env,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


@dataclass
class Installed:
    wheel: Path
    venv: Path
    site: Path  # the venv's site-packages
    outside: Path  # a working folder outside the source tree

    @property
    def exe(self) -> Path:
        return self.venv / "bin" / "crystal-manager"


def _pip(python: Path | str, *args: str) -> None:
    out = subprocess.run([str(python), "-m", "pip", "--disable-pip-version-check", "-q", *args],
                         capture_output=True, text=True, timeout=480, check=False)
    assert out.returncode == 0, out.stderr[-3000:]


@pytest.fixture(scope="module")
def installed() -> Iterator[Installed]:
    # Outside pytest's temporary folder and removed afterwards: the venv's ~330 MB would otherwise be read by
    # the secret-leak scan that runs last (tests/test_zz_no_secret_leaks.py), and kept for three runs.
    with tempfile.TemporaryDirectory(prefix="crystal-wheel-") as tmp:
        yield from _install(Path(tmp))


def _install(top: Path) -> Iterator[Installed]:
    # A copy, so the build's scratch folders (build/lib, *.egg-info) never land in the checkout.
    src = top / "src"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(*COPY_IGNORE))
    shutil.rmtree(src / "build", ignore_errors=True)  # packaging recipes, not package content
    _pip(sys.executable, "wheel", "--no-deps", "-w", str(top / "wheels"), str(src))
    wheel = next((top / "wheels").glob("crystal_manager-*.whl"))
    venv = top / "venv"
    # No pip of its own (seeding one takes ~6 s): this pip installs into it (--python), as into any venv.
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    # The wheel's own dependency list (constrained to the versions CI tests), from the index or pip's cache.
    _pip(sys.executable, "--python", str(venv / "bin" / "python"), "install", "-c", str(ROOT / "constraints.txt"),
         str(wheel))
    site = next((venv / "lib").glob("python3*/site-packages"))
    outside = top / "cwd"
    outside.mkdir()
    yield Installed(wheel, venv, site, outside)


def test_the_wheel_carries_the_resources_and_no_tests(installed: Installed) -> None:
    names = set(zipfile.ZipFile(installed.wheel).namelist())
    for needed in ("crystal_manager/resources/trust/production.json", "crystal_manager/resources/icons/app.svg",
                   "crystal_manager/resources/icons/light/active-22.png", "crystal_manager/py.typed"):
        assert needed in names
    assert not any(n.startswith(("tests/", "resources/", "bench/", "build/")) for n in names)
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    text = zipfile.ZipFile(installed.wheel).read(entry_points).decode()
    assert "crystal-manager = crystal_manager.__main__:main" in text  # the GUI's fast path with no arguments


def test_installed_resources_are_found_in_the_package(installed: Installed, tmp_path: Path) -> None:
    code = ("import importlib.resources as r, crystal_manager.resources as m; "
            "print(m.resources_dir()); print(r.files('crystal_manager.resources'))")
    out = subprocess.run([str(installed.venv / "bin" / "python"), "-c", code], env=user_env(tmp_path),
                         cwd=installed.outside, capture_output=True, text=True, check=True, timeout=60)
    found, by_importlib = out.stdout.splitlines()
    assert found == by_importlib
    assert Path(found) == installed.site / "crystal_manager" / "resources"
    assert (Path(found) / "icons" / "dark" / "error-32.png").is_file()


def test_version(installed: Installed, tmp_path: Path) -> None:
    check_version(installed.exe, user_env(tmp_path), installed.outside, __version__)


def test_status_json_reads_the_installed_production_profile(installed: Installed, tmp_path: Path) -> None:
    check_status(installed.exe, user_env(tmp_path), installed.outside, installed.site)


def test_privacy_catalog_json(installed: Installed, tmp_path: Path) -> None:
    check_privacy_catalog(installed.exe, user_env(tmp_path), installed.outside)


def test_gui_starts_offscreen_and_quits(installed: Installed, tmp_path: Path) -> None:
    check_gui_starts_and_quits(installed.exe, tmp_path, installed.outside)
    assert any((tmp_path / "logs").rglob("*")) or any(tmp_path.rglob("*.log")), "the GUI wrote no log"


def test_no_display_one_line(installed: Installed, tmp_path: Path) -> None:
    check_no_display(installed.exe, tmp_path, installed.outside)
