"""``crystal-manager update self [--check | --rollback] [--json] [--no-start]``: the Manager updates itself.

Only a frozen Manager (the bundle) does; one installed with pip says so and points at pip. The GUI's
"Update the Manager" runs this verb in a process of its own, because the hand-over ends the GUI process.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from crystal_manager.cli.exit_codes import EXIT_BAD_INPUT, EXIT_DENIED, EXIT_INTERNAL, EXIT_OK
from crystal_manager.cli.output import emit_json, fail, say
from crystal_manager.services.context import AppContext

NOT_FROZEN = ("This Manager was installed with pip (or runs from its source folder), so it does not update "
              "itself: update it with pip, e.g. pip install --upgrade crystal-manager")


def register(verbs: Any) -> None:
    """Add ``update self`` to the ``update`` actions."""
    parser = verbs.add_parser("self", help="update CrystalMe3D Pro Manager itself (the downloaded bundle only)")
    parser.add_argument("--check", action="store_true", help="only say whether a newer Manager is available")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--rollback", action="store_true",
                        help="go back to the previous Manager version kept on this computer")
    parser.add_argument("--no-start", action="store_true",
                        help="do not start the new Manager now: it is used from the next start")
    # The GUI passes the command that starts the running Manager again if the new one fails to start.
    parser.add_argument("--restart-old", action="store_true", help=argparse.SUPPRESS)
    parser.set_defaults(handler=run_self)


def _start_args(args: argparse.Namespace) -> list[str]:
    """The options the new Manager needs to see the same server and profile as this one."""
    passed: list[str] = []
    if getattr(args, "profile", None):
        passed += ["--profile", str(Path(args.profile).resolve())]
    if getattr(args, "server", None):
        passed += ["--server", str(args.server)]
    return passed


def run_self(ctx: AppContext, args: argparse.Namespace) -> int:
    """update self [--check | --rollback] [--json] [--no-start]."""
    from crystal_manager.updates.self_update import has_display, is_frozen

    if not is_frozen():
        if args.json:
            emit_json({"frozen": False, "available": False, "message": NOT_FROZEN})
        else:
            fail(NOT_FROZEN)
        return EXIT_BAD_INPUT
    from crystal_manager.services.manager_update import manager_update_service

    service = manager_update_service(ctx)
    try:
        if args.check:
            return _check(service, args)
        return _update(service, args, start=not args.no_start and has_display())
    except Exception as exc:
        if not args.json:
            raise  # one line and the exit code of its kind, as for every verb (cli/main.py)
        # The GUI waits for this answer: it always comes, as JSON, whatever went wrong.
        from crystal_manager.cli.exit_codes import BY_OUTCOME
        from crystal_manager.services.usertext import explain

        text, outcome = explain(exc)
        emit_json({"frozen": True, "updated": False, "available": False, "message": text})
        return BY_OUTCOME.get(outcome, EXIT_BAD_INPUT)


def _check(service: Any, args: argparse.Namespace) -> int:
    result = service.check()
    offer = result.offer
    if args.json:
        emit_json({"frozen": True, "available": offer is not None, "running_version": service.running_version,
                   "version": offer.version if offer else None, "size": offer.size if offer else None,
                   "notes": offer.notes if offer else "", "channel": result.channel,
                   "install_root": str(service.install_root)})
    elif offer is None:
        say(f"CrystalMe3D Pro Manager {service.running_version} is up to date.")
    else:
        say(f"CrystalMe3D Pro Manager {offer.version} is available (this one is {service.running_version}).")
        say("Update with: crystal-manager update self")
    return EXIT_OK


def _update(service: Any, args: argparse.Namespace, *, start: bool) -> int:
    from crystal_manager.gui import ipc  # socket code only on POSIX (no Qt): is the new Manager reachable?
    from crystal_manager.services.manager_update import roll_back_self, update_self
    from crystal_manager.updates.errors import HealthCheckFailed, NoUpdateOffered, UpdateBusy
    from crystal_manager.updates.self_verify import KeptVersionChanged

    restart_old = [sys.executable, *_start_args(args)] if args.restart_old else None
    name = ipc.server_name(service.ctx.paths)
    try:
        act = roll_back_self if args.rollback else update_self
        done = act(service, start=start, start_args=_start_args(args), restart_old=restart_old,
                   holds_name=lambda: ipc.is_listening(name))
    except NoUpdateOffered:
        # Not the product's words ("CrystalMe3D Pro is up to date"): this is about the Manager.
        newest = service.status().installed_version or service.running_version
        text = f"No update to do: CrystalMe3D Pro Manager {newest} is the newest version."
        if newest != service.running_version:
            text += f" It is installed and starts next time (this one is {service.running_version})."
        if args.json:
            emit_json({"updated": False, "version": None, "running_version": service.running_version,
                       "message": text})
        else:
            fail(text)
        return EXIT_BAD_INPUT
    except (KeptVersionChanged, UpdateBusy) as exc:
        # Manager words (the shared ones name CrystalMe3D Pro): a refused rollback or a second self-update.
        busy = isinstance(exc, UpdateBusy)
        text = (f"{'Not now' if busy else 'Cannot go back'}: {exc}. This Manager ({service.running_version}) "
                "stays; nothing was changed.")
        if args.json:
            emit_json({"updated": False, "version": None, "running_version": service.running_version,
                       "reason": "busy" if busy else "changed", "message": text})
        else:
            fail(text)
        return EXIT_DENIED
    except HealthCheckFailed as exc:
        text = (f"CrystalMe3D Pro Manager {exc.version or 'update'} did not start correctly, so this Manager "
                f"({service.running_version}) stays; nothing else changed. Try again later; if it happens again, "
                "contact support.")
        if args.json:
            emit_json({"updated": False, "version": exc.version, "running_version": service.running_version,
                       "reason": str(exc), "message": text})
        else:
            fail(text)
        return EXIT_INTERNAL
    payload: dict[str, Any] = {"updated": True, "version": done.version, "from_version": done.from_version,
                               "started": done.started, "launcher": done.launcher}
    if args.json:
        emit_json(payload)
        return EXIT_OK
    if args.rollback:
        say(f"Back to CrystalMe3D Pro Manager {done.version}; {done.from_version} stays on this computer.")
    else:
        say(f"CrystalMe3D Pro Manager {done.version} is installed beside {done.from_version}, which is kept.")
    if done.started:
        say(f"Version {done.version} started and took over from {done.from_version}.")
    else:
        say(f"It is used from the next time the Manager starts{'' if args.no_start else ' (no display here)'}.")
    if done.launcher:
        say(f"Menus and autostart can run {done.launcher}: it always starts the current version.")
    return EXIT_OK
