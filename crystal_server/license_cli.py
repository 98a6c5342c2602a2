"""``crystal-server license …``: what the shop and the support desk do to licenses."""

from __future__ import annotations

import argparse
import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from crystal_protocol.licensekey import KeyProblem, key_digest
from crystal_protocol.signing import format_time
from crystal_server import licenses, machines, store
from crystal_server.licenses import Denied, License


class LicenseCliError(Exception):
    """One line for the operator and an exit code (2 usage, 3 refused)."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


def _when(text: str | None) -> str | None:
    """``2026-01-31`` or a full UTC time; ``never``/``none`` for no end."""
    if text is None or text.lower() in ("never", "none"):
        return None
    for fmt in ("%Y-%m-%d", "%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S"):
        try:
            return format_time(datetime.strptime(text, fmt).replace(tzinfo=UTC))
        except ValueError:
            continue
    raise LicenseCliError(f"not a date: {text!r} (use YYYY-MM-DD)")


def _open(data_dir: Path) -> sqlite3.Connection:
    if not (data_dir / "profile.json").exists():
        raise LicenseCliError(f"{data_dir} is not a server folder; run: crystal-server init {data_dir}")
    return store.connect(data_dir)


def _find(conn: sqlite3.Connection, ident: str) -> License:
    found = licenses.get(conn, ident)
    if found is None:
        try:
            found = licenses.by_digest(conn, key_digest(ident))
        except KeyProblem:
            found = None
    if found is None:
        raise LicenseCliError(f"no license {ident!r} (give its id lic_… or its key)", 3)
    return found


def _describe(conn: sqlite3.Connection, lic: License) -> dict[str, Any]:
    now = datetime.now(UTC)
    info = lic.to_json()
    info["effective_status"] = lic.effective_status(now)
    info.update(machines.listing(conn, lic, None))
    return info


def cmd_create(args: argparse.Namespace) -> int:
    """Create a license and print its key (shown this once; the server keeps only a digest)."""
    if args.seats < 1:
        raise LicenseCliError("--seats must be at least 1")
    conn = _open(args.dir)
    key, lic = licenses.create(conn, datetime.now(UTC), plan=args.plan, seats=args.seats,
                               expires_at=_when(args.expires), trial_days=args.trial_days,
                               max_version=args.max_version)
    print(f"license: {lic.id}")
    print(f"key: {key}")
    print(f"plan: {lic.plan}, seats: {lic.seats}, expires: {lic.expires_at or 'never'}"
          + (f", trial until {lic.trial_ends_at}" if lic.trial_ends_at else ""))
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    """Print a license and its machines."""
    conn = _open(args.dir)
    info = _describe(conn, _find(conn, args.license))
    if args.json:
        print(json.dumps(info, indent=2, sort_keys=True))
        return 0
    print(f"{info['id']} …{info['key_hint']} plan={info['plan']} status={info['status']} "
          f"effective={info['effective_status']} expires={info['expires_at'] or 'never'}")
    print(f"seats: {info['seats_used']}/{info['seats_total']}")
    for m in info["machines"]:
        print(f"  {m['machine_id']} {m['label']} ({m['os']}, {m['environment']}) since {m['activated_at']}")
    return 0


def cmd_update(args: argparse.Namespace) -> int:
    """Change plan, seats, status or expiry."""
    conn = _open(args.dir)
    lic = _find(conn, args.license)
    changes: dict[str, Any] = {}
    if args.plan:
        changes["plan"] = args.plan
    if args.seats is not None:
        if args.seats < 0:
            raise LicenseCliError("--seats cannot be negative")
        changes["seats"] = args.seats
    if args.status:
        changes["status"] = args.status
    if args.expires:
        changes["expires_at"] = _when(args.expires)
    if args.max_version:
        changes["max_version"] = args.max_version
    if args.end_trial:
        changes["trial_ends_at"] = None
    if not changes:
        raise LicenseCliError("nothing to change (give --plan, --seats, --status, --expires or --max-version)")
    lic = licenses.update(conn, datetime.now(UTC), lic.id, changes)
    print(f"updated {lic.id}: effective status {lic.effective_status(datetime.now(UTC))}")
    return 0


def cmd_revoke(args: argparse.Namespace) -> int:
    """Revoke a license: every machine is denied at its next check."""
    conn = _open(args.dir)
    lic = licenses.update(conn, datetime.now(UTC), _find(conn, args.license).id, {"status": "revoked"})
    print(f"revoked {lic.id}")
    return 0


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise LicenseCliError(f"cannot read {path}: {exc}") from exc


def cmd_answer(args: argparse.Namespace) -> int:
    """Turn an offline activation request file into a signed response file."""
    from crystal_server.licensing import current_key

    conn = _open(args.dir)
    request = _read_json(args.request)
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            response = machines.offline_answer(conn, datetime.now(UTC), request, current_key(args.dir))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    except Denied as exc:
        raise LicenseCliError(f"refused ({exc.code}): {exc}", 3) from exc
    args.response.write_text(json.dumps(response, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.response}")
    return 0


def cmd_import_proof(args: argparse.Namespace) -> int:
    """Free the seat named in an offline deactivation proof."""
    conn = _open(args.dir)
    try:
        machine_id = machines.import_deactivation_proof(conn, datetime.now(UTC), _read_json(args.proof))
    except Denied as exc:
        raise LicenseCliError(f"refused ({exc.code}): {exc}", 3) from exc
    print(f"deactivated {machine_id}")
    return 0


def register(sub: Any) -> None:
    """Add ``license`` and its subcommands."""
    lic = sub.add_parser("license", help="create, show, change, revoke licenses; answer offline requests")
    verbs = lic.add_subparsers(dest="license_command", required=True)
    create = verbs.add_parser("create", help="create a license and print its key")
    create.add_argument("dir", type=Path)
    create.add_argument("--plan", required=True)
    create.add_argument("--seats", type=int, required=True)
    create.add_argument("--expires", required=True, help="YYYY-MM-DD, or 'never'")
    create.add_argument("--trial-days", type=int)
    create.add_argument("--max-version", help="highest product version this license may run")
    create.set_defaults(func=cmd_create)
    for name, func, text in (("show", cmd_show, "show a license and its machines"),
                             ("revoke", cmd_revoke, "revoke a license")):
        verb = verbs.add_parser(name, help=text)
        verb.add_argument("dir", type=Path)
        verb.add_argument("license", help="license id (lic_…) or key")
        verb.set_defaults(func=func, json=False)
        if name == "show":
            verb.add_argument("--json", action="store_true")
    upd = verbs.add_parser("update", help="change plan, seats, status (past_due, cancelled…) or expiry")
    upd.add_argument("dir", type=Path)
    upd.add_argument("license")
    upd.add_argument("--plan")
    upd.add_argument("--seats", type=int)
    upd.add_argument("--status", choices=licenses.STORED_STATUSES)
    upd.add_argument("--expires", help="YYYY-MM-DD, or 'never'")
    upd.add_argument("--max-version")
    upd.add_argument("--end-trial", action="store_true")
    upd.set_defaults(func=cmd_update)
    ans = verbs.add_parser("answer", help="answer an offline activation request file")
    ans.add_argument("dir", type=Path)
    ans.add_argument("request", type=Path)
    ans.add_argument("response", type=Path)
    ans.set_defaults(func=cmd_answer)
    imp = verbs.add_parser("import-proof", help="import an offline deactivation proof")
    imp.add_argument("dir", type=Path)
    imp.add_argument("proof", type=Path)
    imp.set_defaults(func=cmd_import_proof)
