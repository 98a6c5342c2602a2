"""Installing real release archives into a real install root: side by side, atomic switch, health check,
rollback, refusals that leave every file as it was, and a crash suite (SIGKILL at every OS step)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from crystal_manager.storage.paths import installed_product_version, resolve_paths
from crystal_manager.updates.errors import (
    ArchiveRejected,
    HealthCheckFailed,
    NothingToRollBack,
    NoUpdateOffered,
)
from crystal_manager.updates.health import run_health_check
from crystal_manager.updates.install import InstallRoot, install_archive, recover, rollback
from crystal_protocol.releases import current_platform
from tests.support.product_archives import (
    Health,
    build_release,
    file_member,
    product_members,
    release_info,
    script,
    special_member,
    tree_snapshot,
    write_archive,
)

REPO = Path(__file__).resolve().parents[2]


def install(root: Path, folder: Path, version: str, health: Health = "ok", health_timeout: float = 30.0) -> None:
    install_archive(root, build_release(folder, version, health=health), expect=release_info(version),
                    health_timeout=health_timeout)


def pointer(root: Path) -> dict[str, object]:
    data = json.loads((root / "current.json").read_text())
    assert isinstance(data, dict)
    return data


def assert_consistent(root: Path, allowed: set[str | None]) -> str | None:
    """current.json names a complete, healthy version in ``allowed``; the link, previous and folders agree."""
    data = pointer(root) if (root / "current.json").exists() else {"current": None, "previous": None,
                                                                   "switching": None}
    assert data["switching"] is None
    current, previous = data["current"], data["previous"]
    assert current in allowed, data
    layout = InstallRoot(root)
    if isinstance(current, str):
        manifest = layout.manifest(current)
        assert manifest is not None
        run_health_check(layout.version_dir(current), manifest, timeout=10)
        assert os.readlink(root / "current") == f"versions/{current}"
    else:
        assert not (root / "current").is_symlink()
    if isinstance(previous, str):
        assert layout.manifest(previous) is not None
    assert not (root / "staging").exists()
    kept = set(os.listdir(root / "versions")) if (root / "versions").exists() else set()
    assert kept <= {current, previous}
    return current if isinstance(current, str) else None


def test_first_install(tmp_path: Path) -> None:
    root = tmp_path / "product"
    install(root, tmp_path, "1.0.0")
    assert pointer(root) == {"current": "1.0.0", "previous": None, "switching": None}
    assert subprocess.run([root / "current" / "bin" / "crystalme3d"], capture_output=True, text=True,
                          check=True).stdout.strip() == "CrystalMe3D Pro 1.0.0"
    paths = resolve_paths({"CRYSTAL_MANAGER_HOME": str(tmp_path)})
    assert paths.install_root == root and installed_product_version(paths) == "1.0.0"
    assert assert_consistent(root, {"1.0.0"}) == "1.0.0"


def test_second_install_keeps_previous_and_third_prunes_the_oldest(tmp_path: Path) -> None:
    root = tmp_path / "product"
    install(root, tmp_path, "1.0.0")
    install(root, tmp_path, "1.1.0")
    assert pointer(root) == {"current": "1.1.0", "previous": "1.0.0", "switching": None}
    install(root, tmp_path, "1.2.0")
    assert pointer(root) == {"current": "1.2.0", "previous": "1.1.0", "switching": None}
    assert sorted(os.listdir(root / "versions")) == ["1.1.0", "1.2.0"]
    assert_consistent(root, {"1.2.0"})


def test_a_folder_in_use_is_not_pruned(tmp_path: Path) -> None:
    root = tmp_path / "product"
    install(root, tmp_path, "1.0.0")
    running = subprocess.Popen(["sleep", "30"], cwd=root / "versions" / "1.0.0")
    try:
        install(root, tmp_path, "1.1.0")
        install(root, tmp_path, "1.2.0")
        assert (root / "versions" / "1.0.0" / "bin" / "crystalme3d").exists()
    finally:
        running.kill()
        running.wait()
    assert recover(root) == "removed unused version folders (1.0.0)"
    assert sorted(os.listdir(root / "versions")) == ["1.1.0", "1.2.0"]


def test_rollback_swaps_current_and_previous(tmp_path: Path) -> None:
    root = tmp_path / "product"
    install(root, tmp_path, "1.0.0")
    with pytest.raises(NothingToRollBack):
        rollback(root)
    install(root, tmp_path, "1.1.0")
    result = rollback(root)
    assert (result.version, result.previous_version, result.health_ok) == ("1.0.0", "1.1.0", True)
    assert pointer(root) == {"current": "1.0.0", "previous": "1.1.0", "switching": None}
    assert_consistent(root, {"1.0.0"})
    rollback(root)
    assert pointer(root)["current"] == "1.1.0"


def test_rollback_to_a_broken_previous_stays(tmp_path: Path) -> None:
    root = tmp_path / "product"
    install(root, tmp_path, "1.0.0")
    install(root, tmp_path, "1.1.0")
    (root / "versions" / "1.0.0" / "bin" / "crystalme3d").write_bytes(script("1.0.0", "fail"))
    with pytest.raises(HealthCheckFailed, match=r"stayed at version 1\.1\.0"):
        rollback(root)
    assert pointer(root) == {"current": "1.1.0", "previous": "1.0.0", "switching": None}
    assert os.readlink(root / "current") == "versions/1.1.0"


@pytest.mark.parametrize(("health", "words"), [("fail", "exit code 3"), ("wrong_version", "did not report"),
                                               ("silent", "did not report"), ("hang", "within 1 s")])
def test_failed_health_check_rolls_back(tmp_path: Path, health: Health, words: str) -> None:
    root = tmp_path / "product"
    install(root, tmp_path, "1.0.0")
    install(root, tmp_path, "1.1.0")
    before = tree_snapshot(root)
    with pytest.raises(HealthCheckFailed, match=words) as caught:
        install(root, tmp_path, "1.2.0", health=health, health_timeout=1.0)
    assert "switched back to version 1.1.0" in str(caught.value)
    assert tree_snapshot(root) == before


def test_installing_the_current_version_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "product"
    install(root, tmp_path, "1.0.0")
    before = tree_snapshot(root)
    with pytest.raises(NoUpdateOffered, match="already installed"):
        install(root, tmp_path, "1.0.0")
    assert tree_snapshot(root) == before


def test_reinstalling_the_previous_version_replaces_its_folder(tmp_path: Path) -> None:
    root = tmp_path / "product"
    install(root, tmp_path, "1.0.0")
    install(root, tmp_path, "1.1.0")
    (root / "versions" / "1.0.0" / "stray.txt").write_text("left by hand")
    install(root, tmp_path, "1.0.0")
    assert pointer(root) == {"current": "1.0.0", "previous": "1.1.0", "switching": None}
    assert not (root / "versions" / "1.0.0" / "stray.txt").exists()


EVIL = {
    "absolute path": [file_member("/tmp/crystal-evil", b"x")],
    "dot-dot": [file_member("../../evil", b"x")],
    "symlink out": [special_member("bin/evil", b"2", "../../../outside")],
    "hardlink out": [special_member("bin/evil", b"1", "/etc/passwd")],
    "device": [special_member("bin/tty", b"3")],
}


@pytest.mark.parametrize("attack", [*sorted(EVIL), "other product", "other platform", "other version",
                                    "version differs from expected"])
def test_refused_archives_leave_every_file_unchanged(tmp_path: Path, attack: str) -> None:
    root = tmp_path / "product"
    install(root, tmp_path, "1.0.0")
    install(root, tmp_path, "1.1.0")
    other = "windows-x86_64" if current_platform() != "windows-x86_64" else "linux-x86_64"
    members = {"other product": product_members("1.2.0", product="crystalme3d-lite"),
               "other platform": product_members("1.2.0", platform=other),
               "other version": product_members("1.3.0")}.get(attack, [*product_members("1.2.0"),
                                                                      *EVIL.get(attack, [])])
    archive = write_archive(tmp_path / "evil.tar.gz", members)
    expect = release_info("1.2.0") if attack != "version differs from expected" else release_info("1.4.0")
    before = tree_snapshot(tmp_path)
    with pytest.raises(ArchiveRejected) as caught:
        install_archive(root, archive, expect=expect)
    assert str(caught.value) and "\n" not in str(caught.value)
    assert tree_snapshot(tmp_path) == before


def test_recover_rebuilds_a_damaged_pointer_from_the_link(tmp_path: Path) -> None:
    root = tmp_path / "product"
    install(root, tmp_path, "1.0.0")
    install(root, tmp_path, "1.1.0")
    (root / "current.json").write_text('{"current": "../../etc"}')
    assert recover(root) == ("rebuilt a damaged current.json from the current link; "
                             "removed unused version folders (1.0.0)")
    assert pointer(root) == {"current": "1.1.0", "previous": None, "switching": None}
    assert (root / "current.json.damaged").exists()


def test_installed_version_reads_the_pointer_only(tmp_path: Path) -> None:
    paths = resolve_paths({"CRYSTAL_MANAGER_HOME": str(tmp_path)})
    assert installed_product_version(paths) is None
    paths.install_root.mkdir()
    (paths.install_root / "current.json").write_text("[1, 2")
    assert installed_product_version(paths) is None
    (paths.install_root / "current.json").write_text('{"current": "2.0.0", "previous": null}')
    assert installed_product_version(paths) == "2.0.0"


# ---------------------------------------------------------------- crash suite


def run_child(spec: dict[str, object]) -> subprocess.CompletedProcess[str]:
    """``python -m tests.support.update_crash_child SPEC``, forked from the CLI zygote (decision 0023): the
    child patches the OS calls it counts before it imports the code under test, in its own memory."""
    from tests.support.cli_run import run_module

    return run_module("tests.support.update_crash_child", [json.dumps(spec)], env=None, timeout=120, cwd=REPO)


def crash_points(spec: dict[str, object], counts_file: Path) -> tuple[str, list[tuple[str, int, str]]]:
    """Run the action once without a kill: the outcome, and every (operation, n, before/after) it passes."""
    done = run_child({**spec, "counts": str(counts_file)})
    assert done.returncode == 0, done.stderr
    found = json.loads(counts_file.read_text())
    return found["outcome"], [(op, n, when) for op, count in sorted(found["counts"].items())
                              for n in range(1, count + 1) for when in ("before", "after")]


SCENARIOS: dict[str, tuple[tuple[str, ...], str, str, Health, set[str | None]]] = {
    # name: (versions installed first, action, version, health, allowed after recovery)
    "first install": ((), "install", "1.0.0", "ok", {None, "1.0.0"}),
    "upgrade": (("0.9.0", "1.0.0"), "install", "1.1.0", "ok", {"1.0.0", "1.1.0"}),
    "broken upgrade": (("0.9.0", "1.0.0"), "install", "1.1.0", "fail", {"1.0.0"}),
    "rollback": (("0.9.0", "1.0.0"), "rollback", "", "ok", {"0.9.0", "1.0.0"}),
}


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_killed_at_every_step_recovers_to_a_consistent_version(tmp_path: Path, scenario: str) -> None:
    installed, action, version, health, allowed = SCENARIOS[scenario]
    template = tmp_path / "template"
    for earlier in installed:
        install(template, tmp_path, earlier)
    archive = build_release(tmp_path, version, health=health) if version else None
    base = {"action": action, "version": version, "archive": str(archive) if archive else ""}

    def fresh_root() -> Path:
        root = tmp_path / "root"
        shutil.rmtree(root, ignore_errors=True)
        if template.exists():
            shutil.copytree(template, root, symlinks=True)
        return root

    outcome, points = crash_points({**base, "root": str(fresh_root())}, tmp_path / "counts.json")
    assert outcome == ("HealthCheckFailed" if health == "fail" else "ok")
    ops = {op for op, _n, _when in points}
    assert {"replace", "fsync", "symlink", "popen"} <= ops and (action == "rollback" or "member" in ops)
    assert len(points) >= (16 if action == "rollback" else 24)
    seen: set[str | None] = set()
    for op, n, when in points:
        root = fresh_root()
        killed = run_child({**base, "root": str(root), "op": op, "n": n, "when": when})
        assert killed.returncode == -9, (op, n, when, killed.stderr)
        recover(root)
        seen.add(assert_consistent(root, allowed))
        assert recover(root) is None  # a second pass finds nothing to do
    assert seen == allowed or health == "fail"
