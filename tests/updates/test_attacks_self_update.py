"""Attacks on the Manager updating itself (issue 13 part 6, decision 0013, threat model U27-U30): hostile
archives, the wrong product either way, planted pointers and links in the install root, a hostile ready
file, two updates at once, a launcher others can write, a new version that says it is up and dies.

Real parts: the reference server as a child process (``crystal-server release publish/yank``), frozen-like
script bundles (tests/support/manager_bundles.py), the real install root on disk, real child processes for
the new versions. Every test is a defence that holds (the holes attacker A2 marked xfail are fixed:
decision 0013, threat model U27-U33)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import tarfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from crystal_manager.gui import ipc
from crystal_manager.services.context import AppContext
from crystal_manager.services.manager_update import (
    SelfUpdateResult,
    manager_update_service,
    roll_back_self,
    update_self,
)
from crystal_manager.services.status import LicenseStatus
from crystal_manager.services.update_service import UpdateService
from crystal_manager.storage.paths import resolve_paths
from crystal_manager.updates.errors import (
    ArchiveRejected,
    HealthCheckFailed,
    InstallFailed,
    NoUpdateOffered,
    UpdateBusy,
    UpdateError,
    UpdateStateDamaged,
)
from crystal_manager.updates.install import install_archive
from crystal_manager.updates.layout import InstallRoot
from crystal_manager.updates.lock import UpdatesLock
from crystal_manager.updates.self_update import READY_ENV, manager_root, put_back, report_ready, write_launcher
from crystal_manager.updates.self_verify import KeptVersionChanged, record_verified
from crystal_protocol.releases import current_platform
from tests.support.manager_bundles import REPO, bundle_archive, manifest, program, publish_bundle
from tests.support.product_archives import (
    build_release,
    file_member,
    special_member,
    tree_snapshot,
    write_archive,
)
from tests.support.servers import ReferenceServer

Member = tuple[tarfile.TarInfo, bytes]


def _wait_for(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    """Poll another process's or thread's visible effect until it shows."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.fixture
def instance_name(app_home: Path) -> Iterator[str]:
    """The single-instance name of this test's home; whoever holds it at the end is asked to quit."""
    name = ipc.server_name(resolve_paths())
    yield name
    # An instance restarted by a rollback may take the name a moment after the test looked: ask whoever holds
    # it until nobody has for a second (one ask left a 1.0.0 stand-in running after every run).
    deadline = time.monotonic() + 20
    quiet_since: float | None = None
    while time.monotonic() < deadline:
        if ipc.is_listening(name):
            ipc.ask_to_quit(name, wait_s=10)
            quiet_since = None
        elif quiet_since is None:
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since > 1.0:
            break
        time.sleep(0.05)


def _first_install(root: Path, folder: Path, version: str) -> Path:
    """Install as an earlier self-update did: the archive, then the record of what was verified."""
    install_archive(root, bundle_archive(folder, version), expect=None, product="crystal-manager")
    record_verified(root, version)
    return root / "versions" / version / "crystal-manager"


def _archive(folder: Path, name: str, members: list[Member]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return write_archive(folder / name, members)


def _publish_archive(server: ReferenceServer, archive: Path, version: str,
                     product: str = "crystal-manager") -> tuple[int, str]:
    proc = server.admin("release", "publish", str(server.data_dir), str(archive), "--product", product,
                        "--version", version, "--platform", current_platform(), "--patches", "0")
    return proc.returncode, proc.stderr


_CUSTOM = '''#!{python}
import os, sys, time
sys.path.insert(0, {repo!r})
VERSION = {version!r}
if sys.argv[1:2] == ["--version"]:
    print("crystal-manager " + VERSION)
    sys.exit(0)
log = os.path.join(os.environ["CRYSTAL_MANAGER_HOME"], "instances.log")
def note(text):
    with open(log, "a") as f:
        f.write(VERSION + " " + text + "\\n")
if {mode!r} == "silent":
    note("silent")
    time.sleep(120)
from crystal_manager.gui import ipc
from crystal_manager.storage.paths import resolve_paths
ipc.ask_to_quit(ipc.server_name(resolve_paths()))
ready = os.environ.pop("CRYSTAL_MANAGER_READY_FILE", None)
if ready:
    with open(ready, "w") as f:
        f.write(VERSION)
if {mode!r} == "unnamed":
    note("ready without the name")
    time.sleep(120)
note("ready then died")
sys.exit(5)
'''


def _custom_bundle(folder: Path, version: str, mode: str) -> Path:
    text = _CUSTOM.format(python=sys.executable, repo=str(REPO), version=version, mode=mode).encode()
    return _archive(folder, f"crystal-manager-{version}-{mode}.tar.gz",
                    [file_member("product.json", manifest(version)), file_member("crystal-manager", text, 0o755)])


# --- hostile archives ------------------------------------------------------------------------------------


@pytest.mark.parametrize("extra", [
    [file_member("../../crystal-manager", b"#!/bin/sh\necho pwned\n", 0o755)],
    [file_member("/tmp/crystal-manager-attack", b"pwned", 0o644)],
    [special_member("escape", tarfile.SYMTYPE, "../../.."), file_member("escape/crystal-manager", b"x", 0o755)],
    [special_member("up", tarfile.SYMTYPE, "/"), ],
    [special_member("hard", tarfile.LNKTYPE, "/etc/passwd")],
], ids=["dotdot-launcher", "absolute", "through-link", "absolute-link", "hard-link-out"])
def test_a_manager_archive_that_escapes_its_folder_is_refused_and_nothing_changes(
        tmp_path: Path, extra: list[Member]) -> None:
    root = tmp_path / "data" / "manager"
    _first_install(root, tmp_path / "first", "1.0.0")
    launcher = write_launcher(root)
    assert launcher is not None
    before = tree_snapshot(tmp_path / "data")
    members = [file_member("product.json", manifest("1.1.0")),
               file_member("crystal-manager", program("1.1.0"), 0o755), *extra]
    with pytest.raises(ArchiveRejected):
        install_archive(root, _archive(tmp_path / "evil", "evil.tar.gz", members), expect=None,
                        product="crystal-manager")
    assert tree_snapshot(tmp_path / "data") == before
    assert not Path("/tmp/crystal-manager-attack").exists()


@pytest.mark.parametrize("launcher", [
    special_member("crystal-manager", tarfile.SYMTYPE, "/bin/sh"),
    special_member("crystal-manager", tarfile.SYMTYPE, "../../1.0.0/crystal-manager"),
], ids=["absolute", "into-the-old-version"])
def test_a_launcher_that_is_a_link_out_of_the_bundle_is_refused(tmp_path: Path, launcher: Member) -> None:
    root = tmp_path / "manager"
    _first_install(root, tmp_path / "first", "1.0.0")
    archive = _archive(tmp_path / "evil", "evil.tar.gz", [file_member("product.json", manifest("1.1.0")), launcher])
    with pytest.raises(ArchiveRejected):
        install_archive(root, archive, expect=None, product="crystal-manager")
    assert InstallRoot(root).read_pointer().current == "1.0.0"
    assert sorted(p.name for p in (root / "versions").iterdir()) == ["1.0.0"]


def test_a_health_check_naming_a_program_outside_the_bundle_is_never_run(tmp_path: Path) -> None:
    root = tmp_path / "manager"
    _first_install(root, tmp_path / "first", "1.0.0")
    witness = tmp_path / "ran"
    bad = json.dumps({"product": "crystal-manager", "version": "1.1.0", "platform": current_platform(),
                      "health_check": ["/usr/bin/touch", str(witness)]}).encode()
    archive = _archive(tmp_path / "evil", "evil.tar.gz",
                       [file_member("product.json", bad), file_member("crystal-manager", program("1.1.0"), 0o755)])
    with pytest.raises((HealthCheckFailed, ArchiveRejected)):
        install_archive(root, archive, expect=None, product="crystal-manager")
    assert not witness.exists()
    assert InstallRoot(root).read_pointer().current == "1.0.0"


# --- the wrong product, either way, end to end through the reference server ----------------------------


def test_a_product_archive_published_as_the_manager_is_never_installed_as_the_manager(
        upd_ctx: AppContext, reference_server: ReferenceServer, tmp_path: Path) -> None:
    product_archive = build_release(tmp_path, "1.1.0")  # product.json: crystalme3d-pro
    code, _ = _publish_archive(reference_server, product_archive, "1.1.0", product="crystal-manager")
    if code != 0:
        return  # the server refused to publish it: holds at the source
    service = manager_update_service(upd_ctx, running_version="1.0.0")
    with pytest.raises(ArchiveRejected):
        update_self(service, start=False)
    assert not (manager_root(upd_ctx.paths) / "versions").exists() or \
        list((manager_root(upd_ctx.paths) / "versions").iterdir()) == []


def test_a_manager_bundle_published_as_the_product_is_never_installed_as_the_product(
        upd_ctx: AppContext, reference_server: ReferenceServer, tmp_path: Path) -> None:
    code, _ = _publish_archive(reference_server, bundle_archive(tmp_path, "2.0.0"), "2.0.0",
                               product="crystalme3d-pro")
    if code != 0:
        return
    product = UpdateService(upd_ctx, license_status=lambda: LicenseStatus(state="active"))
    with pytest.raises(UpdateError):
        product.download()
        product.install()
    versions = upd_ctx.paths.install_root / "versions"
    assert not versions.exists() or list(versions.iterdir()) == []


def test_a_yanked_release_already_downloaded_is_not_installed(upd_ctx: AppContext,
                                                              reference_server: ReferenceServer) -> None:
    publish_bundle(reference_server, "1.1.0")
    service = manager_update_service(upd_ctx, running_version="1.0.0")
    assert service.download().complete
    yanked = reference_server.admin("release", "yank", str(reference_server.data_dir), "--product",
                                    "crystal-manager", "--version", "1.1.0")
    assert yanked.returncode == 0, yanked.stderr
    with pytest.raises(NoUpdateOffered):
        update_self(service, start=False)
    assert not (manager_root(upd_ctx.paths) / "versions" / "1.1.0").exists()


# --- a hostile install root ------------------------------------------------------------------------------


def test_a_planted_current_link_pointing_outside_is_put_right_by_the_next_update(
        upd_ctx: AppContext, reference_server: ReferenceServer, tmp_path: Path) -> None:
    root = manager_root(upd_ctx.paths)
    _first_install(root, tmp_path / "first", "1.0.0")
    evil = tmp_path / "evil"
    evil.mkdir()
    (evil / "crystal-manager").write_text("#!/bin/sh\necho pwned\n")
    (root / "current").unlink()
    (root / "current").symlink_to(evil, target_is_directory=True)
    publish_bundle(reference_server, "1.1.0")
    done = update_self(manager_update_service(upd_ctx, running_version="1.0.0"), start=False)
    assert done.version == "1.1.0" and done.launcher is not None
    assert os.readlink(root / "current") == "versions/1.1.0"
    ran = subprocess.run([done.launcher, "--version"], capture_output=True, text=True, check=False, timeout=30)
    assert ran.stdout.strip() == "crystal-manager 1.1.0"
    assert (evil / "crystal-manager").read_text() == "#!/bin/sh\necho pwned\n"  # nothing outside touched


def test_a_planted_current_folder_fails_the_update_cleanly(upd_ctx: AppContext, reference_server: ReferenceServer,
                                                           tmp_path: Path) -> None:
    root = manager_root(upd_ctx.paths)
    _first_install(root, tmp_path / "first", "1.0.0")
    (root / "current").unlink()
    (root / "current").mkdir()
    (root / "current" / "crystal-manager").write_text("#!/bin/sh\necho pwned\n")
    publish_bundle(reference_server, "1.1.0")
    try:
        done: SelfUpdateResult | None = update_self(manager_update_service(upd_ctx, running_version="1.0.0"),
                                                    start=False)
    except InstallFailed:
        done = None
    pointer = InstallRoot(root).read_pointer()
    if done is None:  # refused: the pointer still names a complete version, never half a switch
        assert pointer.current == "1.0.0" and pointer.switching is None
    else:
        assert os.readlink(root / "current") == "versions/1.1.0"


@pytest.mark.parametrize("pointer", [
    {"current": "../../../evil", "previous": None, "switching": None},
    {"current": "1.0.0", "previous": "/etc", "switching": None},
    {"current": "1.0.0", "previous": None, "switching": {"from": "1.0.0", "to": "../x", "started_at": "now"}},
], ids=["current-climbs", "previous-absolute", "switch-climbs"])
def test_a_current_json_naming_a_path_outside_the_root_is_set_aside(
        upd_ctx: AppContext, reference_server: ReferenceServer, tmp_path: Path, pointer: dict[str, object]) -> None:
    root = manager_root(upd_ctx.paths)
    _first_install(root, tmp_path / "first", "1.0.0")
    outside = tmp_path / "evil"
    outside.mkdir()
    (outside / "keep.txt").write_text("mine")
    (root / "current.json").write_text(json.dumps(pointer))
    publish_bundle(reference_server, "1.1.0")
    service = manager_update_service(upd_ctx, running_version="1.0.0")
    try:
        done = update_self(service, start=False)
    except UpdateStateDamaged:  # refused, and (as UpdateStateDamaged promises) retrying works
        done = update_self(service, start=False)
    assert done.version == "1.1.0"
    assert (root / "current.json.damaged").exists()
    assert (outside / "keep.txt").read_text() == "mine"
    assert InstallRoot(root).read_pointer().current == "1.1.0"


def test_a_launcher_replaced_by_a_link_is_rewritten_without_following_it(tmp_path: Path) -> None:
    root = tmp_path / "manager"
    root.mkdir()
    victim = tmp_path / "victim.sh"
    victim.write_text("#!/bin/sh\necho mine\n")
    (root / "crystal-manager").symlink_to(victim)
    launcher = write_launcher(root)
    assert launcher is not None and not launcher.is_symlink()
    assert victim.read_text() == "#!/bin/sh\necho mine\n"


def test_a_launcher_others_can_write_is_not_left_writable(upd_ctx: AppContext, reference_server: ReferenceServer,
                                                          tmp_path: Path) -> None:
    root = manager_root(upd_ctx.paths)
    _first_install(root, tmp_path / "first", "1.0.0")
    launcher = write_launcher(root)
    assert launcher is not None
    launcher.chmod(0o777)  # as another user's (or a careless installer's) chmod left it
    publish_bundle(reference_server, "1.1.0")
    done = update_self(manager_update_service(upd_ctx, running_version="1.0.0"), start=False)
    assert done.launcher is not None
    assert stat.S_IMODE(os.stat(done.launcher).st_mode) & 0o022 == 0


def test_a_tampered_rollback_target_is_refused(upd_ctx: AppContext, tmp_path: Path) -> None:
    root = manager_root(upd_ctx.paths)
    old = _first_install(root, tmp_path / "first", "1.0.0")
    _first_install(root, tmp_path / "second", "1.1.0")
    witness = tmp_path / "tampered-ran"
    old.write_text(f"#!/bin/sh\ntouch {witness}\necho crystal-manager 1.0.0\n")
    with pytest.raises(UpdateError):
        roll_back_self(manager_update_service(upd_ctx, running_version="1.1.0"), start=False)
    assert InstallRoot(root).read_pointer().current == "1.1.0"


def test_a_rollback_target_whose_manifest_was_changed_is_refused(upd_ctx: AppContext, tmp_path: Path) -> None:
    root = manager_root(upd_ctx.paths)
    _first_install(root, tmp_path / "first", "1.0.0")
    _first_install(root, tmp_path / "second", "1.1.0")
    (root / "versions" / "1.0.0" / "product.json").write_bytes(manifest("0.0.1"))
    with pytest.raises(UpdateError):
        roll_back_self(manager_update_service(upd_ctx, running_version="1.1.0"), start=False)
    assert InstallRoot(root).read_pointer().current == "1.1.0"


# --- the ready file, the hand-over ------------------------------------------------------------------------


def test_a_hostile_ready_file_path_overwrites_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    precious = tmp_path / "bashrc"
    precious.write_text("export PATH=$HOME/bin:$PATH\n")
    monkeypatch.setenv(READY_ENV, str(precious))
    report_ready("9.9.9")
    assert precious.read_text() == "export PATH=$HOME/bin:$PATH\n"


def test_the_ready_variable_is_not_passed_on(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(READY_ENV, str(tmp_path / "ready"))
    report_ready("1.1.0")
    assert READY_ENV not in os.environ  # programs this one starts cannot answer for it


def test_a_version_that_reports_ready_then_dies_is_rolled_back(
        upd_ctx: AppContext, reference_server: ReferenceServer, app_home: Path, tmp_path: Path,
        instance_name: str) -> None:
    root = manager_root(upd_ctx.paths)
    old_program = _first_install(root, tmp_path / "first", "1.0.0")
    subprocess.Popen([str(old_program)], env=dict(os.environ), stdin=subprocess.DEVNULL)
    _wait_for(lambda: ipc.is_listening(instance_name))
    code, err = _publish_archive(reference_server, _custom_bundle(tmp_path / "c", "1.1.0", "die"), "1.1.0")
    assert code == 0, err
    with pytest.raises(HealthCheckFailed):
        update_self(manager_update_service(upd_ctx, running_version="1.0.0"), start=True,
                    restart_old=[str(old_program)], timeout=20)
    assert InstallRoot(root).read_pointer().current == "1.0.0"


def test_two_self_updates_at_once_never_leave_a_pointer_to_a_missing_version(
        upd_ctx: AppContext, reference_server: ReferenceServer, app_home: Path, tmp_path: Path) -> None:
    root = manager_root(upd_ctx.paths)
    _first_install(root, tmp_path / "first", "1.0.0")
    code, err = _publish_archive(reference_server, _custom_bundle(tmp_path / "c", "1.1.0", "silent"), "1.1.0")
    assert code == 0, err
    errors: list[BaseException] = []

    def first() -> None:
        try:
            update_self(manager_update_service(upd_ctx, running_version="1.0.0"), start=True, timeout=8)
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=first)
    thread.start()
    # The first update is in its hand-over: 1.1.0 installed and started, waiting for its ready report.
    _wait_for(lambda: any(root.glob("ready-*")))
    publish_bundle(reference_server, "1.2.0")
    second_error: UpdateError | None = None
    try:
        update_self(manager_update_service(upd_ctx, running_version="1.0.0"), start=False)
    except UpdateError as exc:
        second_error = exc  # refused while the first one hands over: also a defence
    thread.join(timeout=60)
    assert len(errors) == 1 and isinstance(errors[0], HealthCheckFailed)
    layout = InstallRoot(root)
    current = layout.read_pointer().current
    assert current is not None and layout.manifest(current) is not None, current
    assert second_error is not None or current == "1.2.0"


# --- more of the same holes, from other sides ----------------------------------------------------------------


def test_put_back_never_undoes_a_later_install_nor_names_a_missing_version(tmp_path: Path) -> None:
    root = tmp_path / "manager"
    _first_install(root, tmp_path / "first", "1.0.0")
    before = InstallRoot(root).read_pointer()
    _first_install(root, tmp_path / "second", "1.1.0")
    _first_install(root, tmp_path / "third", "1.2.0")  # another update landed meanwhile; 1.0.0 pruned
    assert not (root / "versions" / "1.0.0").exists()
    assert put_back(root, before, "1.1.0") is False  # 1.1.0 is no longer current: nothing is undone
    assert put_back(root, before, "1.2.0") is False  # the version to go back to is gone: never named
    pointer = InstallRoot(root).read_pointer()
    assert (pointer.current, os.readlink(root / "current")) == ("1.2.0", "versions/1.2.0")


def test_a_second_self_update_is_refused_while_one_runs(upd_ctx: AppContext, reference_server: ReferenceServer,
                                                        tmp_path: Path) -> None:
    root = manager_root(upd_ctx.paths)
    _first_install(root, tmp_path / "first", "1.0.0")
    publish_bundle(reference_server, "1.1.0")
    service = manager_update_service(upd_ctx, running_version="1.0.0")
    with UpdatesLock(service.folder / "self-update.lock"):  # as a first `update self` holds it
        with pytest.raises(UpdateBusy):
            update_self(manager_update_service(upd_ctx, running_version="1.0.0"), start=False)
        with pytest.raises(UpdateBusy):
            roll_back_self(manager_update_service(upd_ctx, running_version="1.0.0"), start=False)
    assert InstallRoot(root).read_pointer().current == "1.0.0"


def test_an_install_root_others_can_write_is_closed_by_the_next_update(
        upd_ctx: AppContext, reference_server: ReferenceServer, tmp_path: Path) -> None:
    root = manager_root(upd_ctx.paths)
    _first_install(root, tmp_path / "first", "1.0.0")
    root.chmod(0o777)
    publish_bundle(reference_server, "1.1.0")
    update_self(manager_update_service(upd_ctx, running_version="1.0.0"), start=False)
    assert stat.S_IMODE(root.stat().st_mode) & 0o022 == 0


def test_a_launcher_of_the_right_text_but_writable_by_others_is_replaced(tmp_path: Path) -> None:
    root = tmp_path / "manager"
    root.mkdir()
    launcher = write_launcher(root)
    assert launcher is not None
    launcher.chmod(0o666)
    inode = launcher.stat().st_ino
    again = write_launcher(root)
    assert again is not None
    info = again.lstat()
    assert stat.S_IMODE(info.st_mode) == 0o755 and info.st_ino != inode  # a new file, not a chmod of theirs
    assert list(root.glob(".crystal-manager*")) == []


def _ready_folder(root: Path) -> Path:
    folder = root / "ready-test"
    folder.mkdir(mode=0o700, parents=True)
    return folder


@pytest.mark.parametrize("place", ["outside-root", "open-folder", "existing-file", "link"])
def test_a_ready_file_path_that_is_not_a_fresh_file_in_our_ready_folder_is_not_written(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, place: str) -> None:
    root = tmp_path / "manager"
    precious = tmp_path / "precious"
    precious.write_text("mine\n")
    if place == "outside-root":
        path = _ready_folder(tmp_path / "elsewhere") / "ready"
    elif place == "open-folder":
        folder = _ready_folder(root)
        folder.chmod(0o777)
        path = folder / "ready"
    elif place == "existing-file":
        path = _ready_folder(root) / "ready"
        path.write_text("mine\n")
        precious = path
    else:
        path = _ready_folder(root) / "ready"
        path.symlink_to(precious)
    monkeypatch.setenv(READY_ENV, str(path))
    report_ready("9.9.9", roots=[root])
    assert precious.read_text() == "mine\n"
    assert place in ("existing-file", "link") or not path.exists()


def test_the_ready_file_is_written_in_our_own_ready_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "manager"
    path = _ready_folder(root) / "ready"
    monkeypatch.setenv(READY_ENV, str(path))
    report_ready("1.1.0", roots=[root])
    assert path.read_text() == "1.1.0"  # the refusals above are not a report_ready that never writes


def test_a_kept_version_without_a_record_of_its_install_is_not_rolled_back_to(upd_ctx: AppContext,
                                                                              tmp_path: Path) -> None:
    root = manager_root(upd_ctx.paths)
    _first_install(root, tmp_path / "first", "1.0.0")
    _first_install(root, tmp_path / "second", "1.1.0")
    (root / "verified" / "1.0.0.json").unlink()
    with pytest.raises(KeptVersionChanged, match="changed on this computer"):
        roll_back_self(manager_update_service(upd_ctx, running_version="1.1.0"), start=False)
    assert InstallRoot(root).read_pointer().current == "1.1.0"


@pytest.mark.parametrize("change", ["added-file", "mode", "link"])
def test_a_kept_version_with_any_change_in_its_folder_is_not_rolled_back_to(
        upd_ctx: AppContext, tmp_path: Path, change: str) -> None:
    root = manager_root(upd_ctx.paths)
    _first_install(root, tmp_path / "first", "1.0.0")
    _first_install(root, tmp_path / "second", "1.1.0")
    old = root / "versions" / "1.0.0"
    if change == "added-file":
        (old / "sitecustomize.py").write_text("import os\n")
    elif change == "mode":
        (old / "product.json").chmod(0o755)
    else:
        (old / "lib").symlink_to(tmp_path)
    with pytest.raises(KeptVersionChanged):
        roll_back_self(manager_update_service(upd_ctx, running_version="1.1.0"), start=False)
    assert InstallRoot(root).read_pointer().current == "1.1.0"


def test_an_untouched_kept_version_is_rolled_back_to(upd_ctx: AppContext, tmp_path: Path) -> None:
    root = manager_root(upd_ctx.paths)
    _first_install(root, tmp_path / "first", "1.0.0")
    _first_install(root, tmp_path / "second", "1.1.0")
    done = roll_back_self(manager_update_service(upd_ctx, running_version="1.1.0"), start=False)
    assert done.version == "1.0.0" and InstallRoot(root).read_pointer().current == "1.0.0"


def test_a_version_that_reports_ready_but_never_takes_the_name_is_stopped_and_rolled_back(
        upd_ctx: AppContext, reference_server: ReferenceServer, app_home: Path, tmp_path: Path,
        instance_name: str) -> None:
    root = manager_root(upd_ctx.paths)
    old_program = _first_install(root, tmp_path / "first", "1.0.0")
    subprocess.Popen([str(old_program)], env=dict(os.environ), stdin=subprocess.DEVNULL)
    _wait_for(lambda: ipc.is_listening(instance_name))
    code, err = _publish_archive(reference_server, _custom_bundle(tmp_path / "c", "1.1.0", "unnamed"), "1.1.0")
    assert code == 0, err
    with pytest.raises(HealthCheckFailed, match="does not answer"):
        update_self(manager_update_service(upd_ctx, running_version="1.0.0"), start=True,
                    restart_old=[str(old_program)], timeout=20, holds_name=lambda: ipc.is_listening(instance_name))
    assert InstallRoot(root).read_pointer().current == "1.0.0"
    _wait_for(lambda: ipc.is_listening(instance_name))  # the old one is back and holds the name
