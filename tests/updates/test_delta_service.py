"""Delta updates end to end through the update service against the real reference server: a signed patch
from the installed version is downloaded instead of the full archive, and every failure of the patch path
falls back to the full archive with a one-line reason — each ends at the right version with every product
file as signed. Also ``update check --json`` and ``update status --json`` through the real CLI process."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from crystal_manager.services.status import LicenseStatus
from crystal_manager.services.update_service import UpdateService
from crystal_server.release_cli import open_repo
from crystal_server.releases import list_releases
from tests.support import cli_run
from tests.support.delta_bundles import data_files, publish_release
from tests.support.licensing import context_at
from tests.support.run_once import once_per_run
from tests.support.server_template import copy_server_dir
from tests.support.servers import ReferenceServer, run_reference_server

ACTIVE = LicenseStatus(state="active")
REPO = Path(__file__).resolve().parents[2]  # where ``python -m tests.support...`` finds the module


class Home:
    """One computer: its own folders, its update service."""

    def __init__(self, root: Path, server: ReferenceServer) -> None:
        self.root = root
        self.server = server
        self.ctx = context_at(root, server.profile_file, server.url)
        self.svc = UpdateService(self.ctx, license_status=lambda: ACTIVE)

    @property
    def downloads(self) -> Path:
        return self.ctx.paths.data_dir / "updates" / "downloads"

    def fetched(self) -> list[str]:
        """Names of the release files requested so far (patches end in -patch)."""
        return [str(e["path"]).rsplit("/", 1)[-1] for e in self.ctx.ledger.entries() if e["kind"] == "update_target"]

    def install(self, version: str) -> None:
        offer = self.svc.check().offer
        assert offer is not None and offer.version == version, offer
        self.svc.download()
        assert self.svc.install().version == version
        assert_product_files(self, version)


def assert_product_files(home: Home, version: str) -> None:
    """The installed version's files are exactly the signed release's."""
    folder = home.ctx.paths.install_root / "versions" / version
    for name, data in data_files(version).items():
        assert (folder / name).read_bytes() == data, name
    assert home.svc.status().installed_version == version


@pytest.fixture
def homes(tmp_path: Path, reference_server: ReferenceServer) -> Iterator[list[Home]]:
    made: list[Home] = []
    yield made
    for home in made:
        home.ctx.close()


def new_home(homes: list[Home], tmp_path: Path, server: ReferenceServer, name: str) -> Home:
    home = Home(tmp_path / name, server)
    homes.append(home)
    return home


def test_a_patch_from_each_of_the_last_three_releases(homes: list[Home], tmp_path: Path,
                                                      reference_server: ReferenceServer) -> None:
    on: dict[str, Home] = {}
    for version in ("1.0.0", "1.1.0", "1.2.0"):
        publish_release(reference_server, version)
        on[version] = new_home(homes, tmp_path, reference_server, f"on-{version}")
        on[version].install(version)  # the full archive: nothing installed yet to patch
    publish_release(reference_server, "1.3.0")
    newest = {r.info.version: r for r in list_releases(open_repo(reference_server.data_dir))}["1.3.0"]
    patches = {p.info.from_version: p for p in newest.patches}
    for version, home in on.items():
        offer = home.svc.check().offer
        assert offer is not None and offer.version == "1.3.0"
        assert (offer.delta_from, offer.download_size) == (version, patches[version].length)
        assert offer.download_size is not None and offer.download_size < offer.size / 10
        before = len(home.fetched())
        pending = home.svc.download()
        assert pending.complete and home.fetched()[before:] == [f"{patches[version].sha256}.{patches[version].target}"]
        assert home.svc.status().pending.complete and home.svc.status().delta_note is None  # type: ignore[union-attr]
        result = home.svc.install()
        assert (result.version, result.previous_version) == ("1.3.0", version)
        assert_product_files(home, "1.3.0")
        # What is kept is the patched tar of 1.3.0: the base of the next patch.
        assert [p.name.endswith("-1.3.0-" + newest.info.platform + ".tar") for p in home.downloads.iterdir()] == [True]
    publish_release(reference_server, "1.4.0")  # from a patched install, the next patch applies too
    home = on["1.2.0"]
    offer = home.svc.check().offer
    assert offer is not None and offer.delta_from == "1.3.0"
    home.svc.download()
    assert home.svc.install().version == "1.4.0" and home.fetched()[-1].endswith("-patch")
    assert_product_files(home, "1.4.0")


@pytest.fixture(scope="session")  # not module: the file's tests may spread over the xdist workers
def at_110(tmp_path_factory: pytest.TempPathFactory, server_template: Path) -> Path:
    """A folder with a server folder (1.0.0 and 1.1.0 published, then 1.2.0 with its patches) and a computer
    ``home`` that installed 1.1.0 through the update service: made once per run (tests/support/run_once.py),
    copied by ``on_110``."""
    return once_per_run(tmp_path_factory, "delta-at-110", lambda folder: _make_110(folder, server_template))


def _make_110(folder: Path, server_template: Path) -> None:
    with run_reference_server(copy_server_dir(server_template, folder / "server")) as server:
        publish_release(server, "1.0.0")
        publish_release(server, "1.1.0")
        home = Home(folder / "home", server)
        try:
            home.install("1.1.0")
        finally:
            home.ctx.close()
        publish_release(server, "1.2.0")


@pytest.fixture
def on_110(tmp_path: Path, at_110: Path) -> Iterator[Home]:
    """A computer with 1.1.0 installed through the update service, and 1.2.0 published with its patch: this
    test's own copy of ``at_110`` (server folder, archives, computer), served by its own server process."""
    shutil.copytree(at_110, tmp_path, symlinks=True, dirs_exist_ok=True)
    with run_reference_server(tmp_path / "server") as server:
        home = Home(tmp_path / "home", server)
        try:
            yield home
        finally:
            home.ctx.close()


def _patch_file(server: ReferenceServer) -> Path:
    newest = {r.info.version: r for r in list_releases(open_repo(server.data_dir))}["1.2.0"]
    patch = next(p for p in newest.patches if p.info.from_version == "1.1.0")
    return open_repo(server.data_dir).targets_dir / f"{patch.sha256}.{patch.target}"


def _ends_full(home: Home, because: str) -> None:
    """The download took the full archive, said why, and 1.2.0 installs with every file as signed."""
    before = len(home.fetched())
    home.svc.download()
    assert home.fetched()[-1].endswith(".tar.gz"), home.fetched()[before:]
    note = home.svc.status().delta_note
    assert note is not None and note.startswith("Took the full download because ") and because in note, note
    assert "\n" not in note
    home.svc.install()
    assert_product_files(home, "1.2.0")


def _flip(path: Path, at: int) -> None:
    data = bytearray(path.read_bytes())
    data[at] ^= 0x01
    os.chmod(path, 0o644)
    path.write_bytes(bytes(data))


def test_base_missing(on_110: Home) -> None:
    for kept in on_110.downloads.iterdir():
        kept.unlink()
    offer = on_110.svc.check().offer
    assert offer is not None and offer.delta_from is None and offer.download_size == offer.size
    # 1.1.0 is installed: the words name what is missing, the kept 1.1.0 download (issue 10, finding 9)
    assert offer.full_reason == "the patch applies to the 1.1.0 download, which is not kept on this computer"
    _ends_full(on_110, "the patch applies to the 1.1.0 download, which is not kept")


def test_base_modified(on_110: Home) -> None:
    (kept,) = on_110.downloads.iterdir()
    _flip(kept, kept.stat().st_size // 2)
    _ends_full(on_110, "the kept copy of 1.1.0 changed on disk")


def test_a_file_changed_in_the_installed_version_does_not_reach_the_new_one(on_110: Home) -> None:
    # The base is the verified archive kept by the service, not the installed folder: a file the user
    # changed there is not copied into 1.2.0, which comes whole from the signed, verified result.
    changed = on_110.ctx.paths.install_root / "versions" / "1.1.0" / "data" / "core.bin"
    changed.write_bytes(b"changed by the user")
    on_110.svc.download()
    assert on_110.fetched()[-1].endswith("-patch")
    on_110.svc.install()
    assert_product_files(on_110, "1.2.0")


def test_patch_tampered_by_one_byte(on_110: Home) -> None:
    patch = _patch_file(on_110.server)
    _flip(patch, patch.stat().st_size - 10)
    _ends_full(on_110, "the patch from 1.1.0 did not match its signature")
    assert not [p for p in on_110.downloads.iterdir() if "-patch" in p.name]  # nothing bad stays cached


def test_patch_truncated(on_110: Home) -> None:
    patch = _patch_file(on_110.server)
    os.truncate(patch, patch.stat().st_size - 100)
    _ends_full(on_110, "the patch from 1.1.0 did not match its signature")


def test_patch_for_another_base(on_110: Home) -> None:
    # The repository signs a patch that was made for another base (a publisher's mistake): it hashes as
    # signed, its base check passes, and its result does not: refused before anything is extracted.
    from crystal_server.deltas import build_patch, decompress_to

    repo = open_repo(on_110.server.data_dir)
    newest = {r.info.version: r for r in list_releases(repo)}["1.2.0"]
    patch = next(p for p in newest.patches if p.info.from_version == "1.1.0")
    work = on_110.server.data_dir.parent / "other-base"
    work.mkdir()
    decompress_to(repo.targets_dir / newest.file_name, work / "new.tar")
    build_patch(work / "new.tar", work / "new.tar", work / "patch")  # "from" a base that already is 1.2.0
    data = (work / "patch").read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    (repo.targets_dir / f"{sha}.{patch.target}").write_bytes(data)
    with repo.locked():
        targets = repo.load_targets()
        signed = targets.signed.targets[patch.target]
        signed.length, signed.hashes = len(data), {"sha256": sha}
        repo.commit(targets)
    _ends_full(on_110, "does not match its signed hash")


def test_killed_while_patching_resumes_the_patch(on_110: Home) -> None:
    proc = cli_run.run_module("tests.support.patch_kill_child", [str(on_110.root), str(on_110.server.profile_file),
                                                                 on_110.server.url, "1"], env=None, timeout=60,
                              cwd=REPO)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    partial = [p.name for p in on_110.downloads.iterdir()]
    assert any(n.endswith(".tar.partial") for n in partial) and any(n.endswith("-patch") for n in partial)
    assert on_110.svc.status().pending is not None and not on_110.svc.status().pending.complete  # type: ignore[union-attr]
    before = len(on_110.fetched())
    on_110.svc.download()
    assert on_110.fetched()[before:] == []  # the verified patch was kept: applied again, nothing fetched
    assert on_110.svc.status().delta_note is None
    on_110.svc.install()
    assert_product_files(on_110, "1.2.0")
    assert not [p for p in on_110.downloads.iterdir() if p.name.endswith((".partial", ".tmp", "-patch"))]


def test_cli_check_json_says_delta_and_download_size(tmp_path: Path, reference_server: ReferenceServer) -> None:
    from tests.support.licensing import issue

    env = {**os.environ, "CRYSTAL_MANAGER_HOME": str(tmp_path / "cli"),
           "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}
    env.pop("CRYSTAL_MANAGER_PROFILE", None)
    env.pop("CRYSTAL_MANAGER_SERVER", None)

    def cli(*args: str) -> dict[str, object]:
        proc = cli_run.run_cli(["--profile", str(reference_server.profile_file), "--server", reference_server.url,
                                *args], env=env, timeout=90)
        assert proc.returncode == 0, proc.stderr
        value: dict[str, object] = json.loads(proc.stdout) if "--json" in args else {"text": proc.stdout}
        return value

    cli("activate", issue(reference_server.data_dir, max_version="9.9").key)
    publish_release(reference_server, "1.1.0")
    first = cli("update", "check", "--json")
    assert (first["delta"], first["download_size"], first["delta_from"]) == (False, first["size"], None)
    cli("update", "download", "--json")
    cli("update", "install")
    publish_release(reference_server, "1.2.0")
    patch = {r.info.version: r for r in list_releases(open_repo(reference_server.data_dir))}["1.2.0"].patches[0]
    found = cli("update", "check", "--json")
    assert (found["version"], found["delta"], found["delta_from"]) == ("1.2.0", True, "1.1.0")
    assert found["download_size"] == patch.length and isinstance(found["size"], int) and found["size"] > patch.length
    text = str(cli("update", "check")["text"])
    assert "(a patch from 1.1.0; the full download is " in text
    for kept in (tmp_path / "cli" / "data" / "updates" / "downloads").iterdir():
        kept.unlink()  # the base is gone: the full archive it is
    found = cli("update", "check", "--json")
    assert (found["delta"], found["download_size"]) == (False, found["size"])
    cli("update", "download", "--json")
    status = cli("update", "status", "--json")
    assert str(status["delta_note"]).startswith(
        "Took the full download because the patch applies to the 1.1.0 download")
