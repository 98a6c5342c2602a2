"""``crystal-manager`` and ``python -m crystal_manager`` (also the frozen bundle's executable).

With no arguments (a menu launcher, the .desktop file, autostart, a double click on the bundle) this goes
straight to the GUI's fast start path: no CLI module, parser or verb is imported before the first tray
icon. Any argument goes to the CLI (``crystal-manager --show main`` still opens the GUI through it).
"""

from __future__ import annotations

import sys


def main() -> int:
    """Entry point of ``crystal-manager``: the GUI's fast path with no arguments, else the CLI."""
    if len(sys.argv) <= 1:
        from crystal_manager.gui.entry import main as gui_main

        return gui_main()
    from crystal_manager.cli.main import main as cli_main

    return cli_main()


if __name__ == "__main__":
    raise SystemExit(main())
