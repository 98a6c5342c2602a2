"""Start the GUI: check for a display first (Qt aborts without one), then build the app."""

from __future__ import annotations

import argparse
import sys

from crystal_manager.desktop.display import has_display

EXIT_NO_DISPLAY = 2


def launch(args: argparse.Namespace) -> int:
    """Run the GUI until it quits; return the exit code."""
    if not has_display():
        print("crystal-manager: no display found (set DISPLAY or QT_QPA_PLATFORM); "
              "use the CLI, e.g. `crystal-manager status`", file=sys.stderr)
        return EXIT_NO_DISPLAY
    from PySide6.QtWidgets import QApplication, QLabel

    from crystal_manager.services.context import AppContext
    from crystal_manager.services.status import app_status

    app = QApplication.instance() or QApplication(sys.argv[:1])
    ctx = AppContext.create(profile_file=args.profile, server_url=args.server)
    status = app_status(ctx)
    label = QLabel(f"CrystalMe3D Pro Manager {status.manager_version}\nLicense: {status.license.state}")
    label.setWindowTitle("CrystalMe3D Pro Manager")
    label.show()
    return int(app.exec())


def main() -> int:
    """GUI entry point (``crystal-manager-gui``)."""
    from crystal_manager.cli.main import build_parser

    return launch(build_parser().parse_args(sys.argv[1:]))
