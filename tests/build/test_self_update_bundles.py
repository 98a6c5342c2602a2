"""The Manager updates itself, with real bundles (issue 13 part 6): build two bundles whose only difference
is their version with build/package.sh, publish the newer one's release archive to the reference server as
product crystal-manager, put the older one in the Manager's own install root, start its GUI (offscreen),
and let it update itself: the newer version is installed beside it, started with ``--replace``, takes over
the single-instance name, and the launcher then runs it.

Minutes of building: skipped unless ``CRYSTAL_RUN_SLOW=1`` (README, "Tests")."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from crystal_manager.gui import ipc
from crystal_manager.storage.paths import resolve_paths
from crystal_manager.updates.install import install_archive
from crystal_manager.updates.layout import InstallRoot
from crystal_protocol.releases import current_platform
from tests.build.smoke import COPY_IGNORE, ROOT, run, user_env
from tests.support.servers import ReferenceServer

pytestmark = [
    pytest.mark.very_slow, pytest.mark.timeout(1800),
    pytest.mark.skipif(os.environ.get("CRYSTAL_RUN_SLOW") != "1",
                       reason="builds two bundles (minutes): set CRYSTAL_RUN_SLOW=1 to run it"),
]
OLD, NEW = "1.0.0", "1.0.1"


def _build(top: Path, version: str) -> Path:
    """A copy of the source tree stamped with ``version``, built with its own build/package.sh; returns the
    release archive."""
    source = top / f"src-{version}"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(*COPY_IGNORE))
    init = source / "crystal_manager" / "__init__.py"
    init.write_text(re.sub(r'__version__ = "[^"]+"', f'__version__ = "{version}"', init.read_text()))
    env = {**os.environ, "PYTHON": sys.executable, "DIST": str(top / f"dist-{version}"),
           "WORK": str(top / f"work-{version}"), "ARCHIVE_GZIP_LEVEL": "1"}  # same archive, a third of the CPU
    out = subprocess.run(["bash", "build/package.sh"], cwd=source, env=env, capture_output=True, text=True,
                         timeout=1500, check=False)
    assert out.returncode == 0, out.stderr[-4000:]
    archive = top / f"dist-{version}" / f"crystal-manager-{version}-{current_platform()}.tar.gz"
    assert archive.is_file(), out.stdout
    return archive


@pytest.fixture(scope="module")
def archives() -> Iterator[tuple[Path, Path]]:
    # Outside pytest's temporary folder (the leak scan reads that), removed afterwards.
    with tempfile.TemporaryDirectory(prefix="crystal-self-update-") as tmp:
        yield _build(Path(tmp), OLD), _build(Path(tmp), NEW)


def test_a_real_bundle_updates_itself_and_hands_over(archives: tuple[Path, Path], tmp_path: Path,
                                                     reference_server: ReferenceServer) -> None:
    old_archive, new_archive = archives
    published = reference_server.admin("release", "publish", str(reference_server.data_dir), str(new_archive),
                                       "--product", "crystal-manager", "--version", NEW, "--patches", "0")
    assert published.returncode == 0, published.stderr
    home = tmp_path / "home"
    env = user_env(home)
    paths = resolve_paths(env)
    root = paths.data_dir / "manager"
    install_archive(root, old_archive, expect=None, product="crystal-manager")
    old = root / "versions" / OLD / "crystal-manager"
    where = ["--profile", str(reference_server.profile_file), "--server", reference_server.url]
    name = ipc.server_name(paths)
    gui = subprocess.Popen([str(old), *where], env=env, cwd=tmp_path, stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not ipc.is_listening(name):  # another process: poll its socket
            assert gui.poll() is None, gui.communicate()[1]
            assert time.monotonic() < deadline, "the old GUI never listened"
            time.sleep(0.1)
        check = run(old, *where, "update", "self", "--check", "--json", env=env, cwd=tmp_path)
        assert check.returncode == 0, check.stderr
        assert json.loads(check.stdout)["version"] == NEW
        updated = run(old, *where, "update", "self", "--json", env=env, cwd=tmp_path, timeout=180)
        assert updated.returncode == 0, updated.stderr
        done = json.loads(updated.stdout)
        assert (done["updated"], done["version"], done["from_version"], done["started"]) == (True, NEW, OLD, True)
        # The old GUI quit cleanly when the new one asked; the new one holds the name.
        assert gui.wait(timeout=60) == 0
        assert ipc.is_listening(name)
        assert InstallRoot(root).read_pointer().current == NEW
        launched = run(root / "crystal-manager", "--version", env=env, cwd=tmp_path)
        assert launched.stdout.strip() == f"crystal-manager {NEW}"
    finally:
        ipc.ask_to_quit(name, wait_s=20)
        if gui.poll() is None:
            gui.kill()
            gui.communicate()
