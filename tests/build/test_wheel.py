"""A plain install works: build the wheel from a copy of the source, install it into a fresh venv outside the
source tree with exactly the dependencies it declares, and run what a user runs (issue 13, deliver 1).

The wheel is built in isolation as a PEP 517 frontend builds it: a fresh venv holding only what pyproject.toml's
[build-system] requires (pip installs it from the index), and the declared backend's hooks called there
(decision 0026: one process for the hooks instead of pip's three).

pip installs the wheel itself; its dependencies are the dev venv's installed distributions in the closure of the
wheel's Requires-Dist, linked file by file from their RECORDs (as uv's link mode does), then ``pip check``
proves they satisfy it (decision 0025: what this proves and what ``./dev setup`` proves instead)."""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from email.parser import BytesParser
from importlib.metadata import Distribution, PackageNotFoundError, distribution
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

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


# The PEP 517 hooks a frontend calls to build a wheel, in the order pip calls them, in one process of the build
# venv's interpreter. argv: the backend, the output folder, a scratch folder, a result file, which gets
# {"requires": what get_requires_for_build_wheel asked for, "wheel": the wheel's file name, or null if it asked}.
_HOOKS = """
import importlib, json, sys
spec, wheels, scratch, result = sys.argv[1:5]  # before the backend's hooks: setuptools rewrites sys.argv
name, _, attr = spec.partition(":")
backend = importlib.import_module(name)
for part in filter(None, attr.split(".")):
    backend = getattr(backend, part)
wanted = backend.get_requires_for_build_wheel(None) if hasattr(backend, "get_requires_for_build_wheel") else []
wheel = None
if not wanted:
    meta = None
    if hasattr(backend, "prepare_metadata_for_build_wheel"):
        meta = scratch + "/" + backend.prepare_metadata_for_build_wheel(scratch, None)
    wheel = backend.build_wheel(wheels, None, meta)
with open(result, "w") as f:
    json.dump({"requires": wanted, "wheel": wheel}, f)
"""


def _build_wheel(src: Path, wheels: Path, top: Path) -> Path:
    """Build ``src``'s wheel into ``wheels`` with build isolation: a fresh venv with only the [build-system]
    requirements (installed by pip from the index), then the backend's hooks in it, in the source folder."""
    system = tomllib.loads((src / "pyproject.toml").read_text())["build-system"]
    assert "backend-path" not in system, "an in-tree backend: put its path on the hooks' sys.path"
    env_dir = top / "build-env"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env_dir)], check=True, timeout=120)
    python = env_dir / "bin" / "python"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    requires = list(system["requires"])
    for attempt in range(2):  # get_requires_for_build_wheel may ask for more (setuptools ≥ 70.1 asks for none)
        _pip(sys.executable, "--python", str(python), "install", "--no-compile", *requires)  # as pip's own build env
        scratch, result = top / f"hooks-{attempt}", top / f"hooks-{attempt}.json"
        scratch.mkdir()
        out = subprocess.run([str(python), "-c", _HOOKS, system["build-backend"], str(wheels), str(scratch),
                              str(result)], cwd=src, env=env, capture_output=True, text=True, timeout=480,
                             check=False)
        assert out.returncode == 0, out.stderr[-3000:]
        answer = json.loads(result.read_text())
        built: str | None = answer["wheel"]
        if built:
            return wheels / built
        requires = [str(r) for r in answer["requires"]]
    pytest.fail(f"the build backend keeps asking for more to build with: {requires}")


def _requires(wheel: Path) -> list[Requirement]:
    """The Requires-Dist of a wheel's METADATA."""
    with zipfile.ZipFile(wheel) as archive:
        metadata = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        message = BytesParser().parsebytes(archive.read(metadata))
    return [Requirement(line) for line in message.get_all("Requires-Dist") or []]


def _pins() -> dict[NormalizedName, str]:
    """constraints.txt's ``name==version`` lines."""
    lines = (line.split("#")[0].strip() for line in (ROOT / "constraints.txt").read_text().splitlines())
    return {canonicalize_name(name): version for name, _, version in (line.partition("==") for line in lines if line)}


def _closure(requires: list[Requirement]) -> dict[NormalizedName, Distribution]:
    """The dev venv's distributions that ``requires`` pulls in, following each one's own requirements (with the
    extras asked for) where their markers hold here; each at the version constraints.txt pins."""
    pins = _pins()
    found: dict[NormalizedName, Distribution] = {}
    followed: set[tuple[NormalizedName, str]] = set()
    todo = [(req, "") for req in requires]
    while todo:
        req, extra = todo.pop()
        if req.marker is not None and not req.marker.evaluate({"extra": extra}):
            continue
        name = canonicalize_name(req.name)
        if name not in found:
            try:
                found[name] = distribution(name)
            except PackageNotFoundError:
                pytest.fail(f"{req.name} is not installed in the dev venv: run ./dev setup")
        version = found[name].version
        assert req.specifier.contains(version, prereleases=True), f"{name} {version} does not meet {req}"
        assert name not in pins or Version(pins[name]) == Version(version), \
            f"{name} {version}: constraints.txt pins {pins[name]}"
        for wanted in ("", *sorted(req.extras)):
            if (name, wanted) not in followed:
                followed.add((name, wanted))
                todo += [(Requirement(line), wanted) for line in found[name].requires or []]
    return found


def _link_into(site: Path, dists: dict[NormalizedName, Distribution]) -> None:
    """Every file each distribution's RECORD lists under its site-packages (code, data, its .dist-info), hard-
    linked into ``site`` (symlinked across file systems). Its scripts in bin/ stay out: they name the dev venv's
    interpreter, and the app never runs them."""
    for name, dist in dists.items():
        assert dist.files is not None, f"{name} has no RECORD"
        source_site = Path(os.path.normpath(str(dist.locate_file(""))))
        for file in dist.files:
            source = Path(os.path.normpath(str(dist.locate_file(file))))  # RECORD names scripts as ../../../bin/…
            if not source.is_relative_to(source_site):
                assert source.parent.name == "bin", f"{name}: {file} is outside site-packages"
                continue
            target = site / source.relative_to(source_site)
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(source, target)
            except OSError as error:
                if error.errno != errno.EXDEV:
                    raise
                target.symlink_to(source)


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
    (top / "wheels").mkdir()
    wheel = _build_wheel(src, top / "wheels", top)
    assert wheel.is_file() and wheel.name.startswith("crystal_manager-"), wheel
    venv = top / "venv"
    # No pip of its own (seeding one takes ~6 s): this pip installs into it (--python), as into any venv.
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    site = next((venv / "lib").glob("python3*/site-packages"))
    python = str(venv / "bin" / "python")
    # The wheel's dependency closure, at the versions constraints.txt pins (what CI tests), linked in: pip would
    # unpack the same ~300 MB from its cache (6 s of CPU); a dependency the wheel forgets is still missing.
    _link_into(site, _closure(_requires(wheel)))
    _pip(sys.executable, "--python", python, "install", "--no-deps", str(wheel))
    _pip(sys.executable, "--python", python, "check")  # every installed requirement is met, the wheel's too
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
