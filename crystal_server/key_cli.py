"""``crystal-server keys …``: rotate the license signing key in stages, so no client ever meets an answer
signed by a key it does not trust yet.

1. ``keys add DIR``: a new key that does not sign yet. Its public key joins the development profile
   (``DIR/profile.json``); for production, put it in the Manager's built-in trust anchors and ship that
   release.
2. ``keys activate DIR KID``: once clients trust it, the server signs with it (at its next start).
   Leases signed by the old key stay valid while clients still trust that key.
3. ``keys retire DIR KID``: once the new key has signed for a lease's lifetime (14 days; every lease the
   old key signed has been renewed or has ended), the old one leaves the profile and moves to
   ``DIR/keys/retired``. ``--force`` skips the wait (a leaked key: locking out clients is the lesser harm).
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from crystal_protocol.lease import DEFAULT_TTL_SECONDS
from crystal_server import keys
from crystal_server.license_cli import LicenseCliError

PURPOSE = "license"
EXIT_REFUSED = 3


def _folder(data_dir: Path) -> Path:
    if not (data_dir / "profile.json").exists():
        raise LicenseCliError(f"{data_dir} is not a server folder; run: crystal-server init {data_dir}")
    return data_dir / "keys"


def _profile(data_dir: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((data_dir / "profile.json").read_text(encoding="utf-8"))
    return data


def _signing(folder: Path) -> keys.SigningKey:
    try:
        return keys.signing_key(folder, PURPOSE)
    except (LookupError, ValueError) as exc:  # a damaged record, a missing or foreign key file
        raise LicenseCliError(str(exc), EXIT_REFUSED) from exc


def _all(folder: Path) -> list[keys.SigningKey]:
    try:
        return keys.load_all(folder, PURPOSE)
    except ValueError as exc:
        raise LicenseCliError(str(exc), EXIT_REFUSED) from exc


def _find(folder: Path, kid: str) -> keys.SigningKey:
    for key in _all(folder):
        if key.kid == kid:
            return key
    retired = (folder / "retired" / f"{PURPOSE}-{kid}.pem").exists()
    raise LicenseCliError(f"key {kid} is retired and cannot come back" if retired else f"no key {kid}",
                          EXIT_REFUSED if retired else 2)


def cmd_list(args: argparse.Namespace) -> int:
    """Every key: signing, trusted by the development profile, or retired."""
    folder = _folder(args.dir)
    signing = _signing(folder).kid
    trusted = _profile(args.dir).get("license_keys", {})
    for key in _all(folder):
        role = "signing" if key.kid == signing else "standby"
        print(f"{key.kid}  {role}{'' if key.kid in trusted else '  (not in profile.json)'}")
    for path in sorted((folder / "retired").glob(f"{PURPOSE}-*.pem")):
        print(f"{path.stem.removeprefix(PURPOSE + '-')}  retired")
    return 0


def cmd_add(args: argparse.Namespace) -> int:
    """A new key that does not sign yet; trusted by the development profile from now on."""
    folder = _folder(args.dir)
    current = _signing(folder)
    if keys.signing_kid(folder, PURPOSE) is None:  # an older folder: pin the key in use before adding one
        keys.set_signing(folder, PURPOSE, current.kid, 0.0)
    key = keys.generate(folder, PURPOSE)
    profile = _profile(args.dir)
    profile.setdefault("license_keys", {})[key.kid] = key.public_b64
    keys.write_profile(args.dir, profile)
    print(f"added {key.kid} (not signing yet)")
    print(f"public key: {key.public_b64}")
    print(f"next: ship clients that trust {key.kid}, then: crystal-server keys activate {args.dir} {key.kid}")
    return 0


def cmd_activate(args: argparse.Namespace) -> int:
    """Sign with ``KID`` from the server's next start."""
    folder = _folder(args.dir)
    key = _find(folder, args.kid)
    if key.kid not in _profile(args.dir).get("license_keys", {}):
        raise LicenseCliError(f"clients of {args.dir / 'profile.json'} do not trust {key.kid}", EXIT_REFUSED)
    keys.set_signing(folder, PURPOSE, key.kid, time.time())
    print(f"{key.kid} signs from the server's next start (restart it now)")
    return 0


def cmd_retire(args: argparse.Namespace) -> int:
    """Take ``KID`` out of use and out of the development profile."""
    folder = _folder(args.dir)
    key = _find(folder, args.kid)
    signing = _signing(folder)
    if key.kid == signing.kid:
        raise LicenseCliError(f"{key.kid} is the signing key; activate another one first", EXIT_REFUSED)
    record = keys.signing_record(folder, PURPOSE)
    since = record[1] if record else 0.0
    safe_from = since + DEFAULT_TTL_SECONDS
    if time.time() < safe_from and not args.force:
        day = datetime.fromtimestamp(safe_from, UTC).strftime("%Y-%m-%d %H:%M UTC")
        raise LicenseCliError(f"{signing.kid} signs only since recently: leases signed by {key.kid} may be in "
                              f"use until {day}; retire it then (or --force for a leaked key)", EXIT_REFUSED)
    keys.retire(folder, PURPOSE, key.kid)
    profile = _profile(args.dir)
    profile.get("license_keys", {}).pop(key.kid, None)
    keys.write_profile(args.dir, profile)
    print(f"retired {key.kid}; leases it signed are no longer trusted by clients of this profile")
    return 0


def register(sub: Any) -> None:
    """Add ``keys`` and its subcommands."""
    group = sub.add_parser("keys", help="rotate the license signing key: list, add, activate, retire")
    verbs = group.add_subparsers(dest="keys_command", required=True)
    for name, func, text in (("list", cmd_list, "list the keys and their roles"),
                             ("add", cmd_add, "make a new key (not signing yet)"),
                             ("activate", cmd_activate, "sign with a key from the next start"),
                             ("retire", cmd_retire, "take a key out of use")):
        verb = verbs.add_parser(name, help=text)
        verb.add_argument("dir", type=Path)
        if name in ("activate", "retire"):
            verb.add_argument("kid", help="key id, as `keys list` shows it")
        if name == "retire":
            verb.add_argument("--force", action="store_true",
                              help="do not wait for the old key's leases to end (for a leaked key)")
        verb.set_defaults(func=func)
