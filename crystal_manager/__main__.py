"""``python -m crystal_manager`` runs the CLI (no arguments launches the GUI)."""

from crystal_manager.cli.main import main

raise SystemExit(main())
