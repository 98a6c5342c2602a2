"""Start the GUI: check for a display first (Qt aborts without one), then hand over to a running instance
or become the instance, show the tray, and only then build the rest (httpx, keyring, tuf load later)."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import TYPE_CHECKING

from crystal_manager.desktop.display import has_display

if TYPE_CHECKING:
    from crystal_manager.gui.app import TrayApp

EXIT_NO_DISPLAY = 2
EXIT_BAD_PROFILE = 2
EXIT_REPLACE_FAILED = 1
log = logging.getLogger(__name__)


def build(args: argparse.Namespace, argv: list[str] | None = None) -> TrayApp | int:
    """Everything before the first picture: display check, QApplication, the profile, single instance.
    Returns the app to start, or an exit code (no display, handed over to a running instance, …).
    The name is claimed here without QtNetwork; the app serves it once the tray shows."""
    if not has_display():
        print("crystal-manager: no display found (set DISPLAY or QT_QPA_PLATFORM); "
              "use the CLI, e.g. `crystal-manager status`", file=sys.stderr)
        return EXIT_NO_DISPLAY
    from PySide6.QtWidgets import QApplication

    from crystal_manager.gui import ipc
    from crystal_manager.services.context import AppContext

    app = QApplication.instance() or QApplication(sys.argv[:1])
    QApplication.setApplicationName("CrystalMe3D Pro Manager")
    QApplication.setDesktopFileName("crystalme3dpro-manager")
    try:
        ctx = AppContext.create(profile_file=args.profile, server_url=args.server)
    except Exception as exc:
        from crystal_manager.services.usertext import explain

        print(f"crystal-manager: {explain(exc)[0]}", file=sys.stderr)
        return EXIT_BAD_PROFILE
    name = ipc.server_name(ctx.paths)
    passed = list(sys.argv[1:] if argv is None else argv)
    if args.replace:
        if not ipc.ask_to_quit(name):
            print("crystal-manager: the running instance did not quit; not replacing it", file=sys.stderr)
            return EXIT_REPLACE_FAILED
    elif ipc.hand_over(name, passed):
        return 0  # the running instance shows its window
    server = ipc.InstanceServer(name)
    if not server.claim():  # another launch took the name since we looked: it is the instance
        if ipc.hand_over(name, passed):
            return 0
        log.warning("single-instance socket %s unavailable; continuing without it", name)

    from crystal_manager.gui.app import TrayApp

    tray_app = TrayApp(ctx, instance=server)
    tray_app.quit_requested.connect(app.quit)
    return tray_app


def launch(args: argparse.Namespace, argv: list[str] | None = None) -> int:
    """Run the GUI until it quits; return the exit code."""
    built = build(args, argv)
    if isinstance(built, int):
        return built
    from PySide6.QtWidgets import QApplication

    built.start(args)
    code = int(QApplication.exec())
    if built.instance is not None:
        built.instance.close()
    return code


def main() -> int:
    """GUI entry point (``crystal-manager-gui``)."""
    from crystal_manager.gui.args import parse_gui_args

    return launch(parse_gui_args(sys.argv[1:]))
