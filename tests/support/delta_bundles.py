"""Releases that share most of their bytes (as real releases do), for the delta update tests: the stand-in
program and manifest of crystal_server/demo_release.py, plus data files that change a little per version.
Published with the real ``crystal-server release publish`` (which builds the patches)."""

from __future__ import annotations

import functools
import gzip
import io
import json
import random
import tarfile
from pathlib import Path

from crystal_protocol.releases import PRODUCT, PRODUCT_MANIFEST
from crystal_server.demo_release import MTIME, PROGRAM, manifest, program_text
from tests.support.servers import ReferenceServer

#: Data files of every release: (name, size). Random bytes (incompressible), so only a patch makes them small.
DATA = (("data/core.bin", 200_000), ("data/textures.pak", 120_000), ("share/presets.txt", 30_000))


def data_files(version: str) -> dict[str, bytes]:
    """The data files of ``version``: the same base bytes in every version, with a few bytes changed per
    version (each version's edits stay, so 1.3.0 differs from 1.0.0 more than from 1.2.0)."""
    return dict(_data_files(version))  # the caller's own dict; the bytes are immutable


@functools.lru_cache(maxsize=16)
def _data_files(version: str) -> dict[str, bytes]:
    files = {name: random.Random(name).randbytes(size) for name, size in DATA}
    major, minor, patch = (int(p) for p in version.split("-", maxsplit=1)[0].split("."))
    for step in range(major * 100 + minor * 10 + patch):
        rng = random.Random(f"edit-{step}")
        name = DATA[step % len(DATA)][0]
        body = bytearray(files[name])
        at = rng.randrange(len(body) - 64)
        body[at:at + 32] = rng.randbytes(32)
        files[name] = bytes(body)
    return files


def build_release(version: str, out: Path) -> Path:
    """A gzip release archive of ``version`` (same bytes every time it is built)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(_release_bytes(version))
    return out


@functools.lru_cache(maxsize=16)
def _release_bytes(version: str) -> bytes:
    """The archive's bytes, packed once per test process: the same for every test (~20 ms of CPU each, most
    of it gzip at level 9 over 350 kB of random bytes that do not compress)."""
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, mtime=MTIME) as zipped, \
            tarfile.open(fileobj=zipped, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        members = {PRODUCT_MANIFEST: (json.dumps(manifest(version), indent=2) + "\n").encode(),
                   PROGRAM: program_text(version).encode(), **_data_files(version)}
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.mtime, info.size = MTIME, len(data)
            info.mode = 0o755 if name == PROGRAM else 0o644
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def publish_release(server: ReferenceServer, version: str, *, patches: int | None = None) -> str:
    """Pack and publish ``version`` (patches from the last 3 releases unless ``patches``); the CLI's output."""
    archive = build_release(version, server.data_dir.parent / "delta-archives" / f"{PRODUCT}-{version}.tar.gz")
    args = ["release", "publish", str(server.data_dir), str(archive), "--product", PRODUCT, "--version", version]
    if patches is not None:
        args += ["--patches", str(patches)]
    proc = server.admin(*args)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout
