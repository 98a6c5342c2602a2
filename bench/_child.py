"""One measured process for bench/start_bench.py: ``bare`` (a minimal PySide6 tray app) or ``app`` (the
Manager's GUI start path). Prints ``SHOWN`` with the system-wide monotonic clock when the tray icon is
shown and ``READY`` when start-up work is done, then idles until killed."""

from __future__ import annotations

import sys
import time


def bare() -> None:
    from PySide6.QtGui import QIcon
    from PySide6.QtWidgets import QApplication, QMenu, QSystemTrayIcon

    app = QApplication(sys.argv[:1])
    icon = QSystemTrayIcon(QIcon(sys.argv[2]))
    menu = QMenu()
    menu.addAction("Quit", app.quit)
    icon.setContextMenu(menu)
    icon.show()
    print("SHOWN", QSystemTrayIcon.isSystemTrayAvailable(), time.monotonic(), flush=True)
    from PySide6.QtCore import QTimer

    QTimer.singleShot(0, lambda: print("READY", flush=True))
    app.exec()


def manager() -> None:
    # The steps of crystal_manager.gui.entry.launch(), with prints where the bench measures.
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from crystal_manager.gui.args import parse_gui_args
    from crystal_manager.gui.entry import assemble, build
    from crystal_manager.gui.first_tray import show_first_tray

    args = parse_gui_args([])  # as entry.main() with no arguments
    boot = build(args, [])  # display check, QApplication, profile, single-instance claim
    assert not isinstance(boot, int), boot
    first = show_first_tray()
    print("SHOWN", first is not None, time.monotonic(), flush=True)
    ready = {"done": False}
    kept: list[object] = []  # the app, alive until the process is killed

    def start() -> None:
        from crystal_manager.storage.logfile import start_log_file

        start_log_file(boot.ctx.paths.log_dir)  # as launch() does, before the app is built
        tray = assemble(boot, first)

        def first_view(_view: object) -> None:
            if not ready["done"]:
                ready["done"] = True
                facts = tray.license.facts
                print("READY", facts.status.state if facts else None, flush=True)

        tray.view_changed.connect(first_view)
        tray.start(args)
        kept.append(tray)

    if first is None:
        start()  # as launch(): without a tray the window is the first picture
    else:
        QTimer.singleShot(0, start)
    QApplication.exec()


if __name__ == "__main__":
    bare() if sys.argv[1] == "bare" else manager()
