"""A bare PySide6 tray app (an icon, a one-item menu): the frozen baseline that bench/start_bench.py
--commands measures the frozen Manager against. Built by ``build/package.sh --bare``."""

import sys

from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication, QMenu, QSystemTrayIcon

app = QApplication(sys.argv[:1])
icon = QSystemTrayIcon(QIcon(sys.argv[1] if len(sys.argv) > 1 else ""))
menu = QMenu()
menu.addAction("Quit", app.quit)
icon.setContextMenu(menu)
icon.show()
sys.exit(app.exec())
