"""Deleting your data (privacy policy §9): everything the Manager keeps on this computer, and what the
vendor's server keeps about this computer (or every computer on the license).

Both faces call these (the CLI's ``privacy delete-local`` / ``request-deletion`` and the Privacy page);
they block on the network and on the disk, so the GUI calls them through its background helper.
"""

from __future__ import annotations

import contextlib
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crystal_manager.licensing.engine import KEY_SECRET
from crystal_manager.licensing.errors import KeyNotFound
from crystal_manager.privacy.texts import KEYRING_ENTRIES
from crystal_manager.services.context import AppContext
from crystal_manager.services.license_service import LicenseService
from crystal_manager.storage.logfile import LOG_NAME
from crystal_manager.storage.paths import APP_NAME, MARKER
from crystal_manager.storage.secrets import SecretStoreError

#: What the local license record says after the vendor deleted this computer's data.
DELETED_NOTICE = "this computer's data was deleted at the vendor; activate again to use the license here"


class SeatNotFreed(Exception):
    """The seat could not be freed before a local deletion (offline, refused…); nothing was deleted. The
    reason is the ``__cause__``."""


@dataclass(frozen=True)
class LocalDeletion:
    """What ``delete_local`` did. ``left``: what was found in the app's folders but is not the Manager's
    (in a folder the Manager did not create), kept; ``linked``: app folders that are links to another
    folder, neither followed nor removed; ``kept``: the installed programs kept (the product, the Manager)."""

    deactivated: bool
    files: int
    bytes: int
    keyring: tuple[str, ...]
    kept_product: Path | None
    kept: tuple[Path, ...] = ()
    left: tuple[Path, ...] = ()
    linked: tuple[Path, ...] = ()


#: The Manager's own files by the start of their name (a temporary copy starts with a dot), and its own
#: folders by name: in a folder the Manager did not create, only these are deleted.
OWN_FILES = ("settings.json", "settings.corrupt", "ledger.jsonl", "license.json", "secrets.json", LOG_NAME, MARKER)
OWN_FOLDERS = ("updates", "manager-updates")


def _service(ctx: AppContext, service: LicenseService | None) -> LicenseService:
    return service if service is not None else LicenseService(ctx)


def is_activated(ctx: AppContext, service: LicenseService | None = None) -> bool:
    """True when this computer may hold a seat, so deleting locally must free it first: a machine id from
    the vendor, or a stored key without one (a damaged license file, an interrupted activation: only the
    vendor knows). Local files and the keyring only, no network."""
    engine = _service(ctx, service).engine
    return engine.load().machine_id is not None or bool(engine.cfg.secrets().get(KEY_SECRET))


def app_folders(ctx: AppContext) -> list[Path]:
    """The Manager's own folders (settings, data, state, cache, logs), each once, deepest last."""
    paths = ctx.paths
    folders: list[Path] = []
    for folder in (paths.config_dir, paths.data_dir, paths.state_dir, paths.cache_dir, paths.log_dir):
        if folder not in folders:
            folders.append(folder)
    return folders


def kept_programs(ctx: AppContext) -> tuple[Path, ...]:
    """The installed programs delete-local keeps: CrystalMe3D Pro's versions and the Manager's own (after a
    self-update the running Manager, its launcher and autostart entry live there)."""
    from crystal_manager.updates.self_update import manager_root

    return ctx.paths.install_root, manager_root(ctx.paths)


def is_own_folder(folder: Path) -> bool:
    """True for a folder the Manager made: it holds the marker (a regular file, not a link), or it is one of
    the per-OS folders named after the app. A folder ``CRYSTAL_MANAGER_HOME`` points into that existed
    before (say, the user's own ``data``) is not: only the Manager's own files are deleted there."""
    marker = folder / MARKER
    return (marker.is_file() and not marker.is_symlink()) or APP_NAME in (folder.name, folder.parent.name)


def _is_own_entry(path: Path) -> bool:
    if path.is_dir() and not path.is_symlink():
        return path.name in OWN_FOLDERS
    return path.name.lstrip(".").startswith(OWN_FILES)


def _delete(path: Path) -> tuple[int, int]:
    """Delete one entry without following links (rmtree never follows them); return (files, bytes)."""
    if path.is_dir() and not path.is_symlink():
        found = [p for p in path.rglob("*") if p.is_file() and not p.is_symlink()]  # rglob enters no link
        size = sum(p.lstat().st_size for p in found)
        shutil.rmtree(path)
        return len(found), size
    size = path.lstat().st_size
    path.unlink()
    return 1, size


@dataclass
class _Tally:
    files: int = 0
    bytes: int = 0
    left: list[Path] = field(default_factory=list)

    def delete(self, path: Path) -> None:
        files, size = _delete(path)
        self.files, self.bytes = self.files + files, self.bytes + size


def _empty(folder: Path, keep: tuple[Path, ...], own: bool, tally: _Tally) -> None:
    """Delete what ``folder`` holds of the Manager's (everything when ``own``), except the ``keep`` paths."""
    for path in sorted(folder.iterdir()):
        if path in keep or path.name == MARKER:
            continue
        if path.is_dir() and not path.is_symlink() and any(k.is_relative_to(path) for k in keep):
            _empty(path, keep, own, tally)
        elif own or _is_own_entry(path):
            tally.delete(path)
        else:
            tally.left.append(path)


def _delete_keyring_entries(ctx: AppContext) -> tuple[str, ...]:
    """Delete the Manager's keyring entries; the names of those that were there. Without a keyring (the
    user-only file holds the secrets, deleted with the other files) there are none, and none are named."""
    store = ctx.secrets
    removed: list[str] = []
    for name, _what in KEYRING_ENTRIES:
        if not store.is_fallback:
            try:
                present = store.get(name) is not None
            except SecretStoreError:
                present = True  # unreadable (locked?): the delete below says whether it can go
            if present:
                removed.append(name)
        store.delete(name)
    return tuple(removed)


def delete_local(ctx: AppContext, service: LicenseService | None = None) -> LocalDeletion:
    """Free this computer's seat if it may hold one (over the network; if that fails nothing is deleted),
    then delete the Manager's files and its keyring entries. Only the Manager's own: in a folder it did not
    create only its known files go, a folder that is a link is neither followed nor removed, and the
    installed programs (CrystalMe3D Pro's versions, the Manager's own) stay (uninstall removes them)."""
    svc = _service(ctx, service)
    deactivated = False
    if is_activated(ctx, svc):
        try:
            svc.deactivate()
        except KeyNotFound:
            pass  # a signed answer: the vendor has no license for this key, so no seat to free
        except Exception as exc:
            raise SeatNotFreed(str(exc)) from exc  # before anything is deleted
        else:
            deactivated = True
    removed = _delete_keyring_entries(ctx)
    ctx.close()  # the gateway's connections; the ledger is a file like the others
    keep = kept_programs(ctx)
    tally = _Tally()
    linked: list[Path] = []
    for folder in app_folders(ctx):
        if folder.is_symlink():
            linked.append(folder)  # emptying it would empty the folder it points to
        elif folder.is_dir():
            own = is_own_folder(folder)
            _empty(folder, keep, own, tally)
            marker = folder / MARKER
            if marker.is_file() or marker.is_symlink():
                tally.delete(marker)  # last: until here a retry still knows the folder is the Manager's
            if own:
                with contextlib.suppress(OSError):  # not empty: it holds a kept program
                    folder.rmdir()
    return LocalDeletion(deactivated=deactivated, files=tally.files, bytes=tally.bytes,
                         keyring=removed,
                         kept_product=keep[0] if keep[0].exists() else None,
                         kept=tuple(k for k in keep if k.exists()), left=tuple(tally.left), linked=tuple(linked))


def request_deletion(ctx: AppContext, *, all_machines: bool = False, service: LicenseService | None = None,
                     key: str | None = None) -> dict[str, Any]:
    """Ask the vendor to delete this computer's data (or every computer's on the license) and forget the
    license here (the vendor no longer knows this computer). Returns the server's signed answer; its
    ``deleted_machines`` is empty when the vendor found nothing of this computer (say so, not "done").

    After a deactivation the key is no longer stored: ``key`` is the one typed in; the machine is named
    by the id kept for this (``last_machine_id``), since the vendor cleared its one-way code."""
    engine = _service(ctx, service).engine
    record = engine.load()
    from crystal_manager.licensing.keyformat import normalize_key
    from crystal_protocol.messages import DeletionAnswer, DeletionRequest, as_json  # msgspec: decision 0018

    key = normalize_key(key) if key is not None else engine.stored_key()
    machine_id = record.machine_id or record.last_machine_id
    if all_machines:
        request = DeletionRequest(key=key, scope="all_machines")
    elif machine_id:
        request = DeletionRequest(key=key, scope="this_machine", machine_id=machine_id)
    else:
        request = DeletionRequest(key=key, scope="this_machine", fingerprint=engine.identity().fingerprint)
    answer = engine.call("license_deletion", as_json(request), "user")
    data = engine.checked(DeletionAnswer, answer, "the vendor's answer to the deletion request is missing its parts")
    engine.wipe(notice=DELETED_NOTICE)
    forgotten = engine.load()
    if forgotten.last_machine_id is not None:
        forgotten.last_machine_id = None  # deleted at the vendor (or never there): nothing left to name
        engine.save(forgotten)
    return data
