"""Rendering widgets to PNG for people to look at: a dark palette, a light/dark switch, and a save that
refuses blank pictures."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from PySide6.QtGui import QColor, QImage, QPalette
from PySide6.QtWidgets import QApplication, QStyleFactory, QWidget

OUTPUT = Path(__file__).resolve().parents[2] / "test-output"


def dark_palette() -> QPalette:
    """A dark palette like a desktop's dark theme."""
    pal = QPalette()
    for role, colour in ((QPalette.ColorRole.Window, "#202124"), (QPalette.ColorRole.WindowText, "#e8eaed"),
                         (QPalette.ColorRole.Base, "#2b2c2f"), (QPalette.ColorRole.AlternateBase, "#323336"),
                         (QPalette.ColorRole.Text, "#e8eaed"), (QPalette.ColorRole.Button, "#303134"),
                         (QPalette.ColorRole.ButtonText, "#e8eaed"), (QPalette.ColorRole.Highlight, "#8ab4f8"),
                         (QPalette.ColorRole.HighlightedText, "#202124"), (QPalette.ColorRole.ToolTipBase, "#303134"),
                         (QPalette.ColorRole.ToolTipText, "#e8eaed"), (QPalette.ColorRole.Link, "#8ab4f8"),
                         (QPalette.ColorRole.PlaceholderText, "#9aa0a6")):
        pal.setColor(role, QColor(colour))
    return pal


@contextmanager
def themed(name: str) -> Iterator[str]:
    """Fusion style with a light or dark palette for the block; the previous look afterwards."""
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    style, palette = app.style().name(), app.palette()
    # A new style object repolishes every widget alive (~30 ms a call here): set one only for a change.
    changed = style.lower() != "fusion"
    if changed:
        app.setStyle(QStyleFactory.create("Fusion"))
    app.setPalette(dark_palette() if name == "dark" else app.style().standardPalette())
    try:
        yield name
    finally:
        if changed:
            app.setStyle(QStyleFactory.create(style) or QStyleFactory.create("Fusion"))
        app.setPalette(palette)


def save(widget: QWidget, name: str, folder: Path) -> Path:
    """Grab ``widget`` to ``folder/name.png``; fail on a blank or tiny picture (written all the same, to look
    at)."""
    folder.mkdir(parents=True, exist_ok=True)
    widget.adjustSize() if not widget.isWindow() else None
    QApplication.processEvents()
    path = folder / f"{name}.png"
    image = widget.grab().toImage()
    write_png(image, path)
    assert image.width() > 100 and image.height() > 20
    assert _colours(image, enough=4) >= 4, f"{name} looks blank"
    return path


def write_png(image: QImage, path: Path) -> Path:
    """Write ``image`` to ``path`` as PNG (see png_bytes)."""
    path.write_bytes(png_bytes(image))
    return path


def png_bytes(image: QImage) -> bytes:
    """``image`` as a PNG file: every row unfiltered, deflated at zlib level 3.

    Qt's own PNG writer spent ~17-40 ms a window picture here (libpng tries its row filters on every row), and
    the check read the file back (~5-13 ms); this spends ~5-13 ms and its files are no larger: window pictures
    are mostly flat colour, which deflate finds without filters. tests/gui/test_render_png.py reads the files
    back with Qt, pixel for pixel."""
    alpha = image.hasAlphaChannel()
    rgb = image.convertToFormat(QImage.Format.Format_RGBA8888 if alpha else QImage.Format.Format_RGB888)
    width, height, stride = rgb.width(), rgb.height(), rgb.bytesPerLine()
    row = width * (4 if alpha else 3)
    data = bytes(rgb.constBits())
    raw = b"".join(b"\0" + data[y * stride:y * stride + row] for y in range(height))  # filter type 0: none
    header = struct.pack(">IIBBBBB", width, height, 8, 6 if alpha else 2, 0, 0, 0)
    density = struct.pack(">IIB", max(0, rgb.dotsPerMeterX()), max(0, rgb.dotsPerMeterY()), 1)  # as Qt writes
    return b"".join((b"\x89PNG\r\n\x1a\n", _chunk(b"IHDR", header), _chunk(b"pHYs", density),
                     _chunk(b"IDAT", zlib.compress(raw, 3)), _chunk(b"IEND", b"")))


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _colours(image: QImage, enough: int) -> int:
    """How many colours a grid of every 7th pixel holds, counting no further than ``enough``."""
    seen: set[int] = set()
    for x in range(0, image.width(), 7):
        for y in range(0, image.height(), 7):
            seen.add(image.pixel(x, y))
            if len(seen) >= enough:
                return len(seen)
    return len(seen)
