"""Releases on a real reference server for the update tests: demo archives packed by the server's own
code and published with the real ``crystal-server release publish`` command."""

from __future__ import annotations

from pathlib import Path

from crystal_protocol.releases import PRODUCT, current_platform
from crystal_server.demo_release import build_demo_archive
from tests.support.servers import ReferenceServer


def publish(server: ReferenceServer, version: str, *, channel: str = "stable", critical: bool = False,
            min_manager: str | None = None, released_at: str | None = None, platform: str | None = None,
            product: str = PRODUCT, broken: bool = False, notes: str | None = None, payload_bytes: int = 0,
            patches: int = 0) -> str:
    """Pack and publish one release; return its target name. No patches unless asked for: these releases
    are one-file-per-version fixtures (delta updates have their own, tests/support/delta_bundles.py)."""
    folder = server.data_dir.parent / "archives"
    folder.mkdir(exist_ok=True)
    platform = platform or current_platform()
    archive = build_demo_archive(version, folder / f"{product}-{version}-{platform}.tar.gz", broken=broken,
                                 platform=platform, product=product, payload_bytes=payload_bytes)
    args = ["release", "publish", str(server.data_dir), str(archive), "--product", product, "--version", version,
            "--channel", channel, "--platform", platform, "--patches", str(patches)]
    if critical:
        args.append("--critical")
    if min_manager:
        args += ["--min-manager", min_manager]
    if released_at:
        args += ["--released-at", released_at]
    if notes is not None:
        notes_file = folder / f"notes-{version}.md"
        notes_file.write_text(notes, encoding="utf-8")
        args += ["--notes", str(notes_file)]
    proc = server.admin(*args)
    assert proc.returncode == 0, proc.stderr
    return archive.name


def yank(server: ReferenceServer, version: str, *, product: str = PRODUCT) -> None:
    """Stop offering ``version``."""
    proc = server.admin("release", "yank", str(server.data_dir), "--product", product, "--version", version)
    assert proc.returncode == 0, proc.stderr


def targets_key_ids(server_dir: Path) -> tuple[str, ...]:
    """The key ids of the server's online targets keys (named in their key files)."""
    return tuple(sorted(p.stem.removeprefix("tuf-targets-") for p in (server_dir / "keys").glob("tuf-targets-*.pem")))
