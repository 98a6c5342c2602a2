"""``crystal-manager demo``: the app against a fresh local reference server with demo data.

With a display it launches the GUI; without one it says so and walks the same flow with CLI verbs,
printing each step and its result.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from crystal_manager.cli.demo_server import RunningServer, free_port, server_cli, start_server
from crystal_manager.cli.exit_codes import EXIT_INTERNAL, EXIT_OK
from crystal_manager.cli.output import fail, say
from crystal_manager.desktop.display import has_display
from crystal_manager.services.context import AppContext

#: Demo data: ``crystal-server`` invocations run after ``init`` ({dir} is the server folder).
#: Each returns output; a line ``key: VALUE`` in it is remembered as {key} for later steps.
SEED_STEPS: list[tuple[str, list[str]]] = [
    ("a demo license (plan pro, 2 seats, runs up to version 2.9)",
     ["license", "create", "{dir}", "--plan", "pro", "--seats", "2", "--expires", "2099-12-31",
      "--max-version", "2.9"]),
]

#: The headless walk: (what it shows, crystal-manager arguments). {key} etc. come from seeding.
HEADLESS_STEPS: list[tuple[str, list[str]]] = [
    ("Status before anything happens", ["status"]),
    ("Is the server reachable? (one health request through the gateway)", ["status", "--check-server"]),
    ("Activate this machine with the demo key (signed lease, key kept in the keyring)", ["activate", "{key}"]),
    ("The machines on the license and the seats used", ["machines"]),
    ("Re-validate with the server now", ["verify"]),
    ("Status as JSON (what scripts read)", ["status", "--json"]),
    ("Deactivate: the seat is freed and the key and lease are removed", ["deactivate"]),
]


def register(subparsers: Any) -> None:
    """Add the ``demo`` verb."""
    parser = subparsers.add_parser("demo", help="run the app against a local reference server with demo data")
    parser.add_argument("--headless", action="store_true", help="walk through the CLI even with a display")
    parser.add_argument("--keep", action="store_true", help="keep the demo folder afterwards")
    parser.set_defaults(handler=run, needs_context=False)


def _seed(server_dir: Path) -> dict[str, str]:
    found: dict[str, str] = {"dir": str(server_dir)}
    for title, argv in SEED_STEPS:
        proc = server_cli(*[part.format(**found) for part in argv])
        say(f"  seed: {title}")
        for line in proc.stdout.splitlines():
            key, sep, value = line.partition(":")
            if sep and key.strip().isidentifier():
                found[key.strip()] = value.strip()
    return found


def _walk(env: dict[str, str], values: dict[str, str]) -> int:
    worst = EXIT_OK
    for number, (title, argv) in enumerate(HEADLESS_STEPS, start=1):
        args = [part.format(**values) for part in argv]
        say(f"\n[{number}] {title}\n$ crystal-manager {' '.join(args)}")
        proc = subprocess.run([sys.executable, "-m", "crystal_manager", *args], env=env, text=True,
                              capture_output=True, check=False, timeout=120)
        for line in (proc.stdout + proc.stderr).rstrip().splitlines():
            say(f"    {line}")
        say(f"    -> exit {proc.returncode}")
        worst = max(worst, proc.returncode)
    return worst


def run(_ctx: AppContext | None, args: argparse.Namespace) -> int:
    """Set up the server and the app's folder, then show the GUI or walk the CLI."""
    root = Path(tempfile.mkdtemp(prefix="crystal-demo-"))
    server_dir = root / "server"
    port = free_port()
    server: RunningServer | None = None
    try:
        say(f"Demo folder: {root}")
        server_cli("init", str(server_dir), "--url", f"http://127.0.0.1:{port}")
        values = _seed(server_dir)
        server = start_server(server_dir, port=port)
        say(f"Reference server running at {server.url}")
        if "key" in values:  # the GUI demo is activated by hand: people need the key to type or paste
            say(f"Demo license key (for Activate…): {values['key']}")
        env = {**os.environ, "CRYSTAL_MANAGER_HOME": str(root / "home"),
               "CRYSTAL_MANAGER_PROFILE": str(server.profile_file)}
        env.pop("CRYSTAL_MANAGER_SERVER", None)
        if has_display() and not args.headless:
            say("Launching the GUI (close its window or choose Quit to end the demo)…")
            return subprocess.run([sys.executable, "-m", "crystal_manager", "--show", "main"], env=env,
                                  check=False).returncode
        if not args.headless:
            say("No display found: walking through the demo headless with the CLI instead.")
        return _walk(env, values)
    except Exception as exc:
        fail(f"demo failed: {exc}")
        return EXIT_INTERNAL
    finally:
        if server is not None:
            server.stop()
        if not args.keep:
            import shutil

            shutil.rmtree(root, ignore_errors=True)
        else:
            say(f"Kept {root}")
