"""Release archives of the stand-in CrystalMe3D Pro (``crystal_server/demo_product``), for the demo, the
tests and the benchmarks: a tar of the product folder with ``product.json`` at its root.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import tarfile
from pathlib import Path
from typing import IO

from crystal_protocol.releases import PRODUCT, PRODUCT_MANIFEST, Version, current_platform

SOURCE = Path(__file__).resolve().parent / "demo_product"
PROGRAM = "bin/crystalme3d"
#: Fixed file times, so one version always packs to the same bytes (gzip header included).
MTIME = 1_767_225_600  # 2026-01-01T00:00:00Z
_COMPRESSION = {".tar": "none", ".tar.gz": "gz", ".tgz": "gz", ".tar.zst": "zst"}
_BROKEN = 'echo "CrystalMe3D Pro: this installation is damaged" >&2\nexit 1\n'


class _RandomBytes(io.RawIOBase):
    """``size`` bytes of incompressible filler, produced as read (never all in memory)."""

    def __init__(self, size: int) -> None:
        self.left = size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        count = min(len(buffer), self.left, 1 << 20)
        buffer[:count] = os.urandom(count)
        self.left -= count
        return count


def program_text(version: str, *, broken: bool = False) -> str:
    """The stand-in program for ``version``; ``broken`` makes it fail (its health check exits 1)."""
    text = (SOURCE / PROGRAM).read_text(encoding="utf-8").replace("@VERSION@", version)
    if broken:
        first, rest = text.split("\n", 1)
        text = f"{first}\n{_BROKEN}{rest}"
    return text


def manifest(version: str, platform: str | None = None, product: str = PRODUCT) -> dict[str, object]:
    """The ``product.json`` of a demo release."""
    return {"product": product, "version": version, "platform": platform or current_platform(),
            "health_check": [PROGRAM, "--version"]}


def _add(tar: tarfile.TarFile, name: str, data: bytes | None, mode: int, *, size: int = 0,
         stream: IO[bytes] | None = None) -> None:
    info = tarfile.TarInfo(name)
    info.mtime = MTIME
    info.mode = mode
    if data is None and stream is None:
        info.type = tarfile.DIRTYPE
        tar.addfile(info)
        return
    info.size = len(data) if data is not None else size
    tar.addfile(info, io.BytesIO(data) if data is not None else stream)


def build_demo_archive(version: str, out_path: Path, *, broken: bool = False, compression: str | None = None,
                       platform: str | None = None, product: str = PRODUCT, payload_bytes: int = 0) -> Path:
    """Write the stand-in's release archive for ``version`` to ``out_path`` and return it.

    ``compression`` is "none", "gz" or "zst"; by default it follows the name (.tar, .tar.gz/.tgz,
    .tar.zst; gzip for any other name). ``broken`` makes the health check fail; ``payload_bytes`` adds
    ``data/payload.bin`` of random bytes (for download benchmarks); ``platform``/``product`` write another
    manifest (for tests of releases that must not be offered).
    """
    Version.parse(version)
    suffix = next((s for s in sorted(_COMPRESSION, key=len, reverse=True) if out_path.name.endswith(s)), None)
    implied = _COMPRESSION[suffix] if suffix else None
    chosen = compression or implied or "gz"
    if chosen not in ("none", "gz", "zst") or (implied and chosen != implied):
        raise ValueError(f"compression {chosen!r} does not suit {out_path.name}")
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with open(out_path, "wb") as raw:
        sink: IO[bytes]
        if chosen == "gz":
            # Random filler does not compress: deflate gives it back as stored blocks at any level, after ~45 ms
            # of CPU per MiB spent finding that out; level 0 writes those blocks at once (the same size).
            sink = gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=MTIME,  # type: ignore[assignment]
                                 compresslevel=0 if payload_bytes else 9)
        elif chosen == "zst":
            import zstandard

            sink = zstandard.ZstdCompressor().stream_writer(raw)
        else:
            sink = raw
        with tarfile.open(fileobj=sink, mode="w|", format=tarfile.PAX_FORMAT) as tar:
            _add(tar, PRODUCT_MANIFEST, (json.dumps(manifest(version, platform, product), indent=2) + "\n").encode(),
                 0o644)
            _add(tar, "bin", None, 0o755)
            _add(tar, PROGRAM, program_text(version, broken=broken).encode(), 0o755)
            _add(tar, "README.txt", f"CrystalMe3D Pro {version} (demo stand-in)\n".encode(), 0o644)
            if payload_bytes:
                _add(tar, "data", None, 0o755)
                _add(tar, "data/payload.bin", None, 0o644, size=payload_bytes,
                     stream=io.BufferedReader(_RandomBytes(payload_bytes), 1 << 20))
        if sink is not raw:
            sink.close()  # flushes the compressor's last frame; the with-block closes the file
    return out_path


__all__ = ["PROGRAM", "build_demo_archive", "manifest", "program_text"]
