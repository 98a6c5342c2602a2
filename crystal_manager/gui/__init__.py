"""The Qt face: tray, window, dialogs. It renders and wires signals; the work lives in services."""

from crystal_manager.gui.refcount_guard import make_singletons_immortal

# Before any Qt call: shiboken6 6.12.0 loses a reference to None on each call answering None (see the module).
make_singletons_immortal()
