"""``python -m crystal_server``."""

from crystal_server.cli import main

raise SystemExit(main())
