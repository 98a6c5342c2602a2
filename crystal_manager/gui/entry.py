"""Start the GUI: check for a display first (Qt aborts without one), then hand over to a running instance
or claim the single-instance name, show the first tray icon, and only then load the app's own GUI modules
(and later still httpx, keyring, tuf)."""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING

from crystal_manager.desktop.display import has_display

if TYPE_CHECKING:
    from crystal_manager.gui.app import TrayApp
    from crystal_manager.gui.first_tray import FirstTray
    from crystal_manager.gui.ipc import Claimed
    from crystal_manager.services.context import AppContext

EXIT_NO_DISPLAY = 2
EXIT_BAD_PROFILE = 2
EXIT_REPLACE_FAILED = 1
EXIT_START_FAILED = 1


class Boot:
    """What the start knows before the first picture: the context and the single-instance name, with the
    socket claimed for it (None when it could not be claimed, or on Windows where Qt claims it later).
    (A plain class, not a NamedTuple: a start-up trick, docs/decisions/0012-start-up-tricks.md.)"""

    __slots__ = ("claimed", "ctx", "name")

    def __init__(self, ctx: AppContext, name: str, claimed: Claimed | None) -> None:
        self.ctx = ctx
        self.name = name
        self.claimed = claimed


def build(args: argparse.Namespace, argv: list[str] | None = None) -> Boot | int:
    """Everything before the first picture: display check, QApplication, the profile, single instance.
    Returns what the start needs next, or an exit code (no display, handed over to a running instance, …).
    Only the standard library and QtWidgets run here: nothing of the app's GUI is imported yet."""
    if not has_display():
        print("crystal-manager: found no screen to show its window on; start it from your desktop, "
              "or use the command line, e.g. `crystal-manager status`", file=sys.stderr)
        return EXIT_NO_DISPLAY
    from PySide6.QtWidgets import QApplication

    from crystal_manager.gui import ipc
    from crystal_manager.services.context import AppContext

    if QApplication.instance() is None:
        QApplication(sys.argv[:1])
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
    claimed = ipc.claim(name) if ipc.POSIX else None
    if ipc.POSIX and claimed is None:  # another launch took the name since we looked: it is the instance
        if ipc.hand_over(name, passed):
            return 0
        import logging  # only on this rare path: not needed on the way to the tray

        logging.getLogger(__name__).warning("single-instance socket %s unavailable; continuing without it",
                                            name)
    return Boot(ctx, name, claimed)


def assemble(boot: Boot, first: FirstTray | None) -> TrayApp:
    """The app itself, adopting the first tray icon (if one was shown); call :meth:`TrayApp.start` next."""
    from PySide6.QtWidgets import QApplication

    from crystal_manager.gui.app import TrayApp
    from crystal_manager.gui.instance_server import InstanceServer
    from crystal_manager.gui.language import install_translations
    app = QApplication.instance()
    if app is not None:
        install_translations(app)  # before any of the app's words are made

    # Unclaimed (another process held the name): listen() tries again once the tray is up, never displacing.
    tray_app = TrayApp(boot.ctx, instance=InstanceServer(boot.name, boot.claimed), first_tray=first)
    tray_app.quit_requested.connect(QApplication.quit)
    return tray_app


def launch(args: argparse.Namespace, argv: list[str] | None = None) -> int:
    """Run the GUI until it quits; return the exit code."""
    boot = build(args, argv)
    if isinstance(boot, int):
        return boot
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from crystal_manager.gui.first_tray import show_first_tray

    first = show_first_tray()
    running: list[TrayApp] = []

    def start() -> bool:
        from crystal_manager.storage.logfile import start_log_file

        start_log_file(boot.ctx.paths.log_dir)  # first: whatever fails next is in the log
        try:
            running.append(assemble(boot, first))
            running[0].start(args)
            if "CRYSTAL_MANAGER_READY_FILE" in os.environ:  # started by a Manager self-update: say we are up
                from crystal_manager import __version__
                from crystal_manager.updates.self_update import report_ready

                report_ready(__version__)
        except Exception:  # never a "starting" icon (or nothing) that stays forever: say why and leave
            import logging

            logging.getLogger(__name__).exception("the app could not start")
            print("crystal-manager: the app could not start (details in the log)", file=sys.stderr)
            QApplication.exit(EXIT_START_FAILED)  # inside the event loop: it ends; before it, see below
            return False
        return True

    if first is None:  # no tray: the window is the first picture, and it needs the app
        if not start():
            _give_up(boot, running)
            return EXIT_START_FAILED
    else:
        QTimer.singleShot(0, start)  # the tray host sees the icon before the app's modules load
    code = int(QApplication.exec())
    _give_up(boot, running)
    return code


def _give_up(boot: Boot, running: list[TrayApp]) -> None:
    """Leave the single-instance name: through the app's server if the app was built, else directly."""
    if running and running[0].instance is not None:
        running[0].instance.close()
    elif boot.claimed is not None:
        boot.claimed.release()


def main() -> int:
    """GUI entry point (``crystal-manager-gui``)."""
    from crystal_manager.gui.args import parse_gui_args

    return launch(parse_gui_args(sys.argv[1:]))
