"""``crystal-server release …`` and ``crystal-server tuf …``: publish, list and yank releases; rotate the
update repository's keys; re-sign the timestamp; show the roles. Exit codes: 0 ok, 2 bad input, 3 refused
by the repository's state (already published, busy, keys missing).
"""

from __future__ import annotations

import argparse
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

from crystal_server import keys, releases
from crystal_server.tuf_repo import ONLINE_ROLES, Lifetimes, RepoError, TufRepository

EXIT_INPUT = 2


def open_repo(data_dir: Path, *, timestamp_expiry: float | None = None) -> TufRepository:
    """The repository of an initialised server folder (RepoError if it is not one)."""
    if not (data_dir / "profile.json").exists():
        raise RepoError(f"{data_dir} is not a server folder; run: crystal-server init {data_dir}", EXIT_INPUT)
    lifetimes = Lifetimes.from_env()
    if timestamp_expiry is not None:
        if timestamp_expiry < 1:
            raise RepoError("--expires-in must be at least 1 second", EXIT_INPUT)
        lifetimes = Lifetimes(timestamp=timedelta(seconds=timestamp_expiry))
    repo = TufRepository(data_dir.resolve(), lifetimes)
    if not repo.exists():
        raise RepoError(f"{data_dir} has no update repository (made before signed updates); "
                        "initialise a new server folder", EXIT_INPUT)
    return repo


def _set_profile_root(repo: TufRepository) -> None:
    # New clients of the development profile bootstrap from the newest root: after a rotation for a
    # leaked root key they must not start from a root that key still signs (docs/decisions/0008).
    path = repo.data_dir / "profile.json"
    profile: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    profile["tuf_root"] = repo.load_root().to_dict()
    keys.write_profile(repo.data_dir, profile)


def cmd_publish(args: argparse.Namespace) -> int:
    """Sign a release archive as a new target."""
    repo = open_repo(args.dir)
    notes = ""
    if args.notes:
        try:
            notes = Path(args.notes).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise RepoError(f"cannot read the notes file {args.notes}: {exc}", EXIT_INPUT) from exc
    release = releases.publish(repo, Path(args.archive), product=args.product, version=args.version,
                               channel=args.channel, platform=args.platform, notes=notes,
                               critical=args.critical, min_manager=args.min_manager, released_at=args.released_at,
                               patches=args.patches)
    info = release.info
    print(f"published {info.product} {info.version} for {info.platform} on {info.channel} "
          f"({release.length} bytes) as {release.target}")
    print(f"file: {repo.targets_dir / release.file_name}")
    for patch in release.patches:
        print(f"patch from {patch.info.from_version}: {patch.length} bytes "
              f"({patch.length * 100 / release.length:.1f} % of the full archive) as {patch.target}")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    """One line per release (or a JSON list)."""
    found = releases.list_releases(open_repo(args.dir))
    if args.json:
        print(json.dumps([r.to_json() for r in found], indent=2))
        return 0
    for r in found:
        i = r.info
        patches = ", ".join(f"{p.info.from_version} ({p.length} bytes)" for p in r.patches)
        print(f"{i.product} {i.version} {i.platform} {i.channel} {r.length} {i.released_at}"
              f"{' critical' if i.critical else ''}{f' · patches from {patches}' if patches else ''}")
    return 0


def cmd_yank(args: argparse.Namespace) -> int:
    """Stop offering a release."""
    repo = open_repo(args.dir)
    for r in releases.yank(repo, product=args.product, version=args.version, platform=args.platform):
        print(f"yanked {r.info.product} {r.info.version} for {r.info.platform}: no longer offered")
        print(f"its file stays for downloads already under way: {repo.targets_dir / r.file_name}")
    return 0


def cmd_demo_archive(args: argparse.Namespace) -> int:
    """Pack the stand-in product (for the demo and tests)."""
    from crystal_protocol.releases import ReleaseFormatError
    from crystal_server.demo_release import build_demo_archive

    try:
        path = build_demo_archive(args.version, Path(args.out), broken=args.broken, platform=args.platform,
                                  product=args.product, payload_bytes=args.payload_bytes)
    except (ReleaseFormatError, ValueError) as exc:
        raise RepoError(str(exc), EXIT_INPUT) from exc
    print(f"wrote {path}")
    return 0


def cmd_rotate_root(args: argparse.Namespace) -> int:
    """New root key, in root N+1 signed by the old and the new key."""
    repo = open_repo(args.dir)
    with repo.locked():
        old = repo.load_root().signed.roles["root"].keyids
        root = repo.rotate_root()
        _set_profile_root(repo)
    print(f"root version {root.signed.version}: root key {root.signed.roles['root'].keyids[0][:16]} "
          f"replaces {', '.join(k[:16] for k in old)} (retired to {repo.offline_dir / 'retired'})")
    print(f"profile.json now carries root version {root.signed.version}; ship it in the next release")
    return 0


def cmd_rotate_online(args: argparse.Namespace) -> int:
    """New keys for online roles, in root N+1; the roles re-signed with them."""
    repo = open_repo(args.dir)
    roles = ONLINE_ROLES if args.role == "all" else (args.role,)
    with repo.locked():
        root = repo.rotate_online(roles)
        _set_profile_root(repo)
    for role in roles:
        print(f"{role}: key {root.signed.roles[role].keyids[0][:16]}")
    print(f"root version {root.signed.version}; the old keys are retired to {repo.keys_dir / 'retired'}")
    return 0


def cmd_refresh(args: argparse.Namespace) -> int:
    """Re-sign the timestamp now (and whatever else is near its expiry)."""
    repo = open_repo(args.dir, timestamp_expiry=args.expires_in)
    with repo.locked():
        done = repo.refresh(force=True)
        stamp = repo.load_timestamp().signed
    print(f"re-signed {', '.join(done)}; timestamp version {stamp.version} expires "
          f"{stamp.expires.strftime('%Y-%m-%dT%H:%M:%SZ')}")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    """Versions, expiries and key ids of the four roles."""
    status = open_repo(args.dir).status()
    if args.json:
        print(json.dumps(status, indent=2))
        return 0
    for role in ("root", "targets", "snapshot", "timestamp"):
        facts = status[role]
        print(f"{role:<9} v{facts['version']:<4} expires {facts['expires']}  keys "
              f"{', '.join(k[:16] for k in facts['keyids'])}")
    return 0


def register(sub: Any) -> None:
    """Add ``release`` and ``tuf`` with their verbs."""
    release = sub.add_parser("release", help="publish, list and yank product releases")
    verbs = release.add_subparsers(dest="release_command", required=True)
    publish = verbs.add_parser("publish", help="sign a release archive as a new update")
    publish.add_argument("dir", type=Path)
    publish.add_argument("archive", help="a .tar, .tar.gz, .tgz or .tar.zst with product.json at its root")
    publish.add_argument("--product", required=True)
    publish.add_argument("--version", required=True)
    publish.add_argument("--channel", default="stable", help="stable (default) or beta")
    publish.add_argument("--platform", help="default: the archive's product.json")
    publish.add_argument("--notes", help="a file with the release notes (plain text or Markdown)")
    publish.add_argument("--critical", action="store_true", help="users cannot skip it")
    publish.add_argument("--min-manager", help="the oldest Manager version that may install it")
    publish.add_argument("--released-at", help="ISO 8601 date and time (default: now)")
    publish.add_argument("--patches", type=int, default=releases.DEFAULT_PATCHES, metavar="N",
                         help="build patches from the last N releases of the same channel (default 3; 0: none)")
    publish.set_defaults(func=cmd_publish)
    listing = verbs.add_parser("list", help="the releases offered now")
    listing.add_argument("dir", type=Path)
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(func=cmd_list)
    yank = verbs.add_parser("yank", help="stop offering a release")
    yank.add_argument("dir", type=Path)
    yank.add_argument("--product", required=True)
    yank.add_argument("--version", required=True)
    yank.add_argument("--platform", help="default: every platform of that version")
    yank.set_defaults(func=cmd_yank)
    demo = verbs.add_parser("demo-archive", help="pack the stand-in CrystalMe3D Pro (demo and tests)")
    demo.add_argument("out", help="archive path; .tar, .tar.gz, .tgz or .tar.zst")
    demo.add_argument("--version", required=True)
    demo.add_argument("--broken", action="store_true", help="its health check fails")
    demo.add_argument("--platform", help="default: this machine's")
    demo.add_argument("--product", default="crystalme3d-pro")
    demo.add_argument("--payload-bytes", type=int, default=0, help="add this many random bytes")
    demo.set_defaults(func=cmd_demo_archive)

    tuf = sub.add_parser("tuf", help="the update repository's keys and metadata")
    tverbs = tuf.add_subparsers(dest="tuf_command", required=True)
    for name, func, text in (("rotate-root", cmd_rotate_root, "replace the root key (root N+1 signed by both)"),
                             ("rotate-online", cmd_rotate_online, "replace online keys (recorded in a new root)"),
                             ("refresh", cmd_refresh, "re-sign the timestamp now"),
                             ("status", cmd_status, "versions, expiries and key ids")):
        verb = tverbs.add_parser(name, help=text)
        verb.add_argument("dir", type=Path)
        verb.set_defaults(func=func)
        if name == "rotate-online":
            verb.add_argument("--role", choices=[*ONLINE_ROLES, "all"], default="all")
        if name == "refresh":
            verb.add_argument("--expires-in", type=float, metavar="SECONDS",
                              help="timestamp lifetime (default a day, or $CRYSTAL_SERVER_TIMESTAMP_EXPIRY)")
        if name == "status":
            verb.add_argument("--json", action="store_true")
