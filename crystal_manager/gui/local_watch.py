"""Notice when the files behind the window change — written by this app's own actions or by another process
(``crystal-manager activate`` or ``update rollback`` in a terminal) — so no page keeps showing an old state.

The folders are watched, not only the files: the state files are replaced atomically (a new file renamed
over the old one), which a watch on the old file alone would miss after the first time. A change starts a
short quiet period; then each file of interest is compared by (size, mtime, inode) with what was last seen,
so a lock file coming and going or this app merely reading a file never causes a reload.
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QFileSystemWatcher, QObject, QTimer, Signal

from crystal_manager.storage.paths import AppPaths

QUIET_MS = 150  # several writes of one action (state file, ledger line) become one reload
Signature = tuple[int, int, int] | None

# What changed: the license files, the update state (state.json, current.json), the privacy log, the
# settings, or any other stored file (the Privacy page lists them all).
LICENSE, UPDATES, LEDGER, SETTINGS, FILES = "license", "updates", "ledger", "settings", "files"
LICENSE_FACTS = "license_facts"  # not a file: the app's own license facts changed state (app.py)


def watched_files(paths: AppPaths) -> dict[Path, str]:
    """Each file whose change the window must follow, with its kind."""
    return {paths.license_state_file: LICENSE, paths.secrets_fallback_file: LICENSE,
            paths.data_dir / "updates" / "state.json": UPDATES, paths.install_root / "current.json": UPDATES,
            paths.ledger_file: LEDGER, paths.settings_file: SETTINGS}


def _signature(path: Path) -> Signature:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_size, st.st_mtime_ns, st.st_ino)


def _listing(folder: Path) -> frozenset[str]:
    try:
        return frozenset(os.listdir(folder))
    except OSError:
        return frozenset()


class LocalWatch(QObject):
    """Emits ``changed`` (a frozenset of the kinds above) after the app's files changed on disk."""

    changed = Signal(object)

    def __init__(self, paths: AppPaths, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._files = watched_files(paths)
        self._folders = sorted({p.parent for p in self._files} | {paths.data_dir, paths.config_dir,
                                                                    paths.state_dir})
        self._seen = {path: _signature(path) for path in self._files}
        self._listed = {folder: _listing(folder) for folder in self._folders}
        self._watcher = QFileSystemWatcher(self)
        self._watcher.fileChanged.connect(self._soon)
        self._watcher.directoryChanged.connect(self._soon)
        self._quiet = QTimer(self)
        self._quiet.setSingleShot(True)
        self._quiet.setInterval(QUIET_MS)
        self._quiet.timeout.connect(self.poll)
        self._add_paths()

    def _add_paths(self) -> None:
        # A folder made later (the first activation, the first install) is watched from then on: its
        # parent's change brings us here again.
        wanted = [str(p) for p in (*self._folders, *{f.parent.parent for f in self._files}, *self._files)
                  if p.exists()]
        have = set(self._watcher.files()) | set(self._watcher.directories())
        missing = [p for p in wanted if p not in have]
        if missing:
            self._watcher.addPaths(missing)

    def _soon(self, _path: str) -> None:
        if not self.suspended:
            self._quiet.start()

    suspended = False  # set while the app deletes its own files: reading them back then could re-create some

    def poll(self) -> frozenset[str]:
        """Compare the files with what was last seen now (also called when the window is activated: a
        platform whose watcher misses a change still shows the truth once the user looks); emit and return
        what changed."""
        if self.suspended:
            return frozenset()
        self._add_paths()
        kinds: set[str] = set()
        for path, kind in self._files.items():
            now = _signature(path)
            if now != self._seen[path]:
                self._seen[path] = now
                kinds.update((kind, FILES))
        for folder in self._folders:
            listed = _listing(folder)
            if listed != self._listed[folder]:
                self._listed[folder] = listed
                kinds.add(FILES)
        if kinds:
            self.changed.emit(frozenset(kinds))
        return frozenset(kinds)
