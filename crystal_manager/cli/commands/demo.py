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
from collections.abc import Callable
from pathlib import Path
from typing import Any

from crystal_manager.cli.demo_keyring import DemoKeyring, start_demo_keyring
from crystal_manager.cli.demo_server import RunningServer, free_port, server_batch, start_server
from crystal_manager.cli.demo_steps import can_fork, preload, run_step
from crystal_manager.cli.exit_codes import EXIT_INTERNAL, EXIT_OK
from crystal_manager.cli.output import fail, say
from crystal_manager.desktop.display import has_display
from crystal_manager.services.context import AppContext

#: Demo data: ``crystal-server`` invocations run after ``init`` ({dir} is the server folder, {releases} the
#: folder of archives and notes). A line ``key: VALUE`` in their output is remembered as {key} for the walk.
SEED_STEPS: list[tuple[str, list[str]]] = [
    ("a demo license (plan pro, 2 seats, runs up to version 2.9)",
     ["license", "create", "{dir}", "--plan", "pro", "--seats", "2", "--expires", "2099-12-31",
      "--max-version", "2.9"]),
    *(step for version, date in (("1.1.0", "2026-10-01T09:00:00Z"), ("1.2.0", "2026-11-20T09:00:00Z")) for step in (
        (f"the stand-in CrystalMe3D Pro {version}",
         ["release", "demo-archive", f"{{releases}}/crystalme3d-pro-{version}.tar.gz", "--version", version]),
        (f"release {version} signed and published",
         ["release", "publish", "{dir}", f"{{releases}}/crystalme3d-pro-{version}.tar.gz", "--product",
          "crystalme3d-pro", "--version", version, "--notes", f"{{releases}}/notes-{version}.md",
          "--released-at", date]),
    )),
]

#: Release notes of the demo's two releases (Markdown, as the vendor would write them).
DEMO_NOTES = {
    "1.1.0": "## CrystalMe3D Pro 1.1.0\n\n- Faster scene loading.\n",
    "1.2.0": "## What's new in CrystalMe3D Pro 1.2.0\n\n- **Crystal lattice editor**: edit unit cells in place.\n"
             "- Exports to glTF keep their materials.\n- Fixes a crash when opening very large scenes.\n\n"
             "Full notes: https://crystalme3dpro.com/releases/1.2.0\n",
}
#: The version the demo's CrystalMe3D Pro starts at (as its installer would have put it there).
DEMO_INSTALLED = "1.1.0"

#: The headless walk: (what it shows, crystal-manager arguments). {key} etc. come from seeding.
HEADLESS_STEPS: list[tuple[str, list[str]]] = [
    ("Status before anything happens", ["status"]),
    ("Is the server reachable? (one health request through the gateway)", ["status", "--check-server"]),
    ("Activate this machine with the demo key (signed lease, key kept in the keyring)", ["activate", "{key}"]),
    ("The machines on the license and the seats used", ["machines"]),
    ("Re-validate with the server now", ["verify"]),
    ("Status as JSON (what scripts read)", ["status", "--json"]),
    ("Check for updates (signed update information; nothing about you is sent)", ["update", "check"]),
    ("Download the update (resumable; its signed size and hash are checked)", ["update", "download"]),
    ("Install it beside the current version (checked that it starts)", ["update", "install"]),
    ("Go back to the previous version", ["update", "rollback"]),
    ("Updates status", ["update", "status"]),
    ("Deactivate: the seat is freed and the key and lease are removed", ["deactivate"]),
]


def register(subparsers: Any) -> None:
    """Add the ``demo`` verb."""
    parser = subparsers.add_parser("demo", help="run the app against a local reference server with demo data")
    parser.add_argument("--headless", action="store_true", help="walk through the CLI even with a display")
    parser.add_argument("--keep", action="store_true", help="keep the demo folder afterwards")
    parser.set_defaults(handler=run, needs_context=False)


def _seed(server_dir: Path, url: str, releases: Path, *,
          meanwhile: Callable[[], object] | None = None) -> tuple[dict[str, str], list[str]]:
    """``init`` and the seed steps, all in one ``crystal-server batch`` (one interpreter, not seven);
    ``meanwhile`` runs here while the batch does."""
    releases.mkdir(parents=True, exist_ok=True)
    for version, notes in DEMO_NOTES.items():
        (releases / f"notes-{version}.md").write_text(notes, encoding="utf-8")
    found: dict[str, str] = {"dir": str(server_dir), "releases": str(releases)}
    commands = [["init", str(server_dir), "--url", url],
                *([part.format(**found) for part in argv] for _title, argv in SEED_STEPS)]
    for proc in server_batch(commands, meanwhile=meanwhile)[1:]:
        for line in proc.stdout.splitlines():
            key, sep, value = line.partition(":")
            if sep and key.strip().isidentifier():
                found[key.strip()] = value.strip()
    return found, [title for title, _argv in SEED_STEPS]


def _preinstall(archive: Path, env: dict[str, str]) -> None:
    """Put the older release in place as CrystalMe3D Pro's own installer would (the same install engine,
    so it lands exactly as an update would)."""
    from crystal_manager.storage.paths import resolve_paths
    from crystal_manager.updates.install import install_archive

    install_archive(resolve_paths(env).install_root, archive, expect=None)


def _walk(env: dict[str, str], values: dict[str, str]) -> int:
    worst = EXIT_OK
    for number, (title, argv) in enumerate(HEADLESS_STEPS, start=1):
        args = [part.format(**values) for part in argv]
        say(f"\n[{number}] {title}\n$ crystal-manager {' '.join(args)}")
        proc = run_step(args, env, timeout=120)
        for line in (proc.stdout + proc.stderr).rstrip().splitlines():
            say(f"    {line}")
        say(f"    -> exit {proc.returncode}")
        worst = max(worst, proc.returncode)
    return worst


def run(_ctx: AppContext | None, args: argparse.Namespace) -> int:
    """Set up the server and the app's folder, then show the GUI or walk the CLI. The key comes first:
    it is what people need from all this output."""
    root = Path(tempfile.mkdtemp(prefix="crystal-demo-"))
    server_dir = root / "server"
    port = free_port()
    server: RunningServer | None = None
    keyring: DemoKeyring | None = None
    try:
        gui = has_display() and not args.headless
        # The headless walk's steps fork from this process (cli/demo_steps.py): their imports are done here
        # while the server's folder is being set up, not after it.
        values, seeded = _seed(server_dir, f"http://127.0.0.1:{port}", root / "releases",
                               meanwhile=None if gui or not can_fork(os.environ) else preload)
        if "key" in values:  # the GUI demo is activated by hand: people need the key to type or paste
            say(f"Demo license key (for Activate…): {values['key']}")
        say(f"Demo folder: {root}")
        for title in seeded:
            say(f"  seed: {title}")
        server = start_server(server_dir, port=port)
        say(f"Reference server running at {server.url}")
        env = {**os.environ, "CRYSTAL_MANAGER_HOME": str(root / "home"),
               "CRYSTAL_MANAGER_PROFILE": str(server.profile_file)}
        env.pop("CRYSTAL_MANAGER_SERVER", None)
        keyring = start_demo_keyring(root / "keyring", env)
        env = keyring.env
        say(f"The license key will be kept in {keyring.where}")
        _preinstall(root / "releases" / f"crystalme3d-pro-{DEMO_INSTALLED}.tar.gz", env)
        say(f"CrystalMe3D Pro {DEMO_INSTALLED} is installed; 1.2.0 is waiting on the server")
        if gui:
            say("Launching the GUI (close its window or choose Quit to end the demo)…")
            return subprocess.run([sys.executable, "-m", "crystal_manager", "--show", "main", "--quit-on-close"],
                                  env=env, check=False).returncode
        if not args.headless:
            say("No display found: walking through the demo headless with the CLI instead.")
        return _walk(env, values)
    except Exception as exc:
        fail(f"demo failed: {exc}")
        return EXIT_INTERNAL
    finally:
        if keyring is not None:
            keyring.stop()
        if server is not None:
            server.stop()
        if not args.keep:
            import shutil

            shutil.rmtree(root, ignore_errors=True)
        else:
            say(f"Kept {root}")
