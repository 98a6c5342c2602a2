"""``python -m tests.support.frozen_cli ARGS``: the app's CLI as the bundle runs it (``sys.frozen`` set, as
PyInstaller sets it); the running version is this tree's.

Run with ``tests.support.cli_run.run_module`` (forked from the CLI zygote, decision 0023). The app reads
``sys.frozen`` only when it decides what to do (``crystal_manager.updates.self_update.is_frozen``,
``desktop.autostart``), never at import, so setting it here, after the zygote imported the CLI, gives the
same process as ``python -c "import sys; sys.frozen = True; ..."``.
"""

from __future__ import annotations

import sys

from crystal_manager.cli.main import main

if __name__ == "__main__":
    sys.frozen = True  # type: ignore[attr-defined]
    sys.exit(main(sys.argv[1:]))
