"""Make build/windows/crystal-manager.ico (the executable's icon) from the app icon's PNGs: one file with
16, 24, 32, 48, 64, 128 and 256 px images, each stored as PNG (Windows Vista and later read those).
Run from the repository root: ``python build/make_ico.py``. Same input, same file; no dependencies."""

from __future__ import annotations

import struct
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ICONS = ROOT / "crystal_manager" / "resources" / "icons"
OUT = ROOT / "build" / "windows" / "crystal-manager.ico"
SIZES = (16, 24, 32, 48, 64, 128, 256)


def ico_bytes(images: dict[int, bytes]) -> bytes:
    """An ICO file of PNG images by pixel size (square); 256 is written as 0, as the format says."""
    header = struct.pack("<HHH", 0, 1, len(images))
    offset = len(header) + 16 * len(images)
    entries, blobs = [], []
    for size, png in sorted(images.items()):
        side = 0 if size >= 256 else size
        entries.append(struct.pack("<BBBBHHII", side, side, 0, 0, 1, 32, len(png), offset))
        blobs.append(png)
        offset += len(png)
    return header + b"".join(entries) + b"".join(blobs)


def main() -> int:
    images = {size: (ICONS / f"app-{size}.png").read_bytes() for size in SIZES}
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_bytes(ico_bytes(images))
    print(f"wrote {OUT.relative_to(ROOT)} ({', '.join(map(str, SIZES))} px)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
