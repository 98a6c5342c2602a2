"""Run-time hook of the frozen Manager (crystal_manager.spec), run before PyInstaller's own PySide6 hook.

That hook sets Qt's paths (QT_PLUGIN_PATH, QML2_IMPORT_PATH, and PATH or DYLD_LIBRARY_PATH where needed), then
imports PySide6.QtCore, before the app's first line, only to register an embedded qt.conf for bindings that
do not register one themselves. PySide6's wheels do, when QtCore is imported (Prefix = the bundled
PySide6/Qt, the path the hook would write). So the hook's early import is dropped here and its settings kept:
the command line never loads Qt (about half the CPU of a frozen ``crystal-manager --version``), and the GUI
gets the same qt.conf from PySide6 when it imports Qt. A start-up trick: docs/decisions/0012-start-up-tricks.md.
"""

import _pyi_rth_utils.qt  # type: ignore[import-not-found]  # PyInstaller's, inside the bundle only


def _registered_by_the_bindings(qt_bindings: str, prefix_path: str) -> None:
    """Nothing to do before the app imports Qt: PySide6.QtCore registers its own qt.conf then."""


_pyi_rth_utils.qt.create_embedded_qt_conf = _registered_by_the_bindings
