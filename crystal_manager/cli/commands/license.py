"""License verbs: ``activate``, ``deactivate``, ``machines``, ``verify``."""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

from crystal_manager.cli.exit_codes import EXIT_BAD_INPUT, EXIT_OK
from crystal_manager.cli.output import emit_json, fail, say, waiting
from crystal_manager.licensing.errors import KeyFormatError
from crystal_manager.services.context import AppContext
from crystal_manager.services.license_rules import (
    dates_for,
    human_time,
    is_activated,
    keyring_words,
    preview_words,
    state_words,
)
from crystal_manager.services.license_service import LicenseService, MachineList, PreviewField
from crystal_manager.services.status import LicenseStatus, plan_name

WAITING = "Waiting for the licensing server…"
#: ctrl-C while waiting: nothing local was changed (the engine records only answers and network failures).
STOPPED = "{what}: you stopped waiting for the licensing server; nothing was changed on this computer."


def _key_from(value: str | None) -> str | None:
    """The key argument; ``-`` reads one line from standard input, so the key never sits in argv."""
    if value != "-":
        return value
    typed = sys.stdin.readline(256).strip()
    if not typed:
        raise KeyFormatError("no license key was entered on standard input", "empty")
    return typed


def register(subparsers: Any) -> None:
    """Add the license verbs."""
    act = subparsers.add_parser("activate", help="activate this machine (online, or with offline files)")
    act.add_argument("key", nargs="?", help="the license key, e.g. CM3D-XXXXX-XXXXX-XXXXX-XXXXX; '-' reads it "
                                            "from standard input (kept out of the process list)")
    act.add_argument("--request-file", type=Path, metavar="F",
                     help="offline: write an activation request file for the vendor (needs KEY)")
    act.add_argument("--response-file", type=Path, metavar="F", help="offline: install the vendor's response file")
    act.add_argument("--label", help="a name for this machine in the machine list")
    act.add_argument("--json", action="store_true", help="machine-readable output")
    act.set_defaults(handler=run_activate)
    de = subparsers.add_parser("deactivate", help="free this machine's seat (or another machine's)")
    de.add_argument("--machine", metavar="ID", help="deactivate another machine on the license")
    de.add_argument("--key", help="license key, when this machine is not activated (seat limit case)")
    de.add_argument("--proof-file", type=Path, metavar="F",
                    help="offline: deactivate here and write a signed proof for the vendor")
    de.set_defaults(handler=run_deactivate)
    ma = subparsers.add_parser("machines", help="list the machines on the license and the seats used")
    ma.add_argument("--key", help="license key (default: this machine's)")
    ma.add_argument("--json", action="store_true", help="machine-readable output")
    ma.set_defaults(handler=run_machines)
    ve = subparsers.add_parser("verify", help="re-validate the license with the server now")
    ve.add_argument("--json", action="store_true", help="machine-readable output")
    ve.set_defaults(handler=run_verify)


def clock_words(offset_seconds: int) -> str:
    """``at the last check this computer's clock was 10 minutes ahead of …`` (``offset_seconds`` off)."""
    size = abs(offset_seconds)
    amount = next(f"{round(size / unit)} {name}{'s' if round(size / unit) != 1 else ''}"
                  for unit, name in ((86400, "day"), (3600, "hour"), (60, "minute"), (1, "second"))
                  if size >= unit * 0.95 or unit == 1)
    side = "ahead of" if offset_seconds > 0 else "behind"
    return (f"at the last check this computer's clock was {amount} {side} the licensing server's time. The "
            "license is not affected (the dates shown are the server's); correct the clock to keep other "
            "programs right.")


def license_lines(lic: LicenseStatus) -> list[str]:
    """The license facts as lines for people: the state in words, dates as days (raw values: ``--json``)."""
    lines = [f"License: {state_words(lic.state)}" + (f" ({plan_name(lic.plan)})" if lic.plan else "")]
    when = dates_for(lic)  # which dates apply in which state: the same rule as the License page
    grace = None if when.grace_days_left is None else int(when.grace_days_left)  # whole days, as the tray
    facts = [("Key", f"…{lic.key_hint}" if lic.key_hint else None),
             ("Ends on", human_time(when.ends_at)), ("Renews on", human_time(when.renews_at)),
             ("Trial days left", when.trial_days_left), ("Offline grace days left", grace),
             ("Seats", f"{lic.seats_used}/{lic.seats_total}" if lic.seats_total is not None else None),
             ("Highest version", lic.max_version),
             ("Last verified", human_time(when.last_verified_at) or ("never" if when.never_verified else None)),
             ("Next check", human_time(when.next_check_at)),
             ("Works offline until", human_time(lic.lease_expires_at) if is_activated(lic.state) else None)]
    lines += [f"  {name}: {value}" for name, value in facts if value is not None]
    if lic.offline_activation:
        lines.append("  Activated offline (no online checks needed until the lease ends)")
    if lic.clock_set_back:
        lines.append("  Warning: this computer's clock was set back; trusted time is used instead")
    if lic.clock_wrong and lic.clock_offset_seconds is not None:
        lines.append(f"  Warning: {clock_words(lic.clock_offset_seconds)}")
    if lic.secrets_fallback:
        where = (lic.secrets_backend or "").removeprefix("file ").removesuffix(" (mode 0600)")
        if is_activated(lic.state):  # where the key is; with no key stored there is nothing to point at
            lines.append(f"  Note: no system keyring; the license key is kept in {where}, a file only you can read")
        else:
            lines.append("  Note: no system keyring on this computer; a license key would be kept in a file only "
                         "you can read")
    elif is_activated(lic.state) and (kept := keyring_words(lic.secrets_backend, lic.secrets_fallback)):
        lines.append(f"  License key kept in {kept}")
    if lic.message:
        lines.append(f"  {lic.message[:1].upper()}{lic.message[1:]}")
    return lines


def _preview(title: str, fields: list[PreviewField]) -> None:
    say(title)
    for f in fields:
        words = preview_words(f.name, f.shown_value, f.purpose, f.policy)
        say(f"  {words.what}: {words.value}")
        say(f"      why: {words.why}" + (f" ({words.policy})" if words.policy else ""))


def _print_status(lic: LicenseStatus, as_json: bool) -> None:
    if as_json:
        emit_json(asdict(lic))
    else:
        for line in license_lines(lic):
            say(line)


def run_activate(ctx: AppContext, args: argparse.Namespace) -> int:
    """activate KEY | KEY --request-file F | --response-file F."""
    service = LicenseService(ctx, label=args.label)
    args.key = _key_from(args.key)
    if args.response_file is not None:
        if args.key or args.request_file:
            fail("--response-file takes no key and no --request-file")
            return EXIT_BAD_INPUT
        _print_status(service.install_offline_response(args.response_file), args.json)
        return EXIT_OK
    if not args.key:
        fail("give a license key, e.g. crystal-manager activate CM3D-XXXXX-XXXXX-XXXXX-XXXXX")
        return EXIT_BAD_INPUT
    from crystal_manager.services.key_words import checked_key

    args.key = checked_key(args.key)  # "hello world" is no key at all: say so before anything else
    if args.request_file is not None:
        fields = service.write_offline_request(args.key, args.request_file)
        _preview(f"Wrote {args.request_file}. It contains exactly this (no secret; the key only as a digest):",
                 fields)
        say("Take it to the vendor's portal or support, then run: "
            "crystal-manager activate --response-file RESPONSE")
        return EXIT_OK
    with waiting(WAITING, stopped=STOPPED.format(what="Not activated")):
        status = service.activate(args.key)
    _print_status(status, args.json)
    return EXIT_OK


def run_deactivate(ctx: AppContext, args: argparse.Namespace) -> int:
    """deactivate [--machine ID [--key KEY]] [--proof-file F]."""
    service = LicenseService(ctx)
    args.key = _key_from(args.key)
    if args.proof_file is not None:
        if args.machine or args.key:
            fail("--proof-file deactivates this machine only")
            return EXIT_BAD_INPUT
        service.deactivate_offline(args.proof_file)
        say(f"Deactivated here. Give {args.proof_file} to the vendor to free the seat.")
        return EXIT_OK
    if args.key is not None:
        if not args.machine:
            fail("--key needs --machine ID (to deactivate this machine, it must be activated)")
            return EXIT_BAD_INPUT
        with waiting(WAITING, stopped=STOPPED.format(what="Not deactivated")):
            listing = service.deactivate_with_key(args.key, args.machine)
        say(f"Deactivated {args.machine}. Seats now {listing.seats_used}/{listing.seats_total}.")
        return EXIT_OK
    before = service.status()
    with waiting(WAITING, stopped=STOPPED.format(what="Not deactivated")):
        status = service.deactivate(args.machine)
    if args.machine and args.machine != before.machine_id:
        say(f"Deactivated {args.machine}.")
    else:
        say("Deactivated this machine; its seat is free and its license data was removed.")
    for line in license_lines(status):
        say(line)
    return EXIT_OK


def system_words(os_name: str | None, environment: str | None) -> str:
    """"Linux (in a container)": the system and, when not a physical computer, what it runs in."""
    inside = {"container": "in a container", "vm": "in a virtual machine"}.get(environment or "")
    return f"{os_name or 'unknown system'} ({inside})" if inside else (os_name or "")


def machine_lines(listing: MachineList) -> list[str]:
    """The machine list for people."""
    lines = [f"Seats used: {listing.seats_used} of {listing.seats_total}"]
    for m in listing.machines:
        mark = "  (this machine)" if m.is_this_machine else ""
        lines.append(f"  {m.machine_id}  {m.label}  {system_words(m.os, m.environment)}  activated "
                     f"{human_time(m.activated_at)}  last seen {human_time(m.last_seen_at) or '-'}{mark}")
    return lines


def run_machines(ctx: AppContext, args: argparse.Namespace) -> int:
    """machines [--key KEY] [--json]."""
    service = LicenseService(ctx)
    args.key = _key_from(args.key)
    with waiting(WAITING, stopped=STOPPED.format(what="Machines not listed")):
        listing = service.machines_for_key(args.key) if args.key else service.machines()
    if args.json:
        emit_json({"machines": [asdict(m) for m in listing.machines], "seats_used": listing.seats_used,
                   "seats_total": listing.seats_total})
    else:
        for line in machine_lines(listing):
            say(line)
    return EXIT_OK


def run_verify(ctx: AppContext, args: argparse.Namespace) -> int:
    """verify [--json]."""
    service = LicenseService(ctx)
    try:
        with waiting(WAITING, stopped=STOPPED.format(what="Not verified")):
            status = service.verify()
    except Exception as exc:
        from crystal_manager.cli.exit_codes import BY_OUTCOME, EXIT_OFFLINE
        from crystal_manager.services.usertext import Outcome, explain

        text, outcome = explain(exc)
        if outcome is not Outcome.OFFLINE:
            raise
        from crystal_manager.services.license_rules import offline_until_words

        now = service.status()
        fail(f"{text.rstrip('.')}. {offline_until_words(now.state, now.lease_expires_at)}".strip())
        return BY_OUTCOME.get(outcome, EXIT_OFFLINE)
    _print_status(status, args.json)
    return EXIT_OK

