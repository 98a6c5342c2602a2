"""Helpers for the update-repository tests: the server CLI, python-tuf's own client, crafted archives."""

from __future__ import annotations

import io
import json
import subprocess
import tarfile
from pathlib import Path

from tuf.ngclient import Updater

from crystal_server.demo_release import manifest, program_text
from tests.support.servers import admin_cli

PRODUCT = "crystalme3d-pro"


def server_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``crystal-server ARGS`` (exit code not checked): in this process, or a child process when ``env`` is
    given (see ``admin_cli``)."""
    return admin_cli(*args, env=env)


def ok(*args: str) -> str:
    """Run the CLI and insist it succeeds; its standard output."""
    proc = server_cli(*args)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def init(path: Path) -> Path:
    """A fresh server folder."""
    ok("init", str(path))
    return path


def demo_archive(path: Path, version: str, *extra: str) -> Path:
    """The stand-in product's archive, made by the CLI."""
    ok("release", "demo-archive", str(path), "--version", version, *extra)
    return path


def publish(server: Path, archive: Path, version: str, *extra: str) -> subprocess.CompletedProcess[str]:
    """``release publish`` (exit code not checked)."""
    return server_cli("release", "publish", str(server), str(archive), "--product", PRODUCT, "--version", version,
                      *extra)


def root_bytes(server: Path, version: int = 1) -> bytes:
    """A root version as a client would be given it."""
    return (server / "repository" / "metadata" / f"{version}.root.json").read_bytes()


def profile_root(server: Path) -> bytes:
    """The root in the development profile, as bytes for ngclient."""
    return json.dumps(json.loads((server / "profile.json").read_text())["tuf_root"]).encode()


def updater(work: Path, url: str, bootstrap: bytes) -> Updater:
    """python-tuf's reference client against the running server (default fetcher, real HTTP)."""
    (work / "metadata").mkdir(parents=True, exist_ok=True)
    (work / "downloads").mkdir(parents=True, exist_ok=True)
    return Updater(metadata_dir=str(work / "metadata"), metadata_base_url=f"{url}/v1/updates/metadata/",
                   target_dir=str(work / "downloads"), target_base_url=f"{url}/v1/updates/targets/",
                   bootstrap=bootstrap)


def entry(name: str, data: bytes | None = None, *, kind: bytes = tarfile.REGTYPE, link: str = "",
          mode: int = 0o644) -> tuple[tarfile.TarInfo, bytes | None]:
    """One tar member: a file (with ``data``), or a directory, link or device by ``kind``."""
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.linkname = link
    info.size = len(data) if data is not None else 0
    return info, data


def good_entries(version: str = "1.2.0", product: str = PRODUCT) -> list[tuple[tarfile.TarInfo, bytes | None]]:
    """The members of a correct release archive."""
    return [entry("product.json", json.dumps(manifest(version, product=product)).encode()),
            entry("bin", kind=tarfile.DIRTYPE, mode=0o755),
            entry("bin/crystalme3d", program_text(version).encode(), mode=0o755)]


def craft(path: Path, entries: list[tuple[tarfile.TarInfo, bytes | None]]) -> Path:
    """Write exactly these members into a gzip tar (no filter, no normalisation: the point is bad input)."""
    with tarfile.open(path, "w:gz", format=tarfile.PAX_FORMAT) as tar:
        for info, data in entries:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return path
