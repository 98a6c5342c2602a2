"""Install, roll back and recover: side-by-side versions and one atomic switch of what is current.

Order of an install, each step safe to be killed at:
1. extract into staging/<random>/tree (data filter); check its product.json against the signed facts;
2. flush it to disk, then move it whole to versions/<v> (one rename);
3. write current.json with ``switching: {from, to}`` (current still names the old version);
4. flip the ``current`` symlink; 5. run the new version's health check;
6. pass: current.json names the new version, the old one becomes previous; fail: flip back, clear switching;
7. delete versions other than current and previous (moved to staging first, then removed).
``recover()`` (run before every install and at start) finishes or undoes a step-3-to-6 switch from what
current.json says, and removes staging leftovers: current.json always names a complete, healthy version.
The current version's folder is never written to, and a folder a running process uses is never deleted.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from crystal_manager.services.update_types import InstallResult
from crystal_manager.updates.archive import extract_archive, read_manifest
from crystal_manager.updates.errors import (
    ArchiveRejected,
    HealthCheckFailed,
    InstallFailed,
    NothingToRollBack,
    NoUpdateOffered,
    UpdateStateDamaged,
)
from crystal_manager.updates.health import run_health_check
from crystal_manager.updates.layout import InstallRoot, Pointer, Switch, canonical_version, now_iso
from crystal_protocol.releases import PRODUCT, ReleaseInfo, current_platform

__all__ = ["InstallRoot", "install_archive", "recover", "rollback", "run_health_check"]


def _in_use(folder: Path) -> bool:
    """Whether a running process works in, runs from or holds a file open under ``folder`` (Linux /proc;
    elsewhere the OS refuses to delete files in use, and pruning simply leaves them for later)."""
    proc = Path("/proc")
    if not sys.platform.startswith("linux") or not proc.is_dir():
        return False
    prefix = str(folder.resolve()) + os.sep
    for entry in proc.iterdir():
        if not entry.name.isdigit() or entry.name == str(os.getpid()):
            continue
        try:
            links = [entry / "cwd", entry / "exe", *(entry / "fd").iterdir()]
        except OSError:
            continue  # another user's process, or gone
        for link in links:
            try:
                if (os.readlink(link) + os.sep).startswith(prefix):
                    return True
            except OSError:
                continue
    return False


def _remove(layout: InstallRoot, folder: Path) -> None:
    """Move ``folder`` into staging/ (one rename) and delete it there: versions/ never holds half a tree."""
    trash = layout.new_staging("trash-")
    os.replace(folder, trash)
    shutil.rmtree(trash, ignore_errors=True)


def _prune(layout: InstallRoot, keep: set[str | None]) -> list[str]:
    """Delete version folders other than ``keep`` (and any in use); returns the versions removed."""
    removed: list[str] = []
    if not layout.versions.is_dir():
        return removed
    for folder in sorted(layout.versions.iterdir()):
        try:
            version = canonical_version(folder.name)
        except ValueError:
            continue  # not ours: left alone
        if version in keep or _in_use(folder):
            continue
        try:
            _remove(layout, folder)
            removed.append(version)
        except OSError:
            continue  # in use on Windows, permissions: tried again next time
    layout.drop_staging()
    return removed


def _clear_staging(layout: InstallRoot) -> bool:
    """Delete extraction and deletion leftovers, and stray temporary links and pointer files."""
    found = False
    if layout.staging.is_dir():
        for leftover in layout.staging.iterdir():
            found = True
            shutil.rmtree(leftover, ignore_errors=True) if leftover.is_dir() and not leftover.is_symlink() \
                else leftover.unlink(missing_ok=True)
    for pattern in (".current-*.tmp", ".current.json.*.tmp"):
        for stray in layout.root.glob(pattern):
            found = True
            stray.unlink(missing_ok=True)
    layout.drop_staging()
    return found


def _healthy(layout: InstallRoot, version: str | None, timeout: float) -> bool:
    manifest = None if version is None else layout.manifest(version)
    if version is None or manifest is None:
        return False
    try:
        run_health_check(layout.version_dir(version), manifest, timeout=timeout)
    except HealthCheckFailed:
        return False
    return True


def recover(root: Path, *, health_timeout: float = 30.0) -> str | None:
    """Bring the install root to a consistent state after a crash; one line saying what was done, or None."""
    layout = InstallRoot(root)
    if not root.is_dir():
        return None
    notes: list[str] = []
    damaged = False
    try:
        pointer = layout.read_pointer()
    except UpdateStateDamaged:
        damaged = True
        # Set the damaged file aside and trust the symlink if it names a complete version.
        os.replace(layout.pointer_file, layout.pointer_file.with_name(f"{layout.pointer_file.name}.damaged"))
        linked = layout.link_target()
        pointer = Pointer(current=linked if linked and layout.manifest(linked) else None)
        notes.append(f"rebuilt a damaged {layout.pointer_file.name} from the current link")
    before = pointer
    if pointer.switching is not None:
        switch = pointer.switching
        if _healthy(layout, switch.to_version, health_timeout):
            pointer = Pointer(current=switch.to_version, previous=switch.from_version)
            notes.append(f"finished the interrupted switch to version {switch.to_version}")
        else:
            pointer = Pointer(current=pointer.current, previous=pointer.previous)
            notes.append(f"undid the interrupted switch to version {switch.to_version}")
    if pointer.current is not None and layout.manifest(pointer.current) is None:
        fallback = pointer.previous if pointer.previous and layout.manifest(pointer.previous) else None
        notes.append(f"version {pointer.current} is incomplete; current is now {fallback or 'none'}")
        pointer = Pointer(current=fallback)
    if pointer.previous is not None and layout.manifest(pointer.previous) is None:
        pointer = Pointer(current=pointer.current)
    if pointer != before or damaged:
        layout.write_pointer(pointer)
    if layout.link_target() != pointer.current or (pointer.current is None and layout.link.is_symlink()):
        layout.point_link(pointer.current)
    if _clear_staging(layout):
        notes.append("removed an unfinished extraction")
    removed = _prune(layout, {pointer.current, pointer.previous})
    if removed:
        notes.append(f"removed unused version folders ({', '.join(removed)})")
    return "; ".join(notes) or None


def _switch(layout: InstallRoot, to: str, *, run_health: bool, timeout: float) -> Pointer:
    """Make ``to`` current (the old current becomes previous), or undo it and raise HealthCheckFailed."""
    start = layout.read_pointer()
    layout.write_pointer(Pointer(start.current, start.previous, Switch(start.current, to, now_iso())))
    try:
        layout.point_link(to)
        manifest = layout.manifest(to)
        if manifest is None:
            raise HealthCheckFailed(f"version {to} is not completely installed")
        if run_health:
            run_health_check(layout.version_dir(to), manifest, timeout=timeout)
    except BaseException as exc:
        layout.point_link(start.current)
        layout.write_pointer(Pointer(start.current, start.previous))
        if isinstance(exc, OSError):
            raise InstallFailed(f"cannot switch to version {to}: {exc.strerror or exc}") from exc
        raise
    done = Pointer(current=to, previous=start.current)
    layout.write_pointer(done)
    return done


def _check_manifest(found_product: str, found_version: str, found_platform: str,
                    expect: ReleaseInfo | None, product: str) -> None:
    # Whatever the signed facts say (a crafted state file can name another product's or platform's release),
    # only the install root's own product for this platform is ever installed here.
    platform = current_platform()
    if found_product != product:
        raise ArchiveRejected(f"the archive holds {found_product}, not {product}")
    if found_platform != platform:
        raise ArchiveRejected(f"the archive is for {found_platform}, not {platform}")
    if expect is not None and (expect.product, expect.platform) != (found_product, found_platform):
        raise ArchiveRejected(f"the archive holds {found_product} for {found_platform}, not the signed "
                              f"{expect.product} for {expect.platform}")
    if expect is not None and found_version != expect.version:
        raise ArchiveRejected(f"the archive holds version {found_version}, not the signed {expect.version}")


def _sync_to_disk(tree: Path) -> None:
    # The rename into versions/ must not reach the disk before the files themselves (power loss).
    if hasattr(os, "sync"):
        os.sync()
        return
    for folder, _dirs, files in os.walk(tree):
        for name in files:
            fd = os.open(os.path.join(folder, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)


def install_archive(root: Path, archive: Path, *, expect: ReleaseInfo | None, run_health: bool = True,
                    health_timeout: float = 30.0, product: str = PRODUCT) -> InstallResult:
    """Install a verified release archive beside the current version and switch to it.

    ``expect`` is the signed release the archive must be (None: ``product`` for this platform, any version);
    ``product`` is what this install root holds (CrystalMe3D Pro, or the Manager's own root).
    Raises NoUpdateOffered (already current), ArchiveRejected, InstallFailed, HealthCheckFailed (after
    rolling back: the old version stays current).
    """
    layout = InstallRoot(root)
    recover(root, health_timeout=health_timeout)
    current = layout.current_version()
    version = expect.version if expect is not None else read_manifest(archive).version
    if version == current:
        raise NoUpdateOffered(f"version {version} is already installed")
    staging = layout.new_staging()
    try:
        staging.mkdir(mode=0o700)
        manifest = extract_archive(archive, staging / "tree")
        _check_manifest(manifest.product, manifest.version, manifest.platform, expect, product)
        if manifest.version == current:
            raise NoUpdateOffered(f"version {manifest.version} is already installed")
        target = layout.version_dir(manifest.version)
        _sync_to_disk(staging / "tree")
        layout.versions.mkdir(parents=True, exist_ok=True, mode=0o755)
        if target.exists():  # left by an earlier attempt, or the previous version: never the current one
            if _in_use(target):
                raise InstallFailed(f"version {manifest.version} is running; close it and try again")
            os.replace(target, staging / "old")
        os.replace(staging / "tree", target)
    except OSError as exc:
        raise InstallFailed(f"cannot install version {version}: {exc.strerror or exc}") from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        layout.drop_staging()
    try:
        pointer = _switch(layout, manifest.version, run_health=run_health, timeout=health_timeout)
    except HealthCheckFailed as exc:
        _prune(layout, {current, layout.previous_version()})
        raise HealthCheckFailed(f"{exc}; switched back to {f'version {current}' if current else 'no version'}") \
            from exc
    _prune(layout, {pointer.current, pointer.previous})
    return InstallResult(version=manifest.version, previous_version=pointer.previous, health_ok=run_health,
                         rolled_back=False, takes_effect="next_start")


def rollback(root: Path, *, health_timeout: float = 30.0) -> InstallResult:
    """Go back to the previous version (health-checked first-hand); it and the current one swap places."""
    layout = InstallRoot(root)
    recover(root, health_timeout=health_timeout)
    pointer = layout.read_pointer()
    if pointer.previous is None or pointer.current is None:
        raise NothingToRollBack("no previous version is kept to go back to")
    try:
        done = _switch(layout, pointer.previous, run_health=True, timeout=health_timeout)
    except HealthCheckFailed as exc:
        raise HealthCheckFailed(f"{exc}; stayed at version {pointer.current}") from exc
    return InstallResult(version=pointer.previous, previous_version=done.previous, health_ok=True,
                         rolled_back=False, takes_effect="next_start")
