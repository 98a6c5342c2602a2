"""``crystal-manager update …``: check, download, install, rollback, skip, channel, status.

Text output is for people (plain dates, sizes and sentences); ``--json`` is for scripts. Errors become one
line and an exit code in cli/main.py (via services/usertext.py).
"""

from __future__ import annotations

import argparse
import time
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from crystal_manager.cli.exit_codes import EXIT_OK
from crystal_manager.cli.output import emit_json, fail, is_terminal, progress, progress_done, say, waiting
from crystal_manager.services.context import AppContext
from crystal_manager.services.dates import date_words
from crystal_manager.services.update_types import CheckResult, DownloadProgress, PendingDownload, Release, UpdateStatus

if TYPE_CHECKING:
    from crystal_manager.services.update_service import UpdateService

RESUME = "crystal-manager update download"
_INTERRUPTED = 130


def register(subparsers: Any) -> None:
    """Add ``update`` and its actions."""
    parser = subparsers.add_parser("update", help="check for, download, install or roll back CrystalMe3D Pro "
                                                  "updates (update self: the Manager itself)")
    verbs = parser.add_subparsers(dest="update_command", metavar="ACTION", required=True)
    check = verbs.add_parser("check", help="ask the update server what is available (sends only file names)")
    check.add_argument("--json", action="store_true", help="machine-readable output")
    check.set_defaults(handler=run_check)
    download = verbs.add_parser("download", help="download and verify the offered update (resumes; Ctrl-C "
                                                 "pauses)")
    download.add_argument("--json", action="store_true", help="machine-readable output")
    download.set_defaults(handler=run_download)
    install = verbs.add_parser("install", help="install the downloaded update (the previous version is kept)")
    install.add_argument("--at-next-start", action="store_true",
                         help="install it when the Manager next starts instead of now")
    install.set_defaults(handler=run_install)
    rollback = verbs.add_parser("rollback", help="go back to the previous version")
    rollback.set_defaults(handler=run_rollback)
    skip = verbs.add_parser("skip", help="do not offer this version again (not for critical updates)")
    skip.add_argument("version", help="e.g. 1.2.0")
    skip.set_defaults(handler=run_skip)
    channel = verbs.add_parser("channel", help="choose the update channel: stable or beta")
    channel.add_argument("name", help="stable or beta")
    channel.set_defaults(handler=run_channel)
    status = verbs.add_parser("status", help="installed and previous version, download, last check (no network)")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.set_defaults(handler=run_status)
    from crystal_manager.cli.commands import update_self

    update_self.register(verbs)


def _service(ctx: AppContext) -> UpdateService:
    from crystal_manager.services.update_service import UpdateService

    return UpdateService(ctx)


def _warn(service: UpdateService) -> None:
    if service.state_warning:
        fail(service.state_warning)


# -- words ---------------------------------------------------------------------------------------------------

def size_words(count: int) -> str:
    """Bytes for people, in the units the Updates page uses: 470 bytes, 12.3 KB, 28.5 MB, 1.2 GB."""
    for unit, scale in (("GB", 10**9), ("MB", 10**6), ("KB", 10**3)):
        if count >= scale:
            return f"{count / scale:.1f} {unit}"
    return f"{count} bytes"


def download_words(release: Release) -> str:
    """What will be downloaded and why: "210.3 KB (a patch from 1.1.0; the full download is 25.9 MB)" or
    "25.9 MB (the full file: no patch from 1.1.0 is published)"."""
    if release.delta_from and release.download_size:
        return (f"{size_words(release.download_size)} (a patch from {release.delta_from}; the full download is "
                f"{size_words(release.size)})")
    if release.full_reason:
        return f"{size_words(release.size)} (the full file: {release.full_reason})"
    return size_words(release.size)


def plain_notes(text: str) -> list[str]:
    """Release notes (plain text or Markdown) as plain lines for a terminal: no #, ** or list dashes."""
    lines = []
    for raw in text.strip().splitlines():
        line = raw.strip()
        line = line.lstrip("#").strip() if line.startswith("#") else line
        if line.startswith(("- ", "* ")):
            line = "• " + line[2:]
        lines.append(line.replace("**", "").replace("__", ""))
    return lines


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{max(1, round(seconds))} s"
    if seconds < 3600:
        return f"{round(seconds / 60)} min"
    return f"{seconds / 3600:.1f} h"


def progress_words(p: DownloadProgress) -> str:
    """One progress line: bar, percent, MiB, speed, time left."""
    fraction = p.received / p.total if p.total else 1.0
    bar = "#" * int(fraction * 24)
    line = f"[{bar:<24}] {fraction * 100:3.0f}%  {size_words(p.received)} of {size_words(p.total)}"
    if p.bytes_per_second > 0:
        line += f"  {size_words(int(p.bytes_per_second))}/s"
    if p.eta_seconds is not None and p.received < p.total:
        line += f"  about {_duration(p.eta_seconds)} left"
    return line


def _percent(received: int, total: int) -> str:
    return f"{(received * 100 // total) if total else 100}%"


def _on_this_computer(version: str, status: UpdateStatus | None) -> str | None:
    """The next step when ``version`` needs no download: it is kept, or already downloaded."""
    if status is None:
        return None
    if status.previous_version == version:
        return f"Version {version} is already on this computer: switch to it with crystal-manager update rollback"
    pending = status.pending
    if pending is not None and pending.complete and pending.version == version:
        if status.failed_install == version:
            return (f"Version {version} is downloaded, but it did not start when it was installed; try again with "
                    "crystal-manager update install, or skip it")
        return f"Version {version} is already downloaded: install it with crystal-manager update install"
    return None


def check_lines(result: CheckResult, manager_version: str, status: UpdateStatus | None = None) -> list[str]:
    """A check's outcome for people (``status``: what is on this computer, for the next step)."""
    from crystal_manager.updates.policy import describe

    lines = [f"CrystalMe3D Pro: {result.installed_version or 'not installed'} · channel: {result.channel}",
             describe(result, manager_version)]
    shown = result.offer
    if shown is not None:
        facts = [download_words(shown), f"released {date_words(shown.released_at, with_time=False)}"]
        if shown.critical:
            facts.append("critical: cannot be skipped")
        lines.append("  " + " · ".join(facts))
        if shown.notes.strip():
            lines.append("  Release notes:")
            lines += [f"    {line}" for line in plain_notes(shown.notes)]
    if result.signed_by:
        lines.append("Genuine: the list of versions is signed by the vendor of CrystalMe3D Pro "
                     "(crystal-manager update check --json names the keys)")
    if shown is not None:
        lines.append(_on_this_computer(shown.version, status) or f"Download it with: {RESUME}")
    return lines


def _entitled(result: CheckResult) -> dict[str, Any]:
    return asdict(result.entitlement)


def check_json(result: CheckResult, manager_version: str) -> dict[str, Any]:
    """``update check --json``: the offered release (or, when none is, the newest one) and why."""
    from crystal_manager.updates.policy import describe

    shown = result.offer or result.newest
    entitled = {"allowed": True, "code": "ok", "reason": ""} if result.offer is not None else _entitled(result)
    return {
        "available": result.offer is not None,
        "version": shown.version if shown else None,
        "size": shown.size if shown else None,
        # What will really be downloaded: a signed patch from the installed version, or the full archive.
        "download_size": (shown.download_size or shown.size) if shown else None,
        "delta": bool(shown and shown.delta_from),
        "delta_from": shown.delta_from if shown else None,
        "critical": shown.critical if shown else False,
        "notes": shown.notes if shown else "",
        "released_at": shown.released_at if shown else None,
        "min_manager": shown.min_manager if shown else None,
        "channel": result.channel,
        "entitled": entitled,
        "newest": ({"version": result.newest.version, "entitled": _entitled(result)} if result.newest else None),
        "installed_version": result.installed_version,
        "reason": result.reason,
        "message": describe(result, manager_version),
        "signed_by": list(result.signed_by),
        "metadata_version": result.metadata_version,
        "checked_at": result.checked_at,
    }


def _pending_json(pending: PendingDownload | None) -> dict[str, Any] | None:
    if pending is None:
        return None
    return {"version": pending.version, "target_name": pending.target_name,
            "progress": {"received": pending.received, "total": pending.total, "complete": pending.complete}}


def status_json(status: UpdateStatus, manager_version: str) -> dict[str, Any]:
    """``update status --json``."""
    return {
        "installed_version": status.installed_version, "previous_version": status.previous_version,
        "install_root": status.install_root, "channel": status.channel, "auto_check": status.auto_check,
        "skipped": list(status.skipped), "last_check_at": status.last_check_at,
        "last_check": check_json(status.last_check, manager_version) if status.last_check else None,
        "pending": _pending_json(status.pending), "install_at_next_start": status.install_at_next_start,
        "delta_note": status.delta_note,
    }


def status_lines(status: UpdateStatus, manager_version: str, interval_hours: float) -> list[str]:
    """The update status for people."""
    from crystal_manager.updates.policy import describe
    from crystal_protocol.releases import Version

    installed = status.installed_version or "not installed"
    kept = status.previous_version
    newer_kept = kept is not None and status.installed_version is not None and \
        Version.parse(kept) > Version.parse(status.installed_version)
    lines = [f"CrystalMe3D Pro: {installed}"
             + ("" if kept is None else f" (version {kept} is also on this computer)" if newer_kept
                else f" (version {kept} is kept to go back to)")]
    every = "daily" if interval_hours == 24 else f"every {interval_hours:g} hours"
    lines.append(f"Update channel: {status.channel} · automatic check: {every if status.auto_check else 'off'}")
    if status.last_check is not None:
        offer = status.last_check.offer
        found = describe(status.last_check, manager_version)
        if offer is not None and offer.version == kept:
            found = f"version {kept} is the newest, and it is on this computer."
        lines.append(f"Last check: {date_words(status.last_check_at, with_time=True, local=False)} — {found}")
    else:
        lines.append("Last check: never")
    pending = status.pending
    if pending is not None:
        if pending.complete and status.failed_install == pending.version:
            lines.append(f"Downloaded: version {pending.version}, but it did not start when it was installed, so "
                         f"{installed} was put back. Try again with crystal-manager update install, or skip it.")
        elif pending.complete:
            lines.append(f"Downloaded: version {pending.version}, complete and genuine — install it with: "
                         "crystal-manager update install")
        else:
            lines.append(f"Download of version {pending.version}: {_percent(pending.received, pending.total)} "
                         f"({size_words(pending.received)} of {size_words(pending.total)}) — resume with: {RESUME}")
    if status.delta_note and pending is not None:
        lines.append(status.delta_note)
    if status.install_at_next_start:
        lines.append(f"Version {status.install_at_next_start} will be installed when the Manager next starts.")
    if status.skipped:
        lines.append(f"Skipped versions: {', '.join(status.skipped)}")
    return lines


# -- handlers ------------------------------------------------------------------------------------------------

def run_check(ctx: AppContext, args: argparse.Namespace) -> int:
    """update check [--json]."""
    from crystal_manager import __version__

    service = _service(ctx)
    # a silent server must not look like a hung command: the same spinner as the licensing verbs
    with waiting("Waiting for the update server…",
                 stopped="Not checked: you stopped waiting for the update server; nothing was changed."):
        result = service.check()
    _warn(service)
    if args.json:
        emit_json(check_json(result, __version__))
    else:
        for line in check_lines(result, __version__, service.status()):
            say(line)
    return EXIT_OK


class _Bar:
    """Draws progress on a terminal at most ~5 times a second; silent elsewhere."""

    def __init__(self) -> None:
        self.on = is_terminal()
        self.drawn = False
        self.last = 0.0

    def __call__(self, p: DownloadProgress) -> None:
        now = time.monotonic()
        if not self.on or (now - self.last < 0.2 and p.received < p.total):
            return
        self.last = now
        self.drawn = True
        progress(progress_words(p))

    def end(self) -> None:
        if self.drawn:
            progress_done()
            self.drawn = False


def kept_newer(status: UpdateStatus) -> str | None:
    """The newer version kept on this computer after a rollback, when it is the one to go to (nothing is
    downloaded and no still newer version was offered): one switch away, so install and download must say
    "rollback" rather than send people round between them. None otherwise."""
    prev, installed = status.previous_version, status.installed_version
    if prev is None or installed is None or status.pending is not None:
        return None
    from crystal_protocol.releases import ReleaseFormatError, Version

    offer = status.last_check.offer if status.last_check is not None else None
    try:
        if Version.parse(prev) <= Version.parse(installed):
            return None
        if offer is not None and Version.parse(offer.version) > Version.parse(prev):
            return None  # something newer than the kept version is offered: that one is downloaded
    except ReleaseFormatError:
        return None
    return prev


def _switch_back(status: UpdateStatus) -> str | None:
    """The one next step when the newer version is kept here (see :func:`kept_newer`)."""
    version = kept_newer(status)
    return _on_this_computer(version, status) if version is not None else None


def run_download(ctx: AppContext, args: argparse.Namespace) -> int:
    """update download [--json]: Ctrl-C pauses (the bytes so far are kept)."""
    service = _service(ctx)
    if not args.json and (switch := _switch_back(service.status())) is not None:
        say(switch)  # nothing to fetch: the newer version is on this computer
        return EXIT_OK
    bar = _Bar()
    try:
        pending = service.download(progress=bar)
    except KeyboardInterrupt:
        bar.end()
        kept = service.status().pending
        where = f" at {_percent(kept.received, kept.total)}" if kept is not None and not kept.complete else ""
        fail(f"Download paused{where}; what was downloaded is kept. Resume with: {RESUME}")
        return _INTERRUPTED
    finally:
        bar.end()
    _warn(service)
    if args.json:
        emit_json({**(_pending_json(pending) or {}), "already_downloaded": pending.already_downloaded})
    elif pending.already_downloaded:
        say(f"Version {pending.version} is already downloaded, complete and signed by the vendor; nothing "
            "needed to be fetched.")
        say("Install it with: crystal-manager update install")
    else:
        say(f"Downloaded version {pending.version}: {how_downloaded(service.status(), pending.version)}; it is "
            "complete and signed by the vendor.")
        say("Install it with: crystal-manager update install")
    return EXIT_OK


def how_downloaded(status: UpdateStatus, version: str) -> str:
    """Whether a finished download was a patch or the full file, and why the full file (README promise)."""
    if status.delta_note:  # "Took the full download because <reason>."
        reason = status.delta_note.removeprefix("Took the full download because ").rstrip(".")
        size = status.pending.total if status.pending is not None else None
        return f"the full file{f' ({size_words(size)})' if size else ''}, because {reason}"
    offer = status.last_check.offer if status.last_check is not None else None
    if offer is not None and offer.version == version and offer.delta_from and offer.download_size:
        return (f"a signed patch from {offer.delta_from} ({size_words(offer.download_size)} instead of the full "
                f"{size_words(offer.size)})")
    if offer is not None and offer.version == version:
        return f"the full file ({size_words(offer.size)})" + (f", because {offer.full_reason}"
                                                               if offer.full_reason else "")
    return "the full file"


def run_install(ctx: AppContext, args: argparse.Namespace) -> int:
    """update install [--at-next-start]."""
    service = _service(ctx)
    if (switch := _switch_back(service.status())) is not None:
        say(switch)  # after a rollback: the newer version is kept, one switch away (not "download it first")
        return EXIT_OK
    if (done := nothing_to_install(service.status())) is not None:
        say(done)  # not an error, and no circle back to "update download"
        return EXIT_OK
    result = service.install(at_next_start=args.at_next_start)
    if result.takes_effect == "next_manager_start":
        say(f"Version {result.version} will be installed the next time CrystalMe3D Pro Manager starts.")
        return EXIT_OK
    say(f"Installed CrystalMe3D Pro {result.version}; it started correctly in a quick check, and it is used from "
        "the next time CrystalMe3D Pro starts.")
    if result.previous_version:
        say(f"Version {result.previous_version} is kept: go back with crystal-manager update rollback")
    return EXIT_OK


def nothing_to_install(status: UpdateStatus) -> str | None:
    """Words when there is nothing to install because the installed version is already the newest known
    (None: a download is waiting, or a newer version must be downloaded first — install says so)."""
    if status.pending is not None or status.install_at_next_start or status.installed_version is None:
        return None
    check = status.last_check
    offer = check.offer if check is not None else None
    from crystal_protocol.releases import ReleaseFormatError, Version

    try:
        if offer is not None and Version.parse(offer.version) > Version.parse(status.installed_version):
            return None
    except ReleaseFormatError:
        return None  # let install say what it finds
    when = f" at the last check ({date_words(status.last_check_at, with_time=True, local=False)})" \
        if status.last_check_at else ""
    return (f"Nothing to install: CrystalMe3D Pro {status.installed_version} is installed and is the newest "
            f"version{when}. Look again with: crystal-manager update check")


def run_rollback(ctx: AppContext, args: argparse.Namespace) -> int:
    """update rollback."""
    result = _service(ctx).rollback()
    say(f"Switched to CrystalMe3D Pro {result.version}; it is used from the next time CrystalMe3D Pro starts.")
    if result.previous_version:
        say(f"Version {result.previous_version} stays on this computer: switch back with crystal-manager update "
            "rollback")
    return EXIT_OK


def run_skip(ctx: AppContext, args: argparse.Namespace) -> int:
    """update skip VERSION."""
    service = _service(ctx)
    service.skip(args.version)
    say(f"Version {args.version} will not be offered again (a newer version still will be).")
    return EXIT_OK


def run_channel(ctx: AppContext, args: argparse.Namespace) -> int:
    """update channel NAME."""
    service = _service(ctx)
    service.set_channel(args.name)
    seen = "stable and beta releases" if args.name == "beta" else "stable releases only"
    say(f"Update channel: {args.name} ({seen}). Check now with: crystal-manager update check")
    return EXIT_OK


def run_status(ctx: AppContext, args: argparse.Namespace) -> int:
    """update status [--json] (local files only)."""
    from crystal_manager import __version__

    service = _service(ctx)
    status = service.status()
    _warn(service)
    if args.json:
        emit_json(status_json(status, __version__))
    else:
        for line in status_lines(status, __version__, ctx.settings.check_interval_hours):
            say(line)
    return EXIT_OK
