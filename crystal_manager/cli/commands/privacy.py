"""``crystal-manager privacy catalog|log|export|clear|storage|vendor|delete-local|request-deletion``: what
may be sent, what was sent, what this computer keeps and what the vendor holds — and deleting it."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from crystal_manager.cli.exit_codes import EXIT_BAD_INPUT, EXIT_NOT_CONFIRMED, EXIT_OK
from crystal_manager.cli.output import emit_json, fail, say
from crystal_manager.services.context import AppContext


def register(subparsers: Any) -> None:
    """Add the ``privacy`` verb and its sub-verbs."""
    parser = subparsers.add_parser("privacy", help="what the app may send and what it has sent")
    verbs = parser.add_subparsers(dest="privacy_command", metavar="WHAT", required=True)
    catalog = verbs.add_parser("catalog", help="every request the app may send, field by field")
    catalog.add_argument("--json", action="store_true", help="machine-readable output")
    catalog.set_defaults(handler=run_catalog)
    log = verbs.add_parser("log", help="every request the app has sent (the privacy log)")
    log.add_argument("--json", action="store_true", help="machine-readable output")
    log.add_argument("--since", metavar="DATE", help="only requests from DATE on (e.g. 2026-03-01)")
    log.add_argument("--exact", action="store_true", help="each value exactly as it was sent (long codes in "
                                                         "full)")
    log.set_defaults(handler=run_log)
    export = verbs.add_parser("export", help="write the log and the catalog to FILE (JSON)")
    export.add_argument("file", type=Path, metavar="FILE")
    export.set_defaults(handler=run_export)
    clear = verbs.add_parser("clear", help="delete the privacy log on this computer")
    clear.set_defaults(handler=run_clear)
    vendor = verbs.add_parser("vendor", help="ask the vendor's server what it holds about your license")
    vendor.add_argument("--json", action="store_true", help="machine-readable output")
    vendor.set_defaults(handler=run_vendor)
    storage = verbs.add_parser("storage", help="every file the app keeps on this computer, and the keyring")
    storage.add_argument("--json", action="store_true", help="machine-readable output")
    storage.set_defaults(handler=run_storage)
    local = verbs.add_parser("delete-local", help="delete everything the Manager keeps on this computer "
                                                  "(frees this computer's seat first)")
    local.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    local.set_defaults(handler=run_delete_local)
    remote = verbs.add_parser("request-deletion", help="ask the vendor to delete what it stores about this "
                                                       "computer")
    remote.add_argument("--all-machines", action="store_true",
                        help="delete the data of every computer on your license (they all stop working "
                             "until activated again)")
    remote.add_argument("--key", metavar="KEY", help="your license key, when it is no longer stored here "
                                                      "(after a deactivation)")
    remote.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    remote.set_defaults(handler=run_request_deletion)


def run_catalog(ctx: AppContext, args: argparse.Namespace) -> int:
    """Print the catalog."""
    from crystal_manager.services.privacy_view import catalog_json

    report = catalog_json(ctx.catalog)
    if args.json:
        emit_json(report)
        return EXIT_OK
    from crystal_manager.services.privacy_words import license_check_items

    items = license_check_items(ctx.catalog)  # the Welcome's and the Privacy page's list: each thing once
    say(f"To check your license (about once a day) it sends {len(items)} things: " + "; ".join(items) + ".")
    for request in report["requests"]:
        say(f"{request['title']} — {request['purpose']}")
        say(f"  When: {request['when']}")
        for spec in request["fields"]:
            say(f"  - {spec['in_words'] or spec['name']}: {spec['why']} (privacy policy: {spec['policy_title']})")
    say("Every request also carries: " + "; ".join(
        h["in_words"] for h in report["requests"][0]["headers"] if h["in_words"]) + ".")
    for item in report["other_disclosures"]:
        say(f"{item['title']}: {item['what']}")
    return EXIT_OK


def run_log(ctx: AppContext, args: argparse.Namespace) -> int:
    """Print the ledger."""
    from crystal_manager.services.privacy_view import entries_since, parse_since

    try:
        since = parse_since(args.since) if args.since else None
    except ValueError as exc:
        fail(str(exc))
        return EXIT_BAD_INPUT
    entries = entries_since(ctx.ledger.entries(), since)
    if args.json:
        emit_json(entries)
        return EXIT_OK
    if not entries:
        say("Nothing has been sent.")
        return EXIT_OK
    from crystal_manager.services.privacy_words import log_text

    for line in log_text(ctx.catalog, entries, exact=args.exact):
        say(line)
    from crystal_manager.services.privacy_view import LONG_CODES

    if not args.exact and any(name in LONG_CODES for e in entries for name in e.get("fields") or {}):
        say("Long codes are shortened here (v1:d602…); add --exact to see each value exactly as it was sent. "
            "Your license key is never in the log: only its last four characters.")
    return EXIT_OK


def run_export(ctx: AppContext, args: argparse.Namespace) -> int:
    """Write the ledger and the catalog to one JSON file."""
    from crystal_manager.services.privacy_view import export_privacy

    try:
        count = export_privacy(ctx, args.file)
    except OSError as exc:
        fail(f"cannot write {args.file}: {exc.strerror or exc}")
        return EXIT_BAD_INPUT
    say(f"Wrote the privacy log ({count} requests) and the catalog to {args.file}")
    return EXIT_OK


def run_clear(ctx: AppContext, args: argparse.Namespace) -> int:
    """Delete the ledger's files."""
    removed = ctx.ledger.clear()
    say(f"Deleted the privacy log ({removed} request{'' if removed == 1 else 's'}).")
    return EXIT_OK


def run_storage(ctx: AppContext, args: argparse.Namespace) -> int:
    """List the app's files and say where the license key is kept (keyring entries named, never shown; only
    those that are really there)."""
    from crystal_manager.services.key_storage import key_storage
    from crystal_manager.services.license_rules import is_activated
    from crystal_manager.services.license_service import LicenseService
    from crystal_manager.services.privacy_view import stored_files

    activated = is_activated(LicenseService(ctx, secrets_in_status=False).status().state)
    paths = ctx.paths
    files = stored_files({"settings": paths.config_dir, "data": paths.data_dir, "state": paths.state_dir,
                          "cache": paths.cache_dir, "logs": paths.log_dir, "product": paths.install_root})
    store = key_storage(ctx, activated=activated)
    if args.json:
        emit_json({"files": files, "keyring": store.keyring,
                   "key_store": {"backend": store.backend, "file": store.file,
                                 "holds": [entry["name"] for entry in store.entries]}})
        return EXIT_OK
    for item in files:
        say(f"{item['path']}  {item['bytes']} bytes  — {item['what']}")
    if not files:
        say("No files yet.")
    say(store.words)
    return EXIT_OK


def run_vendor(ctx: AppContext, args: argparse.Namespace) -> int:
    """Ask the server for everything it stores about this license (sends the license key; signed answer)."""
    from crystal_manager.services.license_service import LicenseService

    report = LicenseService(ctx).vendor_report()
    if args.json:
        emit_json(report)
        return EXIT_OK
    from crystal_manager.services.privacy_view import when_words
    from crystal_manager.services.status import plan_words

    lic = report.get("license", {})
    status = {"active": "active", "past_due": "payment overdue", "cancelled": "cancelled",
              "revoked": "revoked"}.get(str(lic.get("status")), "status unknown")
    say(f"The vendor holds your license ({plan_words(lic.get('plan'))}, {lic.get('seats', '?')} seats, {status}), "
        f"stored as a digest of its key ending …{lic.get('key_hint', '')}.")
    for machine in report.get("machines", []):
        if machine.get("deactivated_at"):
            say(f"- a deactivated computer: only its number and dates are kept (deactivated "
                f"{when_words(str(machine.get('deactivated_at')))})")
        else:
            kind = {"physical": "a physical computer", "vm": "a virtual machine", "container": "a container"}.get(
                str(machine.get("environment")), "kind of computer unknown")
            say(f"- computer \"{machine.get('label')}\": {machine.get('os')}, {kind}, "
                f"activated {when_words(str(machine.get('activated_at') or ''))}, last seen "
                f"{when_words(str(machine.get('last_seen_at') or ''))}")
    say(f"{len(report.get('events', []))} events kept (activations, checks, deactivations; 90 days).")
    say(f"{len(report.get('recent_requests', []))} recent requests with your key (kept one minute, to slow down "
        "key guessing).")
    say(str(report.get("not_linked_to_the_license", "")))
    return EXIT_OK


def _confirmed(args: argparse.Namespace, warning: str) -> bool:
    """``--yes``, or a "yes" typed on a terminal after the warning; never a guess without a terminal."""
    import sys

    say(warning)
    if args.yes:
        return True
    if not sys.stdin.isatty():
        fail("Nothing was deleted: add --yes to confirm when no one can be asked.")
        return False
    try:
        answer = input("Type yes to continue: ")
    except EOFError:
        answer = ""
    if answer.strip().lower() != "yes":
        fail("Nothing was deleted.")
        return False
    return True


def run_delete_local(ctx: AppContext, args: argparse.Namespace) -> int:
    """Free the seat (if held), then delete every file the Manager keeps and its keyring entries."""
    from crystal_manager.services.deletion import SeatNotFreed, app_folders, delete_local, is_activated

    activated = is_activated(ctx)
    folders = ", ".join(str(f) for f in app_folders(ctx))
    warning = ("This deletes everything the Manager keeps on this computer (" + folders + "): settings, the "
               "privacy log, the license record, downloaded updates, logs, and the license key and this "
               "computer's keys in the keyring. Only the Manager's own files: in a folder it did not make, "
               "other files stay. The installed programs stay (CrystalMe3D Pro and the Manager itself; "
               "uninstall removes them).")
    if activated:
        warning += (" This computer is activated: it is deactivated first (its seat is freed at the vendor), "
                    "and CrystalMe3D Pro will need the license key again.")
    if not _confirmed(args, warning):
        return EXIT_NOT_CONFIRMED
    try:
        done = delete_local(ctx)
    except SeatNotFreed as exc:
        # The seat could not be freed (offline, refused…): nothing was deleted, and the user must know.
        from crystal_manager.cli.exit_codes import BY_OUTCOME
        from crystal_manager.services.usertext import explain

        text, outcome = explain(exc.__cause__ or exc)
        fail(f"{text} Nothing was deleted: the seat must be freed first (or deactivate offline with "
             "crystal-manager deactivate --proof-file FILE).")
        return BY_OUTCOME.get(outcome, EXIT_BAD_INPUT)
    if done.deactivated:
        say("Deactivated this computer: its seat is free.")
    if done.keyring:
        say(f"Deleted {done.files} files ({done.bytes} bytes) and the keyring entries "
            + ", ".join(done.keyring) + ".")
    else:  # no keyring in use (or nothing in it): never claim entries that were not there
        say(f"Deleted {done.files} files ({done.bytes} bytes); there were no keyring entries to delete.")
    for kept in done.kept:
        what = "CrystalMe3D Pro's installed versions" if kept == done.kept_product else "the Manager's own program"
        say(f"Kept {what} in {kept} (uninstall removes them).")
    for folder in done.linked:
        say(f"Not deleted: {folder} is a link to another folder; nothing in that folder was touched.")
    if done.left:
        say(f"Left {len(done.left)} items that are not the Manager's (the folder was not made by it), e.g. "
            f"{done.left[0]}.")
    return EXIT_OK


def run_request_deletion(ctx: AppContext, args: argparse.Namespace) -> int:
    """Ask the vendor to delete this computer's data (or every computer's), after a warning."""
    from crystal_manager.services.deletion import request_deletion

    if args.all_machines:
        warning = ("This asks the vendor to delete the data of EVERY computer on your license: each one stops "
                   "working until it is activated again with the license key. The license itself is kept.")
    else:
        warning = ("This asks the vendor to delete what it stores about this computer (its entry on your "
                   "license and its events). This computer's seat is freed and the license is forgotten "
                   "here; activate again to use it. The license itself is kept.")
    if not _confirmed(args, warning):
        return EXIT_NOT_CONFIRMED
    from crystal_manager.licensing.errors import NotActivated

    try:
        data = request_deletion(ctx, all_machines=args.all_machines, key=args.key)
    except NotActivated:
        fail("The license key is no longer stored on this computer: add --key KEY (from your purchase "
             "e-mail). Nothing was sent.")
        return EXIT_BAD_INPUT
    count = len(data["deleted_machines"])
    if count == 0:
        say("The vendor found no data of this computer to delete (nothing was deleted).")
    else:
        say(f"The vendor deleted the data of {count} computer{'s' if count != 1 else ''} and "
            f"{data.get('deleted_events', 0)} events.")
    for line in data["still_kept"]:
        say(f"Still kept: {line}")
    return EXIT_OK
