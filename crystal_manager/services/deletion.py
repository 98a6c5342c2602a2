"""Deleting your data (privacy policy §9): everything the Manager keeps on this computer, and what the
vendor's server keeps about this computer (or every computer on the license).

Both faces call these (the CLI's ``privacy delete-local`` / ``request-deletion`` and the Privacy page);
they block on the network and on the disk, so the GUI calls them through its background helper.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crystal_manager.privacy.texts import KEYRING_ENTRIES
from crystal_manager.services.context import AppContext
from crystal_manager.services.license_service import LicenseService

#: What the local license record says after the vendor deleted this computer's data.
DELETED_NOTICE = "this computer's data was deleted at the vendor; activate again to use the license here"


class SeatNotFreed(Exception):
    """The seat could not be freed before a local deletion (offline, refused…); nothing was deleted. The
    reason is the ``__cause__``."""


@dataclass(frozen=True)
class LocalDeletion:
    """What ``delete_local`` did."""

    deactivated: bool
    files: int
    bytes: int
    keyring: tuple[str, ...]
    kept_product: Path | None


def _service(ctx: AppContext, service: LicenseService | None) -> LicenseService:
    return service if service is not None else LicenseService(ctx)


def is_activated(ctx: AppContext, service: LicenseService | None = None) -> bool:
    """True when this computer holds a seat (a machine id from the vendor), so deleting locally must free
    it first; local files only, no network."""
    return _service(ctx, service).engine.load().machine_id is not None


def app_folders(ctx: AppContext) -> list[Path]:
    """The Manager's own folders (settings, data, state, cache, logs), each once, deepest last."""
    paths = ctx.paths
    folders: list[Path] = []
    for folder in (paths.config_dir, paths.data_dir, paths.state_dir, paths.cache_dir, paths.log_dir):
        if folder not in folders:
            folders.append(folder)
    return folders


def _remove_tree(folder: Path, keep: Path) -> tuple[int, int]:
    """Delete every file under ``folder`` except under ``keep``; return (files, bytes)."""
    files = size = 0
    if not folder.is_dir():
        return 0, 0
    for path in sorted(folder.iterdir()):
        if path == keep or (keep.is_relative_to(path) and path.is_dir()):
            if path != keep:
                more = _remove_tree(path, keep)
                files, size = files + more[0], size + more[1]
            continue
        if path.is_dir() and not path.is_symlink():
            found = [p for p in path.rglob("*") if p.is_file() and not p.is_symlink()]
            files += len(found)
            size += sum(p.stat().st_size for p in found)
            shutil.rmtree(path)
        else:
            files += 1
            size += path.lstat().st_size
            path.unlink()
    return files, size


def delete_local(ctx: AppContext, service: LicenseService | None = None) -> LocalDeletion:
    """Free this computer's seat if it holds one (over the network; if that fails nothing is deleted),
    then delete every file the Manager keeps and its keyring entries. CrystalMe3D Pro's installed versions
    are the product, not data about you: they stay (uninstall removes them)."""
    svc = _service(ctx, service)
    deactivated = False
    if is_activated(ctx, svc):
        try:
            svc.deactivate()
        except Exception as exc:
            raise SeatNotFreed(str(exc)) from exc  # before anything is deleted
        deactivated = True
    for name, _what in KEYRING_ENTRIES:
        ctx.secrets.delete(name)
    ctx.close()  # the gateway's connections; the ledger is a file like the others
    keep = ctx.paths.install_root
    files = size = 0
    for folder in app_folders(ctx):
        more = _remove_tree(folder, keep)
        files, size = files + more[0], size + more[1]
    return LocalDeletion(deactivated=deactivated, files=files, bytes=size,
                         keyring=tuple(name for name, _ in KEYRING_ENTRIES),
                         kept_product=keep if keep.exists() else None)


def request_deletion(ctx: AppContext, *, all_machines: bool = False,
                     service: LicenseService | None = None) -> dict[str, Any]:
    """Ask the vendor to delete this computer's data (or every computer's on the license) and forget the
    license here (the vendor no longer knows this computer). Returns the server's signed answer."""
    engine = _service(ctx, service).engine
    record = engine.load()
    key = engine.stored_key()
    from crystal_protocol.messages import DeletionAnswer, DeletionRequest, as_json  # msgspec: decision 0018

    if all_machines:
        request = DeletionRequest(key=key, scope="all_machines")
    elif record.machine_id:
        request = DeletionRequest(key=key, scope="this_machine", machine_id=record.machine_id)
    else:
        request = DeletionRequest(key=key, scope="this_machine", fingerprint=engine.identity().fingerprint)
    answer = engine.call("license_deletion", as_json(request), "user")
    data = engine.checked(DeletionAnswer, answer, "the vendor's answer to the deletion request is missing its parts")
    engine.wipe(notice=DELETED_NOTICE)
    return data
