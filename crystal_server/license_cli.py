"""``crystal-server license …``: what the shop and the support desk do to licenses."""

from __future__ import annotations

import argparse
import functools
import json
import math
import sqlite3
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

from crystal_protocol.lease import MIN_TTL_SECONDS
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


def _lease_seconds(days: float | None) -> int | None:
    """``--lease-days N`` in seconds (None: not given)."""
    if days is None:
        return None
    if not math.isfinite(days) or abs(days) > 1e6:  # round() of nan/inf raises; 1e308 days overflows nothing useful
        raise LicenseCliError(f"--lease-days must be a number of days between {MIN_TTL_SECONDS / 86400:.3f} "
                              "(one hour) and 3650")
    seconds = round(days * 86400)
    if not MIN_TTL_SECONDS <= seconds <= 3650 * 86400:
        raise LicenseCliError(f"--lease-days must be between {MIN_TTL_SECONDS / 86400:.3f} (one hour) and 3650")
    return seconds


#: Seats a license may have (SQLite's integers end at 2**63; no shop sells more than this to one customer).
MAX_SEATS = 100_000


def _seats(seats: int, least: int) -> int:
    """``--seats N`` checked against ``least``..MAX_SEATS."""
    if not least <= seats <= MAX_SEATS:
        raise LicenseCliError(f"--seats must be at least {least} and at most {MAX_SEATS}")
    return seats


class JsonUsageParser(argparse.ArgumentParser):
    """A parser whose usage errors are also one JSON object on stdout when ``--json`` was given (a script
    reading stdout gets ``{"error", "exit_code"}`` for a non-number or a missing option as for any refusal)."""

    _json_wanted = False

    def parse_known_args(self, args: Any = None, namespace: Any = None) -> Any:
        """Note whether ``--json`` is among the arguments, then parse as usual."""
        words = list(sys.argv[1:] if args is None else args)
        self._json_wanted = "--json" in words
        return super().parse_known_args(words, namespace)

    def error(self, message: str) -> NoReturn:
        """Usage on stderr as argparse does; with --json also the JSON object; exit code 2 (usage)."""
        if self._json_wanted:
            print(json.dumps({"error": f"{self.prog}: {message}", "exit_code": 2}, sort_keys=True))
        super().error(message)


def _out(args: argparse.Namespace, data: dict[str, Any], *lines: str) -> int:
    """Print ``data`` as JSON with --json, else the lines for people."""
    if args.json:
        print(json.dumps(data, indent=2, sort_keys=True))
    else:
        for line in lines:
            print(line)
    return 0


def _json_errors(func: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """With --json, a refusal is also printed as ``{"error": …, "exit_code": …}`` on stdout for scripts."""
    @functools.wraps(func)
    def run(args: argparse.Namespace) -> int:
        try:
            return func(args)
        except LicenseCliError as exc:
            if getattr(args, "json", False):
                print(json.dumps({"error": str(exc), "exit_code": exc.code}, sort_keys=True))
            raise
    return run


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
    info["lease_days"] = lic.lease_ttl / 86400
    info.update(machines.listing(conn, lic, None))
    info["seat_moves"] = licenses.seat_moves(conn, lic.id)
    return info


@_json_errors
def cmd_create(args: argparse.Namespace) -> int:
    """Create a license and print its key (shown this once; the server keeps only a digest)."""
    _seats(args.seats, 1)
    lease = _lease_seconds(args.lease_days)
    conn = _open(args.dir)
    key, lic = licenses.create(conn, datetime.now(UTC), plan=args.plan, seats=args.seats,
                               expires_at=_when(args.expires), trial_days=args.trial_days,
                               max_version=args.max_version, lease_seconds=lease)
    return _out(args, {"license_id": lic.id, "key": key, **_describe(conn, lic)},
                f"license: {lic.id}", f"key: {key}",
                f"plan: {lic.plan}, seats: {lic.seats}, expires: {lic.expires_at or 'never'}"
                + (f", trial until {lic.trial_ends_at}" if lic.trial_ends_at else "")
                + f", lease: {lic.lease_ttl / 86400:g} days")


@_json_errors
def cmd_show(args: argparse.Namespace) -> int:
    """Print a license, its machines and its seat moves."""
    conn = _open(args.dir)
    info = _describe(conn, _find(conn, args.license))
    if args.json:
        return _out(args, info)
    print(f"{info['id']} …{info['key_hint']} plan={info['plan']} status={info['status']} "
          f"effective={info['effective_status']} expires={info['expires_at'] or 'never'} "
          f"lease={info['lease_days']:g}d")
    print(f"seats: {info['seats_used']}/{info['seats_total']}")
    for m in info["machines"]:
        print(f"  {m['machine_id']} {m['label']} ({m['os']}, {m['environment']}) since {m['activated_at']}")
    moves = info["seat_moves"]
    print(f"seat moves: {len(moves)}")
    for move in moves:
        how = "after a fingerprint version change" if move["how"] == "fingerprint_version" else \
            "after deactivating " + str(move["from_machine"])
        print(f"  {move['at']} to {move['to_machine']} ({how})")
    return 0


@_json_errors
def cmd_update(args: argparse.Namespace) -> int:
    """Change plan, seats, status, expiry, highest version or lease length."""
    conn = _open(args.dir)
    lic = _find(conn, args.license)
    changes: dict[str, Any] = {}
    if args.plan:
        changes["plan"] = args.plan
    if args.seats is not None:
        changes["seats"] = _seats(args.seats, 0)
    if args.status:
        changes["status"] = args.status
    if args.expires:
        changes["expires_at"] = _when(args.expires)
    if args.max_version:
        changes["max_version"] = args.max_version
    if args.end_trial:
        changes["trial_ends_at"] = None
    if args.lease_days is not None:
        changes["lease_seconds"] = _lease_seconds(args.lease_days)
    if not changes:
        raise LicenseCliError("nothing to change (give --plan, --seats, --status, --expires, --max-version or "
                              "--lease-days)")
    lic = licenses.update(conn, datetime.now(UTC), lic.id, changes)
    return _out(args, {"license_id": lic.id, "changed": sorted(changes), **_describe(conn, lic)},
                f"updated {lic.id}: effective status {lic.effective_status(datetime.now(UTC))}")


@_json_errors
def cmd_revoke(args: argparse.Namespace) -> int:
    """Revoke a license: every machine is denied at its next check."""
    conn = _open(args.dir)
    lic = licenses.update(conn, datetime.now(UTC), _find(conn, args.license).id, {"status": "revoked"})
    return _out(args, {"license_id": lic.id, "status": lic.status}, f"revoked {lic.id}")


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise LicenseCliError(f"cannot read {path}: {exc}") from exc


@_json_errors
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
    return _out(args, {"response_file": str(args.response)}, f"wrote {args.response}")


@_json_errors
def cmd_import_proof(args: argparse.Namespace) -> int:
    """Free the seat named in an offline deactivation proof."""
    conn = _open(args.dir)
    try:
        machine_id = machines.import_deactivation_proof(conn, datetime.now(UTC), _read_json(args.proof))
    except Denied as exc:
        raise LicenseCliError(f"refused ({exc.code}): {exc}", 3) from exc
    return _out(args, {"deactivated": machine_id}, f"deactivated {machine_id}")


def register(sub: Any) -> None:
    """Add ``license`` and its subcommands (each takes --json: one JSON object on stdout)."""
    lic = sub.add_parser("license", help="create, show, change, revoke licenses; answer offline requests")
    verbs = lic.add_subparsers(dest="license_command", required=True, parser_class=JsonUsageParser)

    def verb(name: str, func: Callable[[argparse.Namespace], int], text: str) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = verbs.add_parser(name, help=text)
        parser.add_argument("dir", type=Path)
        parser.add_argument("--json", action="store_true", help="print one JSON object (for scripts)")
        parser.set_defaults(func=func)
        return parser

    lease_help = "days a machine may run without checking in (default 14; shorter makes a revocation reach " \
                 "offline machines sooner)"
    create = verb("create", cmd_create, "create a license and print its key")
    create.add_argument("--plan", required=True)
    create.add_argument("--seats", type=int, required=True)
    create.add_argument("--expires", required=True, help="YYYY-MM-DD, or 'never'")
    create.add_argument("--trial-days", type=int)
    create.add_argument("--max-version", help="highest product version this license may run")
    create.add_argument("--lease-days", type=float, metavar="N", help=lease_help)
    for name, func, text in (("show", cmd_show, "show a license, its machines and its seat moves"),
                             ("revoke", cmd_revoke, "revoke a license")):
        verb(name, func, text).add_argument("license", help="license id (lic_…) or key")
    upd = verb("update", cmd_update, "change plan, seats, status (past_due, cancelled…), expiry or lease length")
    upd.add_argument("license")
    upd.add_argument("--plan")
    upd.add_argument("--seats", type=int)
    upd.add_argument("--status", choices=licenses.STORED_STATUSES)
    upd.add_argument("--expires", help="YYYY-MM-DD, or 'never'")
    upd.add_argument("--max-version")
    upd.add_argument("--end-trial", action="store_true")
    upd.add_argument("--lease-days", type=float, metavar="N", help=lease_help)
    ans = verb("answer", cmd_answer, "answer an offline activation request file")
    ans.add_argument("request", type=Path)
    ans.add_argument("response", type=Path)
    imp = verb("import-proof", cmd_import_proof, "import an offline deactivation proof")
    imp.add_argument("proof", type=Path)
