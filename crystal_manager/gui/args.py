"""The GUI's own command line (no Qt, no CLI verbs): parsed fast at start and again when a second
launch hands its arguments over. ``crystal-manager`` with no verb accepts the same options."""

from __future__ import annotations

import argparse

GUI_PAGES = ("main", "license", "updates", "privacy", "settings", "about")


def add_gui_options(parser: argparse.ArgumentParser) -> None:
    """Options shared by ``crystal-manager`` and ``crystal-manager-gui``."""
    parser.add_argument("--profile", metavar="FILE", help="trust profile (default: the built-in production one)")
    parser.add_argument("--server", metavar="URL", help="server URL (overrides profile and settings)")
    parser.add_argument("--show", choices=GUI_PAGES, help="GUI: open the window at this page")
    parser.add_argument("--replace", action="store_true", help="GUI: replace a running instance")
    parser.add_argument("--quit-on-close", action="store_true",
                        help="GUI: closing the window quits, even with a tray (the demo uses it)")


def parse_gui_args(argv: list[str]) -> argparse.Namespace:
    """Parse ``crystal-manager-gui``'s arguments. With none (autostart, a menu launcher) the defaults are
    returned without building a parser: its help texts go through gettext, which loads ``locale`` (a start-up
    trick: docs/decisions/0012-start-up-tricks.md)."""
    if not argv:
        return argparse.Namespace(profile=None, server=None, show=None, replace=False, quit_on_close=False)
    return gui_parser().parse_args(argv)


def gui_parser() -> argparse.ArgumentParser:
    """The parser of ``crystal-manager-gui``."""
    parser = argparse.ArgumentParser(prog="crystal-manager-gui",
                                     description="CrystalMe3D Pro Manager in the system tray.")
    add_gui_options(parser)
    return parser
