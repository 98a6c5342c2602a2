"""``crystal-manager status [--json]``: versions, profile and license facts (local state only)."""

from __future__ import annotations

import argparse
from typing import Any

from crystal_manager.cli.commands.license import license_lines
from crystal_manager.cli.exit_codes import BY_OUTCOME, EXIT_BAD_INPUT, EXIT_OK
from crystal_manager.cli.output import emit_json, fail, say, waiting
from crystal_manager.services.context import AppContext
from crystal_manager.services.health import check_server
from crystal_manager.services.license_service import LicenseService
from crystal_manager.services.status import AppStatus, app_status, check_key_store


def register(subparsers: Any) -> None:
    """Add the ``status`` verb."""
    parser = subparsers.add_parser("status", help="show versions, profile and license state")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--check-server", action="store_true",
                        help="also ask the server whether it is reachable (sends one health request)")
    parser.set_defaults(handler=run)


def render_text(status: AppStatus) -> list[str]:
    """The status as lines for people."""
    lic = status.license
    profile = status.profile
    lines = [
        f"CrystalMe3D Pro Manager {status.manager_version}",
        f"CrystalMe3D Pro: {status.product_version or 'not installed'}",
        *license_lines(lic),
    ]
    # "profile"/"production" are our words, not the user's: say whose server it is (the name is in --json)
    whose = "" if profile.production else "a test server (not the vendor's), "
    lines.append(f"Server: {whose}{profile.server_url}")
    return lines


def run(ctx: AppContext, args: argparse.Namespace) -> int:
    """Print the local status; with ``--check-server`` then ask the server, and a server that cannot be
    reached is said after the local facts (they hold either way), with the offline exit code."""
    from crystal_manager.services.usertext import explain

    status = app_status(ctx, check_key_store(ctx, LicenseService(ctx).status()))
    server: dict[str, Any] | None = None
    problem: str | None = None
    code = EXIT_OK
    if args.check_server:
        try:
            with waiting("Waiting for the server…", stopped="Server not checked: you stopped waiting for it."):
                health = check_server(ctx)
            server = {"status": health.status, "protocol": health.protocol, "time": health.server_time}
        except Exception as exc:
            problem, outcome = explain(exc)
            code = BY_OUTCOME.get(outcome, EXIT_BAD_INPUT)
            server = {"status": "unreachable", "problem": problem}
    if args.json:
        report = status.to_json()
        if server is not None:
            report["server"] = server
        emit_json(report)
    else:
        for line in render_text(status):
            say(line)
        if problem is None and server is not None:
            say("Server reachable: yes" if server["status"] == "ok" else "Server reachable: it answered, but not as "
                "expected")
    if problem is not None:
        fail(problem)
    return code
