"""One measured process for bench/start_bench.py: ``bare`` (a minimal PySide6 tray app) or ``app`` (the
Manager's GUI start path). Prints ``SHOWN`` when the tray icon is shown and ``READY`` when start-up work is
done, then idles until killed."""

from __future__ import annotations

import sys


def bare() -> None:
    from PySide6.QtGui import QIcon
    from PySide6.QtWidgets import QApplication, QMenu, QSystemTrayIcon

    app = QApplication(sys.argv[:1])
    icon = QSystemTrayIcon(QIcon(sys.argv[2]))
    menu = QMenu()
    menu.addAction("Quit", app.quit)
    icon.setContextMenu(menu)
    icon.show()
    print("SHOWN", QSystemTrayIcon.isSystemTrayAvailable(), flush=True)
    from PySide6.QtCore import QTimer

    QTimer.singleShot(0, lambda: print("READY", flush=True))
    app.exec()


def manager() -> None:
    from PySide6.QtWidgets import QApplication

    from crystal_manager.gui.args import parse_gui_args
    from crystal_manager.gui.entry import build

    args = parse_gui_args([])  # as entry.main() with no arguments
    tray = build(args, [])  # the real start path: display check, profile, single-instance socket
    assert not isinstance(tray, int), tray
    app = QApplication.instance()
    tray.tray_shown.connect(lambda: print("SHOWN", tray.tray is not None, flush=True))
    tray.window_shown.connect(lambda: print("SHOWN window", flush=True))
    ready = {"done": False}

    def first_view(_view: object) -> None:
        if not ready["done"]:
            ready["done"] = True
            facts = tray.license.facts
            print("READY", facts.status.state if facts else None, flush=True)

    tray.view_changed.connect(first_view)
    tray.start(args)
    app.exec()  # type: ignore[union-attr]


if __name__ == "__main__":
    bare() if sys.argv[1] == "bare" else manager()
