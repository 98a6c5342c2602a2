"""``python -m crystal_manager.gui``: the GUI's fast start path (what autostart runs)."""

from crystal_manager.gui.entry import main

raise SystemExit(main())
