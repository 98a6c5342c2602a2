"""The Manager updating itself (issue 13 part 6), on frozen-like bundles published as product
``crystal-manager`` to the real reference server: the swap side by side, the ``--replace`` hand-over over
the real single-instance socket, the rollback when the new version fails ``--version`` or its start, and
the attacks (the wrong product either way, a downgrade)."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from crystal_manager.gui import ipc
from crystal_manager.services.context import AppContext
from crystal_manager.services.manager_update import manager_update_service, update_self
from crystal_manager.services.status import LicenseStatus
from crystal_manager.services.update_service import UpdateService
from crystal_manager.storage.paths import resolve_paths
from crystal_manager.updates.errors import ArchiveRejected, HealthCheckFailed, NoUpdateOffered
from crystal_manager.updates.install import install_archive
from crystal_manager.updates.layout import InstallRoot
from crystal_manager.updates.self_update import manager_root
from crystal_manager.updates.self_verify import record_verified
from tests.support.cli_run import run_cli, run_module
from tests.support.manager_bundles import bundle_archive, publish_bundle, unpack
from tests.support.product_archives import build_release, release_info, tree_snapshot
from tests.support.servers import ReferenceServer
from tests.support.update_repo import publish

REPO = Path(__file__).resolve().parents[2]  # where ``python -m tests.support...`` finds the module


def _wait_for(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    """Poll another process's visible effect (a file, a socket) until it shows."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def _log(home: Path) -> list[str]:
    path = home / "instances.log"
    return path.read_text().splitlines() if path.exists() else []


@pytest.fixture
def instance_name(app_home: Path) -> Iterator[str]:
    """The single-instance name of this test's home; whoever holds it at the end is asked to quit."""
    name = ipc.server_name(resolve_paths())
    yield name
    ipc.ask_to_quit(name, wait_s=10)


def _start_old(program: Path, home: Path, name: str) -> subprocess.Popen[bytes]:
    process = subprocess.Popen([str(program)], env=dict(os.environ), stdin=subprocess.DEVNULL)
    _wait_for(lambda: ipc.is_listening(name) and f"{_version_of(program)} up" in _log(home))
    return process


def _version_of(program: Path) -> str:
    out = subprocess.run([str(program), "--version"], capture_output=True, text=True, check=False).stdout
    return out.split()[1]


def _first_install(root: Path, folder: Path, version: str) -> Path:
    """The running Manager already lives in its root (as after an earlier self-update)."""
    archive = bundle_archive(folder, version)
    install_archive(root, archive, expect=None, product="crystal-manager")
    record_verified(root, version)  # as update_self does after the install
    return root / "versions" / version / "crystal-manager"


def test_publish_takes_a_manager_bundle_and_the_check_offers_it(upd_ctx: AppContext,
                                                                reference_server: ReferenceServer) -> None:
    publish_bundle(reference_server, "1.1.0")
    service = manager_update_service(upd_ctx, running_version="1.0.0")
    result = service.check()
    assert result.offer is not None and result.offer.version == "1.1.0"
    # Without any license: the Manager's own fixes reach everyone who runs it.
    assert result.entitlement.allowed
    # CrystalMe3D Pro's service never sees the Manager's release.
    product = UpdateService(upd_ctx, license_status=lambda: LicenseStatus(state="active")).check()
    assert product.offer is None and product.reason == "no_releases"


def test_swap_and_replace_hand_over_from_a_bundle_unpacked_by_hand(
        upd_ctx: AppContext, reference_server: ReferenceServer, app_home: Path, tmp_path: Path,
        instance_name: str) -> None:
    old_program = unpack(bundle_archive(tmp_path / "first", "1.0.0"), tmp_path / "unpacked") / "crystal-manager"
    old = _start_old(old_program, app_home, instance_name)
    publish_bundle(reference_server, "1.1.0")
    service = manager_update_service(upd_ctx, running_version="1.0.0")

    done = update_self(service, start=True, restart_old=[str(old_program)], timeout=30)

    assert (done.version, done.from_version, done.started) == ("1.1.0", "1.0.0", True)
    root = manager_root(upd_ctx.paths)
    assert InstallRoot(root).read_pointer().current == "1.1.0"
    assert os.readlink(root / "current") == "versions/1.1.0"
    # The old instance quit when asked over the socket; the new one holds the name now.
    assert old.wait(timeout=20) == 0
    assert _log(app_home) == ["1.0.0 up", "1.0.0 quit", "1.1.0 up"]
    assert ipc.is_listening(instance_name)
    # The launcher runs whatever is current.
    assert done.launcher is not None
    launched = subprocess.run([done.launcher, "--version"], capture_output=True, text=True, check=True)
    assert launched.stdout.strip() == "crystal-manager 1.1.0"
    # Nothing newer: the running 1.1.0 counts as installed.
    assert manager_update_service(upd_ctx, running_version="1.1.0").check().offer is None


def test_a_version_that_fails_to_start_is_rolled_back_and_the_old_one_restarted(
        upd_ctx: AppContext, reference_server: ReferenceServer, app_home: Path, tmp_path: Path,
        instance_name: str) -> None:
    root = manager_root(upd_ctx.paths)
    old_program = _first_install(root, tmp_path / "first", "1.0.0")
    _start_old(old_program, app_home, instance_name)
    publish_bundle(reference_server, "1.1.0", "start_fails")
    service = manager_update_service(upd_ctx, running_version="1.0.0")

    with pytest.raises(HealthCheckFailed) as failed:
        update_self(service, start=True, restart_old=[str(old_program)], timeout=30)

    assert failed.value.version == "1.1.0" and failed.value.put_back == "1.0.0"
    assert "stays at version 1.0.0" in str(failed.value)
    assert InstallRoot(root).read_pointer().current == "1.0.0"
    assert os.readlink(root / "current") == "versions/1.0.0"
    # 1.1.0 replaced the old one, then died: the old one is started again and holds the name.
    _wait_for(lambda: _log(app_home).count("1.0.0 up") == 2)
    assert _log(app_home) == ["1.0.0 up", "1.0.0 quit", "1.1.0 crashed", "1.0.0 up"]
    _wait_for(lambda: ipc.is_listening(instance_name))


def test_a_version_that_fails_its_version_check_is_never_started(
        upd_ctx: AppContext, reference_server: ReferenceServer, app_home: Path, tmp_path: Path,
        instance_name: str) -> None:
    root = manager_root(upd_ctx.paths)
    old_program = _first_install(root, tmp_path / "first", "1.0.0")
    old = _start_old(old_program, app_home, instance_name)
    publish_bundle(reference_server, "1.1.0", "bad_version")
    service = manager_update_service(upd_ctx, running_version="1.0.0")
    before = tree_snapshot(root / "versions" / "1.0.0")

    with pytest.raises(HealthCheckFailed):
        update_self(service, start=True, restart_old=[str(old_program)], timeout=30)

    assert InstallRoot(root).read_pointer().current == "1.0.0"
    assert tree_snapshot(root / "versions" / "1.0.0") == before
    assert old.poll() is None and _log(app_home) == ["1.0.0 up"]  # never asked to quit


def test_a_manager_archive_is_never_installed_as_the_product_and_the_reverse(tmp_path: Path) -> None:
    manager = bundle_archive(tmp_path / "a", "9.0.0")
    product_root, own_root = tmp_path / "product", tmp_path / "manager"
    with pytest.raises(ArchiveRejected, match="holds crystal-manager, not crystalme3d-pro"):
        install_archive(product_root, manager, expect=None)
    # Signed facts naming the Manager change nothing: the product root takes only the product.
    with pytest.raises(ArchiveRejected):
        install_archive(product_root, manager, expect=release_info("9.0.0", product="crystal-manager"))
    (tmp_path / "b").mkdir()
    product = build_release(tmp_path / "b", "9.0.0")
    with pytest.raises(ArchiveRejected, match="holds crystalme3d-pro, not crystal-manager"):
        install_archive(own_root, product, expect=None, product="crystal-manager")
    assert not (product_root / "versions").exists() and not (own_root / "versions").exists()


def test_the_manager_service_ignores_a_product_release_and_the_reverse(
        upd_ctx: AppContext, reference_server: ReferenceServer) -> None:
    publish(reference_server, "2.0.0")  # CrystalMe3D Pro 2.0.0 only
    service = manager_update_service(upd_ctx, running_version="1.0.0")
    assert service.check().offer is None
    with pytest.raises(NoUpdateOffered):
        update_self(service, start=False)
    assert not (manager_root(upd_ctx.paths) / "versions").exists()


def test_a_downgrade_is_refused(upd_ctx: AppContext, reference_server: ReferenceServer, tmp_path: Path) -> None:
    root = manager_root(upd_ctx.paths)
    _first_install(root, tmp_path / "first", "1.2.0")
    publish_bundle(reference_server, "1.1.0")
    before = tree_snapshot(root)
    # Running an older bundle from elsewhere: the root's newer 1.2.0 still counts, so 1.1.0 is not offered.
    for running in ("1.2.0", "1.0.0"):
        service = manager_update_service(upd_ctx, running_version=running)
        assert service.check().offer is None
        with pytest.raises(NoUpdateOffered):
            update_self(service, start=False)
    assert tree_snapshot(root) == before


def test_without_a_start_the_new_version_waits_for_the_next_start(
        upd_ctx: AppContext, reference_server: ReferenceServer, app_home: Path) -> None:
    publish_bundle(reference_server, "1.1.0")
    done = update_self(manager_update_service(upd_ctx, running_version="1.0.0"), start=False)
    assert (done.version, done.started) == ("1.1.0", False)
    assert InstallRoot(manager_root(upd_ctx.paths)).read_pointer().current == "1.1.0"
    assert _log(app_home) == []  # nothing was started


def test_download_when_already_downloaded_works_offline(upd_ctx: AppContext, reference_server: ReferenceServer,
                                                        app_home: Path) -> None:
    from tests.support.licensing import context

    publish(reference_server, "1.1.0")
    active = LicenseStatus(state="active")
    first = UpdateService(upd_ctx, license_status=lambda: active).download()
    assert first.complete and not first.already_downloaded
    offline = context(app_home, reference_server.profile_file, "http://127.0.0.1:9")
    try:
        again = UpdateService(offline, license_status=lambda: active).download()
    finally:
        offline.close()
    assert again.complete and again.already_downloaded and again.version == "1.1.0"


def test_download_offline_with_nothing_kept_still_fails(upd_ctx: AppContext, reference_server: ReferenceServer,
                                                        app_home: Path) -> None:
    from crystal_manager.net.errors import NetError
    from tests.support.licensing import context

    publish(reference_server, "1.1.0")
    offline = context(app_home, reference_server.profile_file, "http://127.0.0.1:9")
    try:
        with pytest.raises(NetError):
            UpdateService(offline, license_status=lambda: LicenseStatus(state="active")).download()
    finally:
        offline.close()


def test_cli_self_update_when_not_frozen_points_at_pip(app_home: Path) -> None:
    proc = run_cli(["update", "self", "--check"], env=dict(os.environ))
    assert proc.returncode == 2
    assert "installed with pip" in proc.stderr and "pip install --upgrade" in proc.stderr
    assert proc.stderr.count("\n") == 1


def _frozen_cli(server: ReferenceServer, *args: str) -> subprocess.CompletedProcess[str]:
    """The real CLI in a process of its own that runs as the bundle does (``sys.frozen`` set, as PyInstaller
    sets it; tests/support/frozen_cli.py); the running version is this tree's."""
    return run_module("tests.support.frozen_cli", ["--profile", str(server.profile_file), "--server", server.url,
                                                   *args], env=dict(os.environ), timeout=120, cwd=REPO)


def test_cli_in_the_bundle_checks_updates_and_says_when_there_is_nothing_newer(
        reference_server: ReferenceServer, app_home: Path) -> None:
    from crystal_manager import __version__
    from crystal_protocol.releases import Version

    v = Version.parse(__version__)
    newer = f"{v.major}.{v.minor + 1}.0"
    publish_bundle(reference_server, newer)
    check = _frozen_cli(reference_server, "update", "self", "--check", "--json")
    assert check.returncode == 0, check.stderr
    assert (json.loads(check.stdout)["available"], json.loads(check.stdout)["version"]) == (True, newer)
    text = _frozen_cli(reference_server, "update", "self", "--check")
    assert text.stdout.splitlines() == [f"CrystalMe3D Pro Manager {newer} is available (this one is {__version__}).",
                                        "Update with: crystal-manager update self"]
    done = _frozen_cli(reference_server, "update", "self", "--no-start", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) | {"launcher": None} == {"updated": True, "version": newer,
                                                            "from_version": __version__, "started": False,
                                                            "launcher": None}
    root = manager_root(resolve_paths())
    assert InstallRoot(root).read_pointer().current == newer
    again = _frozen_cli(reference_server, "update", "self")
    assert again.returncode == 2
    assert again.stderr.strip() == (f"crystal-manager: No update to do: CrystalMe3D Pro Manager {newer} is the newest "
                                    f"version. It is installed and starts next time (this one is {__version__}).")


def test_rollback_hands_over_to_the_kept_version(upd_ctx: AppContext, app_home: Path, tmp_path: Path,
                                                 instance_name: str) -> None:
    from crystal_manager.services.manager_update import roll_back_self
    from crystal_manager.updates.errors import NothingToRollBack

    root = manager_root(upd_ctx.paths)
    _first_install(root, tmp_path / "first", "1.0.0")
    newer = _first_install(root, tmp_path / "second", "1.1.0")
    running = _start_old(newer, app_home, instance_name)
    service = manager_update_service(upd_ctx, running_version="1.1.0")

    done = roll_back_self(service, start=True, restart_old=[str(newer)], timeout=30)

    assert (done.version, done.from_version, done.started) == ("1.0.0", "1.1.0", True)
    assert running.wait(timeout=20) == 0
    assert _log(app_home) == ["1.1.0 up", "1.1.0 quit", "1.0.0 up"]
    pointer = InstallRoot(root).read_pointer()
    assert (pointer.current, pointer.previous) == ("1.0.0", "1.1.0")
    with pytest.raises(NothingToRollBack):
        roll_back_self(manager_update_service(upd_ctx, running_version="1.0.0", root=tmp_path / "empty"),
                       start=False)


def test_a_yanked_manager_release_is_no_longer_offered(upd_ctx: AppContext,
                                                       reference_server: ReferenceServer) -> None:
    publish_bundle(reference_server, "1.1.0")
    listed = json.loads(reference_server.admin("release", "list", str(reference_server.data_dir), "--json").stdout)
    assert any("crystal-manager" in json.dumps(item) and "1.1.0" in json.dumps(item) for item in
               (listed if isinstance(listed, list) else listed.get("releases", [])))
    service = manager_update_service(upd_ctx, running_version="1.0.0")
    assert service.check().offer is not None
    yanked = reference_server.admin("release", "yank", str(reference_server.data_dir), "--product",
                                    "crystal-manager", "--version", "1.1.0")
    assert yanked.returncode == 0, yanked.stderr
    assert service.check().offer is None
    with pytest.raises(NoUpdateOffered):
        update_self(service, start=False)


def test_cli_refuses_a_rollback_to_a_changed_version_in_plain_words(reference_server: ReferenceServer,
                                                                     app_home: Path, tmp_path: Path) -> None:
    root = manager_root(resolve_paths())
    _first_install(root, tmp_path / "first", "1.0.0")
    _first_install(root, tmp_path / "second", "1.1.0")
    (root / "versions" / "1.0.0" / "crystal-manager").write_text("#!/bin/sh\necho crystal-manager 1.0.0\n")
    proc = _frozen_cli(reference_server, "update", "self", "--rollback", "--no-start")
    assert proc.returncode == 3, proc.stderr
    line = proc.stderr.strip()
    assert line.startswith("crystal-manager: Cannot go back: the kept version 1.0.0 was changed on this computer")
    assert line.endswith("nothing was changed.") and line.count("\n") == 0
    assert InstallRoot(root).read_pointer().current == "1.1.0"


def test_cli_hands_over_to_the_new_version_which_then_holds_the_name(reference_server: ReferenceServer,
                                                                      app_home: Path, instance_name: str) -> None:
    from crystal_manager import __version__
    from crystal_protocol.releases import Version

    v = Version.parse(__version__)
    newer = f"{v.major}.{v.minor + 1}.0"
    publish_bundle(reference_server, newer)
    done = _frozen_cli(reference_server, "update", "self", "--json")  # QT_QPA_PLATFORM is set: a start
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["started"] is True
    assert ipc.is_listening(instance_name) and _log(app_home) == [f"{newer} up"]
